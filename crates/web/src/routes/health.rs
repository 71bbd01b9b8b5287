//! Liveness, readiness and Prometheus metrics, for load balancers and monitoring.

use crate::WebState;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use serde_json::json;

pub fn router() -> Router<WebState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// The process is up and serving.
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready for traffic: the database answers and its schema matches this binary.
async fn readyz(State(state): State<WebState>) -> Response {
    let db = &state.app.db;
    if let Err(e) = db.ping().await {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "reason": format!("database: {e}") })),
        )
            .into_response();
    }
    match db.schema_status().await {
        Ok(s) if s.is_current() => Json(json!({ "status": "ready", "schema_version": s.database_version })).into_response(),
        Ok(s) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "reason": format!("schema at version {}, binary expects {}", s.database_version, s.binary_version) })),
        )
            .into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "unavailable", "reason": e.to_string() })))
            .into_response(),
    }
}

async fn metrics(State(state): State<WebState>) -> Response {
    let Some(handle) = &state.settings.metrics else {
        return (
            StatusCode::NOT_FOUND,
            "metrics are not enabled in this process\n",
        )
            .into_response();
    };
    if let Some((size, idle)) = state.app.db.pool_usage() {
        metrics::gauge!("tessera_db_pool_connections").set(f64::from(size));
        metrics::gauge!("tessera_db_pool_idle_connections").set(f64::from(idle));
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response()
}
