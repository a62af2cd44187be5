//! Stored records keyroute cannot read back are errors the job reports, never silent
//! defaults and never a panic.

use std::time::Duration;

use serde_json::Value;
use sqlx::any::AnyPoolOptions;

use crate::helpers::*;

/// Stores a message with a job, as the webhook would, but with `interpretation` as given.
async fn insert_job(db_url: &str, id: &str, interpretation: &str, outcome_action: Option<&str>) {
    sqlx::any::install_default_drivers();
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(db_url)
        .await
        .unwrap();
    let now = jiff::Timestamp::now().as_millisecond();
    sqlx::query(
        "INSERT INTO messages (id, shop_id, subscriber_id, from_number, body, received_at, status, \
         interpretation, action) VALUES ($1, $2, $3, $4, 'skip', $5, 'accepted', $6, NULL)",
    )
    .bind(id)
    .bind(SHOP)
    .bind(SKIO_SUBSCRIBER)
    .bind(SKIO_PHONE)
    .bind(now)
    .bind(interpretation)
    .execute(&pool)
    .await
    .unwrap();
    if let Some(action) = outcome_action {
        sqlx::query(
            "INSERT INTO outcomes (message_id, seq, action, state, event_state, created_at, updated_at) \
             VALUES ($1, 0, $2, 'planned', 'none', $3, $3)",
        )
        .bind(id)
        .bind(action)
        .bind(now)
        .execute(&pool)
        .await
        .unwrap();
    }
    sqlx::query(
        "INSERT INTO jobs (kind, message_id, shop_id, subscriber_id, state, attempt, max_attempts, \
         scheduled_at, created_at) VALUES ('act', $1, $2, $3, 'available', 0, 5, $4, $4)",
    )
    .bind(id)
    .bind(SHOP)
    .bind(SKIO_SUBSCRIBER)
    .bind(now)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
}

async fn job_of(t: &TestApp, id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let m: Value = t
            .admin_get(&format!("/api/v1/messages/{id}"))
            .await
            .json()
            .await
            .unwrap();
        let job = m["jobs"][0].clone();
        if job["state"] == "discarded" || job["state"] == "completed" {
            return job;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "job never finished: {m}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_unknown_stored_action_is_reported_not_defaulted() {
    let t = spawn_app().await;
    let id = message_id();
    insert_job(
        &t.db_url,
        &id,
        r#"{"action":"hop","rule":"hop","keyword":"hop"}"#,
        None,
    )
    .await;
    t.app().state.wake.notify_one();
    let job = job_of(&t, &id).await;
    assert_eq!(job["state"], "discarded", "{job}");
    let error = job["last_error"].as_str().unwrap();
    assert!(
        error.contains("interpretation") && error.contains("hop"),
        "{error}"
    );
    assert!(t.skio.requests().is_empty(), "nothing acted on");
    assert!(t.events().is_empty());
    // The worker survived: the next reply is carried out as usual.
    let r = t
        .post_webhook(&payload(&message_id(), SKIO_SUBSCRIBER, SKIO_PHONE, "skip"))
        .await;
    assert_eq!(r.status(), 200);
    t.drain().await;
    assert_eq!(t.skio.skips_applied(SKIO_SUB), 1);
}

#[tokio::test]
async fn an_unknown_stored_outcome_action_is_reported_not_run_as_help() {
    let t = spawn_app().await;
    let id = message_id();
    insert_job(
        &t.db_url,
        &id,
        r#"{"action":"skip","rule":"skip","keyword":"skip"}"#,
        Some("hop"),
    )
    .await;
    t.app().state.wake.notify_one();
    let job = job_of(&t, &id).await;
    assert_eq!(job["state"], "discarded", "{job}");
    let error = job["last_error"].as_str().unwrap();
    assert!(
        error.contains("outcome action") && error.contains("hop"),
        "{error}"
    );
    assert!(t.skio.requests_for("skip").is_empty(), "nothing written");
    assert!(t.events().is_empty());
}
