//! Operations: health, readiness, metrics and graceful shutdown.

use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::clients::{SseClient, WsClient, WsEnd};
use crate::helpers::{AuctionBuilder, Backend, TestApp, TestDatabase, ADMIN_PASSWORD, ADMIN_USER};

crate::on_both_backends!(
    health_and_readiness_answer_when_the_store_is_reachable,
    metrics_name_every_promised_series,
    shutdown_closes_sockets_with_1001_and_ends_event_streams,
);

async fn health_and_readiness_answer_when_the_store_is_reachable(app: TestApp) {
    let (status, body) = app.get("/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    let (status, body) = app.get("/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ready"], true);
}

async fn metrics_name_every_promised_series(app: TestApp) {
    let auction = app.create_auction(AuctionBuilder::new()).await;
    let id = auction["id"].as_str().expect("id").to_string();
    let (_, token) = app.bidder("metered").await;
    let mut ws = WsClient::connect(&app, Some(&token), None)
        .await
        .expect("connect");
    ws.send(&json!({"type": "subscribe", "auction_id": id}))
        .await;
    ws.next().await;
    let _sse = SseClient::connect(&app, &id, None).await;
    app.bid(&token, &id, "m1", 1000, None).await;
    app.bid(&token, &id, "m2", 10, None).await;
    let body = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for series in [
        "gavel_bids_decided_total{outcome=\"accepted\",code=\"ok\"}",
        "gavel_bids_decided_total{outcome=\"rejected\",code=\"already_leading\"}",
        "gavel_commit_batch_size",
        // Batch sizes get count buckets, not the seconds buckets.
        "gavel_commit_batch_size_bucket{le=\"1024\"}",
        "gavel_commit_seconds",
        "gavel_bid_answer_seconds",
        "gavel_live_actors",
        "gavel_ws_connections",
        "gavel_sse_connections",
    ] {
        assert!(body.contains(series), "/metrics lacks {series}:\n{body}");
    }
}

async fn shutdown_closes_sockets_with_1001_and_ends_event_streams(app: TestApp) {
    let auction = app.create_auction(AuctionBuilder::new()).await;
    let id = auction["id"].as_str().expect("id").to_string();
    let mut ws = WsClient::connect(&app, None, None).await.expect("connect");
    ws.send(&json!({"type": "subscribe", "auction_id": id}))
        .await;
    assert_eq!(ws.next().await["type"], "snapshot");
    let mut sse = SseClient::connect(&app, &id, None).await;
    assert_eq!(sse.next().await.event, "snapshot");

    let stopping = tokio::spawn(app.stop());
    assert_eq!(
        ws.until_closed(Duration::from_secs(10)).await,
        WsEnd::Closed(Some(1001))
    );
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while sse.next_within(Duration::from_secs(10)).await.is_some() {}
    })
    .await;
    assert!(ended.is_ok(), "the SSE stream ended");
    tokio::time::timeout(Duration::from_secs(10), stopping)
        .await
        .expect("the server stopped in time")
        .expect("stop");
}

#[actix_web::test]
async fn sigterm_drains_and_exits_zero() {
    let db = TestDatabase::new(Backend::Sqlite)
        .await
        .expect("a database");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_gavel"))
        .arg("serve")
        .env("GAVEL_BIND", "127.0.0.1:0")
        .env("DATABASE_URL", &db.url)
        .env("GAVEL_LOG_FORMAT", "json")
        .env("GAVEL_ADMIN_USER", ADMIN_USER)
        .env("GAVEL_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env_remove("REDIS_URL")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start gavel");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let address = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) {
                if value["message"] == "gavel listening" {
                    return value["address"].as_str().map(str::to_owned);
                }
            }
        }
        None
    })
    .await
    .expect("the server started in time")
    .expect("it logged its address");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let health = reqwest::get(format!("http://{address}/healthz"))
        .await
        .expect("healthz");
    assert_eq!(health.status(), StatusCode::OK);

    let pid = child.id().expect("a pid").to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(sent.success());
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("exited within 30 s")
        .expect("a status");
    assert!(status.success(), "exit status {status}");
}
