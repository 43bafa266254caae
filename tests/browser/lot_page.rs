//! Issue 12, Build: the lot page's quick bids and increment table, the
//! reserve label (lot page and cards, live, with the reason for a jump to
//! the reserve) and the soft-close rule shown before it applies.

use chrono::Duration;
use serde_json::json;

use crate::bidding::{log_in, wait_live};
use crate::driver::{Browser, Driver};
use crate::helpers::{auction, TestApp, PASSWORD};

/// The texts of every element matching `css`.
async fn texts(browser: &Browser, css: &str) -> Vec<String> {
    let script = format!(
        "return Array.from(document.querySelectorAll({css:?})).map(e => e.textContent.trim());"
    );
    serde_json::from_value(browser.eval(&script).await).expect("strings")
}

async fn displayed(browser: &Browser, css: &str) -> bool {
    match browser.client.find(fantoccini::Locator::Css(css)).await {
        Ok(element) => element.is_displayed().await.unwrap_or(false),
        Err(_) => false,
    }
}

#[actix_web::test]
async fn quick_bids_offer_the_next_three_steps_and_the_increment_table_is_one_link_away() {
    let Some(driver) = Driver::start("quick bids").await else {
        return;
    };
    let app = TestApp::spawn().await;
    let id = app
        .create_auction(auction("Bronze hand bell", 1000, Duration::hours(2)))
        .await;
    app.register("ann").await;
    app.register("ben").await;
    let ben = app.token("ben", PASSWORD).await;
    let path = format!("/auctions/{id}");
    let browser = driver.browser_sized(390, 844).await;
    log_in(&browser, &app, "ann", PASSWORD, &path).await;
    wait_live(&browser).await;

    // No bids: the starting price, then one €0.50 step each.
    assert_eq!(
        texts(&browser, "[data-quick-bid]").await,
        ["€10.00", "€10.50", "€11.00"]
    );
    browser.screenshot("lot-quick-bids-phone").await;

    // A quick bid fills the form and asks to confirm; nothing is sent yet.
    browser.click("[data-quick-bid]:nth-of-type(2)").await;
    let plan = browser
        .wait_for_text("#bid-confirm-text", "the plan", |t| !t.is_empty())
        .await;
    assert!(plan.starts_with("You are bidding €10.50."), "{plan}");
    assert_eq!(app.snapshot(&id).await["bid_count"], 0);
    browser.click("#bid-confirm-yes").await;
    browser
        .wait_for_text("#my-standing", "leading", |t| {
            t == "You are leading at €10.50."
        })
        .await;
    // The leader raises a maximum instead: no quick bids.
    assert!(!displayed(&browser, "#quick-bids").await);

    // Outbid by another bidder: quick bids follow the new minimum at once.
    app.bid(&ben, &id, 1200).await;
    browser
        .wait_for_text("#my-standing", "outbid", |t| {
            t.starts_with("You have been outbid")
        })
        .await;
    assert!(displayed(&browser, "#quick-bids").await);
    assert_eq!(
        texts(&browser, "[data-quick-bid]").await,
        ["€12.50", "€13.00", "€13.50"]
    );

    // The increment table of the lot, one link away.
    browser.click("#increments-link").await;
    assert!(browser.path().await.ends_with(&path));
    let rows = texts(&browser, "#increments tbody tr").await;
    assert_eq!(rows.len(), 10, "{rows:?}");
    assert_eq!(rows[0], "Below €1.00€0.05");
    assert_eq!(rows[3], "€25.00 to €99.99€1.00");
    assert_eq!(rows[9], "€5,000.00 and up€100.00");
    browser.quit().await;
    app.stop().await;
}

#[actix_web::test]
async fn the_reserve_label_follows_the_price_and_says_why_it_jumped_and_soft_close_is_explained() {
    let Some(driver) = Driver::start("reserve label").await else {
        return;
    };
    let app = TestApp::spawn().await;
    let mut with_reserve = auction("Mahogany tea caddy", 1000, Duration::hours(2));
    with_reserve["reserve_price"] = json!(5000);
    with_reserve["extend_window_secs"] = json!(120);
    let id = app.create_auction(with_reserve).await;
    let plain = app
        .create_auction(auction("Clay pipe", 300, Duration::hours(2)))
        .await;
    app.register("ann").await;
    let ann = app.token("ann", PASSWORD).await;
    let path = format!("/auctions/{id}");

    let watcher = driver.browser().await;
    watcher.goto(&app.url(&path)).await;
    wait_live(&watcher).await;
    assert_eq!(watcher.text("#reserve-label").await, "Reserve not met");
    assert_eq!(
        watcher.text("#soft-close-rule").await,
        "Soft close: bids in the last 2 minutes extend the lot to 2 minutes after the bid."
    );
    let list = driver.browser().await;
    list.goto(&app.url("/")).await;
    wait_live(&list).await;
    let label = |lot: &str| format!("[data-live-auction='{lot}'] [data-field='reserve-label']");
    assert_eq!(list.text_now(&label(&id)).await, "Reserve not met");
    assert_eq!(list.text_now(&label(&plain)).await, "No reserve");

    // Ann bids €10.00 with a maximum above the reserve: the price goes
    // straight to the reserve, and both pages say so at once.
    let response = app
        .client
        .post(app.url(&format!("/api/v1/auctions/{id}/bids")))
        .bearer_auth(&ann)
        .json(&json!({"request_id": "r1", "amount": 1000, "max_amount": 8000}))
        .send()
        .await
        .expect("a response");
    assert!(response.status().is_success(), "{}", response.status());
    watcher
        .wait_for_text("#reserve-label", "met", |t| t == "Reserve met")
        .await;
    let why = watcher.text("#reserve-jump").await;
    assert!(why.starts_with("Reserve met at €50.00."), "{why}");
    assert!(why.contains("maximum reached the reserve"), "{why}");
    list.wait_for_text(&label(&id), "met", |t| t == "Reserve met")
        .await;
    watcher.screenshot("lot-reserve-met").await;
    // A reload still says why.
    watcher.goto(&app.url(&path)).await;
    assert_eq!(watcher.text("#reserve-jump").await, why);

    // The rule is for live lots only.
    let admin = app.admin_token().await;
    app.client
        .post(app.url(&format!("/api/v1/admin/auctions/{id}/close")))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("closed");
    watcher
        .wait_for_text("#status", "closed", |t| t == "CLOSED")
        .await;
    assert!(!displayed(&watcher, "#soft-close-rule").await);
    watcher.quit().await;
    list.quit().await;
    app.stop().await;
}
