//! Smartrr, Prive and Recharge: the exact requests keyroute makes (method, path, query, auth,
//! body) for lookup, skip and set-date, end to end from the webhook to the event.

use jiff::ToSpan;
use keyroute_sandbox::{Fault, FaultKind, RateLimit, RechargeSub, RecordedRequest, SimSubscriber};
use serde_json::{Value, json};

use crate::helpers::*;

async fn send(t: &TestApp, shop: &str, text: &str) {
    let r = t
        .post_webhook(&payload_for(
            shop,
            &message_id(),
            OTHER_SUBSCRIBER,
            OTHER_PHONE,
            text,
        ))
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "accepted");
    t.drain().await;
}

fn one(reqs: Vec<RecordedRequest>, what: &str) -> RecordedRequest {
    assert_eq!(reqs.len(), 1, "{what}: {reqs:#?}");
    reqs.into_iter().next().unwrap()
}

fn only_event(t: &TestApp) -> Value {
    let events = t.events();
    assert_eq!(events.len(), 1, "{events:#?}");
    events.into_iter().next().unwrap()
}

fn skipped_to(t: &TestApp) -> String {
    t.next_date().checked_add(30.days()).unwrap().to_string()
}

fn delayed_to(t: &TestApp, days: i64) -> String {
    t.next_date().checked_add(days.days()).unwrap().to_string()
}

#[tokio::test]
async fn smartrr_skip_end_to_end() {
    let t = spawn_app().await;
    send(&t, SHOP_SMARTRR, "skip").await;
    let lookup = one(t.smartrr.requests_for("lookup"), "lookup");
    assert_eq!(
        (lookup.method.as_str(), lookup.path.as_str()),
        ("GET", "/vendor/order/formatted")
    );
    assert_eq!(
        lookup.query.as_deref(),
        Some("filterLike%5BemailOrName%5D=Other.Shopper%40example.com&pageNumber=0&pageSize=100")
    );
    assert_eq!(lookup.header("x-smartrr-access-token"), Some(SMARTRR_TOKEN));
    let list = one(t.smartrr.requests_for("list"), "list");
    assert_eq!(
        list.path,
        format!("/vendor/customer/{SMARTRR_CUST_REL}/purchase-state/")
    );
    let skip = one(t.smartrr.requests_for("skip"), "skip");
    assert_eq!(
        (skip.method.as_str(), skip.path.as_str()),
        (
            "PUT",
            format!("/vendor/customer/{SMARTRR_CUST_REL}/purchase-state/{SMARTRR_SUB}/skip")
                .as_str()
        )
    );
    assert_eq!(skip.header("x-smartrr-access-token"), Some(SMARTRR_TOKEN));
    assert_eq!(t.smartrr.skips_applied(SMARTRR_SUB), 1);
    // The skip answers with the purchase state: no read-back.
    assert_eq!(t.smartrr.requests().len(), 3);
    let e = only_event(&t);
    assert_eq!(e["type"], "order_skipped");
    assert_eq!(
        e["properties"],
        json!({"new_delivery_date": skipped_to(&t), "skipped_date": t.next_date().to_string(),
               "platform": "smartrr", "subscription_id": SMARTRR_SUB, "keyword": "skip"})
    );
}

#[tokio::test]
async fn smartrr_delay_end_to_end() {
    let t = spawn_app().await;
    send(&t, SHOP_SMARTRR, "delay 2 weeks").await;
    let set = one(t.smartrr.requests_for("set_date"), "set_date");
    assert_eq!(set.method, "PUT");
    assert_eq!(
        set.path,
        format!(
            "/vendor/customer/{SMARTRR_CUST_REL}/purchase-state/{SMARTRR_SUB}/next-billing-date"
        )
    );
    assert_eq!(
        set.json().unwrap(),
        json!({"nextBillingDate": delayed_to(&t, 14)})
    );
    let e = only_event(&t);
    assert_eq!(e["type"], "order_delayed");
    assert_eq!(e["properties"]["new_delivery_date"], delayed_to(&t, 14));
    assert_eq!(e["properties"]["platform"], "smartrr");
}

#[tokio::test]
async fn prive_skip_end_to_end() {
    let t = spawn_app().await;
    send(&t, SHOP_PRIVE, "skip").await;
    let lookup = one(t.prive.requests_for("lookup"), "lookup");
    assert_eq!(
        (lookup.method.as_str(), lookup.path.as_str()),
        ("GET", "/api/v1/subscriptions")
    );
    assert_eq!(
        lookup.query.as_deref(),
        Some(
            format!("subscriberExternalId={OTHER_CUSTOMER}&status=ACTIVE&page=1&limit=50").as_str()
        )
    );
    assert_eq!(
        lookup.header("authorization"),
        Some(format!("Bearer {PRIVE_TOKEN}").as_str())
    );
    let skip = one(t.prive.requests_for("skip"), "skip");
    assert_eq!(skip.method, "PATCH");
    let day = t.next_billing.to_zoned(jiff::tz::TimeZone::UTC).date();
    assert_eq!(
        skip.path,
        format!("/api/v1/subscriptions/{PRIVE_SUB}/upcomingOrders/{day}/skip")
    );
    assert_eq!(skip.json().unwrap(), json!({"skip": true}));
    // Prive answers with the order: the subscription is read back for the new date.
    let get = one(t.prive.requests_for("get"), "get");
    assert_eq!(get.path, format!("/api/v1/subscriptions/{PRIVE_SUB}"));
    assert_eq!(t.prive.skips_applied(PRIVE_SUB), 1);
    let e = only_event(&t);
    assert_eq!(e["type"], "order_skipped");
    assert_eq!(e["properties"]["new_delivery_date"], skipped_to(&t));
    assert_eq!(e["properties"]["platform"], "prive");
    assert_eq!(e["properties"]["subscription_id"], PRIVE_SUB);
}

#[tokio::test]
async fn prive_delay_end_to_end() {
    let t = spawn_app().await;
    send(&t, SHOP_PRIVE, "delay 10 days").await;
    let set = one(t.prive.requests_for("set_date"), "set_date");
    assert_eq!(set.method, "PATCH");
    assert_eq!(
        set.path,
        format!("/api/v1/subscriptions/{PRIVE_SUB}/nextBillingAndDeliveryDate")
    );
    let body = set.json().unwrap();
    let expected = t
        .next_billing
        .checked_add(jiff::SignedDuration::from_hours(240))
        .unwrap();
    let billing: jiff::Timestamp = body["nextBillingDate"].as_str().unwrap().parse().unwrap();
    assert_eq!(billing, expected, "same time of day, ten days later");
    assert_eq!(body["nextBillingDate"], body["nextDeliveryDate"]);
    let e = only_event(&t);
    assert_eq!(e["type"], "order_delayed");
    assert_eq!(e["properties"]["new_delivery_date"], delayed_to(&t, 10));
    assert_eq!(e["properties"]["delay_days"], 10);
}

fn assert_recharge_headers(r: &RecordedRequest) {
    assert_eq!(r.header("x-recharge-access-token"), Some(RECHARGE_TOKEN));
    assert_eq!(r.header("x-recharge-version"), Some("2021-11"));
}

#[tokio::test]
async fn recharge_skip_end_to_end() {
    let t = spawn_app().await;
    let charge = t
        .recharge
        .queued_charge_id(RECHARGE_SUB)
        .expect("seeded queued charge");
    send(&t, SHOP_RECHARGE, "skip").await;
    let customer = one(t.recharge.requests_for("customer"), "customer");
    assert_eq!(
        (customer.method.as_str(), customer.path.as_str()),
        ("GET", "/customers")
    );
    assert_eq!(
        customer.query.as_deref(),
        Some("email=Other.Shopper%40example.com&limit=250")
    );
    assert_recharge_headers(&customer);
    let lookup = one(t.recharge.requests_for("lookup"), "lookup");
    assert_eq!(lookup.path, "/subscriptions");
    assert_eq!(
        lookup.query.as_deref(),
        Some(format!("customer_id={RECHARGE_CUSTOMER}&status=active&limit=250").as_str())
    );
    let charges = one(t.recharge.requests_for("charges"), "charges");
    assert_eq!(
        charges.query.as_deref(),
        Some(format!("customer_id={RECHARGE_CUSTOMER}&status=queued&limit=250").as_str())
    );
    let skip = one(t.recharge.requests_for("skip"), "skip");
    assert_eq!(
        (skip.method.as_str(), skip.path.as_str()),
        ("POST", format!("/charges/{charge}/skip").as_str())
    );
    assert_eq!(
        skip.json().unwrap(),
        json!({"purchase_item_ids": [RECHARGE_SUB]})
    );
    assert_recharge_headers(&skip);
    let get = one(t.recharge.requests_for("get"), "get");
    assert_eq!(get.path, format!("/subscriptions/{RECHARGE_SUB}"));
    assert_eq!(t.recharge.skips_applied(RECHARGE_SUB), 1);
    let e = only_event(&t);
    assert_eq!(e["type"], "order_skipped");
    assert_eq!(e["properties"]["new_delivery_date"], skipped_to(&t));
    assert_eq!(e["properties"]["subscription_id"], RECHARGE_SUB.to_string());
    assert_eq!(e["properties"]["platform"], "recharge");
}

#[tokio::test]
async fn recharge_delay_end_to_end() {
    let t = spawn_app().await;
    send(&t, SHOP_RECHARGE, "delay 3 weeks").await;
    let set = one(t.recharge.requests_for("set_date"), "set_date");
    assert_eq!(
        (set.method.as_str(), set.path.as_str()),
        (
            "POST",
            format!("/subscriptions/{RECHARGE_SUB}/set_next_charge_date").as_str()
        )
    );
    assert_eq!(set.json().unwrap(), json!({"date": delayed_to(&t, 21)}));
    assert_recharge_headers(&set);
    // The answer carries the subscription: no read-back, no charge lookup.
    assert!(t.recharge.requests_for("get").is_empty());
    assert!(t.recharge.requests_for("charges").is_empty());
    let e = only_event(&t);
    assert_eq!(e["type"], "order_delayed");
    assert_eq!(e["properties"]["new_delivery_date"], delayed_to(&t, 21));
}

#[tokio::test]
async fn recharge_422_is_not_allowed() {
    let t = spawn_app().await;
    t.recharge.inject(Fault::once("skip", FaultKind::Refuse));
    send(&t, SHOP_RECHARGE, "skip").await;
    assert_eq!(t.recharge.skips_applied(RECHARGE_SUB), 0);
    assert_eq!(
        t.recharge.requests_for("skip").len(),
        1,
        "a refusal is final"
    );
    let e = only_event(&t);
    assert_eq!(e["type"], "keyword_action_failed");
    assert_eq!(
        e["properties"],
        json!({"action": "skip", "reason": "not_allowed", "next_delivery_date": t.next_date().to_string(), "keyword": "skip"})
    );
}

#[tokio::test]
async fn prive_lost_skip_answer_is_not_repeated() {
    let t = spawn_app().await;
    t.prive
        .inject(Fault::once("skip", FaultKind::ApplyThenStatus(504)));
    send(&t, SHOP_PRIVE, "skip").await;
    assert_eq!(t.prive.requests_for("skip").len(), 1);
    assert_eq!(t.prive.skips_applied(PRIVE_SUB), 1);
    assert_eq!(
        only_event(&t)["properties"]["new_delivery_date"],
        skipped_to(&t)
    );
}

#[tokio::test]
async fn recharge_burst_of_200_skips_stays_under_the_limit() {
    // The simulator enforces a leaky bucket; keyroute is configured a little under it.
    let t = spawn_app_with(Timing {
        recharge_rate: Some("requests_per_second = 150\nburst = 30".into()),
        ..Timing::default()
    })
    .await;
    t.recharge.set_rate_limiter(Some(RateLimit::LeakyBucket {
        capacity: 40,
        drain_per_second: 200,
    }));
    let n = 200;
    for i in 0..n {
        let email = format!("burst{i}@example.com");
        t.postscript.add_subscriber(SimSubscriber {
            id: format!("s_burst{i}"),
            phone: format!("+1555600{i:04}"),
            email: Some(email.clone()),
            shopify_customer_id: None,
        });
        t.recharge.add_subscription(RechargeSub {
            id: 10_000 + i,
            customer_id: 20_000 + i,
            email,
            address_id: 1,
            status: "active".into(),
            next_charge: t.next_date(),
            interval_days: 30,
        });
    }
    let t = &t;
    let posts = (0..n).map(|i| {
        let p = payload_for(
            SHOP_RECHARGE,
            &message_id(),
            &format!("s_burst{i}"),
            &format!("+1555600{i:04}"),
            "SKIP",
        );
        async move { t.post_webhook(&p).await.status() }
    });
    for status in futures::future::join_all(posts).await {
        assert_eq!(status, 200);
    }
    assert!(
        t.app().wait_idle(std::time::Duration::from_secs(120)).await,
        "burst did not finish"
    );
    let skipped = t
        .events()
        .iter()
        .filter(|e| e["type"] == "order_skipped")
        .count();
    assert_eq!(skipped, n as usize, "every SKIP finished with its event");
    for i in 0..n {
        assert_eq!(t.recharge.skips_applied(10_000 + i), 1);
    }
    let metrics = t
        .http
        .get(t.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let throttled: Vec<_> = metrics
        .lines()
        .filter(|l| {
            l.starts_with("keyroute_platform_calls_total")
                && l.contains("platform=\"recharge\"")
                && l.contains("status=\"429\"")
        })
        .collect();
    assert!(throttled.is_empty(), "Recharge answered 429: {throttled:?}");
}
