//! `POST /webhooks/postscript`: Postscript's `shop.incoming_message` deliveries.
//!
//! Order matters: the body limit (413) first, then the signature on the raw bytes (401), only
//! then parsing (400). The reply is interpreted here (pure CPU), and the message with its job
//! is stored in one transaction before we answer; the worker does everything that needs the
//! network.

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::AppState;
use super::error::ApiError;
use crate::keywords::Interpretation;
use crate::store::{Inserted, JobKind, MessageStatus, NewJob, NewMessage};
use crate::telemetry::mask_phone;

pub const SIGNATURE_HEADER: &str = "postscript-signature";
pub const INCOMING_MESSAGE: &str = "shop.incoming_message";

pub fn routes(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/webhooks/postscript", post(receive))
        .route_layer(axum::middleware::from_fn_with_state(state, refuse_oversize))
}

/// The shops whose signing token the request carries. Obtaining one is the only way to reach
/// the parser, so "verified" is a type the handler must hold.
struct Verified {
    shops: HashSet<String>,
}

/// Compares the header with every shop's token in constant time (each comparison, and the
/// number of comparisons, independent of where a guess goes wrong).
fn verify(state: &AppState, headers: &HeaderMap) -> Result<Verified, ApiError> {
    let given = headers
        .get(SIGNATURE_HEADER)
        .map(|v| v.as_bytes())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::unauthorized("missing Postscript-Signature"))?;
    let mut shops = HashSet::new();
    for shop in state.shops.values() {
        let token = shop.webhook_token.expose_secret().as_bytes();
        if bool::from(token.ct_eq(given)) {
            shops.insert(shop.id.clone());
        }
    }
    if shops.is_empty() {
        return Err(ApiError::unauthorized("invalid Postscript-Signature"));
    }
    Ok(Verified { shops })
}

#[derive(Deserialize)]
struct Envelope {
    event: String,
    #[serde(default)]
    webhook_id: Option<String>,
    #[serde(default)]
    event_data: Option<Value>,
}

#[derive(Deserialize)]
struct IncomingMessage {
    id: String,
    shop_id: String,
    /// `null` or missing (unverified, platforms.md): the message is ignored, not refused.
    #[serde(default)]
    subscriber_id: Option<String>,
    from_number: String,
    /// `null` or missing for a picture-only MMS: ignored, not refused.
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    is_opt_out: bool,
    #[serde(default)]
    shopify_customer_id: Option<Value>,
    #[serde(default)]
    created_at: Option<String>,
}

fn status(s: &'static str) -> Json<Value> {
    Json(json!({ "status": s }))
}

/// The longest id keyroute stores (`event_data.id`, `shop_id`, `subscriber_id`); longer is a
/// malformed payload. Postscript's ids are a few dozen characters.
pub const MAX_ID_CHARS: usize = 255;

fn checked_id(field: &str, v: &str) -> Result<(), ApiError> {
    if v.trim().is_empty() {
        return Err(ApiError::bad_request(format!(
            "event_data.{field} must not be empty"
        )));
    }
    if v.chars().count() > MAX_ID_CHARS {
        return Err(ApiError::bad_request(format!(
            "event_data.{field} is longer than {MAX_ID_CHARS} characters"
        )));
    }
    if v.contains('\0') {
        return Err(ApiError::bad_request(format!(
            "event_data.{field} contains a NUL character"
        )));
    }
    Ok(())
}

/// Text is stored as sent, except NUL, which PostgreSQL text cannot hold (and no SMS
/// carries): it becomes U+FFFD on both backends.
fn storable(s: String) -> String {
    if s.contains('\0') {
        s.replace('\0', "\u{fffd}")
    } else {
        s
    }
}

/// Refuses a declared body over the limit before reading a byte of it (a client that
/// announces 10 MB and trickles it would otherwise hold a connection until the timeout).
pub async fn refuse_oversize(
    State(state): State<Arc<AppState>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > super::MAX_BODY_BYTES as u64) {
        return refused(&state, ApiError::payload_too_large()).into_response();
    }
    next.run(req).await
}

/// Logs a refusal once (no personal data: the reasons name fields, never values) and counts
/// it under its status, so a wrong signing token shows up on a dashboard, not as silence.
fn refused(state: &AppState, e: ApiError) -> ApiError {
    let status = e.status().as_u16();
    tracing::warn!(status, reason = %e.message(), "webhook refused");
    state.metrics.webhook(e.status().as_str());
    e
}

async fn receive(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body = body.map_err(|e| {
        refused(
            &state,
            match e.status() {
                axum::http::StatusCode::PAYLOAD_TOO_LARGE => ApiError::payload_too_large(),
                _ => ApiError::bad_request(format!("unreadable body: {e}")),
            },
        )
    })?;
    handle(&state, &headers, &body)
        .await
        .map_err(|e| match e.status().as_u16() {
            400..=499 => refused(&state, e),
            _ => e,
        })
}

async fn handle(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Json<Value>, ApiError> {
    let verified = verify(state, headers)?;
    let envelope: Envelope = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("malformed payload: {e}")))?;
    if envelope.event != INCOMING_MESSAGE {
        state.metrics.webhook("ignored");
        return Ok(status("ignored"));
    }
    let data = envelope
        .event_data
        .ok_or_else(|| ApiError::bad_request("missing field `event_data`"))?;
    let msg: IncomingMessage = serde_json::from_value(data)
        .map_err(|e| ApiError::bad_request(format!("event_data: {e}")))?;
    checked_id("id", &msg.id)?;
    checked_id("shop_id", &msg.shop_id)?;
    checked_id("from_number", &msg.from_number)?;
    if !verified.shops.contains(&msg.shop_id) {
        // Either a shop we do not serve, or another shop's token: both are unauthenticated.
        return Err(ApiError::unauthorized("unknown shop or signature"));
    }
    let shop = state
        .shops
        .get(&msg.shop_id)
        .ok_or_else(|| ApiError::unauthorized("unknown shop"))?;
    let message_id = msg.id.clone();
    let from = mask_phone(&msg.from_number);
    if msg.is_opt_out {
        // Postscript has already handled the opt-out; it is never ours to act on or keep.
        tracing::info!(%message_id, shop = %msg.shop_id, %from, "opt-out message ignored");
        state.metrics.webhook("ignored");
        return Ok(status("ignored"));
    }
    let (Some(subscriber_id), Some(text)) =
        (msg.subscriber_id.filter(|s| !s.trim().is_empty()), msg.body)
    else {
        // A picture-only MMS, or a sender Postscript has no subscriber for: nothing to read
        // or act on, and a 400 would only make Postscript retry it for an hour.
        tracing::info!(%message_id, shop = %msg.shop_id, %from, "message without text or subscriber ignored");
        state.metrics.webhook("ignored");
        return Ok(status("ignored"));
    };
    checked_id("subscriber_id", &subscriber_id)?;
    let text = storable(text);
    // "until the 21st" means the 21st where the shop is.
    let today = jiff::Timestamp::now().to_zoned(shop.tz.clone()).date();
    let interpretation = shop.rules.interpret_on(&text, today).under(shop.confirm);
    let intent = interpretation.intent();
    let interpretation_json = serde_json::to_string(&interpretation).map_err(ApiError::internal)?;
    let new = NewMessage {
        id: msg.id.clone(),
        shop_id: msg.shop_id.clone(),
        subscriber_id,
        from_number: msg.from_number,
        shopify_customer_id: msg.shopify_customer_id.and_then(|v| match v {
            Value::Number(n) => Some(n.to_string()),
            Value::String(s) if !s.is_empty() => Some(storable(s)),
            _ => None,
        }),
        body: text,
        webhook_id: envelope.webhook_id.map(storable),
        sent_at: msg.created_at.map(storable),
        status: if intent.is_some() {
            MessageStatus::Accepted
        } else {
            MessageStatus::Ignored
        },
        interpretation: interpretation_json,
        action: intent.map(|i| i.action),
    };
    let job = intent.map(|_| NewJob {
        kind: JobKind::Act,
        message_id: msg.id.clone(),
        shop_id: msg.shop_id.clone(),
        subscriber_id: new.subscriber_id.clone(),
        max_attempts: state.max_attempts,
    });
    let inserted = state.store.insert_message(&new, job.as_ref()).await?;
    let answer = match (inserted, intent) {
        (Inserted::Duplicate, _) => "duplicate",
        (Inserted::New, Some(_)) => {
            state.wake.notify_one();
            "accepted"
        }
        (Inserted::New, None) => "ignored",
    };
    match &interpretation {
        Interpretation::Matched(i) => {
            tracing::info!(%message_id, shop = %new.shop_id, %from, status = answer, action = i.action.as_str(), rule = %i.rule, "webhook")
        }
        Interpretation::Unsure(i) => {
            tracing::info!(%message_id, shop = %new.shop_id, %from, status = answer, unsure = i.action.as_str(), rule = %i.rule, "webhook")
        }
        Interpretation::NoAction { reason } => {
            tracing::info!(%message_id, shop = %new.shop_id, %from, status = answer, reason, "webhook")
        }
    }
    state.metrics.webhook(answer);
    Ok(status(answer))
}
