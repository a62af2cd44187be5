//! One classification of every outbound answer, the same for platforms and Postscript:
//! 408/429/5xx are retried, 401/403 are the operator's (final, counted, never retried), other
//! 4xx on a write are the shopper's `not_allowed`.

use keyroute_sandbox::{Fault, FaultKind};
use serde_json::Value;

use crate::helpers::*;

async fn skip(t: &TestApp) -> String {
    let id = message_id();
    let r = t
        .post_webhook(&payload(&id, SKIO_SUBSCRIBER, SKIO_PHONE, "skip"))
        .await;
    assert_eq!(r.status(), 200);
    t.drain().await;
    id
}

async fn metrics(t: &TestApp) -> String {
    t.http
        .get(t.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn job(t: &TestApp, id: &str) -> Value {
    let m: Value = t
        .admin_get(&format!("/api/v1/messages/{id}"))
        .await
        .json()
        .await
        .unwrap();
    m["jobs"][0].clone()
}

#[tokio::test]
async fn refused_credentials_on_a_write_are_final_and_counted() {
    let t = spawn_app().await;
    t.skio
        .inject(Fault::times("skip", 10, FaultKind::Status(401)));
    let id = skip(&t).await;
    assert_eq!(t.skio.requests_for("skip").len(), 1, "never retried");
    assert_eq!(t.skio.skips_applied(SKIO_SUB), 0);
    let events = t.events();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["type"], "keyword_action_failed");
    assert_eq!(events[0]["properties"]["reason"], "platform_error");
    let j = job(&t, &id).await;
    assert_eq!(
        (j["state"].as_str(), j["attempt"].as_i64()),
        (Some("discarded"), Some(1)),
        "failed for good at once, kept for an operator"
    );
    let m = metrics(&t).await;
    assert!(
        m.lines()
            .any(|l| l.starts_with("keyroute_outbound_auth_failures_total")
                && l.contains("service=\"skio\"")
                && l.contains("op=\"skip\"")),
        "{m}"
    );
}

#[tokio::test]
async fn refused_credentials_on_a_read_are_not_retried() {
    let t = spawn_app().await;
    t.skio
        .inject(Fault::times("lookup", 10, FaultKind::Status(403)));
    let id = skip(&t).await;
    assert_eq!(t.skio.requests_for("lookup").len(), 1, "never retried");
    let events = t.events();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["properties"]["reason"], "platform_error");
    assert_eq!(job(&t, &id).await["attempt"], 1);
}

#[tokio::test]
async fn a_408_from_postscript_is_retried_like_any_platform_408() {
    let t = spawn_app().await;
    t.postscript
        .inject(Fault::once("event", FaultKind::Status(408)));
    t.skio.inject(Fault::once("skip", FaultKind::Status(408)));
    let id = skip(&t).await;
    assert_eq!(
        t.skio.requests_for("skip").len(),
        2,
        "the platform's 408 retried"
    );
    assert_eq!(t.skio.skips_applied(SKIO_SUB), 1);
    assert_eq!(
        t.postscript.requests_for("event").len(),
        2,
        "Postscript's 408 retried"
    );
    let events = t.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["type"], "order_skipped");
    assert_eq!(job(&t, &id).await["state"], "completed");
}
