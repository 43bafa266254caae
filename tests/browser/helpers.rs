//! A test server on a fresh SQLite file, and a small HTTP client for the
//! pages (forms, cookies, redirects) next to the JSON API helpers.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use gavel::startup::{Application, ShutdownHandle};
use reqwest::StatusCode;
use serde_json::{json, Value};

pub const ADMIN_USER: &str = "root-admin";
pub const ADMIN_PASSWORD: &str = "admin-password-1";
pub const PASSWORD: &str = "password-123";

pub use crate::common::{in_process_config, services_required, TempDir};

/// A running server on its own SQLite file.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    handle: ShutdownHandle,
    server: Option<actix_web::rt::task::JoinHandle<std::io::Result<()>>>,
    _dir: TempDir,
}

impl TestApp {
    pub async fn spawn() -> Self {
        let dir = TempDir::new("gavel-browser-test");
        let config = in_process_config(
            &format!("sqlite://{}", dir.0.join("gavel.db").display()),
            (ADMIN_USER, ADMIN_PASSWORD),
        );
        let app = Application::build(config)
            .await
            .expect("the application builds");
        let port = app.port();
        let handle = app.handle();
        let server = actix_web::rt::spawn(app.run());
        Self {
            address: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                // Below the server's 5 s keep-alive: a pooled connection is
                // never reused just as the server closes it.
                .pool_idle_timeout(Duration::from_secs(2))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("a client"),
            handle,
            server: Some(server),
            _dir: dir,
        }
    }

    pub async fn stop(mut self) {
        self.handle.shutdown().await;
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    async fn json(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let response = request.send().await.expect("a response");
        let status = response.status();
        let text = response.text().await.expect("a body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Registers a bidder through the API.
    pub async fn register(&self, username: &str) {
        let (status, body) = self
            .json(
                self.client
                    .post(self.url("/api/v1/users"))
                    .json(&json!({"username": username, "password": PASSWORD})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    /// Logs in through the API; returns the session token.
    pub async fn token(&self, username: &str, password: &str) -> String {
        let (status, body) = self
            .json(
                self.client
                    .post(self.url("/api/v1/sessions"))
                    .json(&json!({"username": username, "password": password})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["token"].as_str().expect("a token").to_string()
    }

    pub async fn admin_token(&self) -> String {
        self.token(ADMIN_USER, ADMIN_PASSWORD).await
    }

    /// Creates an auction through the admin API; returns its id.
    pub async fn create_auction(&self, body: Value) -> String {
        let token = self.admin_token().await;
        let (status, created) = self
            .json(
                self.client
                    .post(self.url("/api/v1/admin/auctions"))
                    .bearer_auth(token)
                    .json(&body),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        created["id"].as_str().expect("an id").to_string()
    }

    /// Bids through the API; returns the BidResult.
    pub async fn bid(&self, token: &str, auction: &str, amount: i64) -> Value {
        let (status, body) = self
            .json(
                self.client
                    .post(self.url(&format!("/api/v1/auctions/{auction}/bids")))
                    .bearer_auth(token)
                    .json(&json!({
                        "request_id": uuid::Uuid::new_v4().to_string(),
                        "amount": amount
                    })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    pub async fn snapshot(&self, auction: &str) -> Value {
        let (status, body) = self
            .json(
                self.client
                    .get(self.url(&format!("/api/v1/auctions/{auction}"))),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }
}

/// An auction-creation body; say only what matters.
pub fn auction(title: &str, starting_price: i64, ends_in: chrono::Duration) -> Value {
    json!({
        "title": title,
        "description": "A fine thing.\n\nIn good condition.",
        "currency": "EUR",
        "starting_price": starting_price,
        "ends_at": (Utc::now() + ends_in).to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "extend_window_secs": 0,
    })
}

/// A page session without a browser: a cookie jar and form posts.
pub struct PageClient<'a> {
    pub app: &'a TestApp,
    pub cookies: BTreeMap<String, String>,
}

/// What a page request answered.
#[derive(Debug)]
pub struct PageResponse {
    pub status: StatusCode,
    pub location: Option<String>,
    pub content_type: String,
    pub body: String,
}

impl<'a> PageClient<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            cookies: BTreeMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn finish(&mut self, request: reqwest::RequestBuilder) -> PageResponse {
        let request = if self.cookies.is_empty() {
            request
        } else {
            request.header(reqwest::header::COOKIE, self.cookie_header())
        };
        let response = request.send().await.expect("a response");
        for value in response.headers().get_all(reqwest::header::SET_COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            let pair = text.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                let expired = text.to_ascii_lowercase().contains("max-age=0");
                if expired || value.is_empty() {
                    self.cookies.remove(name.trim());
                } else {
                    self.cookies
                        .insert(name.trim().to_string(), value.trim().to_string());
                }
            }
        }
        PageResponse {
            status: response.status(),
            location: response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            content_type: response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string(),
            body: response.text().await.expect("a body"),
        }
    }

    pub async fn get(&mut self, path: &str) -> PageResponse {
        let request = self.app.client.get(self.app.url(path));
        self.finish(request).await
    }

    /// POSTs a form as the browser would from this site.
    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> PageResponse {
        let request = self
            .app
            .client
            .post(self.app.url(path))
            .header(reqwest::header::ORIGIN, self.app.address.clone())
            .form(form);
        self.finish(request).await
    }

    /// Logs in through the login form (with its CSRF token).
    pub async fn log_in(&mut self, username: &str, password: &str) {
        let form = self.get("/login").await;
        let csrf = input_value(&form.body, "csrf").expect("a CSRF field");
        let answer = self
            .post(
                "/login",
                &[
                    ("csrf", &csrf),
                    ("username", username),
                    ("password", password),
                    ("next", "/"),
                ],
            )
            .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    }

    /// POSTs a form with any headers (for cross-site attempts).
    pub async fn post_with(
        &mut self,
        path: &str,
        headers: &[(&str, &str)],
        form: &[(&str, &str)],
    ) -> PageResponse {
        let mut request = self.app.client.post(self.app.url(path)).form(form);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.finish(request).await
    }
}

/// The value attribute of the first `<input name="NAME" …>` in a page.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\"");
    let start = html.find(&marker)?;
    let tag_start = html[..start].rfind('<')?;
    let tag_end = start + html[start..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let value_at = tag.find("value=\"")? + "value=\"".len();
    let value_end = value_at + tag[value_at..].find('"')?;
    Some(tag[value_at..value_end].to_string())
}
