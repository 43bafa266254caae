//! Operations: `/healthz` (process up), `/readyz` (storage reachable and
//! accepting work), `/metrics` (Prometheus text format).

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::{ApiError, AppState};

/// `GET /healthz`: the process serves HTTP.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// `GET /readyz`: whether this node takes work, and if not, why.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    pub ready: bool,
    /// This node's name (with Redis only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Why the node is not ready: `shutting down`, `storage refuses writes`,
    /// `storage unreachable`, `storage did not answer in time`, `Redis
    /// pub/sub round trip failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

/// `GET /healthz`
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

fn not_ready(reason: &'static str) -> HttpResponse {
    HttpResponse::ServiceUnavailable().json(Readiness {
        ready: false,
        node: None,
        reason: Some(reason),
    })
}

fn ready(node: Option<String>) -> HttpResponse {
    HttpResponse::Ok().json(Readiness {
        ready: true,
        node,
        reason: None,
    })
}

/// `GET /readyz`
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    if !state.is_accepting() {
        return not_ready("shutting down");
    }
    let check = tokio::time::timeout(std::time::Duration::from_secs(2), state.store.ping()).await;
    match check {
        Ok(Ok(())) if state.store.writes_failing() => not_ready("storage refuses writes"),
        Ok(Ok(())) => match &state.cluster {
            None => ready(None),
            Some(cluster) => {
                if cluster.canary(std::time::Duration::from_secs(1)).await {
                    ready(Some(state.node_id.clone()))
                } else {
                    not_ready("Redis pub/sub round trip failed")
                }
            }
        },
        Ok(Err(error)) => {
            tracing::warn!(error = ?error, "readiness: storage unreachable");
            not_ready("storage unreachable")
        }
        Err(_) => not_ready("storage did not answer in time"),
    }
}

/// `GET /metrics`: behind `GAVEL_METRICS_TOKEN` when one is set; on the
/// main listener only when `GAVEL_METRICS_BIND` gives it no listener of its
/// own.
pub async fn metrics(
    state: web::Data<AppState>,
    req: HttpRequest,
    place: web::Data<MetricsPlace>,
) -> Result<HttpResponse, ApiError> {
    if *place.get_ref() == MetricsPlace::Elsewhere {
        return Err(ApiError::not_found("route"));
    }
    if let Some(expected) = &state.metrics_token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .unwrap_or("");
        let same = Sha256::digest(given.as_bytes()) == Sha256::digest(expected.as_bytes());
        if !same {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "/metrics needs Authorization: Bearer <GAVEL_METRICS_TOKEN>",
            ));
        }
    }
    Ok(render_metrics(&state))
}

/// Where the listener serving a request stands towards `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsPlace {
    /// This listener serves `/metrics`.
    Here,
    /// `/metrics` has a listener of its own; this one answers 404.
    Elsewhere,
}

fn render_metrics(state: &AppState) -> HttpResponse {
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
