//! Issue 12, bug 7: the front page and the admin dashboard move lots
//! without a reload: a new lot appears, a started one moves into "Open
//! now", a closed one leaves it (and, on the dashboard, joins "Closed").

use chrono::{Duration, SecondsFormat, Utc};
use serde_json::json;

use crate::bidding::{log_in, wait_live};
use crate::driver::{Browser, Driver};
use crate::helpers::{auction, TestApp, ADMIN_PASSWORD, ADMIN_USER};

/// Whether the section `list` shows the lot `id`.
async fn shows(browser: &Browser, list: &str, id: &str) -> bool {
    browser
        .exists(&format!(
            "[data-live-list='{list}'] [data-live-auction='{id}']"
        ))
        .await
}

/// Waits until the section `list` shows the lot `id` (`want`) or not.
async fn wait_shows(browser: &Browser, list: &str, id: &str, want: bool) {
    let what = format!(
        "{id} {} the {list} list",
        if want { "in" } else { "out of" }
    );
    browser
        .wait_for(&what, || async {
            (shows(browser, list, id).await == want).then_some(())
        })
        .await;
}

async fn close(app: &TestApp, id: &str) {
    let admin = app.admin_token().await;
    let response = app
        .client
        .post(app.url(&format!("/api/v1/admin/auctions/{id}/close")))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("a response");
    assert!(response.status().is_success(), "{}", response.status());
}

#[actix_web::test]
async fn the_front_page_adds_new_lots_and_moves_started_and_closed_ones_live() {
    let Some(driver) = Driver::start("live lists").await else {
        return;
    };
    let app = TestApp::spawn().await;
    let first = app
        .create_auction(auction("Pewter jug", 1000, Duration::hours(1)))
        .await;
    let browser = driver.browser().await;
    browser.goto(&app.url("/")).await;
    wait_live(&browser).await;
    assert!(shows(&browser, "open", &first).await);
    browser
        .eval("window.__sameDocument = 12; return null;")
        .await;

    // An admin (another context) adds a lot: it appears, and is live.
    let second = app
        .create_auction(auction("Copper kettle", 1500, Duration::hours(1)))
        .await;
    wait_shows(&browser, "open", &second, true).await;
    assert_eq!(
        browser.text_now("[data-live-list='open'] .count").await,
        "2"
    );
    app.register("ivo").await;
    app.register("jan").await;
    let ivo = app.token("ivo", crate::helpers::PASSWORD).await;
    let jan = app.token("jan", crate::helpers::PASSWORD).await;
    app.bid(&ivo, &second, 1500).await;
    app.bid(&jan, &second, 1600).await;
    browser
        .wait_for_text(
            &format!("[data-live-auction='{second}'] [data-field='bids-text']"),
            "2 bids",
            |t| t == "2 bids",
        )
        .await;

    // A lot starting in a few seconds: first under "Starting soon", then
    // in "Open now".
    let mut soon = auction("Tin toy car", 500, Duration::hours(1));
    soon["starts_at"] =
        json!((Utc::now() + Duration::seconds(8)).to_rfc3339_opts(SecondsFormat::Millis, true));
    let soon = app.create_auction(soon).await;
    wait_shows(&browser, "upcoming", &soon, true).await;
    wait_shows(&browser, "open", &soon, true).await;
    assert!(!shows(&browser, "upcoming", &soon).await);

    // A lot closed early leaves "Open now" at once.
    close(&app, &first).await;
    wait_shows(&browser, "open", &first, false).await;
    assert_eq!(
        browser.text_now("[data-live-list='open'] .count").await,
        "2"
    );
    // All of it without a reload; once settled, refetches swap nothing.
    assert_eq!(
        browser.eval("return window.__sameDocument;").await,
        json!(12)
    );
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let swaps = browser.eval("return window.Gavel.listSwaps || 0;").await;
    assert!(swaps.as_i64().is_some_and(|n| n >= 3), "{swaps}");
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    assert_eq!(
        browser.eval("return window.Gavel.listSwaps || 0;").await,
        swaps,
        "a steady list is not swapped again"
    );
    let phone = driver.browser_sized(390, 844).await;
    phone.goto(&app.url("/")).await;
    wait_live(&phone).await;
    phone.screenshot("front-page-phone").await;
    phone.quit().await;
    browser.quit().await;
    app.stop().await;
}

#[actix_web::test]
async fn the_admin_dashboard_adds_new_lots_and_moves_closed_ones_live() {
    let Some(driver) = Driver::start("live dashboard").await else {
        return;
    };
    let app = TestApp::spawn().await;
    let browser = driver.browser().await;
    log_in(&browser, &app, ADMIN_USER, ADMIN_PASSWORD, "/admin").await;
    wait_live(&browser).await;
    browser
        .eval("window.__sameDocument = 7; return null;")
        .await;

    let id = app
        .create_auction(auction("Silver spoon", 800, Duration::hours(1)))
        .await;
    wait_shows(&browser, "open", &id, true).await;
    close(&app, &id).await;
    wait_shows(&browser, "closed", &id, true).await;
    assert!(!shows(&browser, "open", &id).await);
    let time = browser
        .text_now(&format!(
            "[data-live-list='closed'] [data-live-auction='{id}'] [data-countdown]"
        ))
        .await;
    assert!(time.starts_with("Closed at "), "{time}");
    assert_eq!(
        browser
            .text_now("[data-live-list='stats'] a[href='#closed-heading'] .stat-number")
            .await,
        "1"
    );
    assert_eq!(
        browser.eval("return window.__sameDocument;").await,
        json!(7)
    );
    browser.quit().await;
    app.stop().await;
}
