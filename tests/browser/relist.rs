//! An admin relists an unsold lot from its page: the form comes prefilled
//! with the old prices, a lower reserve is typed in, and both lots link to
//! each other afterwards.

use chrono::Duration;
use serde_json::json;

use crate::bidding::log_in;
use crate::driver::Driver;
use crate::helpers::{auction, TestApp, ADMIN_PASSWORD, ADMIN_USER, PASSWORD};

#[actix_web::test]
async fn an_admin_relists_an_unsold_lot_with_a_lower_reserve() {
    let Some(driver) = Driver::start("relist").await else {
        return;
    };
    let app = TestApp::spawn().await;
    let mut body = auction("Brass telescope", 2000, Duration::hours(3));
    body["reserve_price"] = json!(9000);
    let old = app.create_auction(body).await;
    app.register("ned").await;
    let ned = app.token("ned", PASSWORD).await;
    app.bid(&ned, &old, 2500).await;
    let admin = app.admin_token().await;
    let closed = reqwest::Client::new()
        .post(app.url(&format!("/api/v1/admin/auctions/{old}/close")))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("close");
    assert!(closed.status().is_success());

    let browser = driver.browser().await;
    log_in(&browser, &app, ADMIN_USER, ADMIN_PASSWORD, "/admin").await;
    browser
        .goto(&app.url(&format!("/admin/auctions/{old}")))
        .await;
    browser.click("#relist-link").await;
    browser.find("#relist-form").await;
    // Prefilled from the old lot.
    let reserve = browser.find("#reserve_price").await.prop("value").await;
    assert_eq!(reserve.ok().flatten().as_deref(), Some("90.00"));
    assert!(
        !browser.exists("#title").await,
        "the title is the old lot's"
    );
    browser.fill("#reserve_price", "60.00").await;
    browser.screenshot("admin-relist-form").await;
    browser.click("#relist-form button[type=submit]").await;
    browser
        .wait_for_text(".flash", "the relisting", |t| t.contains("relisted"))
        .await;
    let new_path = browser.path().await;
    assert_ne!(new_path, format!("/admin/auctions/{old}"));
    assert!(browser.text("#relisted-from").await.contains("earlier lot"));
    let new_id = new_path.trim_start_matches("/admin/auctions/").to_owned();
    let snapshot = app.snapshot(&new_id).await;
    assert_eq!(snapshot["title"], "Brass telescope");
    assert_eq!(snapshot["status"], "open");

    // The old lot links to the new one and offers no second relisting.
    browser
        .goto(&app.url(&format!("/admin/auctions/{old}")))
        .await;
    assert!(browser.text("#relisted-as").await.contains("new lot"));
    assert!(!browser.exists("#relist-link").await);
    browser.quit().await;
    app.stop().await;
}
