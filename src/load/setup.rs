//! Preparing a run over plain HTTP: admin login, creating the auctions,
//! registering and logging in the bidders (a few at a time: password
//! hashing costs the server tens of milliseconds per account). Each bidder
//! registers from its own source address (the server limits logins and
//! registrations per IP), and `429 rate_limited` answers are retried after
//! `Retry-After` (default 2 s).

use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{SecondsFormat, Utc};
use futures_util::StreamExt as _;
use rand::distributions::Alphanumeric;
use rand::Rng as _;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::config::LoadConfig;
use super::net::{Sources, Target};
use super::progress::Progress;

/// Starting price of every load auction, in minor units.
pub const STARTING_PRICE: i64 = 100;
/// Longest wait for one setup request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How often a rate-limited setup request is tried again.
const RATE_LIMIT_RETRIES: u32 = 60;

/// A logged-in bidder account.
#[derive(Debug, Clone)]
pub struct Account {
    pub username: String,
    pub token: String,
}

/// What setup made on the server.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Random prefix of this run's usernames and request ids.
    pub run_prefix: String,
    pub auctions: Vec<String>,
    pub accounts: Vec<Account>,
    /// How long registering the bidders took.
    pub registration: Duration,
}

/// Sends the request `make` builds and returns the JSON body when the
/// status is `want`; a 429 is retried after a pause.
async fn call(
    make: impl Fn() -> reqwest::RequestBuilder,
    want: StatusCode,
    what: &str,
) -> anyhow::Result<Value> {
    let mut retries = 0;
    let response = loop {
        let response = make()
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await
            .with_context(|| format!("{what}: request failed"))?;
        if response.status() != StatusCode::TOO_MANY_REQUESTS || retries >= RATE_LIMIT_RETRIES {
            break response;
        }
        retries += 1;
        let pause = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map_or(Duration::from_secs(2), |secs| {
                Duration::from_secs(secs.clamp(1, 60))
            });
        tokio::time::sleep(pause).await;
    };
    let status = response.status();
    let text = response
        .text()
        .await
        .with_context(|| format!("{what}: reading the answer"))?;
    anyhow::ensure!(status == want, "{what}: HTTP {status}: {text}");
    serde_json::from_str(&text).with_context(|| format!("{what}: the answer is not JSON: {text}"))
}

/// Logs in; returns the session token.
pub async fn login(
    http: &reqwest::Client,
    target: &Target,
    username: &str,
    password: &str,
) -> anyhow::Result<String> {
    let body = call(
        || {
            http.post(target.url("/api/v1/sessions"))
                .json(&json!({"username": username, "password": password}))
        },
        StatusCode::OK,
        &format!("logging in as {username}"),
    )
    .await?;
    body["token"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("logging in as {username}: no token in {body}"))
}

/// Creates one open auction that outlives the run; returns its id.
async fn create_auction(
    http: &reqwest::Client,
    target: &Target,
    admin_token: &str,
    title: &str,
    lifetime: Duration,
) -> anyhow::Result<String> {
    let lifetime = chrono::Duration::from_std(lifetime).context("run too long")?;
    let ends_at = (Utc::now() + lifetime).to_rfc3339_opts(SecondsFormat::Millis, true);
    let body = call(
        || {
            http.post(target.url("/api/v1/admin/auctions"))
                .bearer_auth(admin_token)
                .json(&json!({
                    "title": title,
                    "description": "Created by gavel load.",
                    "currency": "EUR",
                    "starting_price": STARTING_PRICE,
                    "ends_at": ends_at,
                    "extend_window_secs": 0,
                }))
        },
        StatusCode::CREATED,
        "creating an auction",
    )
    .await?;
    body["id"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("creating an auction: no id in {body}"))
}

/// Registers `username` and logs it in.
async fn register(
    http: &reqwest::Client,
    target: &Target,
    username: String,
    password: &str,
) -> anyhow::Result<Account> {
    call(
        || {
            http.post(target.url("/api/v1/users"))
                .json(&json!({"username": username, "password": password}))
        },
        StatusCode::CREATED,
        &format!("registering {username}"),
    )
    .await?;
    let token = login(http, target, &username, password).await?;
    Ok(Account { username, token })
}

fn random_text(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// Logs in as admin, creates the auctions and registers `bidders` accounts;
/// bidder `i` registers from source address `first_source + i`.
pub async fn prepare(
    target: &Target,
    config: &LoadConfig,
    bidders: usize,
    sources: &Sources,
    first_source: usize,
    progress: &Progress,
) -> anyhow::Result<Prepared> {
    let http = sources.client(0);
    let run_prefix = random_text(6).to_lowercase();

    let admin_token = login(&http, target, &config.admin_user, &config.admin_password)
        .await
        .context("admin login (check --admin-user / --admin-password)")?;

    // Far enough in the future for connecting, registering and the run itself.
    let lifetime = config.duration * 2 + Duration::from_secs(3600);
    let mut auctions = Vec::with_capacity(config.auctions);
    for i in 0..config.auctions {
        let title = format!("Load test {run_prefix} #{}", i + 1);
        auctions.push(create_auction(&http, target, &admin_token, &title, lifetime).await?);
    }
    progress.note(format!(
        "created {} auction(s): {}",
        auctions.len(),
        auctions.join(", ")
    ));

    let started = Instant::now();
    let password = random_text(16);
    progress.phase("registering bidders", bidders as u64);
    let password_ref = password.as_str();
    let prefix_ref = run_prefix.as_str();
    let mut accounts = Vec::with_capacity(bidders);
    {
        let mut registrations = futures_util::stream::iter(0..bidders)
            .map(|i| async move {
                let username = format!("ld-{prefix_ref}-{i}");
                let http = sources.client(first_source + i);
                register(&http, target, username, password_ref).await
            })
            .buffered(config.register_concurrency.max(1));
        while let Some(account) = registrations.next().await {
            accounts.push(account?);
            progress.bar().inc(1);
        }
    }
    let registration = started.elapsed();
    if bidders > 0 {
        progress.note(format!(
            "registered {bidders} bidder(s) as ld-{run_prefix}-* in {:.1} s",
            registration.as_secs_f64()
        ));
    }
    Ok(Prepared {
        run_prefix,
        auctions,
        accounts,
        registration,
    })
}
