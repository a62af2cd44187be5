//! The job protocol at its edges: the last attempt, a job rescued on its last attempt, a
//! server that has no schema yet.

use jiff::ToSpan;
use keyroute_sandbox::{Fault, FaultKind};
use serde_json::Value;

use crate::helpers::*;

async fn send(t: &TestApp, text: &str) -> String {
    let id = message_id();
    let r = t
        .post_webhook(&payload(&id, SKIO_SUBSCRIBER, SKIO_PHONE, text))
        .await;
    assert_eq!(r.status(), 200);
    id
}

async fn view(t: &TestApp, id: &str) -> Value {
    t.admin_get(&format!("/api/v1/messages/{id}"))
        .await
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_write_that_landed_is_confirmed_even_on_the_last_attempt() {
    let t = spawn_app_with(Timing {
        max_attempts: 2,
        ..Timing::default()
    })
    .await;
    // Every set-date is applied, and every answer is lost.
    t.skio.inject(Fault::times(
        "set_date",
        10,
        FaultKind::ApplyThenStatus(502),
    ));
    let id = send(&t, "delay 2 weeks").await;
    t.drain().await;
    let events = t.events();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(
        events[0]["type"], "order_delayed",
        "not platform_error: it landed"
    );
    assert_eq!(
        events[0]["properties"]["new_delivery_date"],
        t.next_date().checked_add(14.days()).unwrap().to_string()
    );
    assert_eq!(view(&t, &id).await["jobs"][0]["state"], "completed");
}

/// A SKIP whose every attempt (two) Skio answers 503: the job ends discarded.
async fn skip_that_fails_for_good() -> (TestApp, String) {
    let t = spawn_app_with(Timing {
        max_attempts: 2,
        ..Timing::default()
    })
    .await;
    t.skio
        .inject(Fault::times("skip", 10, FaultKind::Status(503)));
    let id = send(&t, "skip").await;
    t.drain().await;
    (t, id)
}

#[tokio::test]
async fn a_job_that_fails_for_good_tells_the_shopper_and_stays_discarded() {
    let (t, id) = skip_that_fails_for_good().await;
    let failed: Vec<Value> = t
        .events()
        .into_iter()
        .filter(|e| e["type"] == "keyword_action_failed")
        .collect();
    assert_eq!(failed.len(), 1, "exactly one failure event");
    assert_eq!(failed[0]["properties"]["reason"], "platform_error");
    let job = &view(&t, &id).await["jobs"][0];
    assert_eq!(job["state"], "discarded", "{job}");
    assert!(job["last_error"].as_str().unwrap().contains("503"), "{job}");
}

#[tokio::test]
async fn a_job_rescued_on_its_last_attempt_still_tells_the_shopper() {
    let timing = Timing {
        max_attempts: 1,
        lease_seconds: 1,
        ..Timing::default()
    };
    let mut t = spawn_app_with(timing.clone()).await;
    // The only attempt hangs in its lookup; the worker dies with it.
    t.skio.inject(Fault::once(
        "lookup",
        FaultKind::Delay(std::time::Duration::from_secs(8)),
    ));
    let id = send(&t, "skip").await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while t.skio.requests_for("lookup").is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the lookup never started"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    t.app.take().unwrap().crash();
    t.skio.clear_faults();
    t.skio
        .inject(Fault::times("skip", 10, FaultKind::Status(503)));
    t.start(&timing).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let job = view(&t, &id).await["jobs"][0].clone();
        if job["state"] == "discarded" || job["state"] == "completed" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never finished: {job}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let failed: Vec<Value> = t
        .events()
        .into_iter()
        .filter(|e| e["type"] == "keyword_action_failed")
        .collect();
    assert_eq!(failed.len(), 1, "never silence: {:#?}", t.events());
    assert_eq!(failed[0]["properties"]["reason"], "platform_error");
    assert_eq!(view(&t, &id).await["jobs"][0]["state"], "discarded");
}

#[tokio::test]
async fn a_discarded_job_can_be_retried_once_its_cause_is_fixed() {
    let (t, id) = skip_that_fails_for_good().await;
    let listed: Value = t
        .admin_get("/api/v1/jobs?state=discarded")
        .await
        .json()
        .await
        .unwrap();
    let jobs = listed["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 1, "{listed}");
    assert_eq!(jobs[0]["message_id"], id.as_str());
    assert_eq!(jobs[0]["shop_id"], SHOP);
    let job_id = jobs[0]["id"].as_i64().unwrap();
    let none: Value = t
        .admin_get("/api/v1/jobs?state=completed")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["jobs"].as_array().unwrap().len(), 0, "{none}");
    let bad = t.admin_get("/api/v1/jobs?state=broken").await;
    assert_eq!(bad.status(), 422);
    let bad: Value = bad.json().await.unwrap();
    assert_eq!(bad["details"][0]["field"], "state", "{bad}");

    // The operator fixes the cause and retries: the skip is made once, and told.
    t.skio.clear_faults();
    let r = t.admin_post(&format!("/api/v1/jobs/{job_id}/retry")).await;
    assert_eq!(r.status(), 200);
    t.drain().await;
    let types: Vec<String> = t
        .events()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        types,
        ["keyword_action_failed", "order_skipped"],
        "{:#?}",
        t.events()
    );
    let m = view(&t, &id).await;
    assert_eq!(m["jobs"][0]["state"], "completed", "{m}");
    assert_eq!(m["outcomes"][0]["state"], "done", "{m}");
    assert_eq!(
        t.skio.requests_for("skip").len(),
        3,
        "two refused attempts, then one skip after reading the subscription back"
    );

    // Only a discarded job can be retried; an unknown one is 404.
    let again = t.admin_post(&format!("/api/v1/jobs/{job_id}/retry")).await;
    assert_eq!(again.status(), 409);
    let unknown = t.admin_post("/api/v1/jobs/999999/retry").await;
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn a_job_that_keeps_stopping_its_worker_is_given_up_and_told() {
    let timing = Timing {
        max_attempts: 1,
        lease_seconds: 1,
        ..Timing::default()
    };
    let mut t = spawn_app_with(timing.clone()).await;
    // Every lookup hangs, and the worker dies with it: a poison message.
    t.skio.inject(Fault::times(
        "lookup",
        100,
        FaultKind::Delay(std::time::Duration::from_secs(30)),
    ));
    let id = send(&t, "skip").await;
    // The last attempt, then RESCUE_SPARE (3) more, each killed mid-lookup.
    for n in 1..=4 {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while t.skio.requests_for("lookup").len() < n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "attempt {n} never started"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        t.app.take().unwrap().crash();
        t.start(&timing).await;
    }
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let job = view(&t, &id).await["jobs"][0].clone();
        if job["state"] == "discarded" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never given up: {job}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let events = t.events();
    assert_eq!(events.len(), 1, "never silence: {events:#?}");
    assert_eq!(events[0]["type"], "keyword_action_failed");
    assert_eq!(events[0]["properties"]["reason"], "platform_error");
    assert_eq!(
        t.skio.requests_for("lookup").len(),
        4,
        "the abandoning attempt calls no platform"
    );
    assert!(t.skio.requests_for("skip").is_empty());
}

#[tokio::test]
async fn serving_without_the_schema_is_not_ready_and_says_why() {
    let mut t = spawn_app().await;
    t.app.take().unwrap().shutdown().await;
    // A database nobody migrated.
    let dir = tempfile::tempdir().unwrap();
    t.db_url = keyroute::harness::fresh_database(dir.path()).await.unwrap();
    let config =
        keyroute::config::Config::from_toml_str(&t.config_text(&Timing::default())).unwrap();
    let app = keyroute::app::App::start(&config, keyroute::app::Options { migrate: false })
        .await
        .unwrap();
    let r = t
        .http
        .get(format!("{}/readyz", app.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.text().await.unwrap().contains("keyroute migrate"));
    app.shutdown().await;
}
