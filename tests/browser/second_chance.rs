//! A second-chance offer from both sides: the admin makes it from the lot's
//! admin page while the highest bidder, in another browser, finds it on My
//! bids and buys the lot from its page; everyone then reads that it sold.

use chrono::Duration;
use serde_json::json;

use crate::bidding::log_in;
use crate::driver::Driver;
use crate::helpers::{auction, TestApp, ADMIN_PASSWORD, ADMIN_USER, PASSWORD};

#[actix_web::test]
async fn the_admin_offers_a_reserve_not_met_lot_and_the_highest_bidder_buys_it() {
    let Some(driver) = Driver::start("second_chance").await else {
        return;
    };
    let app = TestApp::spawn().await;
    let mut body = auction("Pair of brass candlesticks", 1000, Duration::hours(2));
    body["reserve_price"] = json!(8000);
    let lot = app.create_auction(body).await;
    app.register("ivy").await;
    let ivy = app.token("ivy", PASSWORD).await;
    app.bid(&ivy, &lot, 2500).await;
    let admin = app.admin_token().await;
    let client = reqwest::Client::new();
    let closed = client
        .post(app.url(&format!("/api/v1/admin/auctions/{lot}/close")))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("close");
    assert!(closed.status().is_success());

    // Ivy's My bids has no offer yet.
    let bidder = driver.browser().await;
    log_in(&bidder, &app, "ivy", PASSWORD, "/me/bids").await;
    assert!(!bidder.exists("#offers").await);

    let house = driver.browser().await;
    log_in(&house, &app, ADMIN_USER, ADMIN_PASSWORD, "/admin").await;
    house
        .goto(&app.url(&format!("/admin/auctions/{lot}")))
        .await;
    let form = house.text("#offer-form").await;
    assert!(form.contains("ivy") && form.contains("25.00"), "{form}");
    house.click("#offer-submit").await;
    house
        .wait_for_text(".flash", "the offer", |t| t.contains("Offer made"))
        .await;
    assert!(house.text("#offer-status").await.contains("open"));
    assert!(
        !house.exists("#relist-link").await,
        "an open offer holds the lot"
    );

    bidder.goto(&app.url("/me/bids")).await;
    let offers = bidder.text("#offers").await;
    assert!(
        offers.contains("Pair of brass candlesticks") && offers.contains("25.00"),
        "{offers}"
    );
    bidder
        .click(&format!("#offers a[href='/auctions/{lot}']"))
        .await;
    bidder.find("#second-chance").await;
    bidder.screenshot("second-chance-offer").await;
    bidder.click("#offer-accept").await;
    bidder
        .wait_for_text(".flash", "the purchase", |t| t.contains("You bought"))
        .await;
    assert!(bidder
        .text("#second-chance")
        .await
        .contains("You bought this lot"));

    // Anyone reading the lot learns it sold; the admin sees it accepted.
    let page = client
        .get(app.url(&format!("/auctions/{lot}")))
        .send()
        .await
        .expect("the lot page")
        .text()
        .await
        .expect("html");
    assert!(page.contains("Sold after the close by a second-chance offer for EUR 25.00"));
    assert!(
        !page.contains("offer-accept"),
        "nobody else gets the buttons"
    );
    house
        .goto(&app.url(&format!("/admin/auctions/{lot}")))
        .await;
    assert!(house.text("#offer-status").await.contains("accepted"));
    bidder.quit().await;
    house.quit().await;
    app.stop().await;
}
