//! Liveness, readiness and Prometheus metrics.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use super::AppState;
use crate::store::JobState;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

async fn healthz() -> impl IntoResponse {
    (StatusCode::OK, "ok\n")
}

async fn readyz(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    if !state.store.ping().await {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "database unavailable\n".to_owned(),
        );
    }
    match state.store.schema_missing().await {
        Ok(None) => (StatusCode::OK, "ready\n".to_owned()),
        Ok(Some(why)) => (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")),
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    // Queue depth is read at scrape time, so every replica reports the shared truth.
    // Every state is reported, zero included, so dashboards and alerts see an empty queue.
    if let Ok(counts) = state.store.job_counts().await {
        for job_state in JobState::ALL {
            let n = counts
                .iter()
                .find(|(s, _)| *s == job_state)
                .map_or(0, |(_, n)| *n);
            state.metrics.set_jobs(job_state.as_str(), n);
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
