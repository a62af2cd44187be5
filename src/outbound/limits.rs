//! Rate-limit permits, one limiter per account (service + credentials).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::HeaderMap;

pub type Limiter = DefaultDirectRateLimiter;

/// One limiter per account, shared by everything that uses the account: two shops with the
/// same token share its limit, because the vendor counts per token. Keys are fingerprints of
/// the auth headers, so no secret is kept as a map key.
#[derive(Clone, Default)]
pub(super) struct Limiters {
    map: Arc<Mutex<HashMap<AccountKey, Arc<Limiter>>>>,
}

/// (service or limit name, fingerprint of the account's auth headers).
type AccountKey = (&'static str, u64);

impl Limiters {
    pub(super) fn get(&self, key: &'static str, auth: &HeaderMap, quota: Quota) -> Arc<Limiter> {
        self.map
            .lock()
            .expect("limiter map poisoned")
            .entry((key, fingerprint(auth)))
            .or_insert_with(|| Arc::new(RateLimiter::direct(quota)))
            .clone()
    }
}

fn fingerprint(auth: &HeaderMap) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for (k, v) in auth {
        k.as_str().hash(&mut h);
        v.as_bytes().hash(&mut h);
    }
    h.finish()
}

/// `per_second` sustained. Without a published `burst`, requests are paced one every
/// `1/per_second` (burst 1): governor's plain `per_second(n)` allows a burst of n on top of
/// the refill, i.e. up to 2n in the first second, which breaks an "n per second" limit
/// counted over any one-second window. A leaky bucket's capacity is its `burst`.
pub fn quota(per_second: u32, burst: Option<u32>) -> Quota {
    let rate = NonZeroU32::new(per_second.max(1)).expect("non-zero");
    let burst = burst.and_then(NonZeroU32::new).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(rate).allow_burst(burst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_second_limits_are_paced_and_buckets_keep_their_capacity() {
        let paced = RateLimiter::direct(quota(15, None));
        let admitted = (0..15).filter(|_| paced.check().is_ok()).count();
        assert_eq!(admitted, 1, "no burst on top of 15/s");
        let bucket = RateLimiter::direct(quota(2, Some(40)));
        let admitted = (0..50).filter(|_| bucket.check().is_ok()).count();
        assert_eq!(admitted, 40, "a leaky bucket's capacity passes at once");
    }
}
