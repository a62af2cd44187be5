//! Postscript's API as keyroute uses it: custom events (the confirmation texts) and subscriber
//! lookups (email and Shopify id for platforms that cannot search by phone). At most 15
//! requests per second per api key, enforced here before sending.

use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use crate::config::PostscriptConfig;
use crate::domain::Event;
use crate::outbound::{Account, Outbound, OutboundError, quota, secret_header};

/// The service name in the call log, metrics and errors.
const SERVICE: &str = "postscript";

/// The fields of a Postscript subscriber keyroute needs.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Subscriber {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "id_as_string")]
    pub shopify_customer_id: Option<String>,
}

fn id_as_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s),
        _ => None,
    })
}

/// Subscribers read once and remembered for a while: a shopper who texts twice, or whose
/// job retries, costs one Postscript read, not one per attempt. Misses ("no such subscriber")
/// are remembered too. Bounded: at the cap, expired entries are swept, and if that is not
/// enough the cache starts over (it only saves reads; losing it costs a few).
pub struct SubscriberCache {
    ttl: Duration,
    entries: std::sync::Mutex<
        std::collections::HashMap<String, (std::time::Instant, Option<Subscriber>)>,
    >,
}

impl SubscriberCache {
    const SWEEP_ABOVE: usize = 10_000;

    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Default::default(),
        }
    }

    /// The subscriber from the cache, or from Postscript (then cached).
    pub async fn get(
        &self,
        account: &PostscriptAccount,
        id: &str,
    ) -> Result<Option<Subscriber>, OutboundError> {
        if let Some((at, hit)) = self.entries.lock().expect("cache poisoned").get(id)
            && at.elapsed() < self.ttl
        {
            return Ok(hit.clone());
        }
        let fresh = account.subscriber(id).await?;
        let mut entries = self.entries.lock().expect("cache poisoned");
        if entries.len() >= Self::SWEEP_ABOVE {
            let ttl = self.ttl;
            entries.retain(|_, (at, _)| at.elapsed() < ttl);
            if entries.len() >= Self::SWEEP_ABOVE {
                entries.clear();
            }
        }
        entries.insert(id.to_owned(), (std::time::Instant::now(), fresh.clone()));
        Ok(fresh)
    }
}

/// One shop's Postscript account (shops that share an api key share its 15/s).
#[derive(Clone)]
pub struct PostscriptAccount {
    account: Account,
}

impl PostscriptAccount {
    pub fn new(outbound: &Outbound, cfg: &PostscriptConfig) -> Self {
        let auth = secret_header("authorization", "Bearer ", &cfg.api_key);
        let quota = quota(cfg.requests_per_second, None);
        PostscriptAccount {
            account: outbound.account(SERVICE, cfg.base_url.as_str(), auth, quota),
        }
    }

    /// Sends one custom event. Success is 202. Retrying with the same `external_id` is how a
    /// lost answer is made safe.
    pub async fn send_event(&self, event: &Event) -> Result<(), OutboundError> {
        let req = self
            .account
            .request(reqwest::Method::POST, "/api/v2/events")
            .json(event);
        let answer = self.account.send("event", req).await;
        let status = match &answer {
            Ok(a) => a.status.as_str().to_owned(),
            Err(_) => "error".to_owned(),
        };
        self.account.metrics().event(event.kind.as_str(), &status);
        let answer = answer?;
        if answer.status.is_success() {
            Ok(())
        } else {
            Err(answer.refusal())
        }
    }

    /// Reads one subscriber; `None` when Postscript does not know the id.
    pub async fn subscriber(&self, id: &str) -> Result<Option<Subscriber>, OutboundError> {
        let encoded: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
        let req = self.account.request(
            reqwest::Method::GET,
            &format!("/api/v2/subscribers/{encoded}"),
        );
        let answer = self.account.send("subscriber", req).await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        // Documented as the bare object; accept `{"subscriber": {...}}` as well.
        let mut v: Value = answer.json()?;
        if let Some(inner) = v.get_mut("subscriber") {
            v = inner.take();
        }
        Ok(Some(serde_json::from_value(v).unwrap_or_default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn subscribers_are_read_once_per_ttl_and_misses_are_remembered() {
        let sim = keyroute_sandbox::PostscriptSim::start("sk_cache").await;
        sim.add_subscriber(keyroute_sandbox::SimSubscriber {
            id: "s1".into(),
            phone: "+15555550001".into(),
            email: Some("a@example.com".into()),
            shopify_customer_id: Some(5),
        });
        let cfg: PostscriptConfig = toml::from_str(&format!(
            "api_key = \"sk_cache\"\nwebhook_token = \"t\"\nbase_url = \"{}\"",
            sim.base_url()
        ))
        .unwrap();
        let outbound = Outbound::new(
            &crate::config::HttpClientConfig::default(),
            std::sync::Arc::new(crate::metrics::Metrics::new()),
        )
        .unwrap();
        let account = PostscriptAccount::new(&outbound, &cfg);
        let reads = || sim.requests_for("subscriber").len();

        let cache = SubscriberCache::new(Duration::from_secs(60));
        let s = cache.get(&account, "s1").await.unwrap().unwrap();
        assert_eq!(s.email.as_deref(), Some("a@example.com"));
        assert_eq!(
            s.shopify_customer_id.as_deref(),
            Some("5"),
            "an integer id becomes text"
        );
        cache.get(&account, "s1").await.unwrap();
        assert_eq!(reads(), 1);
        assert!(cache.get(&account, "nobody").await.unwrap().is_none());
        cache.get(&account, "nobody").await.unwrap();
        assert_eq!(reads(), 2, "a miss is remembered too");

        let expired = SubscriberCache::new(Duration::ZERO);
        expired.get(&account, "s1").await.unwrap();
        expired.get(&account, "s1").await.unwrap();
        assert_eq!(reads(), 4);
    }
}
