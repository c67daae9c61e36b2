//! An optional read cache in Redis (docs/adr/0041).
//!
//! A context caches the answers of its hottest reads as JSON under keys it names, each with a
//! TTL, and deletes the keys a write changed once the write has committed. The cache is never
//! the truth: every value can be read again from MariaDB, so a cache that is off, down or slow
//! only makes reads slower, never wrong or failed.
//!
//! - Every Redis call is bounded by [`Settings::command_timeout`] (50 ms by default). A read
//!   that waits longer than that for the cache would have been faster from the database.
//! - After a failed call, reads and fills leave Redis alone for [`Settings::pause_after_failure`]
//!   (2 s by default), so an outage costs each read nothing instead of one timeout. Deletes
//!   still try: a write is rare, and a delete skipped because of a blip would leave a stale
//!   entry for its whole TTL.
//! - The first failure of an outage is logged at `warn`, the recovery at `info`; nothing is
//!   logged per request.
//! - `cache_requests_total{cache, result}` counts reads by `hit`, `miss` and `error` (Redis
//!   failed or the cache is pausing); `cache_invalidation_failures_total{cache}` counts deletes
//!   and generation bumps that failed, each of which leaves an entry stale until its TTL.
//!
//! [`ReadCache::off`] is the no-op cache (no `REDIS_URL`): every read misses without counting.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::AsyncCommands;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::OnceCell;

/// How long a generation lives after its last bump; it must be far longer than any entry's
/// TTL (see [`ReadCache::bump`]).
pub const GENERATION_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// How long the cache may take and how it backs off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// The longest one Redis call may take, connecting included.
    pub command_timeout: Duration,
    /// How long reads and fills leave Redis alone after a failure.
    pub pause_after_failure: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            command_timeout: Duration::from_millis(50),
            pause_after_failure: Duration::from_secs(2),
        }
    }
}

/// What a read found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup<T> {
    Hit(T),
    /// Not cached (or cached in a form this build does not read).
    Miss,
    /// The cache is off, failing or pausing: the caller reads the database and does not fill.
    Unavailable,
}

impl<T> Lookup<T> {
    /// The value, when there was one.
    pub fn hit(self) -> Option<T> {
        match self {
            Self::Hit(value) => Some(value),
            Self::Miss | Self::Unavailable => None,
        }
    }
}

/// What one cache instance counted, for tests and benchmarks (the process-wide figures are on
/// `/metrics`).
#[derive(Debug, Default)]
pub struct Stats {
    hits: AtomicU64,
    misses: AtomicU64,
    errors: AtomicU64,
    invalidation_failures: AtomicU64,
}

/// A copy of [`Stats`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub hits: u64,
    pub misses: u64,
    pub errors: u64,
    pub invalidation_failures: u64,
}

/// A read cache: Redis under a key prefix, or off. Cheap to clone; clones share the
/// connection, the pause and the counts.
#[derive(Clone)]
pub struct ReadCache {
    redis: Option<Arc<Redis>>,
    prefix: Arc<str>,
    stats: Arc<Stats>,
}

impl std::fmt::Debug for ReadCache {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ReadCache")
            .field("on", &self.redis.is_some())
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

struct Redis {
    client: redis::Client,
    connection: OnceCell<redis::aio::ConnectionManager>,
    settings: Settings,
    paused_until: Mutex<Option<Instant>>,
    in_outage: AtomicBool,
}

impl ReadCache {
    /// The cache that holds nothing: reads miss (uncounted), writes do nothing.
    pub fn off() -> Self {
        Self {
            redis: None,
            prefix: Arc::from(""),
            stats: Arc::default(),
        }
    }

    /// A cache on the Redis at `url`, every key under `prefix`; it connects on first use.
    pub fn redis(url: &str, prefix: &str, settings: Settings) -> anyhow::Result<Self> {
        Ok(Self {
            redis: Some(Arc::new(Redis {
                client: redis::Client::open(url)?,
                connection: OnceCell::new(),
                settings,
                paused_until: Mutex::new(None),
                in_outage: AtomicBool::new(false),
            })),
            prefix: Arc::from(prefix),
            stats: Arc::default(),
        })
    }

    /// The cache on `REDIS_URL` under `prefix`, or [`ReadCache::off`] when the variable is
    /// unset or empty: the cache is an optimisation a deployment may go without.
    pub fn from_env(prefix: &str) -> anyhow::Result<Self> {
        match std::env::var("REDIS_URL") {
            Ok(url) if !url.trim().is_empty() => Self::redis(url.trim(), prefix, Settings::default()),
            _ => Ok(Self::off()),
        }
    }

    /// Whether a Redis is configured.
    pub fn is_on(&self) -> bool {
        self.redis.is_some()
    }

    /// What this instance counted so far.
    pub fn counts(&self) -> Counts {
        Counts {
            hits: self.stats.hits.load(Ordering::Relaxed),
            misses: self.stats.misses.load(Ordering::Relaxed),
            errors: self.stats.errors.load(Ordering::Relaxed),
            invalidation_failures: self.stats.invalidation_failures.load(Ordering::Relaxed),
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// The JSON value under `key`, counted under `cache` (a small fixed name such as
    /// `product`, never the key).
    pub async fn get<T: DeserializeOwned>(&self, cache: &'static str, key: &str) -> Lookup<T> {
        let found = self.get_many::<T>(cache, &[key.to_owned()]).await;
        match found {
            None => Lookup::Unavailable,
            Some(mut values) => match values.pop().flatten() {
                Some(value) => Lookup::Hit(value),
                None => Lookup::Miss,
            },
        }
    }

    /// The JSON values under `keys`, in order, in one round trip; `None` when the cache is
    /// unavailable. Each key counts as one read.
    pub async fn get_many<T: DeserializeOwned>(
        &self,
        cache: &'static str,
        keys: &[String],
    ) -> Option<Vec<Option<T>>> {
        let redis = self.redis.as_ref()?;
        let count = keys.len() as u64;
        if keys.is_empty() {
            return Some(Vec::new());
        }
        let full: Vec<String> = keys.iter().map(|key| self.key(key)).collect();
        let answer = redis
            .call(false, |mut connection| async move {
                connection.mget::<_, Vec<Option<String>>>(full).await
            })
            .await;
        let Some(texts) = answer else {
            self.record_reads(cache, "error", count, &self.stats.errors);
            return None;
        };
        // A value this build cannot read (written by another version) is a miss; the fill
        // that follows replaces it.
        let values: Vec<Option<T>> = texts
            .into_iter()
            .map(|text| text.and_then(|text| serde_json::from_str(&text).ok()))
            .collect();
        let hits = values.iter().filter(|value| value.is_some()).count() as u64;
        self.record_reads(cache, "hit", hits, &self.stats.hits);
        self.record_reads(cache, "miss", count - hits, &self.stats.misses);
        Some(values)
    }

    fn record_reads(&self, cache: &'static str, result: &'static str, count: u64, counter: &AtomicU64) {
        if count > 0 {
            counter.fetch_add(count, Ordering::Relaxed);
            telemetry::record_cache_requests(cache, result, count);
        }
    }

    /// Stores `value` as JSON under `key` for `ttl`. A failure is counted by the pause it
    /// starts and otherwise ignored: the next read simply misses again.
    pub async fn put<T: Serialize>(&self, key: &str, value: &T, ttl: Duration) {
        self.put_many(&[(key.to_owned(), value)], ttl).await;
    }

    /// Stores several values, each for `ttl`, in one round trip.
    pub async fn put_many<T: Serialize>(&self, entries: &[(String, T)], ttl: Duration) {
        let Some(redis) = self.redis.as_ref() else {
            return;
        };
        let mut pipeline = redis::pipe();
        let seconds = ttl.as_secs().max(1);
        for (key, value) in entries {
            let Ok(text) = serde_json::to_string(value) else {
                continue;
            };
            pipeline.set_ex(self.key(key), text, seconds).ignore();
        }
        redis
            .call(false, |mut connection| async move {
                pipeline.query_async::<()>(&mut connection).await
            })
            .await;
    }

    /// Deletes `keys` after the write that changed what they hold has committed. Tried even
    /// while reads pause; a failure is counted under `cache`, and the entries then live out
    /// their TTL.
    pub async fn delete(&self, cache: &'static str, keys: &[String]) {
        let Some(redis) = self.redis.as_ref() else {
            return;
        };
        if keys.is_empty() {
            return;
        }
        let full: Vec<String> = keys.iter().map(|key| self.key(key)).collect();
        let deleted = redis
            .call(true, |mut connection| async move {
                connection.del::<_, u64>(full).await
            })
            .await;
        if deleted.is_none() {
            self.invalidation_failed(cache);
        }
    }

    /// The integer under `key` (0 when there is none); `None` when the cache is unavailable,
    /// which counts as a failed read of `cache` (the read the generation was for). Generations
    /// are read this way: a key that names the current generation in every entry of a family
    /// invalidates the whole family with one [`ReadCache::bump`].
    pub async fn generation(&self, cache: &'static str, key: &str) -> Option<u64> {
        let redis = self.redis.as_ref()?;
        let key = self.key(key);
        let found = redis
            .call(false, |mut connection| async move {
                connection.get::<_, Option<u64>>(key).await
            })
            .await;
        if found.is_none() {
            self.record_reads(cache, "error", 1, &self.stats.errors);
        }
        found.map(Option::unwrap_or_default)
    }

    /// Moves the generation under `key` on, so no entry named with an older one is read again.
    ///
    /// The generation itself expires [`GENERATION_TTL`] after its last bump, so the keys of
    /// throw-away prefixes (tests, benchmarks) do not pile up. Starting again from 0 is safe
    /// because the generation outlives every entry named with it by far: no entry written
    /// under an earlier 0, 1, … is still there when the numbers come round again.
    pub async fn bump(&self, cache: &'static str, key: &str) {
        let Some(redis) = self.redis.as_ref() else {
            return;
        };
        let key = self.key(key);
        let seconds = i64::try_from(GENERATION_TTL.as_secs()).unwrap_or(i64::MAX);
        let mut pipeline = redis::pipe();
        pipeline.incr(&key, 1).ignore().expire(&key, seconds).ignore();
        let bumped = redis
            .call(true, |mut connection| async move {
                pipeline.query_async::<()>(&mut connection).await
            })
            .await;
        if bumped.is_none() {
            self.invalidation_failed(cache);
        }
    }

    fn invalidation_failed(&self, cache: &'static str) {
        self.stats.invalidation_failures.fetch_add(1, Ordering::Relaxed);
        telemetry::record_cache_invalidation_failure(cache);
    }
}

impl Redis {
    /// Runs one call on the shared connection within the command timeout; `None` when the
    /// cache pauses (unless `even_paused`), the call fails or it takes too long.
    async fn call<T, F, Fut>(&self, even_paused: bool, call: F) -> Option<T>
    where
        F: FnOnce(redis::aio::ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        if !even_paused && self.pausing() {
            return None;
        }
        let attempt = async {
            let connection = self.connection().await?;
            call(connection).await
        };
        match tokio::time::timeout(self.settings.command_timeout, attempt).await {
            Ok(Ok(value)) => {
                if self.in_outage.swap(false, Ordering::Relaxed) {
                    tracing::info!("The read cache answers again");
                }
                Some(value)
            }
            Ok(Err(error)) => {
                self.failed(&error.to_string());
                None
            }
            Err(_) => {
                self.failed(&format!("no answer within {:?}", self.settings.command_timeout));
                None
            }
        }
    }

    fn pausing(&self) -> bool {
        let paused_until = self
            .paused_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        paused_until.is_some_and(|until| Instant::now() < until)
    }

    fn failed(&self, error: &str) {
        *self
            .paused_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) =
            Some(Instant::now() + self.settings.pause_after_failure);
        if !self.in_outage.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                error,
                pause = ?self.settings.pause_after_failure,
                "The read cache failed; reads go to the database until it answers again"
            );
        }
    }

    /// The shared connection. It is made lazily (no I/O here) and reconnects by itself, so a
    /// Redis that comes back is used again without a restart.
    async fn connection(&self) -> redis::RedisResult<redis::aio::ConnectionManager> {
        let connection = self
            .connection
            .get_or_try_init(|| async {
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.settings.command_timeout))
                    .set_response_timeout(Some(self.settings.command_timeout))
                    .set_number_of_retries(1);
                redis::aio::ConnectionManager::new_lazy_with_config(self.client.clone(), config)
            })
            .await?;
        Ok(connection.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_cache_that_is_off_misses_without_counting() {
        let cache = ReadCache::off();
        assert_eq!(cache.get::<u32>("test", "k").await, Lookup::Unavailable);
        cache.put("k", &1_u32, Duration::from_secs(1)).await;
        cache.delete("test", &["k".to_owned()]).await;
        assert_eq!(cache.generation("test", "g").await, None);
        assert_eq!(cache.counts(), Counts::default());
    }

    #[test]
    fn a_lookup_gives_its_value_only_on_a_hit() {
        assert_eq!(Lookup::Hit(3).hit(), Some(3));
        assert_eq!(Lookup::<u8>::Miss.hit(), None);
        assert_eq!(Lookup::<u8>::Unavailable.hit(), None);
    }
}
