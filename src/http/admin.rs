//! The admin JSON API under `/api/v1` and the merchant page at `/admin`, both behind
//! `Authorization: Bearer <admin token>`.

use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::AppState;
use super::error::ApiError;
use crate::store::{JobState, Requeue};

pub fn api_routes(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/messages/{id}", get(message))
        .route("/jobs", get(jobs))
        .route("/jobs/{id}/retry", post(retry_job))
        .route_layer(middleware::from_fn_with_state(state, require_admin))
}

pub fn page_routes(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/admin", get(page))
        .route_layer(middleware::from_fn_with_state(state, require_admin))
}

/// Checks the bearer token against every configured admin token in constant time.
async fn require_admin(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let given = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| ApiError::unauthorized("missing bearer token"))?;
    let mut ok = false;
    for t in &state.admin_tokens {
        ok |= bool::from(t.expose_secret().as_bytes().ct_eq(given.as_bytes()));
    }
    if !ok {
        return Err(ApiError::unauthorized("invalid bearer token"));
    }
    Ok(next.run(req).await)
}

/// One message: what arrived, how it was read, the jobs, every outbound call they made, and
/// what happened per subscription (including the event sent to Postscript).
async fn message(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let msg = state
        .store
        .message(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no message {id}")))?;
    let jobs = state.store.jobs_for_message(&id).await?;
    // A record that cannot be read back is shown as such: the view exists to explain.
    let (outcomes, outcomes_error) = match state.store.outcomes(&id).await {
        Ok(o) => (o, None),
        Err(e @ crate::store::StoreError::Corrupt { .. }) => (Vec::new(), Some(e.to_string())),
        Err(e) => return Err(e.into()),
    };
    let calls = state.store.calls_for_message(&id).await?;
    let interpretation: Value = serde_json::from_str(&msg.interpretation).unwrap_or(Value::Null);
    let outcomes: Vec<Value> = outcomes
        .into_iter()
        .map(|o| {
            let event = o.event.as_ref().map_or(Value::Null, |e| {
                serde_json::to_value(e).unwrap_or(Value::Null)
            });
            json!({
                "seq": o.seq,
                "action": o.action,
                "state": o.state,
                "platform": o.platform,
                "subscription_id": o.subscription_id,
                "previous_date": o.previous.map(|p| p.date),
                "target_date": o.target_date,
                "new_date": o.new_date,
                "reason": o.reason,
                "detail": o.detail,
                "event": event,
                "event_state": o.event_state,
            })
        })
        .collect();
    Ok(Json(json!({
        "message": {
            "id": msg.id,
            "shop_id": msg.shop_id,
            "subscriber_id": msg.subscriber_id,
            "from_number": msg.from_number,
            "body": msg.body,
            "status": msg.status,
            "received_at": ms_to_rfc3339(msg.received_at),
        },
        "interpretation": interpretation,
        "jobs": jobs,
        "calls": calls,
        "outcomes": outcomes,
        "outcomes_error": outcomes_error,
    })))
}

#[derive(serde::Deserialize)]
struct JobsQuery {
    state: Option<String>,
    shop: Option<String>,
    limit: Option<i64>,
}

/// The job queue, newest first: `?state=discarded&shop=...&limit=`.
async fn jobs(
    State(state): State<Arc<AppState>>,
    Query(q): Query<JobsQuery>,
) -> Result<Json<Value>, ApiError> {
    let wanted = match q.state.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(s.parse::<JobState>().map_err(|_| {
            let names: Vec<&str> = JobState::ALL.iter().map(|s| s.as_str()).collect();
            ApiError::invalid("state", format!("{s:?} is not one of {}", names.join(", ")))
        })?),
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be between 1 and 1000"));
    }
    let shop = q.shop.as_deref().filter(|s| !s.is_empty());
    let jobs = state.store.list_jobs(wanted, shop, limit).await?;
    Ok(Json(json!({ "jobs": jobs })))
}

/// Puts a discarded job back in the queue (its cause fixed): 404 for no such job, 409 for a
/// job that is not discarded.
async fn retry_job(
    State(state): State<Arc<AppState>>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    match state.store.requeue_discarded(id).await? {
        Requeue::Queued => {
            tracing::info!(
                job_id = id,
                "discarded job put back in the queue by an operator"
            );
            state.wake.notify_one();
            Ok(Json(json!({ "id": id, "state": JobState::Available })))
        }
        Requeue::NotFound => Err(ApiError::not_found(format!("no job {id}"))),
        Requeue::NotDiscarded(s) => Err(ApiError::conflict(format!(
            "job {id} is {}; only a discarded job can be retried",
            s.as_str()
        ))),
    }
}

fn ms_to_rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

async fn page() -> impl IntoResponse {
    Html(include_str!("admin.html"))
}
