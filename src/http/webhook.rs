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

pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/webhooks/postscript", post(receive))
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
    subscriber_id: String,
    from_number: String,
    body: String,
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

fn nonempty(field: &str, v: &str) -> Result<(), ApiError> {
    if v.trim().is_empty() {
        return Err(ApiError::bad_request(format!(
            "event_data.{field} must not be empty"
        )));
    }
    Ok(())
}

async fn receive(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let verified = verify(&state, &headers)?;
    let envelope: Envelope = serde_json::from_slice(&body)
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
    nonempty("id", &msg.id)?;
    nonempty("shop_id", &msg.shop_id)?;
    nonempty("subscriber_id", &msg.subscriber_id)?;
    nonempty("from_number", &msg.from_number)?;
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
    let interpretation = shop.rules.interpret(&msg.body);
    let intent = interpretation.intent();
    let interpretation_json = serde_json::to_string(&interpretation).map_err(ApiError::internal)?;
    let new = NewMessage {
        id: msg.id.clone(),
        shop_id: msg.shop_id.clone(),
        subscriber_id: msg.subscriber_id,
        from_number: msg.from_number,
        shopify_customer_id: msg.shopify_customer_id.and_then(|v| match v {
            Value::Number(n) => Some(n.to_string()),
            Value::String(s) if !s.is_empty() => Some(s),
            _ => None,
        }),
        body: msg.body,
        webhook_id: envelope.webhook_id,
        sent_at: msg.created_at,
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
        Interpretation::NoAction { reason } => {
            tracing::info!(%message_id, shop = %new.shop_id, %from, status = answer, reason, "webhook")
        }
    }
    state.metrics.webhook(answer);
    Ok(status(answer))
}
