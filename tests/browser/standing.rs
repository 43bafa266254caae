//! The bidder's page never lies about their standing: another bidder's bid
//! turns "leading" into "outbid" at once (box, tab title, announcement); a
//! leader is offered to raise their maximum; a bid confirmed while the
//! socket is down is queued and counted once; a closed lot says how it
//! ended.

use std::time::Instant;

use chrono::Duration;
use serde_json::json;

use crate::bidding::{log_in, wait_live};
use crate::driver::Driver;
use crate::helpers::{auction, TestApp, PASSWORD};

#[actix_web::test]
async fn an_outbid_bidder_is_told_at_once_and_a_leader_raises_their_maximum() {
    let Some(driver) = Driver::start("standing").await else {
        return;
    };
    let app = TestApp::spawn().await;
    let id = app
        .create_auction(auction(
            "Pair of silver candlesticks",
            1000,
            Duration::hours(2),
        ))
        .await;
    app.register("ann").await;
    app.register("ben").await;
    let ben = app.token("ben", PASSWORD).await;
    let path = format!("/auctions/{id}");

    let browser = driver.browser().await;
    log_in(&browser, &app, "ann", PASSWORD, &path).await;
    wait_live(&browser).await;
    assert!(
        browser.exists("#my-standing[hidden]").await,
        "no standing before a bid"
    );

    // Ann bids from the page and leads.
    browser.fill("#bid-amount", "10").await;
    browser.click("#bid-review").await;
    browser.click("#bid-confirm-yes").await;
    browser
        .wait_for_text("#my-standing", "leading", |t| {
            t == "You are leading at €10.00."
        })
        .await;
    let title = browser.eval("return document.title").await;
    assert!(
        title.as_str().is_some_and(|t| t.starts_with("Leading")),
        "{title}"
    );

    // The leader's form raises the maximum instead of bidding again.
    assert_eq!(browser.text("#bid-heading").await, "Raise your maximum");
    browser.fill("#bid-max", "25").await;
    browser.click("#bid-review").await;
    let plan = browser
        .wait_for_text("#bid-confirm-text", "the raise", |t| !t.is_empty())
        .await;
    assert!(plan.contains("You raise your maximum to €25.00"), "{plan}");
    browser.click("#bid-confirm-yes").await;
    browser
        .wait_for_text("#bid-answer", "leading", |t| t.contains("leading"))
        .await;
    browser
        .wait_for_text("#my-max", "the new maximum", |t| t == "€25.00")
        .await;
    assert_eq!(
        app.snapshot(&id).await["current_price"],
        1000,
        "a raise keeps the price"
    );

    // Ben outbids her maximum through the API: her page says so at once.
    let started = Instant::now();
    let answer = app.bid(&ben, &id, 3000).await;
    assert_eq!(answer["status"], "leading", "{answer}");
    let standing = browser
        .wait_for_text("#my-standing", "outbid", |t| {
            t.starts_with("You have been outbid")
        })
        .await;
    let took = started.elapsed();
    assert!(
        took < std::time::Duration::from_secs(1),
        "outbid shown after {took:?}"
    );
    assert!(standing.contains("€30.00"), "{standing}");
    assert_eq!(
        browser
            .eval("return document.getElementById('my-standing').getAttribute('aria-live')")
            .await,
        json!("assertive")
    );
    let title = browser.eval("return document.title").await;
    assert!(
        title.as_str().is_some_and(|t| t.starts_with("Outbid!")),
        "{title}"
    );
    assert!(
        !browser
            .text("#bid-answer")
            .await
            .contains("You are leading"),
        "the stale 'leading' answer is gone"
    );
    assert_eq!(browser.text("#bid-heading").await, "Place a bid");
    browser.screenshot("standing-outbid").await;

    // A bid confirmed while the socket is down is queued, then sent once.
    browser
        .eval(
            "const l = Gavel.live; l.realConnect = l.connect; l.connect = function () {}; \
             l.socket.close(); return true;",
        )
        .await;
    browser
        .wait_for_text("#bid-review", "the offline label", |t| {
            t.contains("offline")
        })
        .await;
    browser.fill("#bid-amount", "32").await;
    browser.click("#bid-review").await;
    browser.click("#bid-confirm-yes").await;
    browser
        .wait_for_text("#bid-answer", "queued", |t| t.contains("queued"))
        .await;
    assert_eq!(
        browser.path().await,
        path,
        "no plain form post while offline"
    );
    browser
        .eval("const l = Gavel.live; l.connect = l.realConnect; l.reconnectNow(); return true;")
        .await;
    browser
        .wait_for_text("#my-standing", "leading again", |t| {
            t == "You are leading at €32.00."
        })
        .await;
    let history: serde_json::Value = app
        .client
        .get(app.url(&format!("/api/v1/auctions/{id}/bids")))
        .send()
        .await
        .expect("history")
        .json()
        .await
        .expect("JSON");
    let queued = history["bids"]
        .as_array()
        .expect("bids")
        .iter()
        .filter(|bid| bid["amount"] == 3200)
        .count();
    assert_eq!(queued, 1, "the queued bid counted once: {history}");

    // The close: "won", and the leader line becomes the winner.
    let admin = app.admin_token().await;
    let closed = app
        .client
        .post(app.url(&format!("/api/v1/admin/auctions/{id}/close")))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("close");
    assert_eq!(closed.status().as_u16(), 200);
    browser
        .wait_for_text("#my-standing", "won", |t| t.starts_with("You won this lot"))
        .await;
    assert_eq!(browser.text("#leader-label").await, "Winner");
    assert_eq!(browser.text("#leader").await, "you");
    app.stop().await;
}

#[actix_web::test]
async fn a_lot_closed_below_its_reserve_says_not_sold_everywhere() {
    let Some(driver) = Driver::start("standing-reserve").await else {
        return;
    };
    let app = TestApp::spawn().await;
    let mut body = auction("Oak writing slope", 1000, Duration::hours(2));
    body["reserve_price"] = json!(50_000);
    let id = app.create_auction(body).await;
    app.register("cal").await;
    let path = format!("/auctions/{id}");
    let browser = driver.browser().await;
    log_in(&browser, &app, "cal", PASSWORD, &path).await;
    wait_live(&browser).await;
    browser.fill("#bid-amount", "12").await;
    browser.click("#bid-review").await;
    browser.click("#bid-confirm-yes").await;
    browser
        .wait_for_text("#my-standing", "leading", |t| {
            t.starts_with("You are leading")
        })
        .await;
    let admin = app.admin_token().await;
    let closed = app
        .client
        .post(app.url(&format!("/api/v1/admin/auctions/{id}/close")))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("close");
    assert_eq!(closed.status().as_u16(), 200);
    browser
        .wait_for_text("#my-standing", "not sold", |t| {
            t == "Not sold: the reserve was not met."
        })
        .await;
    assert_eq!(
        browser.text("#result").await,
        "Not sold: the reserve was not met."
    );
    assert_eq!(browser.text("#leader-label").await, "Winner");
    assert_eq!(browser.text("#leader").await, "None");
    // After a reload, the same; and My bids says "Not sold", not "Lost".
    browser.goto(&app.url(&path)).await;
    assert_eq!(
        browser.text("#result").await,
        "Not sold: the reserve was not met."
    );
    assert_eq!(
        browser.text("#my-standing").await,
        "Not sold: the reserve was not met."
    );
    browser.goto(&app.url("/me/bids")).await;
    let page = browser.text("main").await.to_lowercase();
    assert!(
        page.contains("not sold") && !page.contains("lost"),
        "{page}"
    );
    app.stop().await;
}

/// Money in the reader's locale: a Dutch reader sees "€ 1.234,50" and may
/// type a decimal comma and dot groups; an American sees "€1,234.50".
#[actix_web::test]
async fn money_follows_the_readers_locale() {
    let Some(driver) = Driver::start("standing-locale").await else {
        return;
    };
    let app = TestApp::spawn().await;
    let id = app
        .create_auction(auction("Delft blue tile", 120_000, Duration::hours(2)))
        .await;
    app.register("dirk").await;
    app.register("amy").await;
    let path = format!("/auctions/{id}");

    let dutch = driver.browser().await;
    dutch
        .before_page_scripts(
            "Object.defineProperty(navigator, 'languages', { get: () => ['nl-NL'] });\
             Object.defineProperty(navigator, 'language', { get: () => 'nl-NL' });",
        )
        .await;
    log_in(&dutch, &app, "dirk", PASSWORD, &path).await;
    wait_live(&dutch).await;
    dutch
        .wait_for_text("#price", "Dutch money", |t| t == "€ 1.200,00")
        .await;
    let typed = dutch
        .eval("return document.getElementById('bid-amount').value")
        .await;
    assert_eq!(
        typed,
        json!("1200,00"),
        "the suggested bid with a decimal comma"
    );
    dutch.fill("#bid-amount", "1.234,50").await;
    dutch.click("#bid-review").await;
    let plan = dutch
        .wait_for_text("#bid-confirm-text", "the plan", |t| !t.is_empty())
        .await;
    assert!(plan.contains("€ 1.234,50"), "{plan}");
    dutch.click("#bid-confirm-yes").await;
    dutch
        .wait_for_text("#my-standing", "leading", |t| {
            t == "You are leading at € 1.234,50."
        })
        .await;
    assert_eq!(app.snapshot(&id).await["current_price"], 123_450);

    let american = driver.browser().await;
    american
        .before_page_scripts(
            "Object.defineProperty(navigator, 'languages', { get: () => ['en-US'] });\
             Object.defineProperty(navigator, 'language', { get: () => 'en-US' });",
        )
        .await;
    log_in(&american, &app, "amy", PASSWORD, &path).await;
    wait_live(&american).await;
    american
        .wait_for_text("#price", "American money", |t| t == "€1,234.50")
        .await;
    american.fill("#bid-amount", "1,300.00").await;
    american.click("#bid-review").await;
    american.click("#bid-confirm-yes").await;
    american
        .wait_for_text("#my-standing", "leading", |t| {
            t == "You are leading at €1,300.00."
        })
        .await;
    dutch
        .wait_for_text("#my-standing", "outbid", |t| t.contains("€ 1.300,00"))
        .await;
    app.stop().await;
}
