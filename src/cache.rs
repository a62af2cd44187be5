//! A small bounded cache with a time to live, for answers worth not asking twice (Postscript
//! subscribers, Loop customers). Losing it costs a few reads, so it is simple: at the cap,
//! expired entries are swept, and if that is not enough it starts over.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct TtlCache<K, V> {
    ttl: Duration,
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    /// Entries above this are swept.
    pub const CAP: usize = 10_000;

    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The value, if it was stored less than the TTL ago.
    pub fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.lock().expect("cache poisoned");
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, v)| v.clone())
    }

    pub fn insert(&self, key: K, value: V) {
        let mut entries = self.entries.lock().expect("cache poisoned");
        if entries.len() >= Self::CAP {
            let ttl = self.ttl;
            entries.retain(|_, (at, _)| at.elapsed() < ttl);
            if entries.len() >= Self::CAP {
                entries.clear();
            }
        }
        entries.insert(key, (Instant::now(), value));
    }

    pub fn remove(&self, key: &K) {
        self.entries.lock().expect("cache poisoned").remove(key);
    }

    pub fn len(&self) -> usize {
        self.entries.lock().expect("cache poisoned").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_the_cache_stays_bounded() {
        let c = TtlCache::new(Duration::from_secs(60));
        c.insert("a", 1);
        assert_eq!(c.get(&"a"), Some(1));
        let expired: TtlCache<&str, i32> = TtlCache::new(Duration::ZERO);
        expired.insert("a", 1);
        assert_eq!(expired.get(&"a"), None);
        let big = TtlCache::new(Duration::from_secs(60));
        for i in 0..TtlCache::<usize, usize>::CAP + 10 {
            big.insert(i, i);
        }
        assert!(big.len() <= TtlCache::<usize, usize>::CAP);
    }
}
