//! A reply's whole path: webhook → job → platform write → Postscript event.

use jiff::ToSpan;
use keyroute_sandbox::{Fault, FaultKind};
use serde_json::{Value, json};

use crate::helpers::*;

async fn accepted(t: &TestApp, id: &str, subscriber: &str, phone: &str, text: &str) {
    let r = t.post_webhook(&payload(id, subscriber, phone, text)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"status": "accepted"})
    );
}

fn only_event(t: &TestApp) -> Value {
    let events = t.events();
    assert_eq!(events.len(), 1, "events: {events:#?}");
    assert_eq!(
        t.postscript.requests_for("event").len(),
        1,
        "one event request"
    );
    events.into_iter().next().unwrap()
}

#[tokio::test]
async fn skio_skip_moves_the_next_order_and_confirms() {
    let t = spawn_app().await;
    let id = message_id();
    accepted(&t, &id, SKIO_SUBSCRIBER, SKIO_PHONE, "Skip").await;
    t.drain().await;

    let skips = t.skio.requests_for("skip");
    assert_eq!(skips.len(), 1);
    let req = &skips[0];
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("POST", "/v1/graphql")
    );
    assert_eq!(
        req.header("authorization"),
        Some(format!("API {SKIO_TOKEN}").as_str())
    );
    let body = req.json().unwrap();
    assert!(body["query"].as_str().unwrap().contains("skipSubscription"));
    // Hasura type-checks variables: the whole input as one typed variable (platforms.md).
    assert!(
        body["query"]
            .as_str()
            .unwrap()
            .contains("$input: SkipSubscriptionInput!")
    );
    assert_eq!(body["variables"]["input"]["subscriptionId"], SKIO_SUB);
    assert_eq!(t.skio.skips_applied(SKIO_SUB), 1);
    // Skio answers a skip with the new date: no read-back needed.
    assert_eq!(t.skio.requests_for("lookup").len(), 1);

    let before = t.next_date();
    let after = before.checked_add(30.days()).unwrap();
    let e = only_event(&t);
    assert_eq!(e["type"], "order_skipped");
    assert_eq!(e["subscriber_id"], SKIO_SUBSCRIBER);
    assert_eq!(e["phone"], SKIO_PHONE);
    assert_occurred_at(&e);
    assert!(e["external_id"].as_str().unwrap().contains(&id));
    assert_eq!(
        e["properties"],
        json!({
            "new_delivery_date": after.to_string(),
            "skipped_date": before.to_string(),
            "platform": "skio",
            "subscription_id": SKIO_SUB,
            "keyword": "skip",
        })
    );
    let ps = &t.postscript.requests_for("event")[0];
    assert_eq!(
        ps.header("authorization"),
        Some(format!("Bearer {API_KEY}").as_str())
    );
    assert_eq!(ps.path, "/api/v2/events");

    // The merchant can see what happened.
    let m: Value = t
        .admin_get(&format!("/api/v1/messages/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(m["outcomes"][0]["state"], "done");
    assert_eq!(m["outcomes"][0]["new_date"], after.to_string());
    assert_eq!(m["jobs"][0]["state"], "completed");
    let calls: Vec<String> = m["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} {} {} {} {}",
                c["service"].as_str().unwrap(),
                c["op"].as_str().unwrap(),
                c["method"].as_str().unwrap(),
                c["path"].as_str().unwrap(),
                c["status"]
            )
        })
        .collect();
    assert_eq!(
        calls,
        [
            // The shop also lists Loop, which needs the email from the Postscript subscriber.
            format!("postscript subscriber GET /api/v2/subscribers/{SKIO_SUBSCRIBER} 200"),
            "skio lookup POST /v1/graphql 200".to_owned(),
            "loop customer GET /admin/2023-10/customer 200".to_owned(),
            "skio skip POST /v1/graphql 200".to_owned(),
            "postscript event POST /api/v2/events 202".to_owned(),
        ]
    );
}

#[tokio::test]
async fn skio_delay_two_weeks_sets_the_date() {
    let t = spawn_app().await;
    accepted(
        &t,
        &message_id(),
        SKIO_SUBSCRIBER,
        SKIO_PHONE,
        "DELAY 2 weeks",
    )
    .await;
    t.drain().await;
    let before = t.next_date();
    let after = before.checked_add(14.days()).unwrap();
    let sets = t.skio.requests_for("set_date");
    assert_eq!(sets.len(), 1);
    let body = sets[0].json().unwrap();
    assert!(
        body["query"]
            .as_str()
            .unwrap()
            .contains("updateNextBillingDate")
    );
    assert_eq!(
        body["variables"],
        json!({"input": {"subscriptionId": SKIO_SUB, "date": after.to_string()}})
    );
    assert!(t.skio.requests_for("skip").is_empty());
    let e = only_event(&t);
    assert_eq!(e["type"], "order_delayed");
    assert_eq!(
        e["properties"],
        json!({
            "new_delivery_date": after.to_string(),
            "previous_delivery_date": before.to_string(),
            "delay_days": 14,
            "platform": "skio",
            "subscription_id": SKIO_SUB,
            "keyword": "delay",
        })
    );
}

#[tokio::test]
async fn loop_skip_reads_the_new_date_back() {
    let t = spawn_app().await;
    accepted(&t, &message_id(), LOOP_SUBSCRIBER, LOOP_PHONE, "skip").await;
    t.drain().await;
    // Loop cannot search by phone: the Postscript subscriber gives the Shopify customer id.
    let subs = t.postscript.requests_for("subscriber");
    assert_eq!(subs.len(), 1);
    assert_eq!(
        subs[0].path,
        format!("/api/v2/subscribers/{LOOP_SUBSCRIBER}")
    );
    let lookups = t.loop_.requests_for("lookup");
    assert_eq!(lookups.len(), 1);
    assert_eq!(lookups[0].path, "/admin/2023-10/subscription");
    assert_eq!(
        lookups[0].query.as_deref(),
        Some(format!("customerShopifyId={LOOP_CUSTOMER}").as_str())
    );
    assert_eq!(lookups[0].header("x-loop-token"), Some(LOOP_TOKEN));
    let skips = t.loop_.requests_for("skip");
    assert_eq!(skips.len(), 1);
    assert_eq!(
        (skips[0].method.as_str(), skips[0].path.as_str()),
        ("POST", "/admin/2023-10/subscription/41001/skipNext")
    );
    assert_eq!(t.loop_.skips_applied(LOOP_SUB), 1);
    assert_eq!(
        t.loop_.requests_for("get").len(),
        1,
        "one read-back for the new date"
    );

    let before = t.next_date();
    let e = only_event(&t);
    assert_eq!(e["type"], "order_skipped");
    assert_eq!(
        e["properties"]["new_delivery_date"],
        before.checked_add(30.days()).unwrap().to_string()
    );
    assert_eq!(e["properties"]["skipped_date"], before.to_string());
    assert_eq!(e["properties"]["platform"], "loop");
    assert_eq!(e["properties"]["subscription_id"], "41001");
}

#[tokio::test]
async fn loop_delay_keeps_the_time_of_day() {
    let t = spawn_app().await;
    accepted(
        &t,
        &message_id(),
        LOOP_SUBSCRIBER,
        LOOP_PHONE,
        "delay 10 days",
    )
    .await;
    t.drain().await;
    let sets = t.loop_.requests_for("set_date");
    assert_eq!(sets.len(), 1);
    assert_eq!(sets[0].path, "/admin/2023-10/subscription/41001/reschedule");
    let body = sets[0].json().unwrap();
    let tz = jiff::tz::TimeZone::get(TZ).unwrap();
    let expected = t
        .next_billing
        .to_zoned(tz)
        .checked_add(10.days())
        .unwrap()
        .timestamp()
        .as_second();
    assert_eq!(body["newBillingDateEpoch"], expected);
    assert_eq!(body["nextBillingDateEpoch"], expected);
    assert_eq!(body["rescheduleFutureOrders"], true);
    let e = only_event(&t);
    assert_eq!(e["type"], "order_delayed");
    assert_eq!(e["properties"]["delay_days"], 10);
    assert_eq!(
        e["properties"]["new_delivery_date"],
        t.next_date().checked_add(10.days()).unwrap().to_string()
    );
}

#[tokio::test]
async fn help_answers_with_the_next_date() {
    let t = spawn_app().await;
    accepted(&t, &message_id(), SKIO_SUBSCRIBER, SKIO_PHONE, "HELP").await;
    t.drain().await;
    let e = only_event(&t);
    assert_eq!(e["type"], "keyword_help");
    assert_eq!(
        e["properties"],
        json!({"next_delivery_date": t.next_date().to_string(), "keyword": "help"})
    );
    assert!(t.skio.requests_for("skip").is_empty());
}

#[tokio::test]
async fn shopper_without_subscription_is_told_so() {
    let t = spawn_app().await;
    accepted(&t, &message_id(), NOBODY_SUBSCRIBER, NOBODY_PHONE, "skip").await;
    t.drain().await;
    let e = only_event(&t);
    assert_eq!(e["type"], "keyword_action_failed");
    assert_eq!(
        e["properties"],
        json!({"action": "skip", "reason": "no_subscription", "keyword": "skip"})
    );
}

#[tokio::test]
async fn platform_refusal_is_not_allowed() {
    let t = spawn_app().await;
    t.skio.inject(Fault::once("skip", FaultKind::Refuse));
    accepted(&t, &message_id(), SKIO_SUBSCRIBER, SKIO_PHONE, "skip").await;
    t.drain().await;
    assert_eq!(t.skio.skips_applied(SKIO_SUB), 0);
    let e = only_event(&t);
    assert_eq!(e["type"], "keyword_action_failed");
    assert_eq!(e["properties"]["reason"], "not_allowed");
    assert_eq!(
        e["properties"]["next_delivery_date"],
        t.next_date().to_string()
    );
    // The outcome is counted under its platform (calls per action per platform rely on it).
    let metrics = t
        .http
        .get(t.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("keyroute_outcomes_total")
                && l.contains("event=\"keyword_action_failed\"")
                && l.contains("platform=\"skio\"")),
        "{metrics}"
    );
}

#[tokio::test]
async fn same_delivery_five_times_at_once_skips_once() {
    let t = spawn_app().await;
    let p = payload(&message_id(), SKIO_SUBSCRIBER, SKIO_PHONE, "Skip");
    let answers = futures::future::join_all((0..5).map(|_| t.post_webhook(&p))).await;
    let mut statuses = Vec::new();
    for r in answers {
        assert_eq!(r.status(), 200);
        statuses.push(
            r.json::<Value>().await.unwrap()["status"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    statuses.sort();
    assert_eq!(
        statuses,
        [
            "accepted",
            "duplicate",
            "duplicate",
            "duplicate",
            "duplicate"
        ]
    );
    t.drain().await;
    // And a late redelivery after the work is done changes nothing either.
    let r = t.post_webhook(&p).await;
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"status": "duplicate"})
    );
    t.drain().await;
    assert_eq!(t.skio.requests_for("skip").len(), 1);
    assert_eq!(t.skio.skips_applied(SKIO_SUB), 1);
    only_event(&t);
}

#[tokio::test]
async fn platform_500_twice_then_success_skips_exactly_once() {
    let t = spawn_app().await;
    t.loop_
        .inject(Fault::times("skip", 2, FaultKind::Status(500)));
    let id = message_id();
    accepted(&t, &id, LOOP_SUBSCRIBER, LOOP_PHONE, "skip").await;
    t.drain().await;
    assert_eq!(t.loop_.requests_for("skip").len(), 3);
    assert_eq!(t.loop_.skips_applied(LOOP_SUB), 1);
    let e = only_event(&t);
    assert_eq!(e["type"], "order_skipped");
    assert_eq!(
        e["properties"]["new_delivery_date"],
        t.next_date().checked_add(30.days()).unwrap().to_string()
    );
    let m: Value = t
        .admin_get(&format!("/api/v1/messages/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(m["jobs"][0]["attempt"], 3);
    assert_eq!(m["jobs"][0]["state"], "completed");
    // The message view lists every call the attempts made, failures included.
    let skips: Vec<(i64, i64)> = m["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["service"] == "loop" && c["op"] == "skip")
        .map(|c| {
            (
                c["attempt"].as_i64().unwrap(),
                c["status"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(skips, [(1, 500), (2, 500), (3, 200)]);
}

#[tokio::test]
async fn lost_answer_after_a_skip_is_not_repeated() {
    let t = spawn_app().await;
    // The skip is applied but the answer says 502: the retry must notice the date moved.
    t.skio
        .inject(Fault::once("skip", FaultKind::ApplyThenStatus(502)));
    accepted(&t, &message_id(), SKIO_SUBSCRIBER, SKIO_PHONE, "skip").await;
    t.drain().await;
    assert_eq!(t.skio.requests_for("skip").len(), 1);
    assert_eq!(t.skio.skips_applied(SKIO_SUB), 1);
    let e = only_event(&t);
    assert_eq!(e["type"], "order_skipped");
    assert_eq!(
        e["properties"]["new_delivery_date"],
        t.next_date().checked_add(30.days()).unwrap().to_string()
    );
}

#[tokio::test]
async fn worker_dying_after_the_write_does_not_skip_twice() {
    let timing = Timing {
        lease_seconds: 1,
        ..Timing::default()
    };
    let timing2 = timing.clone();
    let mut t = spawn_app_with(timing).await;
    // The platform applies the skip and never answers; the worker "dies" mid-call.
    t.skio.inject(Fault::once("skip", FaultKind::ApplyThenHang));
    accepted(&t, &message_id(), SKIO_SUBSCRIBER, SKIO_PHONE, "skip").await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while t.skio.skips_applied(SKIO_SUB) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "skip never reached Skio"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    t.app.take().unwrap().crash();
    assert!(t.events().is_empty());

    // A new process on the same database rescues the job once its lease expires.
    t.start(&timing2).await;
    t.drain().await;
    assert_eq!(t.skio.skips_applied(SKIO_SUB), 1, "skipped twice");
    assert_eq!(t.skio.requests_for("skip").len(), 1);
    let e = only_event(&t);
    assert_eq!(e["type"], "order_skipped");
    assert_eq!(
        e["properties"]["new_delivery_date"],
        t.next_date().checked_add(30.days()).unwrap().to_string()
    );
}

#[tokio::test]
async fn postscript_rate_limit_is_retried_with_the_same_external_id() {
    let t = spawn_app().await;
    t.postscript.inject(Fault::once(
        "event",
        FaultKind::RateLimited { retry_after: None },
    ));
    accepted(&t, &message_id(), SKIO_SUBSCRIBER, SKIO_PHONE, "skip").await;
    t.drain().await;
    let sent = t.postscript.requests_for("event");
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[0].json().unwrap()["external_id"],
        sent[1].json().unwrap()["external_id"]
    );
    assert_eq!(t.events().len(), 1);
    assert_eq!(t.skio.skips_applied(SKIO_SUB), 1);
}

#[tokio::test]
async fn shutdown_finishes_the_job_in_flight() {
    let mut t = spawn_app().await;
    // A slow platform: the skip is in flight when the shutdown starts.
    t.skio.inject(Fault::once(
        "skip",
        FaultKind::Delay(std::time::Duration::from_millis(700)),
    ));
    let id = message_id();
    accepted(&t, &id, SKIO_SUBSCRIBER, SKIO_PHONE, "skip").await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while t.skio.requests_for("skip").is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the skip never started"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    t.app.take().unwrap().shutdown().await;
    // The attempt was allowed to finish: skip made, event sent, job recorded as completed.
    assert_eq!(t.skio.skips_applied(SKIO_SUB), 1);
    assert_eq!(t.events().len(), 1);
    t.start(&Timing::default()).await;
    let m: Value = t
        .admin_get(&format!("/api/v1/messages/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(m["jobs"][0]["state"], "completed");
    assert_eq!(m["jobs"][0]["attempt"], 1, "not rescued and repeated");
}
