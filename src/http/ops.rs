//! Operations: `/healthz` (process up), `/readyz` (storage reachable and
//! accepting work), `/metrics` (Prometheus text format).

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::AppState;

/// `GET /healthz`
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// `GET /readyz`
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    if !state.is_accepting() {
        return HttpResponse::ServiceUnavailable()
            .json(json!({ "ready": false, "reason": "shutting down" }));
    }
    let check = tokio::time::timeout(std::time::Duration::from_secs(2), state.store.ping()).await;
    match check {
        Ok(Ok(())) if state.store.writes_failing() => HttpResponse::ServiceUnavailable()
            .json(json!({ "ready": false, "reason": "storage refuses writes" })),
        Ok(Ok(())) => match &state.cluster {
            None => HttpResponse::Ok().json(json!({ "ready": true })),
            Some(cluster) => {
                if cluster.canary(std::time::Duration::from_secs(1)).await {
                    HttpResponse::Ok().json(json!({ "ready": true, "node": state.node_id }))
                } else {
                    HttpResponse::ServiceUnavailable().json(
                        json!({ "ready": false, "reason": "Redis pub/sub round trip failed" }),
                    )
                }
            }
        },
        Ok(Err(error)) => {
            tracing::warn!(error = ?error, "readiness: storage unreachable");
            HttpResponse::ServiceUnavailable()
                .json(json!({ "ready": false, "reason": "storage unreachable" }))
        }
        Err(_) => HttpResponse::ServiceUnavailable()
            .json(json!({ "ready": false, "reason": "storage did not answer in time" })),
    }
}

/// `GET /metrics`
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    metrics::gauge!("gavel_sse_ws_subscriptions").set(state.hub.subscriber_count() as f64);
    metrics::gauge!("gavel_running_actors").set(state.registry.running() as f64);
    let body = state
        .metrics
        .as_ref()
        .map(metrics_exporter_prometheus::PrometheusHandle::render)
        .unwrap_or_default();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(body)
}
