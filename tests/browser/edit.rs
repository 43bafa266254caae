//! An admin edits a lot from its admin page: before the first bid the
//! title and reserve change, after it only the description; a bidder's page
//! says the lot was edited.

use chrono::Duration;

use crate::bidding::log_in;
use crate::driver::Driver;
use crate::helpers::{auction, TestApp, ADMIN_PASSWORD, ADMIN_USER, PASSWORD};

#[actix_web::test]
async fn an_admin_edits_a_lot_before_and_after_its_first_bid() {
    let Some(driver) = Driver::start("edit").await else {
        return;
    };
    let app = TestApp::spawn().await;
    let lot = app
        .create_auction(auction("Mahogany tea caddy", 1500, Duration::hours(2)))
        .await;
    let house = driver.browser().await;
    log_in(&house, &app, ADMIN_USER, ADMIN_PASSWORD, "/admin").await;
    house
        .goto(&app.url(&format!("/admin/auctions/{lot}")))
        .await;
    house.click("#edit-link").await;
    house.find("#edit-form").await;
    house.fill("#title", "Mahogany tea caddy, Georgian").await;
    house.fill("#reserve_price", "40.00").await;
    house.fill("#reason", "dated by the specialist").await;
    house.screenshot("admin-edit-form").await;
    house.click("#edit-submit").await;
    house
        .wait_for_text(".flash", "the edit", |t| t.contains("edited"))
        .await;
    let admin = app.admin_token().await;
    let view: serde_json::Value = reqwest::Client::new()
        .get(app.url(&format!("/api/v1/admin/auctions/{lot}")))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("the admin view")
        .json()
        .await
        .expect("json");
    assert_eq!(view["title"], "Mahogany tea caddy, Georgian");
    assert_eq!(view["reserve_price"], 4000);

    // A bidder sees the new title and that it was edited; then bids.
    app.register("ola").await;
    let bidder = driver.browser().await;
    log_in(&bidder, &app, "ola", PASSWORD, &format!("/auctions/{lot}")).await;
    assert!(bidder.text("h1").await.contains("Georgian"));
    assert!(bidder
        .text("#edited-note")
        .await
        .contains("Edited by the auction house"));
    let ola = app.token("ola", PASSWORD).await;
    app.bid(&ola, &lot, 1500).await;

    // After the first bid only the description can change.
    house
        .goto(&app.url(&format!("/admin/auctions/{lot}/edit")))
        .await;
    assert!(house
        .text("#edit-rule")
        .await
        .contains("only its description"));
    assert!(house
        .find("#title")
        .await
        .attr("disabled")
        .await
        .ok()
        .flatten()
        .is_some());
    house
        .fill("#description", "Georgian, about 1790. Key present.")
        .await;
    house.click("#edit-submit").await;
    house
        .wait_for_text(".flash", "the second edit", |t| t.contains("edited"))
        .await;
    assert_eq!(
        app.snapshot(&lot).await["description"],
        "Georgian, about 1790. Key present."
    );
    bidder.quit().await;
    house.quit().await;
    app.stop().await;
}
