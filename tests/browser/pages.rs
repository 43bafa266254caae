//! The pages over plain HTTP: what works without JavaScript, error pages,
//! cookies, and the CSRF guard on every form.

use chrono::Duration;
use reqwest::StatusCode;

use crate::helpers::{auction, input_value, PageClient, TestApp, PASSWORD};

#[actix_web::test]
async fn unknown_pages_get_an_html_404_and_unknown_api_paths_keep_json() {
    let app = TestApp::spawn().await;
    let mut page = PageClient::new(&app);

    let missing = page.get("/no/such/page").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.content_type.starts_with("text/html"), "{missing:?}");
    assert!(missing.body.contains("Page not found"), "{}", missing.body);

    let auction = page
        .get("/auctions/0190a0a0-0000-7000-8000-000000000000")
        .await;
    assert_eq!(auction.status, StatusCode::NOT_FOUND);
    assert!(auction.body.contains("no such auction"), "{}", auction.body);

    let api = page.get("/api/v1/nothing-here").await;
    assert_eq!(api.status, StatusCode::NOT_FOUND);
    assert!(api.content_type.starts_with("application/json"), "{api:?}");
    assert!(api.body.contains("\"not_found\""), "{}", api.body);
    app.stop().await;
}

#[actix_web::test]
async fn head_answers_pages_and_health_like_get_without_a_body() {
    let app = TestApp::spawn().await;
    let id = app
        .create_auction(auction("Brass bell", 1000, Duration::hours(1)))
        .await;
    for path in [
        "/",
        &format!("/auctions/{id}"),
        "/login",
        "/healthz",
        "/readyz",
    ] {
        let url = format!("{}{path}", app.address);
        let get = app.client.get(&url).send().await.expect("GET");
        let head = app.client.head(&url).send().await.expect("HEAD");
        assert_eq!(head.status(), get.status(), "{path}");
        assert_eq!(
            head.headers().get("content-type"),
            get.headers().get("content-type"),
            "{path}"
        );
        assert!(head.bytes().await.expect("body").is_empty(), "{path}");
    }
    let missing = app
        .client
        .head(format!(
            "{}/auctions/0190a0a0-0000-7000-8000-000000000000",
            app.address
        ))
        .send()
        .await
        .expect("HEAD");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

#[actix_web::test]
async fn pages_render_their_first_state_without_javascript() {
    let app = TestApp::spawn().await;
    let id = app
        .create_auction(auction("Copper kettle", 2500, Duration::hours(3)))
        .await;
    app.register("early-bird").await;
    let token = app.token("early-bird", PASSWORD).await;
    app.bid(&token, &id, 2500).await;

    let mut page = PageClient::new(&app);
    let index = page.get("/").await;
    assert_eq!(index.status, StatusCode::OK);
    assert!(index.body.contains("Copper kettle"), "{}", index.body);
    assert!(index.body.contains("EUR 25.00"), "{}", index.body);
    assert!(index.body.contains("Ends in 2h 59m") || index.body.contains("Ends in 3h 00m"));

    let show = page.get(&format!("/auctions/{id}")).await;
    assert_eq!(show.status, StatusCode::OK);
    for needle in [
        "Copper kettle",
        "EUR 25.00",
        "Minimum next bid",
        "EUR 26.00",
        "1 bid",
        "A fine thing.",
        "Log in to bid",
        "<svg id=\"price-chart\"",
    ] {
        assert!(show.body.contains(needle), "missing {needle:?}");
    }
    app.stop().await;
}

#[actix_web::test]
async fn a_plain_form_post_bids_without_javascript_after_a_confirmation_page() {
    let app = TestApp::spawn().await;
    let id = app
        .create_auction(auction("Oak stool", 2500, Duration::hours(1)))
        .await;
    let mut page = PageClient::new(&app);

    // Register through the form.
    let form = page.get("/register").await;
    let csrf = input_value(&form.body, "csrf").expect("a CSRF field");
    let registered = page
        .post(
            "/register",
            &[
                ("csrf", &csrf),
                ("username", "no-script"),
                ("password", PASSWORD),
                ("next", &format!("/auctions/{id}")),
            ],
        )
        .await;
    assert_eq!(
        registered.status,
        StatusCode::SEE_OTHER,
        "{}",
        registered.body
    );
    assert_eq!(
        registered.location.as_deref(),
        Some(&*format!("/auctions/{id}"))
    );

    // The auction page carries the form.
    let show = page.get(&format!("/auctions/{id}")).await;
    assert!(show.body.contains("id=\"bid-form\""), "{}", show.body);
    let csrf = input_value(&show.body, "csrf").expect("a CSRF field");
    let request_id = input_value(&show.body, "request_id").expect("a request id");
    let bid_path = format!("/auctions/{id}/bid");

    // Step one: the confirmation says what will happen and places nothing.
    let confirm = page
        .post(
            &bid_path,
            &[
                ("csrf", &csrf),
                ("request_id", &request_id),
                ("amount", "26"),
                ("max_amount", "40.00"),
            ],
        )
        .await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(
        confirm.body.contains("Confirm your bid"),
        "{}",
        confirm.body
    );
    assert!(confirm.body.contains("EUR 26.00"), "{}", confirm.body);
    assert!(
        confirm.body.contains("let Gavel bid for you up to") && confirm.body.contains("EUR 40.00"),
        "{}",
        confirm.body
    );
    assert_eq!(app.snapshot(&id).await["bid_count"], 0);

    // Step two: confirmed, it bids and redirects back with the answer.
    let confirmed_form = [
        ("csrf", csrf.as_str()),
        ("request_id", request_id.as_str()),
        ("amount", "26.00"),
        ("max_amount", "40.00"),
        ("confirmed", "yes"),
    ];
    let placed = page.post(&bid_path, &confirmed_form).await;
    assert_eq!(placed.status, StatusCode::SEE_OTHER, "{}", placed.body);
    assert_eq!(
        placed.location.as_deref(),
        Some(&*format!("/auctions/{id}"))
    );
    let after = page.get(&format!("/auctions/{id}")).await;
    assert!(
        after.body.contains("You are leading at EUR 26.00."),
        "{}",
        after.body
    );
    // The flash is shown once.
    let again = page.get(&format!("/auctions/{id}")).await;
    assert!(!again.body.contains("You are leading at"), "{}", again.body);

    // Sending the same form twice places one bid.
    let replay = page.post(&bid_path, &confirmed_form).await;
    assert_eq!(replay.status, StatusCode::SEE_OTHER);
    let snapshot = app.snapshot(&id).await;
    assert_eq!(snapshot["bid_count"], 1, "{snapshot}");
    assert_eq!(snapshot["current_price"], 2600, "{snapshot}");

    // A rejection comes back in words.
    let show = page.get(&format!("/auctions/{id}")).await;
    let request_id = input_value(&show.body, "request_id").expect("a request id");
    let low = page
        .post(
            &bid_path,
            &[
                ("csrf", &csrf),
                ("request_id", &request_id),
                ("amount", "26.00"),
                ("confirmed", "yes"),
            ],
        )
        .await;
    assert_eq!(low.status, StatusCode::SEE_OTHER);
    let refused = page.get(&format!("/auctions/{id}")).await;
    assert!(
        refused.body.contains("You are already leading."),
        "{}",
        refused.body
    );

    // My bids lists it as leading.
    let mine = page.get("/me/bids").await;
    assert!(mine.body.contains("Oak stool"), "{}", mine.body);
    assert!(mine.body.contains(">Leading<"), "{}", mine.body);
    app.stop().await;
}

#[actix_web::test]
async fn session_and_csrf_cookies_are_http_only_and_same_site_lax() {
    let app = TestApp::spawn().await;
    let login = app
        .client
        .get(app.url("/login"))
        .send()
        .await
        .expect("a response");
    let csrf_cookie = login
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("gavel_csrf="))
        .expect("a CSRF cookie")
        .to_string();
    assert!(csrf_cookie.contains("HttpOnly"), "{csrf_cookie}");
    assert!(csrf_cookie.contains("SameSite=Lax"), "{csrf_cookie}");

    let mut page = PageClient::new(&app);
    let form = page.get("/login").await;
    let csrf = input_value(&form.body, "csrf").expect("a CSRF field");
    let response = app
        .client
        .post(app.url("/login"))
        .header(reqwest::header::ORIGIN, app.address.clone())
        .header(
            reqwest::header::COOKIE,
            format!("gavel_csrf={}", page.cookies["gavel_csrf"]),
        )
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", crate::helpers::ADMIN_USER),
            ("password", crate::helpers::ADMIN_PASSWORD),
            ("next", "/admin"),
        ])
        .send()
        .await
        .expect("a response");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let session = response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("gavel_session="))
        .expect("a session cookie")
        .to_string();
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Lax"), "{session}");
    assert!(!session.contains("Secure"), "plain http here: {session}");
    app.stop().await;
}

#[actix_web::test]
async fn admin_pages_need_an_admin() {
    let app = TestApp::spawn().await;
    let mut anonymous = PageClient::new(&app);
    let redirected = anonymous.get("/admin").await;
    assert_eq!(redirected.status, StatusCode::SEE_OTHER);
    assert_eq!(redirected.location.as_deref(), Some("/login?next=/admin"));

    app.register("just-a-bidder").await;
    let token = app.token("just-a-bidder", PASSWORD).await;
    let mut bidder = PageClient::new(&app);
    bidder.cookies.insert("gavel_session".into(), token);
    let refused = bidder.get("/admin/users").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.content_type.starts_with("text/html"));
    assert!(
        refused.body.contains("for administrators"),
        "{}",
        refused.body
    );
    app.stop().await;
}

#[actix_web::test]
async fn a_cross_site_form_post_to_an_admin_action_is_refused() {
    let app = TestApp::spawn().await;
    let id = app
        .create_auction(auction("Target of the attack", 1000, Duration::hours(1)))
        .await;
    let cancel = format!("/admin/auctions/{id}/cancel");
    let mut admin = PageClient::new(&app);
    admin
        .cookies
        .insert("gavel_session".into(), app.admin_token().await);
    // The admin has a real CSRF token in their browser.
    let confirm_page = admin.get(&cancel).await;
    assert_eq!(confirm_page.status, StatusCode::OK, "{}", confirm_page.body);
    let token = input_value(&confirm_page.body, "csrf").expect("a CSRF field");

    // From another site, without the token: refused.
    let foreign = admin
        .post_with(&cancel, &[("Origin", "https://evil.example")], &[])
        .await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN, "{}", foreign.body);
    assert!(foreign.content_type.starts_with("text/html"));
    // From another site, even with a guessed or stolen token: refused.
    let foreign_with_token = admin
        .post_with(
            &cancel,
            &[("Origin", "https://evil.example")],
            &[("csrf", &token)],
        )
        .await;
    assert_eq!(foreign_with_token.status, StatusCode::FORBIDDEN);
    // A forged token, even from this site: refused.
    let forged = admin
        .post_with(
            &cancel,
            &[("Origin", &app.address)],
            &[("csrf", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    // No Origin, but the browser says cross-site: refused.
    let cross_site = admin
        .post_with(
            &cancel,
            &[("Sec-Fetch-Site", "cross-site")],
            &[("csrf", &token)],
        )
        .await;
    assert_eq!(cross_site.status, StatusCode::FORBIDDEN);
    // Ban attempts too.
    let users = admin
        .post_with(
            "/admin/users/0190a0a0-0000-7000-8000-000000000000/ban",
            &[("Origin", "https://evil.example")],
            &[],
        )
        .await;
    assert_eq!(users.status, StatusCode::FORBIDDEN);

    // Nothing changed.
    assert_eq!(app.snapshot(&id).await["status"], "open");

    // The same POST from this site with the token works (the refusals
    // above were the CSRF guard, not something else).
    let done = admin.post(&cancel, &[("csrf", &token)]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(app.snapshot(&id).await["status"], "cancelled");
    app.stop().await;
}
