//! Against simulators as strict as the real APIs: what would fail in production if the
//! adapters were only as careful as our first reading of the docs.

use jiff::{SignedDuration, ToSpan};
use keyroute_sandbox::{Fault, FaultKind, LoopSub, PriveSub, SimSubscriber, SkioSub, SmartrrSub};
use serde_json::Value;

use crate::helpers::*;

async fn text(t: &TestApp, shop: &str, subscriber: &str, phone: &str, body: &str) -> String {
    let id = message_id();
    let r = t
        .post_webhook(&payload_for(shop, &id, subscriber, phone, body))
        .await;
    assert_eq!(r.status(), 200);
    id
}

fn only_event(t: &TestApp) -> Value {
    let events = t.events();
    assert_eq!(events.len(), 1, "events: {events:#?}");
    events.into_iter().next().unwrap()
}

fn subscriber(t: &TestApp, id: &str, phone: &str, email: Option<&str>, customer: Option<i64>) {
    t.postscript.add_subscriber(SimSubscriber {
        id: id.into(),
        phone: phone.into(),
        email: email.map(Into::into),
        shopify_customer_id: customer,
    });
}

#[tokio::test]
async fn a_skio_schema_error_is_platform_error_never_not_allowed() {
    let t = spawn_app().await;
    // An id Skio's uuid type refuses: Hasura answers data-exception, which is ours to fix.
    subscriber(&t, "s_bad_id", "+15555550909", None, None);
    t.skio.add_subscription(SkioSub {
        id: "sub-1".into(),
        phone: "+15555550909".into(),
        email: None,
        status: "ACTIVE".into(),
        next_billing: t.next_billing,
        interval_days: 30,
    });
    text(&t, SHOP, "s_bad_id", "+15555550909", "skip").await;
    t.drain().await;
    let e = only_event(&t);
    assert_eq!(e["type"], "keyword_action_failed");
    assert_eq!(e["properties"]["reason"], "platform_error");
    assert_eq!(t.skio.requests_for("skip").len(), 1, "not retried");
    // Counted, so an operator's alert can see it.
    let metrics = t.http.get(t.url("/metrics")).send().await.unwrap();
    let metrics = metrics.text().await.unwrap();
    let line = metrics
        .lines()
        .find(|l| l.starts_with("keyroute_outbound_operator_errors_total") && l.contains("skio"))
        .unwrap_or_else(|| panic!("not counted:\n{metrics}"));
    assert!(line.ends_with(" 1"), "{line}");
}

/// A Skio shopper ("s_early") whose next billing is 03:00 UTC, the evening before in New
/// York; returns that instant.
fn early_skio_shopper(t: &TestApp, id: &str) -> jiff::Timestamp {
    subscriber(t, "s_early", "+15555550910", None, None);
    let next = t
        .next_billing
        .checked_sub(SignedDuration::from_hours(13))
        .unwrap();
    t.skio.add_subscription(SkioSub {
        id: id.into(),
        phone: "+15555550910".into(),
        email: None,
        status: "ACTIVE".into(),
        next_billing: next,
        interval_days: 30,
    });
    next
}

#[tokio::test]
async fn a_skio_delay_reports_the_date_skio_holds() {
    let t = spawn_app().await;
    // 03:00 UTC is the evening before in New York. Skio takes the bare date and keeps its
    // UTC time of day, so the order it holds falls a day earlier in the shop's calendar than
    // the date asked for: keyroute reads it back and reports what Skio holds.
    let next = early_skio_shopper(&t, "3d9a6b1e-0c4f-4a2b-8e7d-5f6a7b8c9d0e");
    text(&t, SHOP, "s_early", "+15555550910", "delay 2 weeks").await;
    t.drain().await;
    let ny = jiff::tz::TimeZone::get(TZ).unwrap();
    let shop_date = next.to_zoned(ny).date();
    let asked = shop_date.checked_add(14.days()).unwrap();
    let sets = t.skio.requests_for("set_date");
    assert_eq!(
        sets[0].json().unwrap()["variables"]["input"]["date"],
        asked.to_string()
    );
    assert_eq!(
        t.skio.requests_for("get").len(),
        1,
        "read back with SubscriptionByPk"
    );
    let e = only_event(&t);
    assert_eq!(e["type"], "order_delayed");
    assert_eq!(
        e["properties"]["new_delivery_date"],
        asked.checked_sub(1.day()).unwrap().to_string(),
        "the date Skio holds, not the one asked for"
    );
}

#[tokio::test]
async fn a_set_date_that_landed_a_day_off_is_confirmed_on_the_last_attempt() {
    let t = spawn_app_with(Timing {
        max_attempts: 1,
        ..Timing::default()
    })
    .await;
    // As above, Skio will hold the day before the one asked for; and the answer is lost.
    let next = early_skio_shopper(&t, "3d9a6b1e-0c4f-4a2b-8e7d-5f6a7b8c9d0f");
    t.skio
        .inject(Fault::once("set_date", FaultKind::ApplyThenStatus(502)));
    text(&t, SHOP, "s_early", "+15555550910", "delay 2 weeks").await;
    t.drain().await;
    let ny = jiff::tz::TimeZone::get(TZ).unwrap();
    let asked = next.to_zoned(ny).date().checked_add(14.days()).unwrap();
    let e = only_event(&t);
    assert_eq!(e["type"], "order_delayed", "it landed: {e}");
    assert_eq!(
        e["properties"]["new_delivery_date"],
        asked.checked_sub(1.day()).unwrap().to_string()
    );
    assert_eq!(t.skio.requests_for("set_date").len(), 1, "not repeated");
}

#[tokio::test]
async fn partner_credentials_reach_a_shop_that_is_not_on_enterprise() {
    let partner = "sk_partner_test_0123";
    let mut t = spawn_app().await;
    t.postscript.set_partner_key(partner);
    t.postscript.add_shop(API_KEY, false);
    t.app.take().unwrap().shutdown().await;
    t.start(&Timing {
        partner_key: Some(partner.into()),
        ..Timing::default()
    })
    .await;
    text(&t, SHOP, LOOP_SUBSCRIBER, LOOP_PHONE, "skip").await;
    t.drain().await;
    let e = only_event(&t);
    assert_eq!(e["type"], "order_skipped");
    for r in t.postscript.requests() {
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {partner}").as_str()),
            "{}",
            r.op
        );
        assert_eq!(
            r.header("x-postscript-shop-token"),
            Some(API_KEY),
            "{}",
            r.op
        );
    }
    assert!(!t.postscript.requests_for("subscriber").is_empty());
}

#[tokio::test]
async fn a_shop_key_refused_for_its_plan_says_what_to_change() {
    let t = spawn_app().await;
    t.postscript.add_shop(API_KEY, false);
    let id = text(&t, SHOP, SKIO_SUBSCRIBER, SKIO_PHONE, "skip").await;
    t.drain().await;
    assert_eq!(
        t.skio.skips_applied(SKIO_SUB),
        1,
        "the skip itself happened"
    );
    assert!(t.events().is_empty(), "Postscript refused the event");
    let m: Value = t
        .admin_get(&format!("/api/v1/messages/{id}"))
        .await
        .json()
        .await
        .unwrap();
    let detail = m["outcomes"][0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("partner_key") && detail.contains("auth"),
        "{detail}"
    );
}

#[tokio::test]
async fn a_plan_refusal_with_another_status_still_says_what_to_change() {
    let t = spawn_app().await;
    t.postscript.set_plan_status(400);
    t.postscript.add_shop(API_KEY, false);
    let id = text(&t, SHOP, SKIO_SUBSCRIBER, SKIO_PHONE, "skip").await;
    t.drain().await;
    assert!(t.events().is_empty(), "Postscript refused the event");
    let m: Value = t
        .admin_get(&format!("/api/v1/messages/{id}"))
        .await
        .json()
        .await
        .unwrap();
    let detail = m["outcomes"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("partner_key"), "{detail}");
}

#[tokio::test]
async fn a_wave_of_loop_skips_stays_within_loops_list_limits() {
    let t = spawn_app().await;
    let n = 4;
    for i in 0..n {
        let customer = 7_100_000 + i;
        let phone = format!("+1555556{i:04}");
        subscriber(&t, &format!("s_wave_{i}"), &phone, None, Some(customer));
        t.loop_.add_subscription(LoopSub {
            id: 42_000 + i,
            shopify_id: 9_200_000 + i,
            customer_shopify_id: customer,
            email: None,
            status: "ACTIVE".into(),
            next_billing_epoch: t.next_billing.as_second(),
            interval_days: 30,
        });
    }
    for i in 0..n {
        text(
            &t,
            SHOP,
            &format!("s_wave_{i}"),
            &format!("+1555556{i:04}"),
            "skip",
        )
        .await;
    }
    t.drain().await;
    assert_eq!(t.loop_.throttled(), 0, "Loop answered 429");
    for i in 0..n {
        assert_eq!(t.loop_.skips_applied(42_000 + i), 1);
    }
    let skipped = t
        .events()
        .iter()
        .filter(|e| e["type"] == "order_skipped")
        .count();
    assert_eq!(skipped, n as usize);
}

#[tokio::test]
async fn a_loop_customer_found_by_email_is_not_looked_up_again() {
    let t = spawn_app().await;
    // No Shopify id anywhere: Loop's customer search by email (1 call a second) finds them.
    subscriber(
        &t,
        "s_email_only",
        "+15555550911",
        Some("email.only@example.com"),
        None,
    );
    t.loop_.add_subscription(LoopSub {
        id: 43_001,
        shopify_id: 9_300_001,
        customer_shopify_id: 7_300_001,
        email: Some("email.only@example.com".into()),
        status: "ACTIVE".into(),
        next_billing_epoch: t.next_billing.as_second(),
        interval_days: 30,
    });
    text(&t, SHOP, "s_email_only", "+15555550911", "skip").await;
    t.drain().await;
    text(&t, SHOP, "s_email_only", "+15555550911", "help").await;
    t.drain().await;
    assert_eq!(
        t.loop_.requests_for("customer").len(),
        1,
        "cached for the second job"
    );
    assert_eq!(t.events().len(), 2);
}

#[tokio::test]
async fn loop_finds_ann_not_joann() {
    let t = spawn_app().await;
    t.loop_.set_substring_email_search(true);
    // joann first, so a search that takes the first hit takes the wrong shopper.
    for (id, phone, email, sub, customer) in [
        (
            "s_joann",
            "+15555570012",
            "joann@example.com",
            44_002,
            7_400_002,
        ),
        (
            "s_ann",
            "+15555570011",
            "ann@example.com",
            44_001,
            7_400_001,
        ),
    ] {
        subscriber(&t, id, phone, Some(email), None);
        t.loop_.add_subscription(LoopSub {
            id: sub,
            shopify_id: 9_400_000 + sub,
            customer_shopify_id: customer,
            email: Some(email.into()),
            status: "ACTIVE".into(),
            next_billing_epoch: t.next_billing.as_second(),
            interval_days: 30,
        });
    }
    text(&t, SHOP, "s_ann", "+15555570011", "skip").await;
    t.drain().await;
    assert_eq!(t.loop_.skips_applied(44_001), 1);
    assert_eq!(t.loop_.skips_applied(44_002), 0);
    assert_eq!(only_event(&t)["properties"]["subscription_id"], "44001");
}

#[tokio::test]
async fn smartrr_finds_ann_not_joann() {
    let t = spawn_app().await;
    for (id, phone, email, sub) in [
        ("s_ann", "+15555570001", "ann@example.com", "ps_ann"),
        ("s_joann", "+15555570002", "joann@example.com", "ps_joann"),
    ] {
        subscriber(&t, id, phone, Some(email), None);
        t.smartrr.add_subscription(SmartrrSub {
            id: sub.into(),
            cust_rel_id: format!("cr_{id}"),
            email: email.into(),
            status: "ACTIVE".into(),
            next_billing: t.next_billing,
            interval_days: 30,
        });
    }
    text(&t, SHOP_SMARTRR, "s_ann", "+15555570001", "skip").await;
    t.drain().await;
    // The substring filter found both; only the exact email is this shopper.
    assert_eq!(t.smartrr.skips_applied("ps_ann"), 1);
    assert_eq!(t.smartrr.skips_applied("ps_joann"), 0);
    assert_eq!(only_event(&t)["properties"]["subscription_id"], "ps_ann");
}

#[tokio::test]
async fn a_smartrr_skip_answer_with_the_old_date_is_read_back() {
    let t = spawn_app().await;
    t.smartrr.set_skip_moves_date(false);
    text(&t, SHOP_SMARTRR, OTHER_SUBSCRIBER, OTHER_PHONE, "skip").await;
    t.drain().await;
    let e = only_event(&t);
    assert_eq!(e["type"], "order_skipped");
    assert_eq!(
        e["properties"]["new_delivery_date"],
        t.next_date().checked_add(30.days()).unwrap().to_string(),
        "never the unchanged date"
    );
    assert_eq!(
        t.smartrr.requests_for("list").len(),
        2,
        "the purchase state read again"
    );
}

#[tokio::test]
async fn prive_pages_are_followed_to_the_earliest_order() {
    let t = spawn_app().await;
    subscriber(
        &t,
        "s_many",
        "+15555550912",
        Some("many@example.com"),
        Some(7_400_001),
    );
    // 60 subscriptions; the one shipping first was created last, so it is on page 2.
    for i in 0..59 {
        t.prive.add_subscription(PriveSub {
            id: format!("prv_many_{i:02}"),
            subscriber_external_id: Some("7400001".into()),
            email: Some("many@example.com".into()),
            status: "ACTIVE".into(),
            next_billing: t.next_billing,
            interval_days: 30,
        });
    }
    t.prive.add_subscription(PriveSub {
        id: "prv_many_first".into(),
        subscriber_external_id: Some("7400001".into()),
        email: Some("many@example.com".into()),
        status: "ACTIVE".into(),
        next_billing: t
            .next_billing
            .checked_sub(SignedDuration::from_hours(24 * 5))
            .unwrap(),
        interval_days: 1,
    });
    text(&t, SHOP_PRIVE, "s_many", "+15555550912", "skip").await;
    t.drain().await;
    let lookups = t.prive.requests_for("lookup");
    assert_eq!(lookups.len(), 2, "page 1 and page 2");
    assert!(lookups[1].query.as_deref().unwrap().contains("page=2"));
    assert_eq!(t.prive.skips_applied("prv_many_first"), 1);
    assert_eq!(
        only_event(&t)["properties"]["subscription_id"],
        "prv_many_first"
    );
}

#[tokio::test]
async fn a_prive_delay_keeps_the_gap_between_billing_and_delivery() {
    let t = spawn_app().await;
    t.prive.set_delivery_offset(PRIVE_SUB, 3);
    text(
        &t,
        SHOP_PRIVE,
        OTHER_SUBSCRIBER,
        OTHER_PHONE,
        "delay 2 weeks",
    )
    .await;
    t.drain().await;
    let set = &t.prive.requests_for("set_date")[0];
    let body = set.json().unwrap();
    let billing: jiff::Timestamp = body["nextBillingDate"].as_str().unwrap().parse().unwrap();
    let delivery: jiff::Timestamp = body["nextDeliveryDate"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        delivery.duration_since(billing),
        SignedDuration::from_hours(72)
    );
    assert_eq!(
        t.prive
            .next_delivery(PRIVE_SUB)
            .unwrap()
            .duration_since(billing),
        SignedDuration::from_hours(72)
    );
}

#[tokio::test]
async fn recharge_lists_are_followed_past_the_first_page() {
    let t = spawn_app().await;
    let next = t.next_date();
    // 260 later queued charges; lists come newest id first, so the charge of the next date
    // is on the second page even at the largest page Recharge gives (250).
    for k in 1..=260 {
        t.recharge
            .add_queued_charge(RECHARGE_SUB, next.checked_add((7 * k).days()).unwrap());
    }
    text(&t, SHOP_RECHARGE, OTHER_SUBSCRIBER, OTHER_PHONE, "skip").await;
    t.drain().await;
    assert_eq!(t.recharge.skipped_dates(RECHARGE_SUB), vec![next]);
    let e = only_event(&t);
    assert_eq!(e["type"], "order_skipped", "{e}");
    assert_eq!(e["properties"]["skipped_date"], next.to_string());
    let pages: Vec<String> = t
        .recharge
        .requests_for("charges")
        .iter()
        .filter_map(|r| r.query.clone())
        .collect();
    assert!(
        pages.iter().any(|q| q.contains("cursor=")),
        "the second page was read: {pages:?}"
    );
}

#[tokio::test]
async fn recharge_without_a_charge_on_the_next_date_fails_clearly() {
    let t = spawn_app_with(Timing {
        max_attempts: 2,
        ..Timing::default()
    })
    .await;
    let next = t.next_date();
    t.recharge
        .add_queued_charge(RECHARGE_SUB, next.checked_add(30.days()).unwrap());
    assert!(t.recharge.drop_next_charge(RECHARGE_SUB));
    text(&t, SHOP_RECHARGE, OTHER_SUBSCRIBER, OTHER_PHONE, "skip").await;
    t.drain().await;
    assert!(
        t.recharge.requests_for("skip").is_empty(),
        "the later charge is another order: never skipped"
    );
    assert_eq!(
        t.recharge.requests_for("charges").len(),
        2,
        "read again on the next attempt"
    );
    let e = only_event(&t);
    assert_eq!(e["type"], "keyword_action_failed");
    assert_eq!(e["properties"]["reason"], "platform_error");
}

#[tokio::test]
async fn recharge_never_skips_a_later_queued_charge() {
    let t = spawn_app().await;
    let next = t.next_date();
    t.recharge
        .add_queued_charge(RECHARGE_SUB, next.checked_add(15.days()).unwrap());
    text(&t, SHOP_RECHARGE, OTHER_SUBSCRIBER, OTHER_PHONE, "skip").await;
    t.drain().await;
    assert_eq!(t.recharge.skipped_dates(RECHARGE_SUB), vec![next]);
    let e = only_event(&t);
    assert_eq!(e["properties"]["skipped_date"], next.to_string());
}
