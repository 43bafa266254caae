//! Issue 12, bug 4: a lot that ends early shows when it actually closed,
//! not its planned end: live on the lot page, after a reload, in the API,
//! on My bids and on the admin dashboard.

use chrono::{DateTime, Duration, Utc};

use crate::bidding::{log_in, wait_live};
use crate::driver::Driver;
use crate::helpers::{auction, PageClient, TestApp, ADMIN_PASSWORD, ADMIN_USER, PASSWORD};

fn parse(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text:?} is no RFC 3339 time: {e}"))
        .with_timezone(&Utc)
}

/// Within a minute of now: the close just happened (the planned end is
/// two hours away).
fn just_now(time: DateTime<Utc>) -> bool {
    (Utc::now() - time).num_seconds().abs() < 60
}

#[actix_web::test]
async fn an_early_close_shows_the_actual_close_time_everywhere() {
    let Some(driver) = Driver::start("closed at").await else {
        return;
    };
    let app = TestApp::spawn().await;
    let id = app
        .create_auction(auction("Oak sewing box", 2000, Duration::hours(2)))
        .await;
    app.register("hana").await;
    let hana = app.token("hana", PASSWORD).await;
    app.bid(&hana, &id, 2000).await;
    let path = format!("/auctions/{id}");

    let browser = driver.browser().await;
    log_in(&browser, &app, "hana", PASSWORD, &path).await;
    wait_live(&browser).await;
    assert_eq!(browser.text("#ends-label").await, "Ends");

    // An admin closes it early; the open page says when, at once.
    let admin = app.admin_token().await;
    let response = app
        .client
        .post(app.url(&format!("/api/v1/admin/auctions/{id}/close")))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("a response");
    assert!(response.status().is_success(), "{}", response.status());
    browser
        .wait_for_text("#ends-label", "Closed at", |t| t == "Closed at")
        .await;
    let shown = browser
        .find("#ends-at")
        .await
        .attr("datetime")
        .await
        .expect("an attribute")
        .expect("a datetime");
    assert!(just_now(parse(&shown)), "live close time {shown}");

    // The API has it, before the planned end.
    let snapshot = app.snapshot(&id).await;
    let closed_at = snapshot["closed_at"]
        .as_str()
        .expect("closed_at")
        .to_owned();
    assert!(just_now(parse(&closed_at)), "{snapshot}");
    assert!(
        parse(&closed_at) < parse(snapshot["ends_at"].as_str().expect("ends_at")),
        "{snapshot}"
    );

    // After a reload, the page says the same.
    browser.goto(&app.url(&path)).await;
    assert_eq!(browser.text("#ends-label").await, "Closed at");
    let reloaded = browser
        .find("#ends-at")
        .await
        .attr("datetime")
        .await
        .expect("an attribute");
    assert_eq!(reloaded.as_deref(), Some(closed_at.as_str()));
    browser.quit().await;

    // My bids: the close time, not the planned end.
    let mut page = PageClient::new(&app);
    page.log_in("hana", PASSWORD).await;
    let mine = page.get("/me/bids").await;
    assert!(
        mine.body.contains(&format!("datetime=\"{closed_at}\"")),
        "{}",
        mine.body
    );
    assert!(!mine
        .body
        .contains(snapshot["ends_at"].as_str().expect("ends_at")));

    // The admin dashboard's closed list says "Closed at".
    let mut admin_page = PageClient::new(&app);
    admin_page.log_in(ADMIN_USER, ADMIN_PASSWORD).await;
    let dashboard = admin_page.get("/admin").await;
    assert!(
        dashboard
            .body
            .contains(&format!("data-closed-at=\"{closed_at}\"")),
        "{}",
        dashboard.body
    );
    assert!(dashboard.body.contains("Closed at "), "{}", dashboard.body);
    let detail = admin_page.get(&format!("/admin/auctions/{id}")).await;
    assert!(
        detail.body.contains("<dt>Closed at</dt>"),
        "{}",
        detail.body
    );
    app.stop().await;
}
