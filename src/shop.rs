//! A configured shop as the running process holds it: its rules, its platform adapters, its
//! Postscript account and its policy. Built once at start-up from the validated config.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use jiff::tz::TimeZone;
use secrecy::{ExposeSecret, SecretString};

use crate::config::Config;
use crate::domain::{Confirm, Multiple, PlatformKind};
use crate::keywords::RuleSet;
use crate::outbound::Outbound;
use crate::platforms::{self, Platform};
use crate::postscript::{PostscriptAccount, SubscriberCache};

/// What the shop allows: the planner's rules, from the shop's config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub multiple: Multiple,
    /// See `ShopConfig::already_skipped_window_hours`; zero turns the check off.
    pub already_skipped_window: Duration,
    /// How far back UNDO looks for the shopper's last skip or delay.
    pub undo_window: Duration,
}

/// Everything keyroute knows about one configured shop.
pub struct Shop {
    pub id: String,
    pub tz: TimeZone,
    /// When a reading asks first ([`crate::keywords::Interpretation::under`]).
    pub confirm: Confirm,
    pub policy: Policy,
    pub webhook_token: SecretString,
    pub postscript: PostscriptAccount,
    pub subscribers: SubscriberCache,
    pub platforms: Vec<Arc<dyn Platform>>,
    pub rules: Arc<RuleSet>,
    /// How long the platforms together may take to find the shopper.
    pub lookup_timeout: Duration,
}

impl Shop {
    pub fn platform(&self, kind: PlatformKind) -> Option<&Arc<dyn Platform>> {
        self.platforms.iter().find(|p| p.kind() == kind)
    }
}

/// The configured shops by id.
pub type Shops = HashMap<String, Arc<Shop>>;

/// The rule set a config asks for: its `keywords.dir`, else `./keywords` when present, else
/// the rule files compiled into the binary.
pub fn load_rules(config: &Config) -> anyhow::Result<RuleSet> {
    match &config.keywords.dir {
        Some(dir) => {
            RuleSet::load_dir(dir).with_context(|| format!("keywords.dir: {}", dir.display()))
        }
        None if Path::new("keywords").is_dir() => RuleSet::load_dir(Path::new("keywords"))
            .context("keywords/ (the default rule directory)"),
        None => Ok(RuleSet::embedded()),
    }
}

/// Builds every configured shop: its Postscript account, platform adapters and rules.
pub fn build_shops(
    config: &Config,
    rules: Arc<RuleSet>,
    outbound: &Outbound,
) -> anyhow::Result<Shops> {
    let mut shops = HashMap::new();
    for shop in &config.shops {
        shops.insert(
            shop.id.clone(),
            Arc::new(Shop {
                id: shop.id.clone(),
                tz: TimeZone::get(&shop.timezone)
                    .with_context(|| format!("shops: {}: timezone", shop.id))?,
                confirm: shop.confirm,
                policy: Policy {
                    multiple: shop.multiple,
                    already_skipped_window: Duration::from_secs(
                        shop.already_skipped_window_hours * 3600,
                    ),
                    undo_window: Duration::from_secs(shop.undo_window_hours * 3600),
                },
                webhook_token: SecretString::from(
                    shop.postscript.webhook_token.expose_secret().to_owned(),
                ),
                postscript: PostscriptAccount::new(
                    outbound,
                    &shop.postscript,
                    config.postscript_auth(shop),
                    config.postscript.partner_key.as_ref(),
                ),
                subscribers: SubscriberCache::new(Duration::from_secs(
                    config.worker.subscriber_cache_seconds,
                )),
                platforms: platforms::build_for_shop(
                    shop,
                    outbound,
                    Duration::from_secs(config.worker.subscriber_cache_seconds),
                ),
                rules: rules.clone(),
                lookup_timeout: Duration::from_millis(config.worker.lookup_timeout_ms),
            }),
        );
    }
    Ok(shops)
}
