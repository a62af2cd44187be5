//! Postscript's API as keyroute uses it: custom events (the confirmation texts) and subscriber
//! lookups (email and Shopify id for platforms that cannot search by phone). At most 15
//! requests per second per api key, enforced here before sending.

use std::sync::Arc;
use std::time::Duration;

use governor::DefaultDirectRateLimiter;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::PostscriptConfig;
use crate::platforms::http::{
    Limiters, error_chain, execute_logged, parse_retry_after, quota, secret_header, snippet,
};

/// Postscript's documented limit per api key (the default of `requests_per_second`).
pub const REQUESTS_PER_SECOND: u32 = 15;

#[derive(Debug, Clone, thiserror::Error)]
pub enum PostscriptError {
    #[error("postscript {op}: temporary failure: {detail}")]
    Retryable {
        op: &'static str,
        detail: String,
        retry_after: Option<Duration>,
    },
    #[error("postscript {op}: rejected: HTTP {status}: {detail}")]
    Rejected {
        op: &'static str,
        status: u16,
        detail: String,
    },
}

/// One custom event, as `POST /api/v2/events` takes it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Event {
    #[serde(rename = "type")]
    pub kind: String,
    pub subscriber_id: String,
    pub phone: String,
    /// UTC, `%Y-%m-%d %H:%M:%S.%f`.
    pub occurred_at: String,
    pub external_id: String,
    pub properties: Map<String, Value>,
}

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
    ) -> Result<Option<Subscriber>, PostscriptError> {
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

/// Formats an instant the way Postscript wants `occurred_at`.
pub fn occurred_at(ts: jiff::Timestamp) -> String {
    ts.strftime("%Y-%m-%d %H:%M:%S.%6f").to_string()
}

/// Postscript for every shop; shops that share an api key share its 15/s.
#[derive(Clone)]
pub struct Postscript {
    http: reqwest::Client,
    limiters: Limiters,
}

impl Postscript {
    pub fn new(http: reqwest::Client) -> Self {
        Self {
            http,
            limiters: Limiters::default(),
        }
    }

    pub fn account(&self, cfg: &PostscriptConfig) -> PostscriptAccount {
        let auth = secret_header("authorization", "Bearer ", &cfg.api_key);
        let limiter = self
            .limiters
            .get("postscript", &auth, quota(cfg.requests_per_second, None));
        PostscriptAccount {
            http: self.http.clone(),
            base: cfg.base_url.as_str().trim_end_matches('/').to_owned(),
            auth,
            limiter,
        }
    }
}

/// One shop's Postscript account.
#[derive(Clone)]
pub struct PostscriptAccount {
    http: reqwest::Client,
    base: String,
    auth: HeaderMap,
    limiter: Arc<DefaultDirectRateLimiter>,
}

impl PostscriptAccount {
    /// Sends one custom event. Success is 202. Retrying with the same `external_id` is how a
    /// lost answer is made safe.
    pub async fn send_event(&self, event: &Event) -> Result<(), PostscriptError> {
        let req = self
            .http
            .post(format!("{}/api/v2/events", self.base))
            .headers(self.auth.clone())
            .json(event);
        let (status, body) = self.send("event", req).await?;
        metrics::counter!("keyroute_events_total", "type" => event.kind.clone(), "status" => status.as_str().to_owned())
            .increment(1);
        if status.is_success() {
            Ok(())
        } else {
            Err(PostscriptError::Rejected {
                op: "event",
                status: status.as_u16(),
                detail: snippet(&body),
            })
        }
    }

    /// Reads one subscriber; `None` when Postscript does not know the id.
    pub async fn subscriber(&self, id: &str) -> Result<Option<Subscriber>, PostscriptError> {
        let encoded: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
        let req = self
            .http
            .get(format!("{}/api/v2/subscribers/{encoded}", self.base))
            .headers(self.auth.clone());
        let (status, body) = self.send("subscriber", req).await?;
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(PostscriptError::Rejected {
                op: "subscriber",
                status: status.as_u16(),
                detail: snippet(&body),
            });
        }
        // Documented as the bare object; accept `{"subscriber": {...}}` as well.
        let mut v: Value =
            serde_json::from_slice(&body).map_err(|e| PostscriptError::Retryable {
                op: "subscriber",
                detail: format!("unreadable answer: {e}"),
                retry_after: None,
            })?;
        if let Some(inner) = v.get_mut("subscriber") {
            v = inner.take();
        }
        Ok(Some(serde_json::from_value(v).unwrap_or_default()))
    }

    async fn send(
        &self,
        op: &'static str,
        req: reqwest::RequestBuilder,
    ) -> Result<(StatusCode, bytes::Bytes), PostscriptError> {
        self.limiter.until_ready().await;
        let resp = execute_logged(&self.http, "postscript", op, req)
            .await
            .map_err(|e| PostscriptError::Retryable {
                op,
                detail: error_chain(&e),
                retry_after: None,
            })?;
        let status = resp.status();
        let retry_after = parse_retry_after(resp.headers());
        let body = resp.bytes().await.map_err(|e| PostscriptError::Retryable {
            op,
            detail: error_chain(&e),
            retry_after: None,
        })?;
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            return Err(PostscriptError::Retryable {
                op,
                detail: format!("HTTP {}: {}", status.as_u16(), snippet(&body)),
                retry_after,
            });
        }
        Ok((status, body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn subscribers_are_read_once_per_ttl_and_misses_are_remembered() {
        let sim = crate::sandbox::PostscriptSim::start("sk_cache").await;
        sim.add_subscriber(crate::sandbox::SimSubscriber {
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
        let account = Postscript::new(reqwest::Client::new()).account(&cfg);
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

    #[test]
    fn occurred_at_has_microseconds_and_no_offset() {
        let ts: jiff::Timestamp = "2026-11-22T10:11:12.5Z".parse().unwrap();
        assert_eq!(occurred_at(ts), "2026-11-22 10:11:12.500000");
    }
}
