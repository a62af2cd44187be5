//! The write protocol against a real store and a simulated platform, where the ordering of
//! its steps is the point.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use keyroute_sandbox::{PostscriptSim, SkioSim, SkioSub};

use super::{Attempt, Finished};
use crate::config::{DatabaseConfig, HttpClientConfig, PostscriptAuth, PostscriptConfig};
use crate::domain::{Action, Intent, Multiple, PlatformKind};
use crate::keywords::RuleSet;
use crate::metrics::Metrics;
use crate::outbound::{Outbound, quota};
use crate::platforms::skio::{self, Skio};
use crate::postscript::{PostscriptAccount, SubscriberCache};
use crate::shop::{Policy, Shop};
use crate::store::{JobKind, MessageStatus, NewJob, NewMessage, OutcomeState, Store};

const SUB: &str = "9f7c2a52-6a1e-4c8e-9d4e-0a1b2c3d4e5f";
const PHONE: &str = "+15555550101";

async fn store(dir: &std::path::Path) -> Store {
    let db: DatabaseConfig = toml::from_str(&format!(
        "url = \"sqlite://{}/t.db?mode=rwc\"",
        dir.display()
    ))
    .unwrap();
    let store = Store::connect(&db).await.unwrap();
    store.migrate().await.unwrap();
    store
}

/// A shop on one Skio account limited to one request a second.
fn shop(skio_sim: &SkioSim, postscript: &PostscriptSim, outbound: &Outbound) -> Shop {
    let ps: PostscriptConfig = toml::from_str(&format!(
        "api_key = \"sk_t\"\nwebhook_token = \"wh_t\"\nbase_url = \"{}\"",
        postscript.base_url()
    ))
    .unwrap();
    let token = secrecy::SecretString::from("skio-t");
    let account = outbound.account(
        "skio",
        &skio_sim.base_url(),
        skio::wire::auth(&token),
        quota(1, None),
    );
    let tz = jiff::tz::TimeZone::get("America/New_York").unwrap();
    Shop {
        id: "shop_t".into(),
        tz: tz.clone(),
        confirm: crate::domain::Confirm::Unsure,
        policy: Policy {
            multiple: Multiple::Next,
            already_skipped_window: Duration::ZERO,
            undo_window: Duration::ZERO,
        },
        webhook_token: secrecy::SecretString::from("wh_t"),
        postscript: PostscriptAccount::new(outbound, &ps, PostscriptAuth::ShopKey, None),
        subscribers: SubscriberCache::new(Duration::from_secs(60)),
        platforms: vec![Arc::new(Skio::new(account, tz))],
        rules: Arc::new(RuleSet::embedded()),
        lookup_timeout: Duration::from_secs(5),
    }
}

/// A rate-limit wait must never sit between "recorded as writing" and "sent": if the job
/// changes hands while the write waits for its permit, the old owner must not send it.
#[tokio::test]
async fn the_permit_is_taken_before_the_write_is_recorded_as_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    let skio_sim = SkioSim::start("skio-t").await;
    let postscript = PostscriptSim::start("sk_t").await;
    skio_sim.add_subscription(SkioSub {
        id: SUB.into(),
        phone: PHONE.into(),
        email: None,
        status: "ACTIVE".into(),
        next_billing: Timestamp::now()
            .checked_add(jiff::SignedDuration::from_hours(240))
            .unwrap(),
        interval_days: 30,
    });
    let outbound = Outbound::new(&HttpClientConfig::default(), Arc::new(Metrics::new())).unwrap();
    let shop = shop(&skio_sim, &postscript, &outbound);
    let intent = Intent {
        action: Action::Skip,
        days: None,
        until: None,
        rule: "skip".into(),
        keyword: "skip".into(),
        max_days: None,
    };
    store
        .insert_message(
            &NewMessage {
                id: "im_permit".into(),
                shop_id: "shop_t".into(),
                subscriber_id: "s_t".into(),
                from_number: PHONE.into(),
                shopify_customer_id: None,
                body: "skip".into(),
                webhook_id: None,
                sent_at: None,
                status: MessageStatus::Accepted,
                interpretation: serde_json::to_string(&intent).unwrap(),
                action: Some(Action::Skip),
            },
            Some(&NewJob {
                kind: JobKind::Act,
                message_id: "im_permit".into(),
                shop_id: "shop_t".into(),
                subscriber_id: "s_t".into(),
                max_attempts: 5,
            }),
        )
        .await
        .unwrap();
    // Worker A claims the job with a lease that expires at once (no heartbeat here).
    let job = store.claim_job("worker-a", 1, 10).await.unwrap().unwrap();
    let guard = job.guard("worker-a");
    let message = store.message("im_permit").await.unwrap().unwrap();
    let metrics = Metrics::new();
    let attempt = Attempt {
        store: &store,
        shop: &shop,
        message: &message,
        guard: &guard,
        lease_ms: 1,
        last_attempt: false,
        abandon: false,
        metrics: &metrics,
    };
    // The lookup takes the account's only permit of this second, so the skip waits ~1 s for
    // its own. Meanwhile the job is rescued and worker B claims it.
    let thief = async {
        while skio_sim.requests_for("lookup").is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(store.rescue_expired().await.unwrap(), 1);
        store
            .claim_job("worker-b", 60_000, 10)
            .await
            .unwrap()
            .unwrap()
    };
    let (result, stolen) = tokio::join!(attempt.run(), thief);
    assert!(
        matches!(result, Err(super::ActError::LeaseLost)),
        "{result:?}"
    );
    assert!(
        skio_sim.requests_for("skip").is_empty(),
        "the old owner sent the write after losing the job"
    );
    let outcomes = store.outcomes("im_permit").await.unwrap();
    assert_eq!(outcomes.len(), 1);
    assert_eq!(
        outcomes[0].state,
        OutcomeState::Planned,
        "never marked in flight by the old owner"
    );
    assert_eq!(outcomes[0].platform, Some(PlatformKind::Skio));

    // Worker B carries it out, once.
    let guard_b = stolen.guard("worker-b");
    let attempt_b = Attempt {
        store: &store,
        shop: &shop,
        message: &message,
        guard: &guard_b,
        lease_ms: 60_000,
        last_attempt: false,
        abandon: false,
        metrics: &metrics,
    };
    assert_eq!(attempt_b.run().await.unwrap(), Finished::Done);
    assert_eq!(skio_sim.skips_applied(SUB), 1);
    assert_eq!(postscript.events().len(), 1);
}
