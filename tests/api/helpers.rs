//! Starts the real server on port 0 against simulated Postscript, Skio and Loop on loopback,
//! with a fresh database: SQLite in a temp dir by default, PostgreSQL when
//! `TEST_POSTGRES_URL` names a server (`.ci/run` sets it).

use std::time::Duration;

use jiff::{Timestamp, ToSpan};
use keyroute::app::{App, Options};
use keyroute::config::Config;
use keyroute::sandbox::{
    LoopSim, LoopSub, PostscriptSim, PriveSim, PriveSub, RechargeSim, RechargeSub, SimSubscriber,
    SkioSim, SkioSub, SmartrrSim, SmartrrSub,
};
use serde_json::{Value, json};
use sqlx::Connection;

pub const SHOP: &str = "shop_test";
pub const WEBHOOK_TOKEN: &str = "whtok-test-0123456789";
pub const API_KEY: &str = "sk_test_postscript";
pub const SKIO_TOKEN: &str = "skio-test-token";
pub const LOOP_TOKEN: &str = "loop-test-token";
pub const ADMIN_TOKEN: &str = "admin-test-token";
pub const TZ: &str = "America/New_York";

/// A Skio shopper: found by phone.
pub const SKIO_PHONE: &str = "+15555550101";
pub const SKIO_SUBSCRIBER: &str = "s_skio0001";
pub const SKIO_SUB: &str = "9f7c2a52-6a1e-4c8e-9d4e-0a1b2c3d4e5f";
/// A Loop shopper: found through the Postscript subscriber's Shopify customer id.
pub const LOOP_PHONE: &str = "+15555550202";
pub const LOOP_SUBSCRIBER: &str = "s_loop0002";
pub const LOOP_SUB: i64 = 41001;
pub const LOOP_CUSTOMER: i64 = 7_000_001;
/// One shop per newer platform, each listing only that platform.
pub const SHOP_SMARTRR: &str = "shop_smartrr";
pub const SHOP_PRIVE: &str = "shop_prive";
pub const SHOP_RECHARGE: &str = "shop_recharge";
pub const SMARTRR_TOKEN: &str = "smartrr-test-token";
pub const PRIVE_TOKEN: &str = "prive-test-token";
pub const RECHARGE_TOKEN: &str = "recharge-test-token";
/// The shopper of the three newer platforms: found through the Postscript subscriber's email
/// (and Shopify id, for Prive).
pub const OTHER_PHONE: &str = "+15555550404";
pub const OTHER_SUBSCRIBER: &str = "s_other0004";
pub const OTHER_EMAIL: &str = "Other.Shopper@example.com";
pub const OTHER_CUSTOMER: i64 = 7_000_004;
pub const SMARTRR_SUB: &str = "ps_501";
pub const SMARTRR_CUST_REL: &str = "cr_77";
pub const PRIVE_SUB: &str = "prv_601";
pub const RECHARGE_SUB: i64 = 701;
pub const RECHARGE_CUSTOMER: i64 = 88;

/// Nobody's subscriber.
pub const NOBODY_PHONE: &str = "+15555550303";
pub const NOBODY_SUBSCRIBER: &str = "s_nobody003";

pub struct TestApp {
    pub app: Option<App>,
    pub postscript: PostscriptSim,
    pub skio: SkioSim,
    pub loop_: LoopSim,
    pub smartrr: SmartrrSim,
    pub prive: PriveSim,
    pub recharge: RechargeSim,
    pub db_url: String,
    pub http: reqwest::Client,
    /// The next order of both seeded subscriptions: ten days from now at 16:00 UTC.
    pub next_billing: Timestamp,
    _dir: tempfile::TempDir,
}

/// Per-test settings; the defaults make retries and rescue quick.
#[derive(Clone)]
pub struct Timing {
    pub lease_seconds: u64,
    /// The shop's `multiple`: "next" or "all".
    pub multiple: &'static str,
    pub lookup_timeout_ms: u64,
    /// Extra keys for the Recharge shop's platform table (rate overrides).
    pub recharge_rate: Option<String>,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            lease_seconds: 30,
            multiple: "next",
            lookup_timeout_ms: 2000,
            recharge_rate: None,
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Timing::default()).await
}

pub async fn spawn_app_with(timing: Timing) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let db_url = test_database(&dir).await;
    let postscript = PostscriptSim::start(API_KEY).await;
    postscript.set_webhook_token(WEBHOOK_TOKEN);
    let skio = SkioSim::start(SKIO_TOKEN).await;
    let loop_ = LoopSim::start(LOOP_TOKEN).await;
    let smartrr = SmartrrSim::start(SMARTRR_TOKEN).await;
    let prive = PriveSim::start(PRIVE_TOKEN).await;
    let recharge = RechargeSim::start(RECHARGE_TOKEN).await;

    let today = Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date();
    let next_billing = today
        .checked_add(10.days())
        .unwrap()
        .at(16, 0, 0, 0)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .unwrap()
        .timestamp();
    skio.add_subscription(SkioSub {
        id: SKIO_SUB.into(),
        phone: SKIO_PHONE.into(),
        email: Some("skio.shopper@example.com".into()),
        status: "ACTIVE".into(),
        next_billing,
        interval_days: 30,
    });
    postscript.add_subscriber(SimSubscriber {
        id: SKIO_SUBSCRIBER.into(),
        phone: SKIO_PHONE.into(),
        email: Some("skio.shopper@example.com".into()),
        shopify_customer_id: None,
    });
    loop_.add_subscription(LoopSub {
        id: LOOP_SUB,
        shopify_id: 9_100_001,
        customer_shopify_id: LOOP_CUSTOMER,
        email: Some("loop.shopper@example.com".into()),
        status: "ACTIVE".into(),
        next_billing_epoch: next_billing.as_second(),
        interval_days: 30,
    });
    postscript.add_subscriber(SimSubscriber {
        id: LOOP_SUBSCRIBER.into(),
        phone: LOOP_PHONE.into(),
        email: Some("loop.shopper@example.com".into()),
        shopify_customer_id: Some(LOOP_CUSTOMER),
    });
    postscript.add_subscriber(SimSubscriber {
        id: OTHER_SUBSCRIBER.into(),
        phone: OTHER_PHONE.into(),
        email: Some(OTHER_EMAIL.into()),
        shopify_customer_id: Some(OTHER_CUSTOMER),
    });
    smartrr.add_subscription(SmartrrSub {
        id: SMARTRR_SUB.into(),
        cust_rel_id: SMARTRR_CUST_REL.into(),
        email: OTHER_EMAIL.to_lowercase(),
        status: "ACTIVE".into(),
        next_billing,
        interval_days: 30,
    });
    prive.add_subscription(PriveSub {
        id: PRIVE_SUB.into(),
        subscriber_external_id: Some(OTHER_CUSTOMER.to_string()),
        email: Some(OTHER_EMAIL.to_lowercase()),
        status: "ACTIVE".into(),
        next_billing,
        interval_days: 30,
    });
    recharge.add_subscription(RechargeSub {
        id: RECHARGE_SUB,
        customer_id: RECHARGE_CUSTOMER,
        email: OTHER_EMAIL.to_lowercase(),
        address_id: 9,
        status: "active".into(),
        next_charge: next_billing
            .to_zoned(jiff::tz::TimeZone::get(TZ).unwrap())
            .date(),
        interval_days: 30,
    });
    postscript.add_subscriber(SimSubscriber {
        id: NOBODY_SUBSCRIBER.into(),
        phone: NOBODY_PHONE.into(),
        email: Some("nobody@example.com".into()),
        shopify_customer_id: None,
    });

    let mut t = TestApp {
        app: None,
        postscript,
        skio,
        loop_,
        smartrr,
        prive,
        recharge,
        db_url,
        http: reqwest::Client::new(),
        next_billing,
        _dir: dir,
    };
    t.start(&timing).await;
    t
}

impl TestApp {
    pub fn config_text(&self, timing: &Timing) -> String {
        format!(
            r#"
[server]
listen = "127.0.0.1:0"
[database]
url = "{db}"
max_connections = 5
[admin]
tokens = ["{ADMIN_TOKEN}"]
[worker]
concurrency = 4
lease_seconds = {lease}
max_attempts = 5
backoff_base_ms = 20
backoff_max_ms = 200
poll_interval_ms = 50
shutdown_grace_seconds = 5
lookup_timeout_ms = {lookup}
[http_client]
timeout_ms = 3000
connect_timeout_ms = 1000

[[shops]]
id = "{SHOP}"
timezone = "{TZ}"
multiple = "{multiple}"
[shops.postscript]
api_key = "{API_KEY}"
webhook_token = "{WEBHOOK_TOKEN}"
base_url = "{ps}"
[shops.platforms.skio]
api_token = "{SKIO_TOKEN}"
base_url = "{skio}"
[shops.platforms.loop]
api_token = "{LOOP_TOKEN}"
base_url = "{loop_}"

"#,
            db = self.db_url,
            lease = timing.lease_seconds,
            lookup = timing.lookup_timeout_ms,
            multiple = timing.multiple,
            ps = self.postscript.base_url(),
            skio = self.skio.base_url(),
            loop_ = self.loop_.base_url(),
        ) + &single_platform_shop(
            SHOP_SMARTRR,
            "smartrr",
            SMARTRR_TOKEN,
            &self.smartrr.base_url(),
            "",
            &self.postscript.base_url(),
        ) + &single_platform_shop(
            SHOP_PRIVE,
            "prive",
            PRIVE_TOKEN,
            &self.prive.base_url(),
            "",
            &self.postscript.base_url(),
        ) + &single_platform_shop(
            SHOP_RECHARGE,
            "recharge",
            RECHARGE_TOKEN,
            &self.recharge.base_url(),
            timing.recharge_rate.as_deref().unwrap_or_default(),
            &self.postscript.base_url(),
        )
    }

    pub async fn start(&mut self, timing: &Timing) {
        let config = Config::from_toml_str(&self.config_text(timing)).expect("test config");
        let app = App::start(&config, Options { migrate: true })
            .await
            .expect("app starts");
        self.app = Some(app);
    }

    pub fn app(&self) -> &App {
        self.app.as_ref().expect("app running")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.app().base_url())
    }

    /// Sends a webhook signed with the shop's token.
    pub async fn post_webhook(&self, body: &Value) -> reqwest::Response {
        self.post_raw(serde_json::to_vec(body).unwrap(), Some(WEBHOOK_TOKEN))
            .await
    }

    pub async fn post_raw(&self, body: Vec<u8>, signature: Option<&str>) -> reqwest::Response {
        let mut req = self
            .http
            .post(self.url("/webhooks/postscript"))
            .header("content-type", "application/json")
            .body(body);
        if let Some(sig) = signature {
            req = req.header("Postscript-Signature", sig);
        }
        req.send().await.expect("webhook request")
    }

    /// Waits until every job has finished; fails the test after 20 s.
    pub async fn drain(&self) {
        assert!(
            self.app().wait_idle(Duration::from_secs(20)).await,
            "jobs did not finish in time"
        );
    }

    pub async fn admin_get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("admin request")
    }

    /// Events Postscript accepted, in order.
    pub fn events(&self) -> Vec<Value> {
        self.postscript.events()
    }

    /// The seeded next date as the shop sees it (New York).
    pub fn next_date(&self) -> jiff::civil::Date {
        self.next_billing
            .to_zoned(jiff::tz::TimeZone::get(TZ).unwrap())
            .date()
    }
}

/// A `[[shops]]` table for a shop on one platform; `extra` goes into its platform table.
fn single_platform_shop(
    id: &str,
    platform: &str,
    token: &str,
    url: &str,
    extra: &str,
    postscript: &str,
) -> String {
    format!(
        r#"
[[shops]]
id = "{id}"
timezone = "{TZ}"
[shops.postscript]
api_key = "{API_KEY}"
webhook_token = "{WEBHOOK_TOKEN}"
base_url = "{postscript}"
[shops.platforms.{platform}]
api_token = "{token}"
base_url = "{url}"
{extra}
"#
    )
}

/// A `shop.incoming_message` payload like Postscript's.
pub fn payload(id: &str, subscriber: &str, from: &str, text: &str) -> Value {
    payload_for(SHOP, id, subscriber, from, text)
}

/// The same for another of the test shops.
pub fn payload_for(shop: &str, id: &str, subscriber: &str, from: &str, text: &str) -> Value {
    json!({
        "webhook_id": "89066f0a-eb36-4ed8-b98c-606e6dcac715",
        "resource_type": "shop",
        "resource_id": shop,
        "event_time": "2021-11-04T21:52:41.025455",
        "event": "shop.incoming_message",
        "event_data": {
            "id": id,
            "subscriber_id": subscriber,
            "shop_id": shop,
            "is_opt_out": false,
            "shopify_customer_id": null,
            "from_number": from,
            "created_at": "2021-11-04T21:52:41.025455",
            "body": text
        }
    })
}

/// A unique message id per call, so tests sharing a database never collide.
pub fn message_id() -> String {
    format!("im_{}", uuid::Uuid::new_v4().simple())
}

/// SQLite in the test's temp dir, or a fresh PostgreSQL database per test.
async fn test_database(dir: &tempfile::TempDir) -> String {
    match fresh_postgres_database().await {
        Some(url) => url,
        None => format!("sqlite://{}/keyroute.db?mode=rwc", dir.path().display()),
    }
}

/// A new, empty PostgreSQL database when the suite runs on PostgreSQL (`TEST_POSTGRES_URL`
/// names the server), else `None`. `.ci/run` drops them afterwards.
pub async fn fresh_postgres_database() -> Option<String> {
    let admin_url = std::env::var("TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())?;
    let name = format!("keyroute_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin_url)
        .await
        .expect("TEST_POSTGRES_URL reachable");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create test database");
    conn.close().await.ok();
    let mut url = url::Url::parse(&admin_url).expect("TEST_POSTGRES_URL is a URL");
    url.set_path(&format!("/{name}"));
    Some(url.to_string())
}

/// `occurred_at` as Postscript wants it: `%Y-%m-%d %H:%M:%S.%f`.
pub fn assert_occurred_at(v: &Value) {
    let s = v["occurred_at"].as_str().expect("occurred_at string");
    let re = regex::Regex::new(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$").unwrap();
    assert!(re.is_match(s), "occurred_at {s:?}");
}
