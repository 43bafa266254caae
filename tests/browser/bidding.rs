//! Bidders and watchers in a real browser.

use chrono::Duration;
use serde_json::json;

use crate::driver::{Browser, Driver};
use crate::helpers::{auction, TestApp, PASSWORD};

/// Logs in through the login page and waits for the page it leads to.
pub async fn log_in(browser: &Browser, app: &TestApp, username: &str, password: &str, next: &str) {
    browser.goto(&app.url(&format!("/login?next={next}"))).await;
    browser.fill("#username", username).await;
    browser.fill("#password", password).await;
    browser
        .click("form[action='/login'] button[type=submit]")
        .await;
    browser
        .wait_for(&format!("the login to lead to {next}"), || async {
            (browser.path().await == next).then_some(())
        })
        .await;
}

/// Waits until the page's WebSocket is connected and subscribed.
pub async fn wait_live(browser: &Browser) {
    browser.find("[data-conn][data-state='live']").await;
}

#[actix_web::test]
async fn a_bidder_registers_and_logs_in_through_the_pages_then_bids_from_the_form_and_sees_leading()
{
    let Some(driver) = Driver::start("bidding").await else {
        return;
    };
    let app = TestApp::spawn().await;
    let id = app
        .create_auction(auction("Brass desk lamp, 1930s", 2500, Duration::hours(2)))
        .await;
    // Two other bidders make a history.
    app.register("bob").await;
    app.register("carol").await;
    let bob = app.token("bob", PASSWORD).await;
    let carol = app.token("carol", PASSWORD).await;
    app.bid(&bob, &id, 2500).await;
    app.bid(&carol, &id, 2750).await;

    let browser = driver.browser().await;

    // Register through the page.
    browser.goto(&app.url("/register")).await;
    browser.fill("#username", "alice").await;
    browser.fill("#password", PASSWORD).await;
    browser.screenshot("register").await;
    browser
        .click("form[action='/register'] button[type=submit]")
        .await;
    browser
        .wait_for_text(".flash", "a welcome", |t| t.contains("Welcome, alice"))
        .await;
    assert!(browser.text(".account").await.contains("alice"));

    // Log out, then log in through the page, back to the auction.
    browser.click("form[action='/logout'] button").await;
    browser
        .wait_for_text(".flash", "the goodbye", |t| t.contains("logged out"))
        .await;
    let auction_path = format!("/auctions/{id}");
    log_in(&browser, &app, "alice", PASSWORD, &auction_path).await;
    wait_live(&browser).await;
    assert_eq!(
        browser.text("#auction-title").await,
        "Brass desk lamp, 1930s"
    );
    assert_eq!(browser.text("#price").await, "€27.50");
    assert_eq!(browser.text("#min-next").await, "€28.50");

    // Bid with a maximum: the confirmation says what will happen.
    browser.fill("#bid-amount", "30").await;
    browser.fill("#bid-max", "40.00").await;
    browser.click("#bid-review").await;
    let plan = browser
        .wait_for_text("#bid-confirm-text", "the plan", |t| !t.is_empty())
        .await;
    assert!(
        plan.contains("You are bidding €30.00 and let Gavel bid for you up to €40.00"),
        "{plan}"
    );
    assert_eq!(
        app.snapshot(&id).await["bid_count"],
        2,
        "nothing placed yet"
    );
    browser.click("#bid-confirm-yes").await;

    // The answer shows at once.
    let answer = browser
        .wait_for_text("#bid-answer", "leading", |t| t.contains("leading"))
        .await;
    assert_eq!(answer, "You are leading at €30.00.");
    browser
        .wait_for_text("#leader", "you", |t| t == "you")
        .await;
    browser
        .wait_for_text("#price", "the new price", |t| t == "€30.00")
        .await;
    let snapshot = app.snapshot(&id).await;
    assert_eq!(snapshot["current_price"], 3000, "{snapshot}");

    // Someone else bids: the automatic bid keeps alice ahead, live.
    app.bid(&carol, &id, 3200).await;
    browser
        .wait_for_text("#price", "the automatic counter-bid", |t| t == "€33.00")
        .await;
    assert_eq!(browser.text("#leader").await, "you");
    browser
        .wait_for_text("#history-body tr:first-child", "the auto bid", |t| {
            t.contains("automatic") && t.contains("(you)")
        })
        .await;
    assert_eq!(browser.text("#bid-count").await, "5 bids");

    browser.screenshot("bidder-auction").await;
    let phone = driver.browser_sized(390, 844).await;
    log_in(&phone, &app, "alice", PASSWORD, &auction_path).await;
    wait_live(&phone).await;
    phone.screenshot("bidder-auction-phone").await;
    phone.quit().await;

    // The front page and "my bids" show it too.
    browser.goto(&app.url("/")).await;
    wait_live(&browser).await;
    browser
        .wait_for_text(
            &format!("[data-live-auction='{id}'] [data-field='price']"),
            "the price",
            |t| t == "€33.00",
        )
        .await;
    let card = browser.text(".auction-card").await;
    assert!(card.to_lowercase().contains("you are leading"), "{card}");
    browser.screenshot("front-page").await;
    browser.goto(&app.url("/me/bids")).await;
    let standing = browser.text("[data-field='standing']").await;
    assert_eq!(standing.to_lowercase(), "leading");
    browser.quit().await;
    app.stop().await;
}

#[actix_web::test]
async fn a_second_browser_sees_the_new_price_without_reloading() {
    let Some(driver) = Driver::start("second browser").await else {
        return;
    };
    let app = TestApp::spawn().await;
    let id = app
        .create_auction(auction("Pair of candlesticks", 1000, Duration::hours(1)))
        .await;
    app.register("dora").await;
    let auction_path = format!("/auctions/{id}");

    // An anonymous watcher.
    let watcher = driver.browser().await;
    watcher.goto(&app.url(&auction_path)).await;
    wait_live(&watcher).await;
    assert_eq!(watcher.text("#price").await, "€10.00");
    assert!(watcher.exists("a[href^='/login?next=']").await);
    watcher
        .eval("window.__sameDocument = 42; return null;")
        .await;

    // A bidder in another browser.
    let bidder = driver.browser().await;
    log_in(&bidder, &app, "dora", PASSWORD, &auction_path).await;
    wait_live(&bidder).await;
    bidder.fill("#bid-amount", "12.50").await;
    bidder.click("#bid-review").await;
    bidder.click("#bid-confirm-yes").await;
    bidder
        .wait_for_text("#bid-answer", "leading", |t| t.contains("leading"))
        .await;

    // The watcher sees it without reloading.
    watcher
        .wait_for_text("#price", "the new price", |t| t == "€12.50")
        .await;
    assert_eq!(
        watcher.eval("return window.__sameDocument;").await,
        json!(42)
    );
    assert_eq!(watcher.text("#bid-count").await, "1 bid");
    let leader = watcher.text("#leader").await;
    assert!(leader.starts_with("bidder-"), "an alias, got {leader}");
    assert_eq!(watcher.text("#min-next").await, "€13.00");
    watcher
        .wait_for_text("#history-body tr:first-child", "the bid", |t| {
            t.contains("€12.50")
        })
        .await;
    assert_eq!(
        watcher
            .eval("return document.querySelector('#price').getAttribute('aria-live');")
            .await,
        json!("polite")
    );

    // An outbid answer says so, with the new price.
    app.register("eve").await;
    let eve = app.token("eve", PASSWORD).await;
    let result = app
        .client
        .post(app.url(&format!("/api/v1/auctions/{id}/bids")))
        .bearer_auth(&eve)
        .json(&json!({"request_id": "eve-1", "amount": 1300, "max_amount": 5000}))
        .send()
        .await
        .expect("a bid");
    assert!(result.status().is_success());
    bidder
        .wait_for_text("#price", "eve's price", |t| t == "€13.00")
        .await;
    bidder.fill("#bid-amount", "13.50").await;
    bidder.click("#bid-review").await;
    bidder.click("#bid-confirm-yes").await;
    let answer = bidder
        .wait_for_text("#bid-answer", "outbid", |t| t.contains("outbid"))
        .await;
    assert!(answer.contains("The price is now €14.00"), "{answer}");
    watcher
        .wait_for_text("#price", "the counter-bid", |t| t == "€14.00")
        .await;

    watcher.quit().await;
    bidder.quit().await;
    app.stop().await;
}

/// Moves the page's clock an hour ahead before any of its scripts run.
const CLOCK_AN_HOUR_AHEAD: &str = r#"
(() => {
  const RealDate = Date;
  const skew = 3600 * 1000;
  class SkewedDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) { super(RealDate.now() + skew); } else { super(...args); }
    }
    static now() { return RealDate.now() + skew; }
  }
  window.Date = SkewedDate;
})();
"#;

#[actix_web::test]
async fn the_countdown_follows_server_time_when_the_browser_clock_is_off() {
    let Some(driver) = Driver::start("clock").await else {
        return;
    };
    let app = TestApp::spawn().await;
    let id = app
        .create_auction(auction("Mantel clock", 1000, Duration::minutes(30)))
        .await;
    let browser = driver.browser().await;
    browser.before_page_scripts(CLOCK_AN_HOUR_AHEAD).await;
    browser.goto(&app.url(&format!("/auctions/{id}"))).await;

    // The page's clock really is an hour off.
    let skew = browser
        .eval("return Date.now() - performance.timeOrigin - performance.now();")
        .await
        .as_f64()
        .expect("a number");
    assert!((3_590_000.0..3_610_000.0).contains(&skew), "skew {skew}");

    // By the browser's clock the auction would have ended; by the server's,
    // about 30 minutes remain.
    wait_live(&browser).await;
    for _ in 0..2 {
        let remaining: i64 = browser
            .wait_for("a countdown", || async {
                let element = browser
                    .client
                    .find(fantoccini::Locator::Css("#countdown"))
                    .await
                    .ok()?;
                element
                    .attr("data-remaining-secs")
                    .await
                    .ok()??
                    .parse()
                    .ok()
            })
            .await;
        assert!(
            (1_700..=1_800).contains(&remaining),
            "about 30 minutes left, got {remaining} s"
        );
        let text = browser.text("#countdown").await;
        assert!(
            text.starts_with("Ends in 29m") || text.starts_with("Ends in 30m"),
            "{text}"
        );
        // Still right after the clock sync with /api/v1/time.
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    }
    browser.quit().await;
    app.stop().await;
}

#[actix_web::test]
async fn a_soft_close_moves_the_countdown_and_a_close_shows_the_result() {
    let Some(driver) = Driver::start("soft close").await else {
        return;
    };
    let app = TestApp::spawn().await;
    let mut body = auction("Last-minute vase", 1000, Duration::seconds(20));
    body["extend_window_secs"] = json!(60);
    let id = app.create_auction(body).await;
    app.register("fay").await;
    let fay = app.token("fay", PASSWORD).await;

    let browser = driver.browser().await;
    browser.goto(&app.url(&format!("/auctions/{id}"))).await;
    wait_live(&browser).await;
    let before: i64 = browser
        .find("#countdown")
        .await
        .attr("data-remaining-secs")
        .await
        .expect("an attribute")
        .and_then(|s| s.parse().ok())
        .expect("seconds");
    assert!(before <= 20, "{before}");

    // A bid inside the window extends the end to a minute from now.
    app.bid(&fay, &id, 1000).await;
    browser
        .wait_for_text("#extended-note", "the extension", |t| {
            t.contains("Soft close")
        })
        .await;
    let after: i64 = browser
        .wait_for("a longer countdown", || async {
            let element = browser
                .client
                .find(fantoccini::Locator::Css("#countdown"))
                .await
                .ok()?;
            let secs: i64 = element
                .attr("data-remaining-secs")
                .await
                .ok()??
                .parse()
                .ok()?;
            (secs > 40).then_some(secs)
        })
        .await;
    assert!(after <= 60, "{after}");

    // Closing shows the result.
    let admin = app.admin_token().await;
    let closed = app
        .client
        .post(app.url(&format!("/api/v1/admin/auctions/{id}/close")))
        .bearer_auth(admin)
        .send()
        .await
        .expect("a close");
    assert!(closed.status().is_success());
    let result = browser
        .wait_for_text("#result", "the result", |t| t.starts_with("Sold"))
        .await;
    assert!(result.contains("€10.00"), "{result}");
    assert_eq!(browser.text("#countdown").await, "Ended");
    assert_eq!(browser.text("#status").await, "CLOSED");
    // Nothing is live any more: the connection badge no longer says "Live".
    let badge = browser
        .eval("const c = document.querySelector('[data-conn]'); return c === null || c.hidden;")
        .await;
    assert_eq!(badge, serde_json::Value::Bool(true));
    browser.quit().await;
    app.stop().await;
}

/// Makes the page's WebSocket constructor fail on demand, recording each try.
const BLOCKABLE_SOCKETS: &str = r#"
  const Real = window.WebSocket;
  window.__blocked = true;
  window.__tries = [];
  class Blockable extends Real {
    constructor(url) {
      window.__tries.push(performance.now());
      if (window.__blocked) { throw new Error("blocked by the test"); }
      super(url);
    }
  }
  window.WebSocket = Blockable;
  Gavel.live.socket.close();
  return null;
"#;

#[actix_web::test]
async fn a_dropped_connection_reconnects_with_backoff_and_misses_nothing() {
    let Some(driver) = Driver::start("reconnect").await else {
        return;
    };
    let app = TestApp::spawn().await;
    let id = app
        .create_auction(auction("Carriage clock", 1000, Duration::hours(1)))
        .await;
    app.register("ivy").await;
    let ivy = app.token("ivy", PASSWORD).await;

    let browser = driver.browser().await;
    browser.goto(&app.url(&format!("/auctions/{id}"))).await;
    wait_live(&browser).await;

    // The connection drops, and new ones fail for a while.
    browser.eval(BLOCKABLE_SOCKETS).await;
    browser.find("[data-conn][data-state='reconnecting']").await;
    // Meanwhile two bids happen.
    app.bid(&ivy, &id, 1000).await;
    app.register("jim").await;
    let jim = app.token("jim", PASSWORD).await;
    app.bid(&jim, &id, 1200).await;
    // Three failed tries, further and further apart.
    let tries: Vec<f64> = browser
        .wait_for("three reconnection attempts", || async {
            let tries = browser.eval("return window.__tries;").await;
            let tries: Vec<f64> = serde_json::from_value(tries).ok()?;
            (tries.len() >= 3).then_some(tries)
        })
        .await;
    let (first_gap, second_gap) = (tries[1] - tries[0], tries[2] - tries[1]);
    assert!(
        (500.0..=1_100.0).contains(&first_gap) && (1_000.0..=2_100.0).contains(&second_gap),
        "backoff gaps {first_gap} ms then {second_gap} ms"
    );
    assert_eq!(
        browser.text("#price").await,
        "€10.00",
        "nothing arrived yet"
    );

    // The network comes back: it resumes after the last seq it saw.
    browser.eval("window.__blocked = false; return null;").await;
    wait_live(&browser).await;
    browser
        .wait_for_text("#price", "the missed bids", |t| t == "€12.00")
        .await;
    assert_eq!(browser.text("#bid-count").await, "2 bids");
    let rows = browser
        .client
        .find_all(fantoccini::Locator::Css("#history-body tr"))
        .await
        .expect("history rows");
    assert_eq!(rows.len(), 2, "both missed bids are in the history");
    browser.quit().await;
    app.stop().await;
}

#[actix_web::test]
async fn a_scheduled_auction_opens_for_bids_on_the_server_clock() {
    let Some(driver) = Driver::start("scheduled").await else {
        return;
    };
    let app = TestApp::spawn().await;
    app.register("kim").await;
    let browser = driver.browser().await;
    log_in(&browser, &app, "kim", PASSWORD, "/").await;

    // Created only now, so slow set-up on a busy machine cannot eat the
    // few seconds before it starts.
    let mut body = auction("Rocking chair", 2000, Duration::hours(1));
    body["starts_at"] = json!((chrono::Utc::now() + Duration::seconds(8))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    let id = app.create_auction(body).await;
    browser.goto(&app.url(&format!("/auctions/{id}"))).await;
    let countdown = browser.text("#countdown").await;
    assert!(countdown.starts_with("Starts in"), "{countdown}");
    assert_eq!(browser.text("#status").await, "STARTING SOON");
    let disabled = browser.find("#bid-review").await.prop("disabled").await;
    assert_eq!(disabled.expect("a property").as_deref(), Some("true"));

    // At the start, by the server's clock, bidding opens without a reload.
    browser
        .wait_for_text("#status", "open", |t| t == "OPEN")
        .await;
    browser
        .wait_for_text("#countdown", "the end countdown", |t| {
            t.starts_with("Ends in")
        })
        .await;
    browser.click("#bid-review").await;
    browser.click("#bid-confirm-yes").await;
    browser
        .wait_for_text("#bid-answer", "leading", |t| t.contains("leading"))
        .await;
    browser.quit().await;
    app.stop().await;
}
