//! A small in-process memo whose answers expire, for use cases that may trust
//! an earlier answer for a bounded time (is a session active, which user an
//! access token maps to). Time comes from the use case's [`Clock`], so the
//! bound is a rule of the domain and tests can move time.
//!
//! [`Clock`]: crate::ports::Clock

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};

pub(crate) struct ExpiringCache<K, V> {
    entries: Mutex<HashMap<K, (V, DateTime<Utc>)>>,
    ttl: chrono::Duration,
    capacity: usize,
}

impl<K: Eq + Hash, V: Clone> ExpiringCache<K, V> {
    /// Holds at most `capacity` answers, each for `ttl` after it was stored.
    pub(crate) fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            ttl: chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX),
            capacity: capacity.max(1),
        }
    }

    /// The answer stored for `key` less than the TTL before `now`. An answer
    /// stored "later" than `now` (the clock went back) is not trusted either.
    pub(crate) fn get(&self, key: &K, now: DateTime<Utc>) -> Option<V> {
        let mut entries = self.lock();
        let (value, stored_at) = entries.get(key)?;
        if self.fresh(*stored_at, now) {
            Some(value.clone())
        } else {
            entries.remove(key);
            None
        }
    }

    pub(crate) fn insert(&self, key: K, value: V, now: DateTime<Utc>) {
        let mut entries = self.lock();
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            entries.retain(|_, (_, stored_at)| self.fresh(*stored_at, now));
            // Still full of fresh answers: forgetting them only costs lookups.
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(key, (value, now));
    }

    fn fresh(&self, stored_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        stored_at <= now && now - stored_at < self.ttl
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<K, (V, DateTime<Utc>)>> {
        // A panic elsewhere cannot leave a half-written entry: each change is
        // one map operation, so the map is usable as it is.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn an_answer_is_kept_for_the_ttl_and_not_a_moment_longer() {
        let cache = ExpiringCache::new(10, Duration::from_secs(5));
        cache.insert("a", true, at(0));
        assert_eq!(cache.get(&"a", at(0)), Some(true));
        assert_eq!(cache.get(&"a", at(4)), Some(true));
        assert_eq!(cache.get(&"a", at(5)), None);
        assert_eq!(cache.get(&"a", at(4)), None, "an expired answer is gone");
    }

    #[test]
    fn an_answer_from_the_future_is_not_trusted() {
        let cache = ExpiringCache::new(10, Duration::from_secs(5));
        cache.insert("a", true, at(10));
        assert_eq!(cache.get(&"a", at(9)), None);
    }

    #[test]
    fn a_full_cache_makes_room_and_keeps_the_newest_answer() {
        let cache = ExpiringCache::new(2, Duration::from_secs(5));
        cache.insert(1, 'a', at(0));
        cache.insert(2, 'b', at(3));
        cache.insert(3, 'c', at(6));
        assert_eq!(cache.get(&1, at(6)), None);
        assert_eq!(cache.get(&2, at(6)), Some('b'));
        assert_eq!(cache.get(&3, at(6)), Some('c'));
        cache.insert(4, 'd', at(6));
        assert_eq!(cache.get(&4, at(6)), Some('d'));
        cache.insert(4, 'e', at(7));
        assert_eq!(cache.get(&4, at(7)), Some('e'));
    }
}
