//! Issue 12, "Your maximum": a bidder sees their own standing maximum on
//! the lot page and on My bids, and raises it; nobody else sees it (not
//! another bidder's page, not the public JSON, not the public SSE feed).

use std::time::Duration as StdDuration;

use chrono::Duration;
use serde_json::{json, Value};

use crate::bidding::{log_in, wait_live};
use crate::driver::{Browser, Driver};
use crate::helpers::{auction, TestApp, PASSWORD};

/// Whether any number in `value` equals `n`.
fn has_number(value: &Value, n: i64) -> bool {
    match value {
        Value::Number(number) => number.as_i64() == Some(n),
        Value::Array(items) => items.iter().any(|v| has_number(v, n)),
        Value::Object(map) => map.values().any(|v| has_number(v, n)),
        _ => false,
    }
}

/// Every `data:` object of the public SSE feed from the first event on,
/// read for a moment.
async fn sse_objects(app: &TestApp, id: &str) -> Vec<Value> {
    let mut response = app
        .client
        .get(app.url(&format!("/api/v1/auctions/{id}/events")))
        .header("Last-Event-ID", "0")
        .send()
        .await
        .expect("a feed");
    assert!(response.status().is_success(), "{}", response.status());
    let mut text = String::new();
    while let Ok(Ok(Some(chunk))) =
        tokio::time::timeout(StdDuration::from_millis(700), response.chunk()).await
    {
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    text.lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .map(|data| serde_json::from_str(data).expect("JSON data"))
        .collect()
}

async fn my_max_on_my_bids(browser: &Browser, id: &str) -> String {
    browser
        .text_now(&format!("[data-live-auction='{id}'] [data-field='my-max']"))
        .await
}

#[actix_web::test]
async fn a_bidder_sees_and_raises_their_own_maximum_and_nobody_else_sees_it() {
    let Some(driver) = Driver::start("your maximum").await else {
        return;
    };
    let app = TestApp::spawn().await;
    let id = app
        .create_auction(auction("Painted fire screen", 1000, Duration::hours(2)))
        .await;
    app.register("ann").await;
    app.register("ben").await;
    let ann = app.token("ann", PASSWORD).await;
    let ben = app.token("ben", PASSWORD).await;
    // Ann bids €10.00 with a maximum of €91.37 through the API.
    let response = app
        .client
        .post(app.url(&format!("/api/v1/auctions/{id}/bids")))
        .bearer_auth(&ann)
        .json(&json!({"request_id": "ann-1", "amount": 1000, "max_amount": 9137}))
        .send()
        .await
        .expect("a response");
    assert!(response.status().is_success(), "{}", response.status());
    let path = format!("/auctions/{id}");

    // Her lot page and My bids show it.
    let page = driver.browser().await;
    log_in(&page, &app, "ann", PASSWORD, &path).await;
    wait_live(&page).await;
    assert_eq!(page.text("#my-max").await, "€91.37");
    let list = driver.browser_sized(390, 844).await;
    log_in(&list, &app, "ann", PASSWORD, "/me/bids").await;
    wait_live(&list).await;
    assert_eq!(my_max_on_my_bids(&list, &id).await, "€91.37");
    list.screenshot("my-bids-maximum-phone").await;

    // She raises it from the lot page; My bids (another tab) follows.
    page.fill("#bid-max", "120").await;
    page.click("#bid-review").await;
    page.wait_for_text("#bid-confirm-text", "the raise", |t| !t.is_empty())
        .await;
    page.click("#bid-confirm-yes").await;
    page.wait_for_text("#my-max", "the new maximum", |t| t == "€120.00")
        .await;
    list.wait_for("My bids to show €120.00", || async {
        (my_max_on_my_bids(&list, &id).await == "€120.00").then_some(())
    })
    .await;

    // Settled, My bids is not swapped again and again.
    let swaps = list.eval("return window.Gavel.listSwaps || 0;").await;
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    assert_eq!(
        list.eval("return window.Gavel.listSwaps || 0;").await,
        swaps
    );

    // Another bidder's page never carries it, nor does the public API.
    let other = driver.browser().await;
    log_in(&other, &app, "ben", PASSWORD, &path).await;
    wait_live(&other).await;
    let source = other.client.source().await.expect("the page source");
    for secret in ["91.37", "120.00", "9137", "12000"] {
        assert!(!shows_number(&source, secret), "ben's page shows {secret}");
    }
    assert!(other.exists("#my-max-line[hidden]").await);
    let snapshot = app.snapshot(&id).await;
    let bids: Value = app
        .client
        .get(app.url(&format!("/api/v1/auctions/{id}/bids")))
        .send()
        .await
        .expect("bids")
        .json()
        .await
        .expect("JSON");
    let feed = sse_objects(&app, &id).await;
    assert!(!feed.is_empty(), "the feed sent something");
    for (what, value) in [("snapshot", &snapshot), ("bids", &bids)]
        .into_iter()
        .chain(feed.iter().map(|v| ("feed", v)))
    {
        for secret in [9137, 12000] {
            assert!(!has_number(value, secret), "{what} shows {secret}: {value}");
        }
    }

    // Ben outbids her maximum: her My bids row no longer shows one.
    app.bid(&ben, &id, 15000).await;
    list.wait_for("the maximum to go", || async {
        (my_max_on_my_bids(&list, &id).await == "—").then_some(())
    })
    .await;
    assert_eq!(
        list.text(&format!(
            "[data-live-auction='{id}'] [data-field='standing']"
        ))
        .await,
        "OUTBID"
    );
    page.wait_for_text("#my-standing", "outbid", |t| {
        t.starts_with("You have been outbid")
    })
    .await;
    assert!(page.exists("#my-max-line[hidden]").await);
    for browser in [page, list, other] {
        browser.quit().await;
    }
    app.stop().await;
}

/// Whether `number` stands in `text` as a number of its own: not part of a
/// longer run of letters or digits (an id, a hash, a request id), where
/// four digits turn up by chance.
fn shows_number(text: &str, number: &str) -> bool {
    let part_of_word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    text.match_indices(number).any(|(at, _)| {
        !part_of_word(text[..at].chars().next_back())
            && !part_of_word(text[at + number.len()..].chars().next())
    })
}
