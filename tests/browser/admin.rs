//! Admins in a real browser, and what the pages do with hostile text.

use chrono::Duration;
use serde_json::json;

use crate::bidding::{log_in, wait_live};
use crate::driver::Driver;
use crate::helpers::{auction, TestApp, ADMIN_PASSWORD, ADMIN_USER, PASSWORD};

#[actix_web::test]
async fn an_admin_creates_an_auction_through_the_form_and_cancels_one_after_confirming() {
    let Some(driver) = Driver::start("admin").await else {
        return;
    };
    let app = TestApp::spawn().await;
    // Something on every shelf of the dashboard.
    let busy = app
        .create_auction(auction("Victorian writing slope", 4000, Duration::hours(5)))
        .await;
    let doomed = app
        .create_auction(auction("Chipped teapot", 500, Duration::hours(2)))
        .await;
    let mut scheduled = auction("Garden bench (next week)", 9000, Duration::days(8));
    scheduled["starts_at"] = json!((chrono::Utc::now() + Duration::days(7))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    app.create_auction(scheduled).await;
    app.register("gus").await;
    let gus = app.token("gus", PASSWORD).await;
    app.bid(&gus, &busy, 4000).await;

    let browser = driver.browser().await;
    log_in(&browser, &app, ADMIN_USER, ADMIN_PASSWORD, "/admin").await;

    // The form says what is wrong, field by field.
    browser.click("a[href='/admin/auctions/new']").await;
    browser.find("#new-auction-form").await;
    browser.fill("#title", "   ").await;
    browser.fill("#starting_price", "twelve").await;
    browser.fill("#currency", "EU").await;
    browser.click("#new-auction-form button[type=submit]").await;
    let title_error = browser.text("#title-error").await;
    assert!(
        title_error.starts_with("Title must be 1 to 200 characters"),
        "{title_error}"
    );
    assert!(browser
        .text("#starting_price-error")
        .await
        .contains("amount like 12.50"));
    assert!(browser
        .text("#currency-error")
        .await
        .contains("three capital letters"));
    assert!(!browser.exists("#ends_at-error").await);
    assert_eq!(
        browser
            .find("#title")
            .await
            .attr("aria-invalid")
            .await
            .expect("attr"),
        Some("true".into())
    );
    assert!(browser.text("#error-summary").await.contains("3 fields"));
    browser.screenshot("admin-new-auction-errors").await;

    // Fixed, it creates the auction.
    browser.fill("#title", "Walnut writing desk").await;
    browser
        .fill("#description", "Three drawers.\n\nKey included.")
        .await;
    browser.fill("#currency", "EUR").await;
    browser.fill("#starting_price", "120").await;
    browser.fill("#reserve_price", "200.00").await;
    browser.click("#new-auction-form button[type=submit]").await;
    browser
        .wait_for_text(".flash", "created", |t| t.contains("created"))
        .await;
    assert_eq!(browser.text("#auction-title").await, "Walnut writing desk");
    let path = browser.path().await;
    let created = path
        .strip_prefix("/admin/auctions/")
        .expect("the new auction's admin page")
        .to_string();
    let snapshot = app.snapshot(&created).await;
    assert_eq!(snapshot["starting_price"], 12000, "{snapshot}");
    assert_eq!(snapshot["status"], "open", "{snapshot}");
    assert_eq!(snapshot["reserve_met"], false, "{snapshot}");

    // Cancel another one, after confirming.
    browser
        .goto(&app.url(&format!("/admin/auctions/{doomed}")))
        .await;
    browser.click("#cancel-link").await;
    let heading = browser.text("h1").await;
    assert_eq!(heading, "Cancel “Chipped teapot”?");
    browser.screenshot("admin-confirm-cancel").await;
    assert_eq!(
        app.snapshot(&doomed).await["status"],
        "open",
        "not before confirming"
    );
    browser.click("#confirm-button").await;
    browser
        .wait_for_text(".flash", "cancelled", |t| t.contains("cancelled"))
        .await;
    assert_eq!(browser.text("#status").await, "CANCELLED");
    assert_eq!(app.snapshot(&doomed).await["status"], "cancelled");

    // The detail of a busy auction shows the full bid log with usernames.
    browser
        .goto(&app.url(&format!("/admin/auctions/{busy}")))
        .await;
    assert!(browser.text("#bid-log").await.contains("gus"));
    // … and keeps it live: a new bid shows up without a reload.
    wait_live(&browser).await;
    app.register("ivy").await;
    let ivy = app.token("ivy", PASSWORD).await;
    app.bid(&ivy, &busy, 4200).await;
    browser
        .wait_for_text("#bid-log", "ivy's bid in the log", |t| t.contains("ivy"))
        .await;
    browser.screenshot("admin-auction-detail").await;

    // Users: ban, then unban.
    browser.goto(&app.url("/admin/users")).await;
    browser.screenshot("admin-users").await;
    browser.click("form[action$='/ban'] button").await;
    browser
        .wait_for_text(".flash", "the ban", |t| t.contains("gus is banned"))
        .await;
    browser.click("form[action$='/unban'] button").await;
    browser
        .wait_for_text(".flash", "the unban", |t| t.contains("gus may bid again"))
        .await;

    // The audit log has it all.
    browser.goto(&app.url("/admin/audit")).await;
    let audit = browser.text("#audit").await;
    for action in ["auction.create", "auction.cancel", "user.ban", "user.unban"] {
        assert!(audit.contains(action), "{action} in {audit}");
    }
    // It names the target (the banned user), not only its id.
    assert!(audit.contains("gus"), "the banned user's name in {audit}");
    browser.screenshot("admin-audit").await;

    // A lot's page links to its own actions only.
    browser
        .goto(&app.url(&format!("/admin/auctions/{doomed}")))
        .await;
    browser.click("#audit-link").await;
    browser
        .wait_for_text("#audit-filter", "the lot filter", |t| t.contains("lot"))
        .await;
    let lot_audit = browser.text("#audit").await;
    assert!(lot_audit.contains("auction.cancel"), "{lot_audit}");
    assert!(!lot_audit.contains("user.ban"), "{lot_audit}");

    // The dashboard, live.
    browser.goto(&app.url("/admin")).await;
    wait_live(&browser).await;
    app.register("hank").await;
    let hank = app.token("hank", PASSWORD).await;
    app.bid(&hank, &busy, 4500).await;
    let count = app.snapshot(&busy).await["bid_count"].to_string();
    browser
        .wait_for_text(
            &format!("[data-live-auction='{busy}'] [data-field='bids']"),
            "the new bid count",
            |t| t == count,
        )
        .await;
    browser.screenshot("admin-dashboard").await;
    browser.quit().await;
    app.stop().await;
}

#[actix_web::test]
async fn an_html_payload_in_a_title_shows_as_text() {
    let Some(driver) = Driver::start("html payload").await else {
        return;
    };
    let app = TestApp::spawn().await;
    let payload = r#"<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script><b>bold</b> & "quoted""#;
    let mut body = auction(payload, 1000, Duration::hours(1));
    body["description"] = json!(payload);
    let id = app.create_auction(body).await;
    app.register("hal").await;
    let hal = app.token("hal", PASSWORD).await;
    app.bid(&hal, &id, 1000).await;

    let browser = driver.browser().await;
    browser.goto(&app.url("/")).await;
    wait_live(&browser).await;
    assert_eq!(browser.text(".card-title a").await, payload);
    assert!(
        !browser
            .exists(".card-title img, .card-title b, .card-title script")
            .await
    );

    browser.goto(&app.url(&format!("/auctions/{id}"))).await;
    wait_live(&browser).await;
    assert_eq!(browser.text("#auction-title").await, payload);
    assert!(browser.text(".description").await.contains(payload));
    assert!(!browser.exists("main img, main b, main script").await);
    assert_eq!(
        browser.eval("return window.__pwned === undefined;").await,
        json!(true)
    );
    assert_eq!(
        browser.eval("return document.title;").await,
        json!(format!("{payload} · Gavel"))
    );

    browser.goto(&app.url("/no/such/page")).await;
    assert_eq!(browser.text("h1").await, "Page not found");
    browser.screenshot("not-found").await;

    log_in(&browser, &app, ADMIN_USER, ADMIN_PASSWORD, "/admin").await;
    assert!(browser.text(".admin-table").await.contains(payload));
    assert!(!browser.exists("main img, main b").await);
    assert_eq!(
        browser.eval("return window.__pwned === undefined;").await,
        json!(true)
    );
    browser.quit().await;
    app.stop().await;
}
