//! Issue 12, Build: the watchlist. Watch and unwatch from a card and from
//! the lot page, the "Watching" page (live), and the watcher count on the
//! lot page and in the admin views; two bidders in two browsers.

use chrono::Duration;

use crate::bidding::{log_in, wait_live};
use crate::driver::{Browser, Driver};
use crate::helpers::{auction, PageClient, TestApp, ADMIN_PASSWORD, ADMIN_USER, PASSWORD};

/// The text with runs of white space as one space (a button may wrap).
fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

async fn button_text(browser: &Browser, css: &str) -> String {
    words(&browser.text_now(css).await)
}

fn card(id: &str, css: &str) -> String {
    format!("[data-live-auction='{id}'] {css}")
}

/// Clicks a watch button and waits for the page it returns to.
async fn toggle(browser: &Browser, button: &str, want: &str) {
    browser.click(button).await;
    browser
        .wait_for_text(button, want, |t| t.ends_with(want))
        .await;
}

#[actix_web::test]
async fn bidders_watch_and_unwatch_lots_and_everyone_sees_how_many_watch() {
    let Some(driver) = Driver::start("watchlist").await else {
        return;
    };
    let app = TestApp::spawn().await;
    let first = app
        .create_auction(auction("Enamel sign", 1000, Duration::hours(1)))
        .await;
    let second = app
        .create_auction(auction("Cast iron doorstop", 800, Duration::hours(2)))
        .await;
    app.register("ann").await;
    app.register("ben").await;
    let ben_token = app.token("ben", PASSWORD).await;

    // Ann watches the first lot from its card on the front page.
    let ann = driver.browser().await;
    log_in(&ann, &app, "ann", PASSWORD, "/").await;
    wait_live(&ann).await;
    let first_button = card(&first, "[data-watch-button]");
    assert_eq!(button_text(&ann, &first_button).await, "☆ Watch");
    toggle(&ann, &first_button, "Watching").await;
    assert_eq!(ann.path().await, "/");
    assert_eq!(
        ann.find(&first_button)
            .await
            .attr("aria-pressed")
            .await
            .expect("attr"),
        Some("true".into())
    );
    assert_eq!(
        button_text(&ann, &card(&second, "[data-watch-button]")).await,
        "☆ Watch"
    );

    // ... and the second from its page, which then counts one watcher.
    let second_path = format!("/auctions/{second}");
    ann.goto(&app.url(&second_path)).await;
    assert_eq!(ann.text("#watchers").await, "0 watchers");
    toggle(&ann, "[data-watch-button]", "Watching").await;
    assert_eq!(ann.path().await, second_path);
    assert_eq!(ann.text("#watchers").await, "1 watcher");

    // Ben watches the first lot too: two watchers, his button is his own.
    let ben = driver.browser().await;
    let first_path = format!("/auctions/{first}");
    log_in(&ben, &app, "ben", PASSWORD, &first_path).await;
    assert_eq!(ben.text("#watchers").await, "1 watcher");
    assert_eq!(button_text(&ben, "[data-watch-button]").await, "☆ Watch");
    toggle(&ben, "[data-watch-button]", "Watching").await;
    assert_eq!(ben.text("#watchers").await, "2 watchers");

    // Ann's Watching page lists both, live.
    ann.goto(&app.url("/me/watching")).await;
    wait_live(&ann).await;
    assert!(
        ann.exists(&format!(
            "[data-live-list='watch-live'] [data-live-auction='{first}']"
        ))
        .await
    );
    assert!(
        ann.exists(&format!(
            "[data-live-list='watch-live'] [data-live-auction='{second}']"
        ))
        .await
    );
    app.bid(&ben_token, &first, 1500).await;
    ann.wait_for_text(&card(&first, "[data-field='price']"), "€15.00", |t| {
        t == "€15.00"
    })
    .await;
    let phone = driver.browser_sized(390, 844).await;
    log_in(&phone, &app, "ann", PASSWORD, "/me/watching").await;
    wait_live(&phone).await;
    phone.screenshot("watching-phone").await;
    phone.quit().await;

    // A watched lot that closes moves to "Ended" without a reload.
    let admin = app.admin_token().await;
    app.client
        .post(app.url(&format!("/api/v1/admin/auctions/{second}/close")))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("closed");
    ann.wait_for("the closed lot under Ended", || async {
        ann.exists(&format!(
            "[data-live-list='watch-ended'] [data-live-auction='{second}']"
        ))
        .await
        .then_some(())
    })
    .await;

    // Unwatching from the Watching page removes it there.
    ann.click(&card(&first, "[data-watch-button]")).await;
    ann.wait_for("the unwatched lot to go", || async {
        (!ann.exists(&card(&first, "")).await).then_some(())
    })
    .await;
    assert_eq!(ann.path().await, "/me/watching");

    // An anonymous visitor sees the count but no button.
    let anonymous = driver.browser().await;
    anonymous.goto(&app.url(&first_path)).await;
    assert_eq!(anonymous.text("#watchers").await, "1 watcher");
    assert!(!anonymous.exists("[data-watch-button]").await);

    // The admin views count watchers too.
    let mut admin_page = PageClient::new(&app);
    admin_page.log_in(ADMIN_USER, ADMIN_PASSWORD).await;
    let dashboard = admin_page.get("/admin").await;
    for id in [&first, &second] {
        let at = dashboard
            .body
            .find(&format!("data-live-auction=\"{id}\""))
            .expect("the lot's row");
        let row = &dashboard.body[at..];
        let row = &row[..row.find("</tr>").expect("the row's end")];
        assert!(
            row.contains("<td class=\"num\" data-field=\"watchers\">1</td>"),
            "{row}"
        );
    }
    let detail = admin_page.get(&format!("/admin/auctions/{first}")).await;
    assert!(
        detail
            .body
            .contains("<dt>Watchers</dt><dd id=\"watchers\">1</dd>"),
        "{}",
        detail.body
    );
    for browser in [ann, ben, anonymous] {
        browser.quit().await;
    }
    app.stop().await;
}
