//! Accounts and sessions.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_error, TestApp};

crate::on_both_backends!(register_login_me_and_logout, duplicate_username_is_taken,);

async fn register_login_me_and_logout(app: TestApp) {
    let (id, token) = app.bidder("alice").await;
    let (status, me) = app.get_as(&token, "/api/v1/me").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["id"], id);
    assert_eq!(me["username"], "alice");
    assert_eq!(me["role"], "bidder");

    let response = app
        .client
        .delete(app.url("/api/v1/sessions"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("DELETE");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (status, body) = app.get_as(&token, "/api/v1/me").await;
    assert_error(status, &body, 401, "unauthenticated");
}

async fn duplicate_username_is_taken(app: TestApp) {
    app.bidder("bob").await;
    let (status, body) = app
        .post(
            "/api/v1/users",
            &json!({"username": "BOB", "password": "another-password"}),
        )
        .await;
    assert_error(status, &body, 409, "username_taken");
}

#[actix_web::test]
async fn logins_and_registrations_are_limited_per_address() {
    use crate::helpers::{test_config, Backend, TestDatabase};
    let Some(db) = TestDatabase::new(Backend::Sqlite).await else {
        return;
    };
    let mut config = test_config(&db.url);
    config.auth_rate_per_min = 3;
    // Logins are limited per (address, username).
    config.login_rate_per_min = 2;
    let app = TestApp::start(db, config).await;
    let (status, _) = app
        .post(
            "/api/v1/users",
            &json!({"username": "limited", "password": "password-123"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    for _ in 0..2 {
        app.login("limited", "password-123").await;
    }
    let (status, body) = app
        .post(
            "/api/v1/sessions",
            &json!({"username": "limited", "password": "password-123"}),
        )
        .await;
    assert_error(status, &body, 429, "rate_limited");
}
