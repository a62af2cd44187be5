//! A world: one simulated Postscript and one simulator per platform, seeded with shoppers and
//! their subscriptions. The same world format is what QA fixtures use (`world.toml`, see
//! keyroute's `docs/fixtures.md`), what the API tests and benches seed, and what
//! `keyroute sandbox --world FILE` runs.
//!
//! Dates are relative: a subscription's next order is `next_in_days` after the `today` the
//! caller gives, at 16:00 UTC (the same calendar day across the Americas and Europe).

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::Deserialize;

use crate::{
    LoopSim, LoopSub, PostscriptSim, PriveSim, PriveSub, RechargeSim, RechargeSub, SimSubscriber,
    SkioSim, SkioSub, SmartrrSim, SmartrrSub,
};

/// The shop a world's Postscript serves, as a fixture names it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorldShop {
    pub id: String,
    #[serde(default = "default_tz")]
    pub timezone: String,
    /// `next` or `all` (the shop's `multiple`); `None` for the default.
    #[serde(default)]
    pub multiple: Option<String>,
    /// The wall-clock time of every next order in the shop's zone (`"00:00"`: a store's
    /// local midnight); default 16:00 UTC.
    #[serde(default)]
    pub order_time: Option<String>,
    /// How the platforms write date-times: `native` (default), `offset` (with the shop's
    /// offset) or `floating` (no offset, the shop's wall-clock time).
    #[serde(default)]
    pub platform_dates: Option<String>,
}

impl Default for WorldShop {
    fn default() -> Self {
        WorldShop {
            id: "shop_sandbox".into(),
            timezone: default_tz(),
            multiple: None,
            order_time: None,
            platform_dates: None,
        }
    }
}

fn default_tz() -> String {
    "UTC".to_owned()
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct World {
    #[serde(default)]
    pub shop: WorldShop,
    #[serde(default, rename = "shopper")]
    pub shoppers: Vec<WorldShopper>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorldShopper {
    pub name: String,
    /// The webhook's `from_number`.
    pub phone: String,
    /// The webhook's `subscriber_id`.
    pub subscriber_id: String,
    /// The Postscript subscriber's email.
    #[serde(default)]
    pub email: Option<String>,
    /// The Postscript subscriber's Shopify customer id.
    #[serde(default)]
    pub shopify_customer_id: Option<i64>,
    #[serde(default, rename = "subscription")]
    pub subscriptions: Vec<WorldSubscription>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorldSubscription {
    /// `skio`, `loop`, `smartrr`, `prive` or `recharge`.
    pub platform: String,
    pub id: String,
    pub next_in_days: i64,
    #[serde(default = "default_interval")]
    pub interval_days: i64,
    #[serde(default = "default_status")]
    pub status: String,
    /// Loop: the subscription's Shopify id (default 9,000,000 + id).
    #[serde(default)]
    pub shopify_id: Option<i64>,
    /// Smartrr: the customer relationship (default `cr_<subscriber_id>`); Recharge: the
    /// customer id (default 5,000 + the shopper's position in the world).
    #[serde(default)]
    pub customer: Option<String>,
    /// Recharge: the address id (default 1).
    #[serde(default)]
    pub address_id: Option<i64>,
}

fn default_interval() -> i64 {
    30
}
fn default_status() -> String {
    "active".to_owned()
}

impl World {
    pub fn shopper(&self, name: &str) -> Option<&WorldShopper> {
        self.shoppers.iter().find(|s| s.name == name)
    }
}

/// The credentials each simulator accepts (and the signing token Postscript hands out).
#[derive(Debug, Clone)]
pub struct Credentials {
    pub postscript_key: String,
    pub webhook_token: String,
    pub skio: String,
    pub loop_: String,
    pub smartrr: String,
    pub prive: String,
    pub recharge: String,
}

impl Credentials {
    /// Distinct credentials derived from one prefix (`sandbox` gives `sk_sandbox`,
    /// `sandbox-skio`, ...).
    pub fn with_prefix(prefix: &str) -> Credentials {
        Credentials {
            postscript_key: format!("sk_{prefix}"),
            webhook_token: format!("{prefix}-webhook-token"),
            skio: format!("{prefix}-skio"),
            loop_: format!("{prefix}-loop"),
            smartrr: format!("{prefix}-smartrr"),
            prive: format!("{prefix}-prive"),
            recharge: format!("{prefix}-recharge"),
        }
    }
}

/// Postscript and the five platforms, running on loopback.
pub struct Sims {
    pub credentials: Credentials,
    pub postscript: PostscriptSim,
    pub skio: SkioSim,
    pub loop_: LoopSim,
    pub smartrr: SmartrrSim,
    pub prive: PriveSim,
    pub recharge: RechargeSim,
}

impl Sims {
    pub async fn start(credentials: Credentials) -> std::io::Result<Sims> {
        let postscript = PostscriptSim::try_start(&credentials.postscript_key).await?;
        postscript.set_webhook_token(&credentials.webhook_token);
        Ok(Sims {
            skio: SkioSim::try_start(&credentials.skio).await?,
            loop_: LoopSim::try_start(&credentials.loop_).await?,
            smartrr: SmartrrSim::try_start(&credentials.smartrr).await?,
            prive: PriveSim::try_start(&credentials.prive).await?,
            recharge: RechargeSim::try_start(&credentials.recharge).await?,
            postscript,
            credentials,
        })
    }

    /// Turns off every simulator's rate limit (for checking decisions, not the vendors'
    /// limits).
    pub fn without_rate_limits(&self) {
        self.postscript.set_rate_limit(None);
        self.loop_.set_limits(false);
        self.prive.set_rate_limiter(None);
        self.recharge.set_rate_limiter(None);
    }

    /// The base URL of a platform's simulator by its name.
    pub fn base_url(&self, platform: &str) -> Option<String> {
        Some(match platform {
            "postscript" => self.postscript.base_url(),
            "skio" => self.skio.base_url(),
            "loop" => self.loop_.base_url(),
            "smartrr" => self.smartrr.base_url(),
            "prive" => self.prive.base_url(),
            "recharge" => self.recharge.base_url(),
            _ => return None,
        })
    }

    /// The API token a platform's simulator accepts, by its name.
    pub fn token(&self, platform: &str) -> Option<&str> {
        let c = &self.credentials;
        Some(match platform {
            "skio" => &c.skio,
            "loop" => &c.loop_,
            "smartrr" => &c.smartrr,
            "prive" => &c.prive,
            "recharge" => &c.recharge,
            _ => return None,
        })
    }

    /// Adds every shopper of `world` to Postscript and their subscriptions to their
    /// platforms. `today` is the shop's calendar date; `tz` its zone (Recharge keeps dates).
    pub fn seed(&self, world: &World, today: Date, tz: &TimeZone) -> Result<(), String> {
        let form = match world.shop.platform_dates.as_deref() {
            None | Some("native") => crate::DateForm::Native,
            Some("offset") => crate::DateForm::WithOffset(tz.clone()),
            Some("floating") => crate::DateForm::Floating(tz.clone()),
            Some(other) => {
                return Err(format!(
                    "world: shop.platform_dates = {other:?} (use native, offset or floating)"
                ));
            }
        };
        if form != crate::DateForm::Native {
            self.skio.set_date_form(form.clone());
            self.smartrr.set_date_form(form.clone());
            self.prive.set_date_form(form.clone());
            self.recharge.set_date_form(form);
        }
        let local_time = match world.shop.order_time.as_deref() {
            None => None,
            Some(t) => Some(
                jiff::civil::Time::strptime("%H:%M", t)
                    .map_err(|e| format!("world: shop.order_time = {t:?}: {e}"))?,
            ),
        };
        let next_order = |days: i64| match local_time {
            None => next_order(today, days),
            Some(time) => today
                .checked_add(days.days())
                .and_then(|d| d.to_datetime(time).to_zoned(tz.clone()))
                .map(|z| z.timestamp())
                .map_err(|e| format!("world: next_in_days = {days}: {e}")),
        };
        for (n, shopper) in world.shoppers.iter().enumerate() {
            let n = n as i64;
            self.postscript.add_subscriber(SimSubscriber {
                id: shopper.subscriber_id.clone(),
                phone: shopper.phone.clone(),
                email: shopper.email.clone(),
                shopify_customer_id: shopper.shopify_customer_id,
            });
            let email_lower = shopper.email.as_ref().map(|e| e.to_lowercase());
            for sub in &shopper.subscriptions {
                let next = next_order(sub.next_in_days)?;
                let upper = sub.status.to_uppercase();
                let numeric = |what: &str| {
                    sub.id.parse::<i64>().map_err(|_| {
                        format!("world: {what} subscription id {:?} must be digits", sub.id)
                    })
                };
                match sub.platform.as_str() {
                    "skio" => self.skio.add_subscription(SkioSub {
                        id: sub.id.clone(),
                        phone: shopper.phone.clone(),
                        email: shopper.email.clone(),
                        status: upper,
                        next_billing: next,
                        interval_days: sub.interval_days,
                    }),
                    "loop" => self.loop_.add_subscription(LoopSub {
                        id: numeric("loop")?,
                        shopify_id: sub.shopify_id.unwrap_or(9_000_000 + numeric("loop")?),
                        customer_shopify_id: shopper.shopify_customer_id.unwrap_or(8_000_000 + n),
                        email: shopper.email.clone(),
                        status: upper,
                        next_billing_epoch: next.as_second(),
                        interval_days: sub.interval_days,
                    }),
                    "smartrr" => self.smartrr.add_subscription(SmartrrSub {
                        id: sub.id.clone(),
                        cust_rel_id: sub
                            .customer
                            .clone()
                            .unwrap_or_else(|| format!("cr_{}", shopper.subscriber_id)),
                        email: email_lower.clone().unwrap_or_default(),
                        status: upper,
                        next_billing: next,
                        interval_days: sub.interval_days,
                    }),
                    "prive" => self.prive.add_subscription(PriveSub {
                        id: sub.id.clone(),
                        subscriber_external_id: shopper.shopify_customer_id.map(|c| c.to_string()),
                        email: email_lower.clone(),
                        status: upper,
                        next_billing: next,
                        interval_days: sub.interval_days,
                    }),
                    "recharge" => self.recharge.add_subscription(RechargeSub {
                        id: numeric("recharge")?,
                        customer_id: match &sub.customer {
                            Some(c) => c.parse().map_err(|_| {
                                format!("world: recharge customer {c:?} must be digits")
                            })?,
                            None => 5_000 + n,
                        },
                        email: email_lower.clone().unwrap_or_default(),
                        address_id: sub.address_id.unwrap_or(1),
                        status: sub.status.to_lowercase(),
                        next_charge: next.to_zoned(tz.clone()).date(),
                        interval_days: sub.interval_days,
                    }),
                    other => return Err(format!("world: unknown platform {other:?}")),
                }
            }
        }
        Ok(())
    }
}

/// `today + days` at 16:00 UTC.
pub fn next_order(today: Date, days: i64) -> Result<Timestamp, String> {
    today
        .checked_add(days.days())
        .and_then(|d| d.at(16, 0, 0, 0).to_zoned(TimeZone::UTC))
        .map(|z| z.timestamp())
        .map_err(|e| format!("world: next_in_days = {days}: {e}"))
}
