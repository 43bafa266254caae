//! What an operator meets: `gavel admin …` through the real binary on
//! SQLite, what `gavel serve` prints and logs at start-up, `/metrics` of a
//! fresh process, and forbidden-origin answers that say what was seen.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::helpers::{spawn_app, Backend, TestApp, TestDatabase, ADMIN_PASSWORD, ADMIN_USER};

/// What one run of `gavel admin …` did.
struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Runs `gavel admin <args> --database-url <db>`, feeding `stdin` (not a
/// terminal), with GAVEL_ADMIN_PASSWORD set only when `env_password` is.
async fn admin(db: &str, args: &[&str], stdin: &str, env_password: Option<&str>) -> Run {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_gavel"));
    command
        .arg("admin")
        .args(args)
        .args(["--database-url", db])
        .env_remove("GAVEL_ADMIN_PASSWORD")
        .env_remove("DATABASE_URL")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(password) = env_password {
        command.env("GAVEL_ADMIN_PASSWORD", password);
    }
    let mut child = command.spawn().expect("start gavel admin");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.as_bytes())
        .await
        .expect("write stdin");
    drop(input);
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("gavel admin ended in time")
        .expect("output");
    Run {
        ok: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[actix_web::test]
async fn admin_commands_create_set_passwords_promote_and_list() {
    let app = spawn_app(Backend::Sqlite).await.expect("an app");
    let db = app.db.url.clone();

    // create: the password as one line of stdin, or from the environment.
    let run = admin(&db, &["create", "chief"], "tulip-84-x\n", None).await;
    assert!(run.ok, "{}", run.stderr);
    assert_eq!(run.stdout.trim(), "admin chief created");
    let token = app.login("chief", "tulip-84-x").await;
    let (status, me) = app.get_as(&token, "/api/v1/me").await;
    assert_eq!(
        (status, me["role"].as_str()),
        (StatusCode::OK, Some("admin"))
    );
    let run = admin(&db, &["create", "deputy"], "", Some("orchid-93-y")).await;
    assert!(run.ok, "{}", run.stderr);
    app.login("deputy", "orchid-93-y").await;
    let run = admin(&db, &["create", "CHIEF"], "tulip-84-x\n", None).await;
    assert!(!run.ok);
    assert!(run.stderr.contains("already exists"), "{}", run.stderr);
    let run = admin(&db, &["create", "weakling"], "short\n", None).await;
    assert!(!run.ok);
    assert!(run.stderr.contains("password refused"), "{}", run.stderr);
    let run = admin(&db, &["create", "silent"], "", None).await;
    assert!(!run.ok, "an empty stdin is no password");

    // set-password: the rules apply, the hash changes, every session ends.
    let (_, bidder_token) = app.bidder("bidder-bo").await;
    let second = app.login("bidder-bo", "password-123").await;
    let run = admin(&db, &["set-password", "bidder-bo"], "Bidder-Bo\n", None).await;
    assert!(!run.ok, "the username as password is refused");
    assert!(run.stderr.contains("password refused"), "{}", run.stderr);
    let run = admin(&db, &["set-password", "bidder-bo"], "lantern-57-q\n", None).await;
    assert!(run.ok, "{}", run.stderr);
    assert_eq!(
        run.stdout.trim(),
        "password of bidder-bo changed; 2 sessions ended"
    );
    for old in [&bidder_token, &second] {
        let (status, _) = app.get_as(old, "/api/v1/me").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "an old session ended");
    }
    let (status, _) = app
        .post(
            "/api/v1/sessions",
            &json!({"username": "bidder-bo", "password": "password-123"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the old password is gone");
    let new_token = app.login("bidder-bo", "lantern-57-q").await;
    let run = admin(
        &db,
        &["set-password", "nobody-here"],
        "lantern-57-q\n",
        None,
    )
    .await;
    assert!(!run.ok);
    assert!(
        run.stderr.contains("no user named nobody-here"),
        "{}",
        run.stderr
    );

    // promote: an existing bidder becomes an admin, at once.
    let (status, _) = app.get_as(&new_token, "/api/v1/admin/users").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let run = admin(&db, &["promote", "bidder-bo"], "", None).await;
    assert!(run.ok, "{}", run.stderr);
    assert_eq!(run.stdout.trim(), "bidder-bo is now an admin");
    let (status, _) = app.get_as(&new_token, "/api/v1/admin/users").await;
    assert_eq!(status, StatusCode::OK);
    let run = admin(&db, &["promote", "bidder-bo"], "", None).await;
    assert_eq!(run.stdout.trim(), "bidder-bo is an admin already");
    let run = admin(&db, &["promote", "nobody-here"], "", None).await;
    assert!(!run.ok);

    // list: the admins with created and banned, not the bidders.
    app.bidder("plain-bidder").await;
    let run = admin(&db, &["list"], "", None).await;
    assert!(run.ok, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines[0].starts_with("USERNAME"), "{}", run.stdout);
    assert!(lines[0].contains("CREATED") && lines[0].contains("BANNED"));
    let names: Vec<&str> = lines[1..]
        .iter()
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert_eq!(names, [ADMIN_USER, "chief", "deputy", "bidder-bo"]);
    assert!(
        lines[1..].iter().all(|line| line.ends_with("no")),
        "{}",
        run.stdout
    );
    app.stop().await;
}

/// A `gavel serve` process, its stdout's first line and its log lines.
struct Served {
    child: tokio::process::Child,
    first_line: String,
    address: String,
    log: Arc<Mutex<Vec<Value>>>,
}

async fn serve(db: &TestDatabase, admin_password: &str) -> Served {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_gavel"))
        .arg("serve")
        .env("GAVEL_BIND", "127.0.0.1:0")
        .env("DATABASE_URL", &db.url)
        .env("GAVEL_LOG_FORMAT", "json")
        .env("GAVEL_ADMIN_USER", ADMIN_USER)
        .env("GAVEL_ADMIN_PASSWORD", admin_password)
        .env_remove("REDIS_URL")
        .env_remove("GAVEL_PUBLIC_ORIGINS")
        .env_remove("GAVEL_METRICS_BIND")
        .env_remove("GAVEL_METRICS_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start gavel serve");
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut errors = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let keep = Arc::clone(&log);
    tokio::spawn(async move {
        while let Ok(Some(line)) = errors.next_line().await {
            if let Ok(value) = serde_json::from_str::<Value>(&line) {
                keep.lock().expect("log").push(value);
            }
        }
    });
    let mut out = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first_line = tokio::time::timeout(Duration::from_secs(30), out.next_line())
        .await
        .expect("it printed in time")
        .expect("stdout")
        .expect("a line");
    tokio::spawn(async move { while let Ok(Some(_)) = out.next_line().await {} });
    let address = first_line
        .strip_prefix("Gavel is running at ")
        .and_then(|rest| rest.split(' ').next())
        .expect("the URL")
        .to_owned();
    Served {
        child,
        first_line,
        address,
        log,
    }
}

async fn stop(mut served: Served) {
    let pid = served.child.id().expect("a pid").to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(sent.success());
    let status = tokio::time::timeout(Duration::from_secs(30), served.child.wait())
        .await
        .expect("exited in time")
        .expect("a status");
    assert!(status.success(), "{status}");
}

#[actix_web::test]
async fn serve_prints_its_url_lists_every_metric_and_names_an_existing_admin() {
    let db = TestDatabase::new(Backend::Sqlite)
        .await
        .expect("a database");
    let served = serve(&db, ADMIN_PASSWORD).await;
    let url = &served.address;
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert_eq!(
        served.first_line,
        format!("Gavel is running at {url} — log in at {url}/login")
    );
    let login = reqwest::get(format!("{url}/login"))
        .await
        .expect("login page");
    assert_eq!(login.status(), StatusCode::OK);

    // A fresh process lists every metric, described, with a value.
    let metrics = reqwest::get(format!("{url}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for metric in gavel::telemetry::METRICS {
        let name = metric.name;
        assert!(
            metrics.contains(&format!("# HELP {name} {}", metric.help)),
            "no HELP for {name}:\n{metrics}"
        );
        let sample = if metric.kind == gavel::telemetry::MetricKind::Histogram {
            format!("{name}_count")
        } else {
            name.to_owned()
        };
        assert!(
            metrics
                .lines()
                .any(|line| line.starts_with(&sample) && line.ends_with(" 0")),
            "no zero sample of {name}:\n{metrics}"
        );
    }
    assert!(
        metrics.contains("gavel_bids_decided_total{outcome=\"rejected\",code=\"below_minimum\"} 0")
    );
    assert!(metrics.contains("gavel_lease_changes_total{change=\"lost\"} 0"));
    // Every metric the code records is in the list (and so described).
    for name in recorded_metric_names() {
        assert!(
            gavel::telemetry::METRICS.iter().any(|m| m.name == name),
            "{name} is recorded but not in telemetry::METRICS"
        );
    }
    let created = served
        .log
        .lock()
        .expect("log")
        .iter()
        .any(|line| line["message"] == "start-up admin created");
    assert!(created);
    stop(served).await;

    // Started again with another password: the admin exists, and is unchanged.
    let served = serve(&db, "a-changed-password-7").await;
    // The log is read in the background: give it a moment to catch up.
    let mut said = false;
    for _ in 0..50 {
        said = served.log.lock().expect("log").iter().any(|line| {
            line["message"].as_str().is_some_and(|m| {
                m.contains(&format!("start-up admin {ADMIN_USER} already exists"))
                    && m.contains("not applied")
            }) && line["username"] == ADMIN_USER
        });
        if said {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(said, "{:?}", served.log.lock().expect("log"));
    let answer = reqwest::Client::new()
        .post(format!("{}/api/v1/sessions", served.address))
        .json(&json!({"username": ADMIN_USER, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .expect("login");
    assert_eq!(
        answer.status(),
        StatusCode::OK,
        "the old password still works"
    );
    stop(served).await;
}

/// The names given to `counter!`, `gauge!`, `histogram!` and `GaugeGuard`
/// across src/ (outside the load tool, whose metrics are its own).
fn recorded_metric_names() -> Vec<String> {
    let mut names = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src"
    ))];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            if !path.ends_with("load") {
                for entry in std::fs::read_dir(&path).expect("a directory").flatten() {
                    stack.push(entry.path());
                }
            }
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for (index, _) in text.match_indices("\"gavel_") {
            let rest = &text[index + 1..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let call = text[..index]
                .trim_end()
                .strip_suffix('(')
                .map(|call| call.trim_end_matches('!'));
            let recorded = call.is_some_and(|call| {
                ["counter", "gauge", "histogram", "GaugeGuard::new"]
                    .iter()
                    .any(|macro_name| call.ends_with(macro_name))
            });
            if recorded && !names.contains(&name) {
                names.push(name);
            }
        }
    }
    assert!(names.len() >= 15, "found {names:?}");
    names
}

#[actix_web::test]
async fn a_forbidden_origin_is_named_with_the_allowed_ones() {
    let app: TestApp = spawn_app(Backend::Sqlite).await.expect("an app");
    let (_, token) = app.bidder("origin-olga").await;
    let allowed = app.address.clone();

    // The API: a cookie-authenticated POST from another site.
    let response = app
        .client
        .post(app.url("/api/v1/auctions/0193a5e2-7c4b-7d31-9a8e-2f6b1c3d4e5f/bids"))
        .header("Cookie", format!("gavel_session={token}"))
        .header("Origin", "https://evil.example")
        .json(&json!({"request_id": "o1", "amount": 100}))
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: Value = response.json().await.expect("JSON");
    let message = body["error"]["message"].as_str().expect("a message");
    assert!(
        message.contains("https://evil.example") && message.contains(&allowed),
        "{message}"
    );

    // The WebSocket upgrade.
    let response = app
        .client
        .get(app.url("/api/v1/ws"))
        .header("Origin", "https://evil.example")
        .send()
        .await
        .expect("GET ws");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: Value = response.json().await.expect("JSON");
    let message = body["error"]["message"].as_str().expect("a message");
    assert!(
        message.contains("https://evil.example") && message.contains(&allowed),
        "{message}"
    );

    // The HTML form page.
    let response = app
        .client
        .post(app.url("/login"))
        .header("Origin", "https://evil.example")
        .form(&[
            ("username", "origin-olga"),
            ("password", "x"),
            ("csrf", "x"),
        ])
        .send()
        .await
        .expect("POST /login");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let page = response.text().await.expect("HTML");
    assert!(
        page.contains("Origin https://evil.example") && page.contains(&allowed),
        "{page}"
    );
    assert!(page.contains("GAVEL_PUBLIC_ORIGINS"));
    app.stop().await;
}
