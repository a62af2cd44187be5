//! Postscript's API as keyroute uses it: custom events (the confirmation texts) and subscriber
//! lookups (email and Shopify id for platforms that cannot search by phone). At most 15
//! requests per second per api key, enforced here before sending.

use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use crate::cache::TtlCache;
use secrecy::SecretString;

use crate::config::{PostscriptAuth, PostscriptConfig};
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
/// are remembered too.
pub struct SubscriberCache {
    cache: TtlCache<String, Option<Subscriber>>,
}

impl SubscriberCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            cache: TtlCache::new(ttl),
        }
    }

    /// The subscriber from the cache, or from Postscript (then cached).
    pub async fn get(
        &self,
        account: &PostscriptAccount,
        id: &str,
    ) -> Result<Option<Subscriber>, OutboundError> {
        if let Some(hit) = self.cache.get(&id.to_owned()) {
            return Ok(hit);
        }
        let fresh = account.subscriber(id).await?;
        self.cache.insert(id.to_owned(), fresh.clone());
        Ok(fresh)
    }
}

/// One shop's Postscript account (shops that share credentials share their 15/s).
#[derive(Clone)]
pub struct PostscriptAccount {
    account: Account,
    auth: PostscriptAuth,
}

impl PostscriptAccount {
    /// `partner_key` is `[postscript] partner_key`, used when `auth` is partner (the config
    /// validated that it is set then).
    pub fn new(
        outbound: &Outbound,
        cfg: &PostscriptConfig,
        auth: PostscriptAuth,
        partner_key: Option<&SecretString>,
    ) -> Self {
        let headers = match (auth, partner_key) {
            (PostscriptAuth::Partner, Some(partner)) => {
                let mut h = secret_header("authorization", "Bearer ", partner);
                h.extend(secret_header("x-postscript-shop-token", "", &cfg.api_key));
                h
            }
            _ => secret_header("authorization", "Bearer ", &cfg.api_key),
        };
        let quota = quota(cfg.requests_per_second, None);
        PostscriptAccount {
            account: outbound.account(SERVICE, cfg.base_url.as_str(), headers, quota),
            auth,
        }
    }

    /// A refusal of our credentials, with what the operator should change.
    fn explain(&self, e: OutboundError) -> OutboundError {
        let (service, op, detail) = match e {
            OutboundError::Operator {
                service,
                op,
                detail,
            } => (service, op, detail),
            // The status of a plan refusal is not documented: whatever 4xx says "plan" or
            // "Enterprise" is the operator's to fix, never the shopper's.
            OutboundError::Refused {
                service,
                op,
                detail,
            } if {
                let d = detail.to_ascii_lowercase();
                d.contains("plan") || d.contains("enterprise")
            } =>
            {
                tracing::error!(service, op, %detail, "Postscript refused this shop's plan");
                (service, op, detail)
            }
            other => return other,
        };
        let hint = match self.auth {
            PostscriptAuth::ShopKey => {
                "a shop's private key alone works only on Enterprise plans; for other plans set \
                 [postscript] partner_key to your partner app's key and this shop's \
                 postscript.auth = \"partner\" (its api_key then goes in X-Postscript-Shop-Token)"
            }
            PostscriptAuth::Partner => {
                "check [postscript] partner_key and this shop's postscript.api_key (sent as \
                 X-Postscript-Shop-Token), and that the shop installed the partner app"
            }
        };
        OutboundError::Operator {
            service,
            op,
            detail: format!("{detail}; {hint}"),
        }
    }

    /// Sends one custom event. Success is 202. Retrying with the same `external_id` is how a
    /// lost answer is made safe.
    pub async fn send_event(&self, event: &Event) -> Result<(), OutboundError> {
        let req = self
            .account
            .request(reqwest::Method::POST, "/api/v2/events")
            .json(event);
        let answer = self
            .account
            .send("event", req)
            .await
            .map_err(|e| self.explain(e));
        let status = match &answer {
            Ok(a) => a.status.as_str().to_owned(),
            Err(_) => "error".to_owned(),
        };
        self.account.metrics().event(event.kind.as_str(), &status);
        let answer = answer?;
        if answer.status.is_success() {
            Ok(())
        } else {
            Err(self.explain(answer.refusal()))
        }
    }

    /// Reads one subscriber; `None` when Postscript does not know the id.
    pub async fn subscriber(&self, id: &str) -> Result<Option<Subscriber>, OutboundError> {
        let encoded: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
        let req = self.account.request(
            reqwest::Method::GET,
            &format!("/api/v2/subscribers/{encoded}"),
        );
        let answer = self
            .account
            .send("subscriber", req)
            .await
            .map_err(|e| self.explain(e))?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        // Documented as the bare object; accept `{"subscriber": {...}}` as well.
        let mut v: Value = answer.json().map_err(|e| self.explain(e))?;
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
        let account = PostscriptAccount::new(&outbound, &cfg, PostscriptAuth::ShopKey, None);
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
