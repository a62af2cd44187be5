//! A fresh sandbox per fixture: Postscript and the five platforms simulated on loopback, seeded
//! from the world, and the real keyroute app in-process on its own database.

use std::time::Duration;

use super::fixture::World;
use crate::app::{App, Options};
use crate::domain::{Multiple, PlatformKind};
use crate::harness::{self, Settings, ShopSetup, TempDir};
use keyroute_sandbox::{Credentials, Sims};

pub const ADMIN_TOKEN: &str = "sandbox-admin-token";
/// The signing token the sandbox's shop expects (`Credentials::with_prefix("sandbox")`).
pub const WEBHOOK_TOKEN: &str = "sandbox-webhook-token";

pub struct Sandbox {
    pub app: App,
    pub sims: Sims,
    _dir: Option<TempDir>,
}

impl Sandbox {
    /// `database`: a database URL to share between fixtures (ids must then be unique per
    /// run), or `None` for a throwaway SQLite file.
    pub async fn start(world: &World, database: Option<&str>) -> anyhow::Result<Sandbox> {
        let credentials = Credentials::with_prefix("sandbox");
        debug_assert_eq!(credentials.webhook_token, WEBHOOK_TOKEN);
        let sims = Sims::start(credentials).await?;
        // Fixtures check keyroute's decisions, not the vendors' limits (the API tests do).
        sims.without_rate_limits();
        let tz = jiff::tz::TimeZone::get(&world.shop.timezone)?;
        let today = jiff::Timestamp::now().to_zoned(tz.clone()).date();
        sims.seed(world, today, &tz).map_err(anyhow::Error::msg)?;

        let dir = match database {
            Some(_) => None,
            None => Some(TempDir::new("keyroute-replay")?),
        };
        let db_url = match (database, &dir) {
            (Some(url), _) => url.to_owned(),
            (None, Some(d)) => format!("sqlite://{}/replay.db?mode=rwc", d.path().display()),
            (None, None) => unreachable!("a temp dir exists when no database is given"),
        };
        let multiple = match world.shop.multiple.as_deref() {
            None | Some("next") => Multiple::Next,
            Some("all") => Multiple::All,
            Some(other) => anyhow::bail!("world: shop.multiple = {other:?} (use next or all)"),
        };
        let settings = Settings {
            admin_token: Some(ADMIN_TOKEN.into()),
            backoff_base_ms: Some(20),
            backoff_max_ms: Some(200),
            poll_interval_ms: Some(20),
            lookup_timeout_ms: Some(3000),
            ..Settings::default()
        };
        let shop = ShopSetup {
            id: &world.shop.id,
            timezone: &world.shop.timezone,
            multiple,
            sims: &sims,
            platforms: PlatformKind::ALL,
            platform_keys: &[],
            all_platform_keys: "requests_per_second = 1000",
            postscript_keys: "requests_per_second = 1000",
        };
        let config = harness::config(&db_url, &settings, &[shop])?;
        let app = App::start(&config, Options { migrate: true }).await?;
        Ok(Sandbox {
            app,
            sims,
            _dir: dir,
        })
    }

    pub async fn stop(self) {
        let Sandbox { app, sims, _dir } = self;
        app.shutdown().await;
        drop(sims);
        drop(_dir);
    }

    /// Waits for every job to finish.
    pub async fn settle(&self) -> bool {
        self.app.wait_idle(Duration::from_secs(30)).await
    }
}
