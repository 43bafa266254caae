//! A bidder's page while the house voids another bidder's bid: the voided
//! bid and the automatic bid placed from it are marked live, the price and
//! the standing follow, and a reload shows the same.

use chrono::Duration;
use serde_json::json;

use crate::bidding::{log_in, wait_live};
use crate::driver::Driver;
use crate::helpers::{auction, TestApp, PASSWORD};

#[actix_web::test]
async fn a_void_by_the_house_is_marked_live_on_another_bidders_page() {
    let Some(driver) = Driver::start("voids").await else {
        return;
    };
    let app = TestApp::spawn().await;
    let id = app
        .create_auction(auction("Silver inkwell", 1000, Duration::hours(2)))
        .await;
    app.register("ada").await;
    app.register("bob").await;
    let ada = app.token("ada", PASSWORD).await;
    let bob = app.token("bob", PASSWORD).await;
    let client = reqwest::Client::new();
    // Ada bids 10.00 with a maximum of 50.00.
    let placed: serde_json::Value = client
        .post(app.url(&format!("/api/v1/auctions/{id}/bids")))
        .bearer_auth(&ada)
        .json(&json!({"request_id": "ada-1", "amount": 1000, "max_amount": 5000}))
        .send()
        .await
        .expect("ada's bid")
        .json()
        .await
        .expect("a BidResult");
    let ada_seq = placed["seq"].as_i64().expect("a seq");

    let browser = driver.browser().await;
    log_in(&browser, &app, "bob", PASSWORD, &format!("/auctions/{id}")).await;
    wait_live(&browser).await;
    // Bob's 20.00 is answered by Ada's maximum.
    let answer = app.bid(&bob, &id, 2000).await;
    assert_eq!(answer["status"], "outbid", "{answer}");
    let auto_seq = app.snapshot(&id).await["seq"].as_i64().expect("a seq");
    browser
        .wait_for_text(
            &format!("#history-body tr[data-seq='{auto_seq}']"),
            "Ada's automatic bid",
            |t| t.contains("automatic"),
        )
        .await;
    assert!(!browser.exists("#history-body tr.voided").await);

    // The house voids Ada's bid while Bob watches.
    let admin = app.admin_token().await;
    let voided = client
        .post(app.url(&format!("/api/v1/admin/auctions/{id}/void")))
        .bearer_auth(&admin)
        .json(&json!({"seqs": [ada_seq], "reason": "entered by mistake"}))
        .send()
        .await
        .expect("the void");
    assert!(voided.status().is_success());

    for seq in [ada_seq, auto_seq] {
        browser
            .wait_for_text(
                &format!("#history-body tr[data-seq='{seq}']"),
                "the voided mark",
                |t| t.contains("voided"),
            )
            .await;
    }
    let bobs_row = browser
        .text(&format!("#history-body tr[data-seq='{}']", ada_seq + 1))
        .await;
    assert!(!bobs_row.contains("voided"), "{bobs_row}");
    browser
        .wait_for_text("#price", "the repriced price", |t| t == "€20.00")
        .await;
    let note_hidden = browser.find("#void-note").await.attr("hidden").await;
    assert!(matches!(note_hidden, Ok(None)), "the void note shows");
    browser.screenshot("voided-live").await;

    // A reload says the same.
    browser.goto(&app.url(&format!("/auctions/{id}"))).await;
    let voided_rows = browser
        .eval("return Array.from(document.querySelectorAll('#history-body tr.voided')).map(r => Number(r.dataset.seq))")
        .await;
    assert_eq!(voided_rows, json!([auto_seq, ada_seq]));
    assert_eq!(browser.text("#price").await, "€20.00");
    browser.quit().await;
    app.stop().await;
}
