//! The webhook's contract: status codes, and that refused deliveries store and call nothing.

use serde_json::{Value, json};

use crate::helpers::*;

async fn assert_nothing_happened(t: &TestApp) {
    t.drain().await;
    assert_eq!(
        t.app().store().count_messages().await.unwrap(),
        0,
        "nothing stored"
    );
    assert!(t.skio.requests().is_empty(), "Skio was called");
    assert!(t.loop_.requests().is_empty(), "Loop was called");
    assert!(t.postscript.requests().is_empty(), "Postscript was called");
}

#[tokio::test]
async fn wrong_or_missing_signature_is_401_and_stores_nothing() {
    let t = spawn_app().await;
    let body =
        serde_json::to_vec(&payload(&message_id(), SKIO_SUBSCRIBER, SKIO_PHONE, "Skip")).unwrap();
    let r = t.post_raw(body.clone(), Some("not-the-token")).await;
    assert_eq!(r.status(), 401);
    let r = t.post_raw(body.clone(), None).await;
    assert_eq!(r.status(), 401);
    let r = t.post_raw(body, Some("")).await;
    assert_eq!(r.status(), 401);
    assert_nothing_happened(&t).await;
}

#[tokio::test]
async fn unknown_shop_is_401() {
    let t = spawn_app().await;
    let mut p = payload(&message_id(), SKIO_SUBSCRIBER, SKIO_PHONE, "Skip");
    p["event_data"]["shop_id"] = json!("shop_someone_else");
    let r = t.post_webhook(&p).await;
    assert_eq!(r.status(), 401);
    assert_nothing_happened(&t).await;
}

#[tokio::test]
async fn malformed_json_and_missing_fields_are_400() {
    let t = spawn_app().await;
    let r = t.post_raw(b"{not json".to_vec(), Some(WEBHOOK_TOKEN)).await;
    assert_eq!(r.status(), 400);
    for field in ["id", "shop_id", "from_number"] {
        let mut p = payload(&message_id(), SKIO_SUBSCRIBER, SKIO_PHONE, "Skip");
        p["event_data"].as_object_mut().unwrap().remove(field);
        let r = t.post_webhook(&p).await;
        assert_eq!(r.status(), 400, "without event_data.{field}");
    }
    let mut p = payload(&message_id(), SKIO_SUBSCRIBER, SKIO_PHONE, "Skip");
    p.as_object_mut().unwrap().remove("event_data");
    assert_eq!(t.post_webhook(&p).await.status(), 400);
    assert_nothing_happened(&t).await;
}

#[tokio::test]
async fn a_null_or_missing_body_or_subscriber_is_ignored_not_refused() {
    let t = spawn_app().await;
    for (field, missing) in [
        ("body", false),
        ("body", true),
        ("subscriber_id", false),
        ("subscriber_id", true),
    ] {
        let mut p = payload(&message_id(), SKIO_SUBSCRIBER, SKIO_PHONE, "Skip");
        if missing {
            p["event_data"].as_object_mut().unwrap().remove(field);
        } else {
            p["event_data"][field] = Value::Null;
        }
        let r = t.post_webhook(&p).await;
        assert_eq!(r.status(), 200, "{field} missing={missing}");
        assert_eq!(
            r.json::<Value>().await.unwrap(),
            json!({"status": "ignored"})
        );
    }
    assert_nothing_happened(&t).await;
}

#[tokio::test]
async fn a_declared_oversize_body_is_refused_before_it_is_read() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let t = spawn_app().await;
    let mut conn = tokio::net::TcpStream::connect(t.app().addr).await.unwrap();
    // The headers promise 100 kB; not a byte of it follows.
    conn.write_all(
        format!(
            "POST /webhooks/postscript HTTP/1.1\r\nhost: localhost\r\n\
             content-type: application/json\r\npostscript-signature: {WEBHOOK_TOKEN}\r\n\
             content-length: 100000\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut answer = vec![0u8; 512];
    let n = tokio::time::timeout(std::time::Duration::from_secs(3), conn.read(&mut answer))
        .await
        .expect("answered at once, not after the request timeout")
        .unwrap();
    let head = String::from_utf8_lossy(&answer[..n]);
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert_nothing_happened(&t).await;
}

#[tokio::test]
async fn every_refusal_is_counted_by_status() {
    let t = spawn_app().await;
    let body =
        serde_json::to_vec(&payload(&message_id(), SKIO_SUBSCRIBER, SKIO_PHONE, "Skip")).unwrap();
    assert_eq!(
        t.post_raw(body.clone(), Some("wrong-token")).await.status(),
        401
    );
    assert_eq!(
        t.post_raw(b"{".to_vec(), Some(WEBHOOK_TOKEN))
            .await
            .status(),
        400
    );
    let big = vec![b' '; 70 * 1024];
    assert_eq!(t.post_raw(big, Some(WEBHOOK_TOKEN)).await.status(), 413);
    let metrics = t
        .http
        .get(t.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for status in ["401", "400", "413"] {
        assert!(
            metrics.contains(&format!("keyroute_webhooks_total{{status=\"{status}\"}} 1")),
            "{status}: {metrics}"
        );
    }
}

#[tokio::test]
async fn nul_characters_and_overlong_ids_never_answer_5xx() {
    let t = spawn_app().await;
    // A NUL inside the text: stored safely (PostgreSQL text cannot hold NUL) and read.
    let id = message_id();
    let r = t
        .post_webhook(&payload(
            &id,
            SKIO_SUBSCRIBER,
            SKIO_PHONE,
            "hello\u{0}there",
        ))
        .await;
    assert_eq!(r.status(), 200);
    let m: Value = t
        .admin_get(&format!("/api/v1/messages/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(m["message"]["body"], "hello\u{fffd}there");
    // A NUL in any other text field the message keeps (the customer id, the webhook id,
    // the time sent) is stored the same way: never a 5xx.
    let mut p = payload(&message_id(), SKIO_SUBSCRIBER, SKIO_PHONE, "thanks");
    p["event_data"]["shopify_customer_id"] = Value::from("12\u{0}34");
    p["webhook_id"] = Value::from("wh_\u{0}");
    p["event_data"]["created_at"] = Value::from("2027-03-10T12:00:00Z\u{0}");
    let r = t.post_webhook(&p).await;
    assert_eq!(r.status(), 200);
    // A NUL in an id, or an id beyond the documented maximum: a clear 400.
    let r = t
        .post_webhook(&payload("im_\u{0}", SKIO_SUBSCRIBER, SKIO_PHONE, "Skip"))
        .await;
    assert_eq!(r.status(), 400);
    let long = format!("im_{}", "x".repeat(3000));
    let r = t
        .post_webhook(&payload(&long, SKIO_SUBSCRIBER, SKIO_PHONE, "Skip"))
        .await;
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert!(
        e["error"].as_str().unwrap().contains("longer than 255"),
        "{e}"
    );
}

#[tokio::test]
async fn oversize_body_is_413() {
    let t = spawn_app().await;
    let p = payload(
        &message_id(),
        SKIO_SUBSCRIBER,
        SKIO_PHONE,
        &"skip ".repeat(14_000),
    );
    let body = serde_json::to_vec(&p).unwrap();
    assert!(body.len() > 64 * 1024);
    let r = t.post_raw(body, Some(WEBHOOK_TOKEN)).await;
    assert_eq!(r.status(), 413);
    assert_nothing_happened(&t).await;
}

#[tokio::test]
async fn opt_out_is_ignored_and_never_acts() {
    let t = spawn_app().await;
    let mut p = payload(&message_id(), SKIO_SUBSCRIBER, SKIO_PHONE, "STOP");
    p["event_data"]["is_opt_out"] = json!(true);
    let r = t.post_webhook(&p).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"status": "ignored"})
    );
    // Even a keyword never acts when Postscript flags the message as an opt-out.
    let mut p = payload(&message_id(), SKIO_SUBSCRIBER, SKIO_PHONE, "Skip");
    p["event_data"]["is_opt_out"] = json!(true);
    let r = t.post_webhook(&p).await;
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"status": "ignored"})
    );
    assert_nothing_happened(&t).await;
}

#[tokio::test]
async fn other_events_and_replies_without_keyword_are_ignored() {
    let t = spawn_app().await;
    let mut p = payload(&message_id(), SKIO_SUBSCRIBER, SKIO_PHONE, "Skip");
    p["event"] = json!("shop.subscriber_created");
    let r = t.post_webhook(&p).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"status": "ignored"})
    );

    let id = message_id();
    let r = t
        .post_webhook(&payload(
            &id,
            SKIO_SUBSCRIBER,
            SKIO_PHONE,
            "what time do you open?",
        ))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"status": "ignored"})
    );
    t.drain().await;
    // Kept for the merchant's history, but nothing was called.
    let m: Value = t
        .admin_get(&format!("/api/v1/messages/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(m["message"]["status"], "ignored");
    assert_eq!(m["interpretation"]["action"], Value::Null);
    assert!(t.skio.requests().is_empty() && t.postscript.requests().is_empty());
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let t = spawn_app().await;
    assert_eq!(
        t.http.get(t.url("/healthz")).send().await.unwrap().status(),
        200
    );
    assert_eq!(
        t.http.get(t.url("/readyz")).send().await.unwrap().status(),
        200
    );
    let r = t.http.get(t.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("keyroute_jobs"));
}

#[tokio::test]
async fn admin_api_requires_a_token() {
    let t = spawn_app().await;
    let r = t
        .http
        .get(t.url("/api/v1/messages/im_x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = t
        .http
        .get(t.url("/api/v1/messages/im_x"))
        .bearer_auth("wrong-token-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(t.admin_get("/api/v1/messages/im_x").await.status(), 404);
}
