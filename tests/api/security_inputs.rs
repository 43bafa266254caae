//! Issue 11, part B, through the real doors: redirects after login
//! (`next=`), cache and sniffing headers, login and registration limits,
//! control characters in every text field, buy-now prices below the
//! reserve, weak passwords, admins bidding (their own auctions refused,
//! others' audited) and the CSRF token renewed at login.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::header::{HeaderMap, CACHE_CONTROL, LOCATION, RETRY_AFTER, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::clients::{SseClient, WsClient};
use crate::helpers::{
    assert_error, spawn_app, test_config, AuctionBuilder, Backend, TestApp, TestDatabase,
    ADMIN_PASSWORD, ADMIN_USER, BIDDER_PASSWORD,
};

crate::on_both_backends!(
    control_characters_are_refused_in_account_fields_and_nothing_is_created,
    control_characters_are_refused_in_auction_text_and_nothing_is_created,
    control_characters_are_refused_in_request_ids_over_http_and_websocket,
    the_register_form_refuses_control_characters_with_its_messages,
    weak_passwords_are_refused_on_the_api_and_the_register_form,
    the_creator_of_an_auction_may_not_bid_on_it_and_admin_bids_are_audited,
);

/// `next` values that would lead a browser to another site or scheme, as
/// they arrive after the query string (or form) is decoded.
const HOSTILE_NEXT: &[&str] = &[
    "/\t/evil.example/x",
    "/\t\\evil.example",
    "/\n/evil.example",
    "/\r/evil.example",
    "/\r\n/evil.example",
    "\t//evil.example",
    " //evil.example",
    "//evil.example",
    "//evil.example/x",
    "/\\evil.example",
    "\\/evil.example",
    "\\\\evil.example",
    "https://evil.example",
    "https:evil.example",
    "HTTPS://evil.example",
    "javascript:alert(1)",
    "java\tscript:alert(1)",
    "evil.example",
    "///evil.example",
    "/\t\t/evil.example",
    "/%09/evil.example",
];

// ---------------------------------------------------------------------------
// A page session without a browser and without following redirects.
// ---------------------------------------------------------------------------

pub(crate) struct Pages<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    headers: HeaderMap,
    pub(crate) body: String,
}

impl Answer {
    fn header(&self, name: impl reqwest::header::AsHeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    pub(crate) fn location(&self) -> &str {
        self.header(LOCATION)
            .unwrap_or_else(|| panic!("a Location ({}): {}", self.status, self.body))
    }

    /// The value of the first `<input name="NAME" value="…">`.
    pub(crate) fn input(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\"");
        let at = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("an input {name}: {}", self.body));
        let tag_end = at + self.body[at..].find('>').expect("a tag end");
        let tag_start = self.body[..at].rfind('<').expect("a tag start");
        let tag = &self.body[tag_start..tag_end];
        let value = tag.find("value=\"").expect("a value") + "value=\"".len();
        let end = value + tag[value..].find('"').expect("a quote");
        tag[value..end].to_string()
    }
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .pool_idle_timeout(Duration::from_secs(2))
        .build()
        .expect("a client")
}

impl<'a> Pages<'a> {
    pub(crate) fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            client: no_redirects(),
            cookies: BTreeMap::new(),
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Answer {
        let request = if self.cookies.is_empty() {
            request
        } else {
            let jar = self
                .cookies
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect::<Vec<_>>()
                .join("; ");
            request.header(reqwest::header::COOKIE, jar)
        };
        let response = request.send().await.expect("a response");
        for value in response.headers().get_all(SET_COOKIE) {
            let text = value.to_str().expect("a cookie");
            let pair = text.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty() || text.to_ascii_lowercase().contains("max-age=0") {
                    self.cookies.remove(name.trim());
                } else {
                    self.cookies.insert(name.trim().into(), value.trim().into());
                }
            }
        }
        Answer {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.text().await.expect("a body"),
        }
    }

    pub(crate) async fn get(&mut self, path: &str) -> Answer {
        let request = self.client.get(self.app.url(path));
        self.send(request).await
    }

    async fn get_query(&mut self, path: &str, query: &[(&str, &str)]) -> Answer {
        let request = self.client.get(self.app.url(path)).query(query);
        self.send(request).await
    }

    /// POSTs a form as a browser on this site would.
    pub(crate) async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Answer {
        let request = self
            .client
            .post(self.app.url(path))
            .header(reqwest::header::ORIGIN, self.app.address.clone())
            .form(form);
        self.send(request).await
    }

    /// The CSRF token a form of `path` carries.
    pub(crate) async fn csrf(&mut self, path: &str) -> String {
        let page = self.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        page.input("csrf")
    }

    /// Logs in through the form; returns the answer.
    pub(crate) async fn log_in(&mut self, username: &str, password: &str, next: &str) -> Answer {
        let csrf = self.csrf("/login").await;
        self.post(
            "/login",
            &[
                ("csrf", &csrf),
                ("username", username),
                ("password", password),
                ("next", next),
            ],
        )
        .await
    }
}

/// Whether a browser following `location` stays on this site: after the
/// URL parser's cleanup it is a path with exactly one leading slash.
fn stays_on_site(location: &str) -> bool {
    let cleaned: String = location
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .map(|c| if c == '\\' { '/' } else { c })
        .collect();
    cleaned.starts_with('/') && !cleaned[1..].starts_with('/')
}

// ---------------------------------------------------------------------------
// Finding 4: open redirects through `next=`.
// ---------------------------------------------------------------------------

#[actix_web::test]
async fn hostile_next_values_never_redirect_off_site() {
    let Some(app) = spawn_app(Backend::Sqlite).await else {
        return;
    };
    app.bidder("walker").await;
    for (i, next) in HOSTILE_NEXT.iter().enumerate() {
        // GET, signed in: straight to `next`.
        let mut signed_in = Pages::new(&app);
        let answer = signed_in.log_in("walker", BIDDER_PASSWORD, next).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "POST /login {next:?}");
        assert!(
            stays_on_site(answer.location()),
            "POST /login next={next:?} -> {:?}",
            answer.location()
        );
        for path in ["/login", "/register"] {
            let answer = signed_in.get_query(path, &[("next", next)]).await;
            assert_eq!(answer.status, StatusCode::SEE_OTHER, "GET {path} {next:?}");
            assert!(
                stays_on_site(answer.location()),
                "GET {path}?next={next:?} -> {:?}",
                answer.location()
            );
        }

        // GET, anonymous: the form carries a local `next` only.
        let mut anonymous = Pages::new(&app);
        for path in ["/login", "/register"] {
            let form = anonymous.get_query(path, &[("next", next)]).await;
            assert_eq!(form.status, StatusCode::OK, "{}", form.body);
            let carried = form.input("next");
            assert!(
                stays_on_site(&carried),
                "{path} form next={next:?} -> {carried:?}"
            );
        }

        // POST /register with `next`: the new account lands on this site.
        let csrf = anonymous.csrf("/register").await;
        let username = format!("walker-{i}");
        let answer = anonymous
            .post(
                "/register",
                &[
                    ("csrf", &csrf),
                    ("username", &username),
                    ("password", BIDDER_PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        assert!(
            stays_on_site(answer.location()),
            "POST /register next={next:?} -> {:?}",
            answer.location()
        );
    }

    // A local path still works, cleaned as a browser would read it.
    let mut pages = Pages::new(&app);
    let answer = pages.log_in("walker", BIDDER_PASSWORD, "/me/bids").await;
    assert_eq!(answer.location(), "/me/bids");
    app.stop().await;
}

// ---------------------------------------------------------------------------
// Finding 7: no-store and nosniff.
// ---------------------------------------------------------------------------

fn assert_no_store_nosniff(answer: &Answer, what: &str) {
    assert_eq!(answer.header(CACHE_CONTROL), Some("no-store"), "{what}");
    assert_eq!(
        answer.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
}

#[actix_web::test]
async fn token_and_account_answers_are_not_stored_and_api_answers_are_not_sniffed() {
    let Some(app) = spawn_app(Backend::Sqlite).await else {
        return;
    };
    let (_, token) = app.bidder("private").await;
    let mut pages = Pages::new(&app);

    let login = pages
        .send(
            pages
                .client
                .post(app.url("/api/v1/sessions"))
                .json(&json!({"username": "private", "password": BIDDER_PASSWORD})),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK);
    assert_no_store_nosniff(&login, "the login answer");
    let me = pages
        .send(pages.client.get(app.url("/api/v1/me")).bearer_auth(&token))
        .await;
    assert_eq!(me.status, StatusCode::OK);
    assert_no_store_nosniff(&me, "/api/v1/me");
    let registered = pages
        .send(
            pages
                .client
                .post(app.url("/api/v1/users"))
                .json(&json!({"username": "private2", "password": BIDDER_PASSWORD})),
        )
        .await;
    assert_eq!(registered.status, StatusCode::CREATED);
    assert_no_store_nosniff(&registered, "a registration");
    let mut anonymous = Pages::new(&app);
    for (method, path) in [
        ("GET", "/api/v1/auctions/not-an-id"),
        ("GET", "/api/v1/no-such-route"),
        ("GET", "/api/v1/me"),
        ("POST", "/api/v1/sessions"),
    ] {
        let request = if method == "GET" {
            anonymous.client.get(app.url(path))
        } else {
            anonymous.client.post(app.url(path)).body("not json")
        };
        let error = anonymous.send(request).await;
        assert!(error.status.is_client_error(), "{path}: {}", error.status);
        assert_no_store_nosniff(&error, path);
    }
    let redirect = anonymous.get("/me/bids").await;
    assert_eq!(redirect.status, StatusCode::SEE_OTHER);
    assert_no_store_nosniff(&redirect, "the redirect to log in");

    // Account pages, signed in through the form.
    let mut pages = Pages::new(&app);
    let answer = pages.log_in("private", BIDDER_PASSWORD, "/me/bids").await;
    assert_no_store_nosniff(&answer, "the login redirect");
    for path in ["/me/bids", "/", "/login"] {
        let page = pages.get(path).await;
        assert_no_store_nosniff(&page, path);
    }

    // Static assets keep their own caching; SSE keeps its own and streams.
    let index = pages.get("/").await;
    let at = index
        .body
        .find("/static/gavel.css?v=")
        .expect("a stylesheet link");
    let href: String = index.body[at..].chars().take_while(|&c| c != '"').collect();
    let asset = pages.get(&href).await;
    assert_eq!(asset.status, StatusCode::OK);
    assert_eq!(
        asset.header(CACHE_CONTROL),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(asset.header("x-content-type-options"), Some("nosniff"));
    let id = app.create_auction(AuctionBuilder::new()).await["id"]
        .as_str()
        .expect("an id")
        .to_string();
    let mut sse = SseClient::connect(&app, &id, None).await;
    assert_eq!(
        sse.headers.get(CACHE_CONTROL).and_then(|v| v.to_str().ok()),
        Some("no-cache")
    );
    assert_eq!(sse.next().await.event, "snapshot");
    app.stop().await;
}

// ---------------------------------------------------------------------------
// Finding 8: login and registration limits.
// ---------------------------------------------------------------------------

/// A server with the default login and registration limits.
async fn app_with_default_auth_limits(db: TestDatabase) -> TestApp {
    let defaults = gavel::config::ServeConfig::from_defaults();
    let mut config = test_config(&db.url);
    config.auth_rate_per_min = defaults.auth_rate_per_min;
    config.login_rate_per_min = defaults.login_rate_per_min;
    config.auth_ip_rate_per_min = defaults.auth_ip_rate_per_min;
    TestApp::start(db, config).await
}

fn retry_after(answer: &Answer) -> u64 {
    answer
        .header(RETRY_AFTER)
        .unwrap_or_else(|| panic!("a Retry-After ({}): {}", answer.status, answer.body))
        .parse()
        .expect("Retry-After in seconds")
}

#[actix_web::test]
async fn a_saleroom_behind_one_address_logs_in_while_one_username_is_limited() {
    let Some(db) = TestDatabase::new(Backend::Sqlite).await else {
        return;
    };
    // Register the room without limits, then restart with the defaults.
    let app = TestApp::start(db.clone(), test_config(&db.url)).await;
    let room = app.bidders("room-", 31).await;
    let db = app.stop().await;
    let app = app_with_default_auth_limits(db).await;

    for bidder in &room {
        app.login(&bidder.username, BIDDER_PASSWORD).await;
    }
    // One username: ten a minute from one address (one is spent above).
    for _ in 0..9 {
        app.login("room-0", BIDDER_PASSWORD).await;
    }
    let mut pages = Pages::new(&app);
    let body = json!({"username": "ROOM-0", "password": BIDDER_PASSWORD});
    // A slow machine may have refilled a token meanwhile (one per 6 s):
    // a few more tries reach the limit.
    let mut limited = None;
    for _ in 0..3 {
        let answer = pages
            .send(pages.client.post(app.url("/api/v1/sessions")).json(&body))
            .await;
        if answer.status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(answer);
            break;
        }
    }
    let limited = limited.expect("the eleventh login of one username is limited");
    let value: Value = serde_json::from_str(&limited.body).expect("JSON");
    assert_error(limited.status, &value, 429, "rate_limited");
    let wait = retry_after(&limited);
    assert!((1..=60).contains(&wait), "{wait}");
    // Others in the room still log in.
    app.login("room-1", BIDDER_PASSWORD).await;

    // The login form: 429, Retry-After, the form again with the message.
    // A fresh browser: an API login that got through above set a cookie.
    let mut pages = Pages::new(&app);
    let mut page = pages.log_in("room-0", BIDDER_PASSWORD, "/me/bids").await;
    for _ in 0..3 {
        if page.status == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
        // A token refilled while room-1 logged in: that login went through
        // (signed in now), so a fresh browser spends the next and tries again.
        pages = Pages::new(&app);
        page = pages.log_in("room-0", BIDDER_PASSWORD, "/me/bids").await;
    }
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "{}", page.body);
    assert!(retry_after(&page) >= 1);
    assert!(page.body.contains("action=\"/login\""), "{}", page.body);
    assert!(page.body.contains("Too many attempts"), "{}", page.body);
    assert_eq!(page.input("username"), "room-0");
    assert_eq!(page.input("next"), "/me/bids");
    app.stop().await;
}

#[actix_web::test]
async fn registrations_over_the_limit_get_429_with_retry_after_and_the_form() {
    let Some(db) = TestDatabase::new(Backend::Sqlite).await else {
        return;
    };
    let mut config = test_config(&db.url);
    config.auth_rate_per_min = 1;
    let app = TestApp::start(db, config).await;
    let mut pages = Pages::new(&app);
    let first = pages
        .send(
            pages
                .client
                .post(app.url("/api/v1/users"))
                .json(&json!({"username": "first", "password": BIDDER_PASSWORD})),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let second = pages
        .send(
            pages
                .client
                .post(app.url("/api/v1/users"))
                .json(&json!({"username": "second", "password": BIDDER_PASSWORD})),
        )
        .await;
    let value: Value = serde_json::from_str(&second.body).expect("JSON");
    assert_error(second.status, &value, 429, "rate_limited");
    assert!(retry_after(&second) >= 1);

    let csrf = pages.csrf("/register").await;
    let page = pages
        .post(
            "/register",
            &[
                ("csrf", &csrf),
                ("username", "third"),
                ("password", BIDDER_PASSWORD),
                ("next", "/"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "{}", page.body);
    assert!(retry_after(&page) >= 1);
    assert!(page.body.contains("action=\"/register\""), "{}", page.body);
    assert!(page.body.contains("Too many attempts"), "{}", page.body);
    assert_eq!(page.input("username"), "third");
    app.stop().await;
}

// ---------------------------------------------------------------------------
// Finding 9: control characters.
// ---------------------------------------------------------------------------

/// One-line text with a control character, for every kind of them.
const CONTROL_SAMPLES: &[&str] = &[
    "a\0b",
    "a\u{1}b",
    "a\u{1b}[31mb",
    "a\u{7f}b",
    "a\u{85}b",
    "a\nb",
    "a\tb",
];

async fn count(app: &TestApp, sql: &str) -> i64 {
    app.db_i64(sql).await
}

async fn control_characters_are_refused_in_account_fields_and_nothing_is_created(app: TestApp) {
    let before = count(&app, "SELECT COUNT(*) FROM users").await;
    for sample in CONTROL_SAMPLES {
        let username = format!("user{sample}");
        let (status, body) = app
            .post(
                "/api/v1/users",
                &json!({"username": username, "password": BIDDER_PASSWORD}),
            )
            .await;
        assert_error(status, &body, 422, "validation_failed");
        assert!(body["error"]["fields"]["username"].is_string(), "{body}");
        let password = format!("tulip-84{sample}");
        let (status, body) = app
            .post(
                "/api/v1/users",
                &json!({"username": "someone", "password": password}),
            )
            .await;
        assert_error(status, &body, 422, "validation_failed");
        assert!(body["error"]["fields"]["password"].is_string(), "{body}");
        for (username, password) in [(username.as_str(), BIDDER_PASSWORD), ("someone", &password)] {
            let (status, body) = app
                .post(
                    "/api/v1/sessions",
                    &json!({"username": username, "password": password}),
                )
                .await;
            assert_error(status, &body, 422, "validation_failed");
        }
    }
    assert_eq!(count(&app, "SELECT COUNT(*) FROM users").await, before);
}

async fn control_characters_are_refused_in_auction_text_and_nothing_is_created(app: TestApp) {
    let admin = app.admin_token().await;
    let before = count(&app, "SELECT COUNT(*) FROM auctions").await;
    for sample in CONTROL_SAMPLES {
        let builder = AuctionBuilder::new().set("title", json!(format!("Lot {sample}")));
        let (status, body) = app
            .post_as(&admin, "/api/v1/admin/auctions", &builder.json())
            .await;
        assert_error(status, &body, 422, "validation_failed");
        assert!(body["error"]["fields"]["title"].is_string(), "{body}");
    }
    for sample in ["a\0b", "a\u{1b}b", "a\u{7f}b", "a\u{9b}b", "a\u{b}b"] {
        let builder = AuctionBuilder::new().set("description", json!(sample));
        let (status, body) = app
            .post_as(&admin, "/api/v1/admin/auctions", &builder.json())
            .await;
        assert_error(status, &body, 422, "validation_failed");
        assert!(body["error"]["fields"]["description"].is_string(), "{body}");
    }
    for sample in ["\0EU", "EU\0"] {
        let builder = AuctionBuilder::new().set("currency", json!(sample));
        let (status, body) = app
            .post_as(&admin, "/api/v1/admin/auctions", &builder.json())
            .await;
        assert_error(status, &body, 422, "validation_failed");
    }
    assert_eq!(count(&app, "SELECT COUNT(*) FROM auctions").await, before);

    // Line breaks and tabs stay allowed in descriptions.
    let text = "Line one\r\nLine two\n\tindented";
    let created = app
        .create_auction(AuctionBuilder::new().set("description", json!(text)))
        .await;
    assert_eq!(created["description"], text);
}

async fn control_characters_are_refused_in_request_ids_over_http_and_websocket(app: TestApp) {
    let (_, token) = app.bidder("ida").await;
    let id = app
        .create_auction(AuctionBuilder::new().buy_now(9_000))
        .await["id"]
        .as_str()
        .expect("an id")
        .to_string();
    for sample in ["r\0", "\0", "r\u{1b}", "r\n"] {
        let (status, body) = app.bid(&token, &id, sample, 1_000, None).await;
        assert_error(status, &body, 422, "validation_failed");
        assert!(body["error"]["fields"]["request_id"].is_string(), "{body}");
        let (status, body) = app.buy_now(&token, &id, sample).await;
        assert_error(status, &body, 422, "validation_failed");
    }
    let mut ws = WsClient::connect(&app, Some(&token), None)
        .await
        .expect("a socket");
    for (kind, frame) in [
        (
            "bid",
            json!({"type": "bid", "auction_id": id, "request_id": "w\0", "amount": 1000}),
        ),
        (
            "buy_now",
            json!({"type": "buy_now", "auction_id": id, "request_id": "w\0"}),
        ),
    ] {
        ws.send(&frame).await;
        let answer = ws.next_of("bid_error").await;
        assert_eq!(
            answer["error"]["code"], "validation_failed",
            "{kind}: {answer}"
        );
    }
    assert_eq!(count(&app, "SELECT COUNT(*) FROM bid_requests").await, 0);
    assert_eq!(app.snapshot(&id).await["bid_count"], 0);
}

async fn the_register_form_refuses_control_characters_with_its_messages(app: TestApp) {
    let before = count(&app, "SELECT COUNT(*) FROM users").await;
    let mut pages = Pages::new(&app);
    for (username, password, field) in [
        ("pat\0", BIDDER_PASSWORD, "username-error"),
        ("pat", "tulip\0-84", "password-error"),
    ] {
        let csrf = pages.csrf("/register").await;
        let page = pages
            .post(
                "/register",
                &[
                    ("csrf", &csrf),
                    ("username", username),
                    ("password", password),
                    ("next", "/"),
                ],
            )
            .await;
        assert_eq!(
            page.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            page.body
        );
        assert!(page.body.contains(field), "{}", page.body);
    }
    let page = pages.log_in("pat\0", BIDDER_PASSWORD, "/").await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    assert!(page.body.contains("control characters"), "{}", page.body);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM users").await, before);

    // The admin's new-auction form says which field.
    let mut admin = Pages::new(&app);
    let signed_in = admin.log_in(ADMIN_USER, ADMIN_PASSWORD, "/admin").await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    let csrf = admin.csrf("/admin/auctions/new").await;
    let page = admin
        .post(
            "/admin/auctions",
            &[
                ("csrf", &csrf),
                ("title", "Lot\0"),
                ("description", "Fine\u{1b}[2J"),
                ("currency", "EUR"),
                ("starting_price", "10"),
                ("ends_at", "2099-01-01 10:00"),
            ],
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    assert!(page.body.contains("control characters"), "{}", page.body);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM auctions").await, 0);
}

// ---------------------------------------------------------------------------
// Finding 10: buy now below the reserve.
// ---------------------------------------------------------------------------

#[actix_web::test]
async fn a_buy_now_price_below_the_reserve_is_refused_at_creation() {
    let Some(app) = spawn_app(Backend::Sqlite).await else {
        return;
    };
    let admin = app.admin_token().await;
    let builder = AuctionBuilder::new().reserve(5_000).buy_now(3_000);
    let (status, body) = app
        .post_as(&admin, "/api/v1/admin/auctions", &builder.json())
        .await;
    assert_error(status, &body, 422, "validation_failed");
    let message = body["error"]["fields"]["buy_now_price"]
        .as_str()
        .expect("a buy_now_price message");
    assert!(message.contains("reserve"), "{body}");
    assert_eq!(app.db_i64("SELECT COUNT(*) FROM auctions").await, 0);

    // At the reserve it is allowed, and buying meets it.
    let id = app
        .create_auction(AuctionBuilder::new().reserve(5_000).buy_now(5_000))
        .await["id"]
        .as_str()
        .expect("an id")
        .to_string();
    let (_, token) = app.bidder("buyer").await;
    let (status, body) = app.buy_now(&token, &id, "b1").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let snapshot = app.snapshot(&id).await;
    assert_eq!(snapshot["status"], "closed", "{snapshot}");
    assert_eq!(snapshot["reserve_met"], true, "{snapshot}");
    app.stop().await;
}

// ---------------------------------------------------------------------------
// Finding 11: weak passwords.
// ---------------------------------------------------------------------------

async fn weak_passwords_are_refused_on_the_api_and_the_register_form(app: TestApp) {
    let before = count(&app, "SELECT COUNT(*) FROM users").await;
    for (username, password) in [
        ("harriet", "password"),
        ("harriet", "Password1"),
        ("harriet", "12345678"),
        ("harriet", "qwertyuiop"),
        ("harriet", "ILOVEYOU"),
        ("harriet", "          "),
        ("Harriet-9", "harriet-9"),
        ("harriet-9", "HARRIET-9"),
    ] {
        let (status, body) = app
            .post(
                "/api/v1/users",
                &json!({"username": username, "password": password}),
            )
            .await;
        assert_error(status, &body, 422, "weak_password");
    }
    let mut pages = Pages::new(&app);
    let csrf = pages.csrf("/register").await;
    let page = pages
        .post(
            "/register",
            &[
                ("csrf", &csrf),
                ("username", "harriet"),
                ("password", "Password1"),
                ("next", "/"),
            ],
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    assert!(page.body.contains("password-error"), "{}", page.body);
    assert!(page.body.contains("most common"), "{}", page.body);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM users").await, before);

    // A password that merely contains the username is fine.
    let (status, body) = app
        .post(
            "/api/v1/users",
            &json!({"username": "harriet", "password": "harriet-likes-tulips"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[actix_web::test]
async fn a_weak_start_up_admin_password_stops_the_start_with_a_clear_message() {
    let Some(db) = TestDatabase::new(Backend::Sqlite).await else {
        return;
    };
    let mut config = test_config(&db.url);
    config.admin_password = Some("Password1".into());
    let Err(error) = gavel::startup::Application::build(config).await else {
        panic!("the server started with a common admin password");
    };
    let message = format!("{error:#}");
    assert!(message.contains("GAVEL_ADMIN_PASSWORD"), "{message}");
    assert!(message.contains("most common"), "{message}");
}

// ---------------------------------------------------------------------------
// Finding 12: admins bidding.
// ---------------------------------------------------------------------------

/// Makes a second admin (registered as a bidder, then promoted in the database).
async fn second_admin(app: &TestApp, username: &str) -> (String, String) {
    let (id, _) = app.bidder(username).await;
    let mut conn = app.db_connection().await;
    sqlx::query(&format!(
        "UPDATE users SET role = 'admin' WHERE id = '{id}'"
    ))
    .execute(&mut conn)
    .await
    .expect("promote");
    let token = app.login(username, BIDDER_PASSWORD).await;
    (id, token)
}

async fn the_creator_of_an_auction_may_not_bid_on_it_and_admin_bids_are_audited(app: TestApp) {
    let admin = app.admin_token().await;
    let id = app
        .auction_id_as(&admin, AuctionBuilder::new().buy_now(9_000))
        .await;

    // The creator: refused over HTTP (bid and buy now) and the WebSocket.
    let (status, body) = app.bid(&admin, &id, "own-1", 1_000, None).await;
    assert_error(status, &body, 403, "forbidden");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("created this auction")),
        "{body}"
    );
    let (status, body) = app.buy_now(&admin, &id, "own-2").await;
    assert_error(status, &body, 403, "forbidden");
    let mut ws = WsClient::connect(&app, Some(&admin), None)
        .await
        .expect("a socket");
    ws.send(&json!({"type": "bid", "auction_id": id, "request_id": "own-3", "amount": 1000}))
        .await;
    let answer = ws.next_of("bid_error").await;
    assert_eq!(answer["error"]["code"], "forbidden", "{answer}");
    ws.send(&json!({"type": "buy_now", "auction_id": id, "request_id": "own-4"}))
        .await;
    let answer = ws.next_of("bid_error").await;
    assert_eq!(answer["error"]["code"], "forbidden", "{answer}");
    let snapshot = app.snapshot(&id).await;
    assert_eq!(snapshot["bid_count"], 0, "{snapshot}");
    assert_eq!(snapshot["status"], "open", "{snapshot}");

    // Another admin may bid, and it is on record.
    let (other_id, other) = second_admin(&app, "other-admin").await;
    let (status, body) = app.bid(&other, &id, "theirs-1", 1_000, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, audit) = app.get_as(&admin, "/api/v1/admin/audit").await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    let entries = audit["entries"].as_array().expect("entries");
    let bids: Vec<&Value> = entries
        .iter()
        .filter(|entry| entry["action"] == "auction.admin_bid" && entry["target"] == id.as_str())
        .collect();
    let theirs = bids
        .iter()
        .find(|entry| entry["actor_id"] == other_id.as_str())
        .unwrap_or_else(|| panic!("the other admin's bid is audited: {audit}"));
    assert_eq!(theirs["details"]["amount"], 1000, "{theirs}");
    assert_eq!(theirs["details"]["outcome"], "leading", "{theirs}");
    assert!(
        bids.iter()
            .any(|entry| entry["details"]["outcome"] == "forbidden"),
        "the refused attempts are on record too: {audit}"
    );
    // A bidder's bid is not an admin action.
    let (_, bidder) = app.bidder("plain").await;
    app.bid(&bidder, &id, "plain-1", 2_000, None).await;
    let (_, audit) = app.get_as(&admin, "/api/v1/admin/audit").await;
    let admin_bids = audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|entry| entry["action"] == "auction.admin_bid")
        .count();
    assert_eq!(admin_bids, bids.len(), "{audit}");
}

// ---------------------------------------------------------------------------
// Finding 15: the CSRF token is renewed at login.
// ---------------------------------------------------------------------------

#[actix_web::test]
async fn the_csrf_token_from_before_login_no_longer_works_after_it() {
    let Some(app) = spawn_app(Backend::Sqlite).await else {
        return;
    };
    app.bidder("rotor").await;
    let mut pages = Pages::new(&app);
    let before = pages.csrf("/login").await;
    assert_eq!(pages.cookies.get("gavel_csrf"), Some(&before));
    let login = pages
        .post(
            "/login",
            &[
                ("csrf", &before),
                ("username", "rotor"),
                ("password", BIDDER_PASSWORD),
                ("next", "/"),
            ],
        )
        .await;
    assert_eq!(login.status, StatusCode::SEE_OTHER, "{}", login.body);
    let renewed = pages
        .cookies
        .get("gavel_csrf")
        .cloned()
        .expect("a CSRF cookie");
    assert_ne!(renewed, before, "a new anonymous token at login");
    let session = pages
        .cookies
        .get("gavel_session")
        .cloned()
        .expect("a session");

    // The old token, with the cookie jar as it is now: refused.
    let refused = pages.post("/logout", &[("csrf", &before)]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    // The old token with its old cookie put back (a planted cookie): refused.
    let planted = pages
        .send(
            pages
                .client
                .post(app.url("/logout"))
                .header(reqwest::header::ORIGIN, app.address.clone())
                .header(
                    reqwest::header::COOKIE,
                    format!("gavel_session={session}; gavel_csrf={before}"),
                )
                .form(&[("csrf", before.as_str())]),
        )
        .await;
    assert_eq!(planted.status, StatusCode::FORBIDDEN, "{}", planted.body);
    let (status, _) = app.get_as(&session, "/api/v1/me").await;
    assert_eq!(status, StatusCode::OK, "still signed in");

    // The token the pages now carry works.
    let current = pages.csrf("/me/bids").await;
    assert_ne!(current, before);
    let out = pages.post("/logout", &[("csrf", &current)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER, "{}", out.body);
    let (status, _) = app.get_as(&session, "/api/v1/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // And the signed-in token is gone with the session.
    let after = pages.post("/logout", &[("csrf", &current)]).await;
    assert_eq!(after.status, StatusCode::FORBIDDEN, "{}", after.body);
    app.stop().await;
}

/// The registration form names every problem at once, not only the first.
#[actix_web::test]
async fn the_registration_form_shows_every_error_at_once() {
    let Some(db) = TestDatabase::new(Backend::Sqlite).await else {
        return;
    };
    let app = TestApp::start(db.clone(), test_config(&db.url)).await;
    let mut pages = Pages::new(&app);
    let csrf = pages.csrf("/register").await;
    let answer = pages
        .post(
            "/register",
            &[
                ("csrf", &csrf),
                ("username", "x"),
                ("password", "short"),
                ("next", "/"),
            ],
        )
        .await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        answer.body
    );
    assert!(
        answer.body.contains("id=\"username-error\""),
        "the username's error: {}",
        answer.body
    );
    assert!(
        answer.body.contains("id=\"password-error\""),
        "the password's error: {}",
        answer.body
    );
    app.stop().await;
}
