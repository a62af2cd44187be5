//! A fresh sandbox per fixture: Postscript and the five platforms simulated on loopback, seeded
//! from the world, and the real keyroute app in-process on its own database.

use std::time::Duration;

use jiff::{Timestamp, ToSpan};

use super::fixture::World;
use crate::app::{App, Options};
use crate::config::Config;
use crate::sandbox::{
    LoopSim, LoopSub, PostscriptSim, PriveSim, PriveSub, RechargeSim, RechargeSub, SimSubscriber,
    SkioSim, SkioSub, SmartrrSim, SmartrrSub,
};

pub const WEBHOOK_TOKEN: &str = "sandbox-webhook-token";
pub const ADMIN_TOKEN: &str = "sandbox-admin-token";
const API_KEY: &str = "sk_sandbox";

pub struct Sandbox {
    pub app: App,
    _sims: (
        PostscriptSim,
        SkioSim,
        LoopSim,
        SmartrrSim,
        PriveSim,
        RechargeSim,
    ),
    _dir: Option<TempDir>,
}

/// A temporary folder removed on drop (for the per-fixture SQLite file).
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Sandbox {
    /// `database`: a database URL to share between fixtures (ids must then be unique per
    /// run), or `None` for a throwaway SQLite file.
    pub async fn start(world: &World, database: Option<&str>) -> anyhow::Result<Sandbox> {
        let postscript = PostscriptSim::try_start(API_KEY).await?;
        postscript.set_webhook_token(WEBHOOK_TOKEN);
        let skio = SkioSim::try_start("sandbox-skio").await?;
        let loop_ = LoopSim::try_start("sandbox-loop").await?;
        let smartrr = SmartrrSim::try_start("sandbox-smartrr").await?;
        let prive = PriveSim::try_start("sandbox-prive").await?;
        let recharge = RechargeSim::try_start("sandbox-recharge").await?;
        // Fixtures check keyroute's decisions, not the vendors' limits (the API tests do).
        postscript.set_rate_limit(None);
        prive.set_rate_limiter(None);
        recharge.set_rate_limiter(None);

        let tz = jiff::tz::TimeZone::get(&world.shop.timezone)?;
        let today = Timestamp::now().to_zoned(tz.clone()).date();
        for (n, shopper) in world.shoppers.iter().enumerate() {
            let n = n as i64;
            postscript.add_subscriber(SimSubscriber {
                id: shopper.subscriber_id.clone(),
                phone: shopper.phone.clone(),
                email: shopper.email.clone(),
                shopify_customer_id: shopper.shopify_customer_id,
            });
            for sub in &shopper.subscriptions {
                let next = today
                    .checked_add(sub.next_in_days.days())?
                    .at(16, 0, 0, 0)
                    .to_zoned(jiff::tz::TimeZone::UTC)?
                    .timestamp();
                let upper = sub.status.to_uppercase();
                let numeric = |what: &str| {
                    sub.id.parse::<i64>().map_err(|_| {
                        anyhow::anyhow!(
                            "world: {} subscription id {:?} must be digits",
                            what,
                            sub.id
                        )
                    })
                };
                match sub.platform.as_str() {
                    "skio" => skio.add_subscription(SkioSub {
                        id: sub.id.clone(),
                        phone: shopper.phone.clone(),
                        email: shopper.email.clone(),
                        status: upper,
                        next_billing: next,
                        interval_days: sub.interval_days,
                    }),
                    "loop" => loop_.add_subscription(LoopSub {
                        id: numeric("loop")?,
                        shopify_id: 9_000_000 + numeric("loop")?,
                        customer_shopify_id: shopper.shopify_customer_id.unwrap_or(8_000_000 + n),
                        email: shopper.email.clone(),
                        status: upper,
                        next_billing_epoch: next.as_second(),
                        interval_days: sub.interval_days,
                    }),
                    "smartrr" => smartrr.add_subscription(SmartrrSub {
                        id: sub.id.clone(),
                        cust_rel_id: format!("cr_{}", shopper.subscriber_id),
                        email: shopper.email.clone().unwrap_or_default(),
                        status: upper,
                        next_billing: next,
                        interval_days: sub.interval_days,
                    }),
                    "prive" => prive.add_subscription(PriveSub {
                        id: sub.id.clone(),
                        subscriber_external_id: shopper.shopify_customer_id.map(|c| c.to_string()),
                        email: shopper.email.clone(),
                        status: upper,
                        next_billing: next,
                        interval_days: sub.interval_days,
                    }),
                    "recharge" => recharge.add_subscription(RechargeSub {
                        id: numeric("recharge")?,
                        customer_id: 5_000 + n,
                        email: shopper.email.clone().unwrap_or_default(),
                        address_id: 1,
                        status: sub.status.to_lowercase(),
                        next_charge: next.to_zoned(tz.clone()).date(),
                        interval_days: sub.interval_days,
                    }),
                    other => anyhow::bail!("world: unknown platform {other:?}"),
                }
            }
        }

        let dir = match database {
            Some(_) => None,
            None => {
                let d = std::env::temp_dir()
                    .join(format!("keyroute-replay-{}", uuid::Uuid::new_v4().simple()));
                std::fs::create_dir_all(&d)?;
                Some(TempDir(d))
            }
        };
        let db_url = match (database, &dir) {
            (Some(url), _) => url.to_owned(),
            (None, Some(d)) => format!("sqlite://{}/replay.db?mode=rwc", d.0.display()),
            (None, None) => unreachable!("a temp dir exists when no database is given"),
        };
        let multiple = world.shop.multiple.as_deref().unwrap_or("next");
        let platform = |name: &str, url: String| {
            format!(
                "[shops.platforms.{name}]\napi_token = \"sandbox-{name}\"\nbase_url = \"{url}\"\n\
                 requests_per_second = 1000\n"
            )
        };
        let config = Config::from_toml_str(&format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[database]\nurl = \"{db_url}\"\n\
             [admin]\ntokens = [\"{ADMIN_TOKEN}\"]\n\
             [worker]\nbackoff_base_ms = 20\nbackoff_max_ms = 200\npoll_interval_ms = 20\nlookup_timeout_ms = 3000\n\
             [[shops]]\nid = \"{id}\"\ntimezone = \"{tz}\"\nmultiple = \"{multiple}\"\n\
             [shops.postscript]\napi_key = \"{API_KEY}\"\nwebhook_token = \"{WEBHOOK_TOKEN}\"\nbase_url = \"{ps}\"\n\
             requests_per_second = 1000\n\
             {skio}{loop_}{smartrr}{prive}{recharge}",
            id = world.shop.id,
            tz = world.shop.timezone,
            ps = postscript.base_url(),
            skio = platform("skio", skio.base_url()),
            loop_ = platform("loop", loop_.base_url()),
            smartrr = platform("smartrr", smartrr.base_url()),
            prive = platform("prive", prive.base_url()),
            recharge = platform("recharge", recharge.base_url()),
        ))?;
        let app = App::start(&config, Options { migrate: true }).await?;
        Ok(Sandbox {
            app,
            _sims: (postscript, skio, loop_, smartrr, prive, recharge),
            _dir: dir,
        })
    }

    pub async fn stop(self) {
        let Sandbox { app, _sims, _dir } = self;
        app.shutdown().await;
        drop(_sims);
        drop(_dir);
    }

    /// Waits for every job to finish.
    pub async fn settle(&self) -> bool {
        self.app.wait_idle(Duration::from_secs(30)).await
    }
}
