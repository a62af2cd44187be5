//! Starts the real server on port 0 against simulated Postscript and the five platforms on
//! loopback (keyroute's one harness), with a fresh database: SQLite in a temp dir by default,
//! PostgreSQL when `TEST_POSTGRES_URL` names a server (`.ci/run` sets it).

use std::time::Duration;

use jiff::Timestamp;
use keyroute::app::{App, Options};
use keyroute::config::Config;
use keyroute::domain::{Multiple, PlatformKind};
use keyroute::harness::{self, Settings, ShopSetup};
use keyroute_sandbox::{Credentials, Sims, World};
use serde_json::{Value, json};

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
    /// Postscript and the platforms; `t.skio`, `t.postscript`... reach them (Deref).
    pub sims: Sims,
    pub db_url: String,
    pub http: reqwest::Client,
    /// The next order of every seeded subscription: ten days from today at 16:00 UTC.
    pub next_billing: Timestamp,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for TestApp {
    type Target = Sims;
    fn deref(&self) -> &Sims {
        &self.sims
    }
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
    pub max_attempts: u32,
    /// `[postscript] partner_key`, and every shop's `postscript.auth = "partner"`.
    pub partner_key: Option<String>,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            lease_seconds: 30,
            multiple: "next",
            lookup_timeout_ms: 2000,
            recharge_rate: None,
            max_attempts: 5,
            partner_key: None,
        }
    }
}

/// The test world: one shopper per platform family and one nobody knows.
fn world() -> World {
    let text = format!(
        r#"
[[shopper]]
name = "skio"
phone = "{SKIO_PHONE}"
subscriber_id = "{SKIO_SUBSCRIBER}"
email = "skio.shopper@example.com"
[[shopper.subscription]]
platform = "skio"
id = "{SKIO_SUB}"
next_in_days = 10

[[shopper]]
name = "loop"
phone = "{LOOP_PHONE}"
subscriber_id = "{LOOP_SUBSCRIBER}"
email = "loop.shopper@example.com"
shopify_customer_id = {LOOP_CUSTOMER}
[[shopper.subscription]]
platform = "loop"
id = "{LOOP_SUB}"
shopify_id = 9100001
next_in_days = 10

[[shopper]]
name = "other"
phone = "{OTHER_PHONE}"
subscriber_id = "{OTHER_SUBSCRIBER}"
email = "{OTHER_EMAIL}"
shopify_customer_id = {OTHER_CUSTOMER}
[[shopper.subscription]]
platform = "smartrr"
id = "{SMARTRR_SUB}"
customer = "{SMARTRR_CUST_REL}"
next_in_days = 10
[[shopper.subscription]]
platform = "prive"
id = "{PRIVE_SUB}"
next_in_days = 10
[[shopper.subscription]]
platform = "recharge"
id = "{RECHARGE_SUB}"
customer = "{RECHARGE_CUSTOMER}"
address_id = 9
next_in_days = 10

[[shopper]]
name = "nobody"
phone = "{NOBODY_PHONE}"
subscriber_id = "{NOBODY_SUBSCRIBER}"
email = "nobody@example.com"
"#
    );
    toml::from_str(&text).expect("test world")
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Timing::default()).await
}

pub async fn spawn_app_with(timing: Timing) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let db_url = harness::fresh_database(dir.path())
        .await
        .expect("a test database");
    let sims = Sims::start(Credentials {
        postscript_key: API_KEY.into(),
        webhook_token: WEBHOOK_TOKEN.into(),
        skio: SKIO_TOKEN.into(),
        loop_: LOOP_TOKEN.into(),
        smartrr: SMARTRR_TOKEN.into(),
        prive: PRIVE_TOKEN.into(),
        recharge: RECHARGE_TOKEN.into(),
    })
    .await
    .expect("simulators start");
    let world = world();
    let tz = jiff::tz::TimeZone::get(TZ).unwrap();
    let today = Timestamp::now().to_zoned(tz.clone()).date();
    sims.seed(&world, today, &tz).expect("seed the world");
    let mut t = TestApp {
        app: None,
        sims,
        db_url,
        http: reqwest::Client::new(),
        next_billing: keyroute_sandbox::world::next_order(today, 10).unwrap(),
        _dir: dir,
    };
    t.start(&timing).await;
    t
}

impl TestApp {
    pub fn config_text(&self, timing: &Timing) -> String {
        let settings = Settings {
            admin_token: Some(ADMIN_TOKEN.into()),
            partner_key: timing.partner_key.clone(),
            max_connections: Some(5),
            concurrency: Some(4),
            lease_seconds: Some(timing.lease_seconds),
            max_attempts: Some(timing.max_attempts),
            backoff_base_ms: Some(20),
            backoff_max_ms: Some(200),
            poll_interval_ms: Some(50),
            shutdown_grace_seconds: Some(5),
            lookup_timeout_ms: Some(timing.lookup_timeout_ms),
            http_timeout_ms: Some(3000),
            http_connect_timeout_ms: Some(1000),
        };
        let multiple = match timing.multiple {
            "all" => Multiple::All,
            _ => Multiple::Next,
        };
        let auth = if timing.partner_key.is_some() {
            "auth = \"partner\""
        } else {
            ""
        };
        let shop = |id, platforms| ShopSetup {
            id,
            timezone: TZ,
            multiple: Multiple::Next,
            sims: &self.sims,
            platforms,
            platform_keys: &[],
            all_platform_keys: "",
            postscript_keys: auth,
        };
        let recharge_rate = timing.recharge_rate.clone().unwrap_or_default();
        let recharge_keys = [(PlatformKind::Recharge, recharge_rate.as_str())];
        harness::config_toml(
            &self.db_url,
            &settings,
            &[
                ShopSetup {
                    multiple,
                    ..shop(SHOP, &[PlatformKind::Skio, PlatformKind::Loop])
                },
                shop(SHOP_SMARTRR, &[PlatformKind::Smartrr]),
                shop(SHOP_PRIVE, &[PlatformKind::Prive]),
                ShopSetup {
                    platform_keys: &recharge_keys,
                    ..shop(SHOP_RECHARGE, &[PlatformKind::Recharge])
                },
            ],
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

    pub async fn admin_post(&self, path: &str) -> reqwest::Response {
        self.http
            .post(self.url(path))
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

/// A new, empty PostgreSQL database when the suite runs on PostgreSQL (`TEST_POSTGRES_URL`
/// names the server), else `None`. `.ci/run` drops them afterwards.
pub async fn fresh_postgres_database() -> Option<String> {
    harness::fresh_postgres_database()
        .await
        .expect("TEST_POSTGRES_URL reachable")
}

/// `occurred_at` as Postscript wants it: `%Y-%m-%d %H:%M:%S.%f`.
pub fn assert_occurred_at(v: &Value) {
    let s = v["occurred_at"].as_str().expect("occurred_at string");
    let re = regex::Regex::new(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$").unwrap();
    assert!(re.is_match(s), "occurred_at {s:?}");
}
