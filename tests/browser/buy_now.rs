//! Buying at the buy-now price from the auction page: over the WebSocket
//! (also across a dropped connection), shown only while it is possible,
//! and by plain form without JavaScript.

use chrono::Duration;
use fantoccini::Locator;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::bidding::{log_in, wait_live};
use crate::driver::{Browser, Driver};
use crate::helpers::{auction, input_value, PageClient, TestApp, PASSWORD};

/// An auction with a buy-now price, and a reserve when given.
fn with_buy_now(title: &str, starting: i64, buy_now: i64, reserve: Option<i64>) -> Value {
    let mut body = auction(title, starting, Duration::hours(1));
    body["buy_now_price"] = json!(buy_now);
    if let Some(reserve) = reserve {
        body["reserve_price"] = json!(reserve);
    }
    body
}

/// Whether `css` is on the page and displayed.
async fn displayed(browser: &Browser, css: &str) -> bool {
    match browser.client.find(Locator::Css(css)).await {
        Ok(element) => element.is_displayed().await.unwrap_or(false),
        Err(_) => false,
    }
}

/// Waits until `css` is displayed (`want`) or not.
async fn wait_displayed(browser: &Browser, css: &str, want: bool) {
    let what = format!("{css} to be {}", if want { "shown" } else { "hidden" });
    browser
        .wait_for(&what, || async {
            (displayed(browser, css).await == want).then_some(())
        })
        .await;
}

#[actix_web::test]
async fn buying_now_from_the_page_closes_the_auction_and_a_second_browser_sees_it() {
    let Some(driver) = Driver::start("buy now").await else {
        return;
    };
    let app = TestApp::spawn().await;
    let id = app
        .create_auction(with_buy_now("Walnut writing box", 2000, 5000, Some(4000)))
        .await;
    app.register("hana").await;
    let path = format!("/auctions/{id}");

    // An anonymous watcher is asked to log in instead.
    let watcher = driver.browser().await;
    watcher.goto(&app.url(&path)).await;
    wait_live(&watcher).await;
    wait_displayed(&watcher, "#buy-now-box", true).await;
    assert_eq!(watcher.text("#buy-now-login").await, "Log in to buy now");
    let login = watcher
        .find("#buy-now-login")
        .await
        .attr("href")
        .await
        .expect("an attribute");
    assert_eq!(login.as_deref(), Some(&*format!("/login?next={path}")));
    assert!(!watcher.exists("#buy-now-button").await);
    watcher
        .eval("window.__sameDocument = 7; return null;")
        .await;

    // A bidder sees the offer.
    let buyer = driver.browser().await;
    log_in(&buyer, &app, "hana", PASSWORD, &path).await;
    wait_live(&buyer).await;
    assert_eq!(buyer.text("#buy-now-button").await, "Buy now for €50.00");
    buyer.screenshot("bidder-buy-now").await;
    let phone = driver.browser_sized(390, 844).await;
    phone.goto(&app.url(&path)).await;
    wait_live(&phone).await;
    phone.screenshot("bidder-buy-now-phone-anonymous").await;
    phone.quit().await;

    // The confirmation says exactly what will happen; nothing happens yet.
    buyer.click("#buy-now-button").await;
    let plan = buyer
        .wait_for_text("#buy-now-confirm-text", "the plan", |t| !t.is_empty())
        .await;
    assert_eq!(
        plan,
        "You will buy Walnut writing box for €50.00 and the auction ends now."
    );
    assert!(!displayed(&buyer, "#buy-now-button").await);
    buyer.screenshot("bidder-buy-now-confirm").await;
    let snapshot = app.snapshot(&id).await;
    assert_eq!(snapshot["status"], "open", "{snapshot}");
    assert_eq!(snapshot["bid_count"], 0, "{snapshot}");

    // Cancel goes back; confirming buys, and the answer shows at once.
    buyer.click("#buy-now-no").await;
    wait_displayed(&buyer, "#buy-now-button", true).await;
    assert!(!displayed(&buyer, "#buy-now-confirm").await);
    buyer.click("#buy-now-button").await;
    buyer.click("#buy-now-yes").await;
    let answer = buyer
        .wait_for_text("#buy-now-answer", "the purchase", |t| {
            t.starts_with("You bought it")
        })
        .await;
    assert_eq!(answer, "You bought it for €50.00. The auction has ended.");
    let result = buyer
        .wait_for_text("#result", "the result", |t| t.starts_with("Sold"))
        .await;
    assert_eq!(result, "Sold to you for €50.00. Congratulations!");
    buyer
        .wait_for_text("#status", "closed", |t| t == "CLOSED")
        .await;
    wait_displayed(&buyer, "#buy-now-offer", false).await;
    assert!(displayed(&buyer, "#buy-now-answer").await);
    assert!(!displayed(&buyer, "#bid-form").await);
    buyer
        .wait_for_text("#history-body tr:first-child", "the purchase", |t| {
            t.contains("(you)") && t.contains("buy now") && t.contains("€50.00")
        })
        .await;
    buyer.screenshot("bidder-bought").await;

    // The watcher sees it close without reloading.
    let seen = watcher
        .wait_for_text("#result", "the result", |t| t.starts_with("Sold"))
        .await;
    assert!(
        seen.starts_with("Sold to bidder-") && seen.ends_with(" for €50.00."),
        "{seen}"
    );
    assert_eq!(watcher.text("#status").await, "CLOSED");
    assert_eq!(watcher.text("#price").await, "€50.00");
    wait_displayed(&watcher, "#buy-now-box", false).await;
    assert_eq!(
        watcher.eval("return window.__sameDocument;").await,
        json!(7)
    );

    let snapshot = app.snapshot(&id).await;
    assert_eq!(snapshot["status"], "closed", "{snapshot}");
    assert_eq!(snapshot["current_price"], 5000, "{snapshot}");
    assert_eq!(snapshot["bid_count"], 1, "{snapshot}");
    assert!(
        seen.contains(snapshot["winner"].as_str().expect("a winner")),
        "{seen} / {snapshot}"
    );
    watcher.quit().await;
    buyer.quit().await;
    app.stop().await;
}

/// Makes the page drop every event frame: it no longer learns of bids.
const DEAF_TO_EVENTS: &str = r#"
  const onFrame = Gavel.live.onFrame;
  Gavel.live.onFrame = function (frame) {
    if (frame.type !== "event") onFrame(frame);
  };
  return null;
"#;

#[actix_web::test]
async fn the_buy_now_button_disappears_once_a_bid_meets_the_reserve() {
    let Some(driver) = Driver::start("buy now hidden").await else {
        return;
    };
    let app = TestApp::spawn().await;
    let id = app
        .create_auction(with_buy_now("Silver pocket watch", 1000, 8000, Some(3000)))
        .await;
    for name in ["ines", "jon", "kai"] {
        app.register(name).await;
    }
    let jon = app.token("jon", PASSWORD).await;
    let kai = app.token("kai", PASSWORD).await;
    let path = format!("/auctions/{id}");

    let browser = driver.browser().await;
    log_in(&browser, &app, "ines", PASSWORD, &path).await;
    wait_live(&browser).await;
    wait_displayed(&browser, "#buy-now-button", true).await;

    // A bid below the reserve: buy now is still offered.
    app.bid(&jon, &id, 1000).await;
    browser
        .wait_for_text("#price", "the first bid", |t| t == "€10.00")
        .await;
    assert!(displayed(&browser, "#reserve-note").await);
    assert!(displayed(&browser, "#buy-now-button").await);

    // With the confirmation open, a bid meets the reserve: the offer and
    // its confirmation go away at once.
    browser.click("#buy-now-button").await;
    wait_displayed(&browser, "#buy-now-confirm", true).await;
    app.bid(&kai, &id, 3000).await;
    wait_displayed(&browser, "#buy-now-box", false).await;
    assert!(!displayed(&browser, "#buy-now-confirm").await);
    assert!(!displayed(&browser, "#reserve-note").await);
    assert_eq!(browser.text("#price").await, "€30.00");
    // The page as the server renders it agrees.
    browser.goto(&app.url(&path)).await;
    wait_live(&browser).await;
    assert!(!displayed(&browser, "#buy-now-box").await);
    assert!(displayed(&browser, "#bid-form").await);

    // Without a reserve, the first bid ends the offer. A page that missed
    // that bid still offers it; the server refuses, in words.
    let plain = app
        .create_auction(with_buy_now("Tin toy robot", 1000, 3000, None))
        .await;
    browser.goto(&app.url(&format!("/auctions/{plain}"))).await;
    wait_live(&browser).await;
    wait_displayed(&browser, "#buy-now-button", true).await;
    browser.eval(DEAF_TO_EVENTS).await;
    app.bid(&jon, &plain, 1000).await;
    browser.click("#buy-now-button").await;
    browser.click("#buy-now-yes").await;
    let answer = browser
        .wait_for_text("#buy-now-answer", "the refusal", |t| {
            t.starts_with("Buy now is no longer available")
        })
        .await;
    assert_eq!(
        answer,
        "Buy now is no longer available: the bidding has already gone past it. \
         You can still place a bid."
    );
    assert!(!displayed(&browser, "#buy-now-offer").await);
    assert!(displayed(&browser, "#bid-form").await);
    let snapshot = app.snapshot(&plain).await;
    assert_eq!(snapshot["status"], "open", "{snapshot}");
    assert_eq!(snapshot["current_price"], 1000, "{snapshot}");
    browser.quit().await;
    app.stop().await;
}

/// Drops the page's first `buy_now` frame and closes its socket (as if the
/// connection died with the frame in flight), recording every `buy_now`.
const LOSE_THE_FIRST_BUY_NOW: &str = r#"
  const realSend = WebSocket.prototype.send;
  window.__buyNowFrames = [];
  let dropped = false;
  WebSocket.prototype.send = function (data) {
    let frame = null;
    try { frame = JSON.parse(data); } catch (_) { frame = null; }
    if (frame && frame.type === "buy_now") {
      window.__buyNowFrames.push(frame.request_id);
      if (!dropped) {
        dropped = true;
        this.close();
        return undefined;
      }
    }
    return realSend.call(this, data);
  };
  return null;
"#;

#[actix_web::test]
async fn a_buy_now_lost_with_the_connection_is_resent_with_the_same_request_id() {
    let Some(driver) = Driver::start("buy now reconnect").await else {
        return;
    };
    let app = TestApp::spawn().await;
    let id = app
        .create_auction(with_buy_now("Brass ship's bell", 1500, 4500, None))
        .await;
    app.register("lena").await;
    let path = format!("/auctions/{id}");

    let browser = driver.browser().await;
    log_in(&browser, &app, "lena", PASSWORD, &path).await;
    wait_live(&browser).await;
    browser.eval(LOSE_THE_FIRST_BUY_NOW).await;
    browser.click("#buy-now-button").await;
    browser.click("#buy-now-yes").await;

    let answer = browser
        .wait_for_text("#buy-now-answer", "the purchase", |t| {
            t.starts_with("You bought it")
        })
        .await;
    assert_eq!(answer, "You bought it for €45.00. The auction has ended.");
    let frames: Vec<String> =
        serde_json::from_value(browser.eval("return window.__buyNowFrames;").await)
            .expect("request ids");
    assert_eq!(frames.len(), 2, "sent, lost, resent: {frames:?}");
    assert_eq!(frames[0], frames[1], "the same request_id");
    assert!(frames[0].starts_with("web-"), "{frames:?}");
    browser
        .wait_for_text("#result", "the result", |t| {
            t == "Sold to you for €45.00. Congratulations!"
        })
        .await;
    let snapshot = app.snapshot(&id).await;
    assert_eq!(snapshot["status"], "closed", "{snapshot}");
    assert_eq!(snapshot["bid_count"], 1, "bought once: {snapshot}");
    browser.quit().await;
    app.stop().await;
}

#[actix_web::test]
async fn buy_now_works_by_plain_form_in_a_browser_without_javascript() {
    let Some(driver) = Driver::start("buy now without JavaScript").await else {
        return;
    };
    let app = TestApp::spawn().await;
    let id = app
        .create_auction(with_buy_now("Enamel coffee pot", 1200, 5000, None))
        .await;
    app.register("milo").await;
    let path = format!("/auctions/{id}");

    let browser = driver.browser().await;
    browser
        .cdp(
            "Emulation.setScriptExecutionDisabled",
            json!({ "value": true }),
        )
        .await;
    log_in(&browser, &app, "milo", PASSWORD, &path).await;
    // No script runs: the connection indicator never appears, and prices
    // keep the server's format.
    assert!(!displayed(&browser, "[data-conn]").await);
    assert_eq!(
        browser.text("#buy-now-button").await,
        "Buy now for EUR 50.00"
    );

    // The button posts to a confirmation page that says what will happen.
    browser.click("#buy-now-button").await;
    let confirm_path = format!("{path}/buy-now");
    browser
        .wait_for("the confirmation page", || async {
            (browser.path().await == confirm_path).then_some(())
        })
        .await;
    assert_eq!(
        browser.text("#buy-now-plan").await,
        "You will buy Enamel coffee pot for EUR 50.00 and the auction ends now."
    );
    browser.screenshot("buy-now-confirm-page").await;
    assert_eq!(app.snapshot(&id).await["status"], "open");

    // Confirming buys and redirects back with the answer.
    browser.click("#buy-now-confirm-yes").await;
    browser
        .wait_for("the way back to the auction", || async {
            (browser.path().await == path).then_some(())
        })
        .await;
    assert_eq!(
        browser.text("#buy-now-answer").await,
        "You bought it for EUR 50.00. The auction has ended."
    );
    assert_eq!(
        browser.text("#result").await,
        "Sold to you for EUR 50.00. Congratulations!"
    );
    let snapshot = app.snapshot(&id).await;
    assert_eq!(snapshot["status"], "closed", "{snapshot}");
    assert_eq!(snapshot["current_price"], 5000, "{snapshot}");

    // The message is shown once.
    browser.goto(&app.url(&path)).await;
    assert!(!browser.exists("#buy-now-box").await);
    assert!(browser.text("#result").await.starts_with("Sold to you"));
    browser.quit().await;
    app.stop().await;
}

/// The hidden fields of the buy-now form on an auction page.
fn buy_now_form(html: &str) -> (String, String) {
    let at = html.find("id=\"buy-now-form\"").expect("a buy-now form");
    let form = &html[at..];
    (
        input_value(form, "csrf").expect("a CSRF field"),
        input_value(form, "request_id").expect("a request id"),
    )
}

#[actix_web::test]
async fn the_buy_now_form_needs_a_login_a_same_site_post_and_answers_once() {
    let app = TestApp::spawn().await;
    let id = app
        .create_auction(with_buy_now("Cast-iron kettle", 2000, 6000, Some(5000)))
        .await;
    let path = format!("/auctions/{id}");
    let buy_path = format!("{path}/buy-now");

    // Anonymous: a prompt to log in, and the POST leads there too.
    let mut anonymous = PageClient::new(&app);
    let show = anonymous.get(&path).await;
    assert!(show.body.contains("Log in to buy now"), "{}", show.body);
    assert!(!show.body.contains("id=\"buy-now-form\""), "{}", show.body);
    // (No form of this page carries the token: it is the cookie's.)
    let csrf = anonymous.cookies["gavel_csrf"].clone();
    let refused = anonymous
        .post(&buy_path, &[("csrf", &csrf), ("confirmed", "yes")])
        .await;
    assert_eq!(refused.status, StatusCode::SEE_OTHER);
    assert_eq!(
        refused.location.as_deref(),
        Some(&*format!("/login?next={path}"))
    );

    app.register("nora").await;
    let mut page = PageClient::new(&app);
    page.cookies
        .insert("gavel_session".into(), app.token("nora", PASSWORD).await);
    let show = page.get(&path).await;
    assert!(
        show.body
            .contains("Buy now for <span data-buy-now-price>EUR 60.00</span>"),
        "{}",
        show.body
    );
    let (csrf, request_id) = buy_now_form(&show.body);

    // From another site: refused, even with the token.
    let foreign = page
        .post_with(
            &buy_path,
            &[("Origin", "https://evil.example")],
            &[
                ("csrf", &csrf),
                ("request_id", &request_id),
                ("confirmed", "yes"),
            ],
        )
        .await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN, "{}", foreign.body);
    // Without the token: refused.
    let forged = page
        .post(
            &buy_path,
            &[("request_id", &request_id), ("confirmed", "yes")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.body);
    assert_eq!(app.snapshot(&id).await["status"], "open");

    // Step one: the confirmation page, nothing bought.
    let confirm = page
        .post(&buy_path, &[("csrf", &csrf), ("request_id", &request_id)])
        .await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.body);
    assert!(
        confirm.body.contains(
            "You will buy <strong>Cast-iron kettle</strong> for <strong data-amount=\"6000\" \
             data-currency=\"EUR\">EUR 60.00</strong> and the auction ends now."
        ),
        "{}",
        confirm.body
    );
    assert_eq!(
        input_value(&confirm.body, "request_id").as_deref(),
        Some(request_id.as_str())
    );
    assert_eq!(app.snapshot(&id).await["bid_count"], 0);

    // Step two: bought, then redirected back with the answer, shown once.
    let confirmed = [
        ("csrf", csrf.as_str()),
        ("request_id", request_id.as_str()),
        ("confirmed", "yes"),
    ];
    let bought = page.post(&buy_path, &confirmed).await;
    assert_eq!(bought.status, StatusCode::SEE_OTHER, "{}", bought.body);
    assert_eq!(bought.location.as_deref(), Some(path.as_str()));
    let after = page.get(&path).await;
    assert!(
        after
            .body
            .contains("You bought it for EUR 60.00. The auction has ended."),
        "{}",
        after.body
    );
    assert!(after.body.contains("Sold to you for EUR 60.00."));
    let again = page.get(&path).await;
    assert!(!again.body.contains("You bought it"), "{}", again.body);

    // The same form again (a double click, a retry) buys nothing more.
    let replay = page.post(&buy_path, &confirmed).await;
    assert_eq!(replay.status, StatusCode::SEE_OTHER);
    let answered = page.get(&path).await;
    assert!(answered.body.contains("You bought it for EUR 60.00."));
    let snapshot = app.snapshot(&id).await;
    assert_eq!(snapshot["bid_count"], 1, "{snapshot}");
    assert_eq!(snapshot["status"], "closed", "{snapshot}");

    // Once a bid meets the reserve, buy now is gone, and a stale form says so.
    let other = app
        .create_auction(with_buy_now("Copper jug", 1000, 4000, Some(2000)))
        .await;
    let other_path = format!("/auctions/{other}");
    let show = page.get(&other_path).await;
    let (csrf, request_id) = buy_now_form(&show.body);
    app.register("otto").await;
    let otto = app.token("otto", PASSWORD).await;
    app.bid(&otto, &other, 2000).await;
    let gone = page.get(&other_path).await;
    assert!(
        gone.body
            .contains("<section class=\"card buy-now-box\" id=\"buy-now-box\" aria-labelledby=\"buy-now-heading\" hidden>"),
        "{}",
        gone.body
    );
    let other_buy = format!("{other_path}/buy-now");
    for form in [
        vec![("csrf", csrf.as_str()), ("request_id", request_id.as_str())],
        vec![
            ("csrf", csrf.as_str()),
            ("request_id", request_id.as_str()),
            ("confirmed", "yes"),
        ],
    ] {
        let stale = page.post(&other_buy, &form).await;
        assert_eq!(stale.status, StatusCode::SEE_OTHER, "{}", stale.body);
        let told = page.get(&other_path).await;
        assert!(
            told.body
                .contains("Buy now is no longer available: the bidding has already gone past it."),
            "{}",
            told.body
        );
    }
    let snapshot = app.snapshot(&other).await;
    assert_eq!(snapshot["status"], "open", "{snapshot}");
    assert_eq!(snapshot["current_price"], 2000, "{snapshot}");
    app.stop().await;
}
