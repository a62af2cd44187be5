//! The HTTP surface: the Postscript webhook, health and metrics, the admin API. Handlers are
//! thin: verify, parse, call the store, answer. No handler calls a third party.

pub mod admin;
pub mod error;
pub mod health;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use secrecy::SecretString;
use tokio::sync::Notify;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::metrics::Metrics;
use crate::shop::Shops;
use crate::store::Store;

/// Postscript's payloads are small; anything larger than this is refused with 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub struct AppState {
    pub store: Store,
    pub shops: Arc<Shops>,
    pub admin_tokens: Vec<SecretString>,
    /// Wakes the local worker when a job is enqueued.
    pub wake: Arc<Notify>,
    pub max_attempts: u32,
    pub metrics: Arc<Metrics>,
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .merge(webhook::routes(state.clone()))
        .merge(health::routes())
        .nest("/api/v1", admin::api_routes(state.clone()))
        .merge(admin::page_routes(state.clone()))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            tracing::info_span!("http", method = %req.method(), path = %req.uri().path())
        }))
        .with_state(state)
}
