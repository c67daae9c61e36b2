//! Login rate limits in Redis: a fixed window per account and per client address.
//!
//! Each attempt increments a counter whose key expires with its window; past the limit the
//! answer is "limited" with the seconds until the window ends (`Retry-After`). Counters are
//! shared by every instance of the login function. Keys carry a hash of the e-mail address,
//! not the address itself.
//!
//! When Redis cannot be reached the limiter lets the attempt through and logs an error: an
//! unavailable Redis must not lock every user out, and argon2id keeps guessing slow anyway.

use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

/// At most `max_attempts` in each `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max_attempts: u32,
    pub window: Duration,
}

/// The limiter's answer for one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    Limited { retry_after_seconds: u64 },
}

/// Counts login attempts per account and per client address.
#[derive(Clone)]
pub struct LoginLimiter {
    client: redis::Client,
    connection: std::sync::Arc<OnceCell<redis::aio::ConnectionManager>>,
    key_prefix: String,
    per_account: Limit,
    per_ip: Limit,
}

impl std::fmt::Debug for LoginLimiter {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("LoginLimiter")
            .field("key_prefix", &self.key_prefix)
            .field("per_account", &self.per_account)
            .field("per_ip", &self.per_ip)
            .finish_non_exhaustive()
    }
}

/// Increments the counter, starts its window on the first attempt, and answers the count
/// and the milliseconds left in the window, in one round trip and atomically.
const COUNT_ATTEMPT: &str = r"
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {count, redis.call('PTTL', KEYS[1])}
";

impl LoginLimiter {
    /// A limiter on the Redis at `redis_url`; it connects on first use.
    pub fn new(redis_url: &str, key_prefix: &str, per_account: Limit, per_ip: Limit) -> anyhow::Result<Self> {
        Ok(Self {
            client: redis::Client::open(redis_url)?,
            connection: std::sync::Arc::new(OnceCell::new()),
            key_prefix: key_prefix.to_owned(),
            per_account,
            per_ip,
        })
    }

    /// Counts one attempt for the account (its normalised e-mail) and the address; limited
    /// when either is over its limit.
    #[tracing::instrument(skip_all)]
    pub async fn attempt(&self, email: &str, ip: &str) -> Verdict {
        let account_key = format!(
            "{}:account:{}",
            self.key_prefix,
            hex(&Sha256::digest(email.as_bytes())[..16])
        );
        let ip_key = format!("{}:ip:{ip}", self.key_prefix);
        let account = self.count(&account_key, self.per_account).await;
        let ip = self.count(&ip_key, self.per_ip).await;
        match (account, ip) {
            (
                Verdict::Limited {
                    retry_after_seconds: a,
                },
                Verdict::Limited {
                    retry_after_seconds: b,
                },
            ) => Verdict::Limited {
                retry_after_seconds: a.max(b),
            },
            (limited @ Verdict::Limited { .. }, _) | (_, limited @ Verdict::Limited { .. }) => limited,
            _ => Verdict::Allowed,
        }
    }

    async fn count(&self, key: &str, limit: Limit) -> Verdict {
        match self.increment(key, limit.window).await {
            Ok((count, millis_left)) if count > u64::from(limit.max_attempts) => Verdict::Limited {
                retry_after_seconds: millis_left.max(1).div_ceil(1000),
            },
            Ok(_) => Verdict::Allowed,
            Err(error) => {
                tracing::error!(%error, "Rate limit unavailable; letting the login attempt through");
                Verdict::Allowed
            }
        }
    }

    async fn increment(&self, key: &str, window: Duration) -> redis::RedisResult<(u64, u64)> {
        let connection = self
            .connection
            .get_or_try_init(|| async {
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(Duration::from_secs(2)))
                    .set_response_timeout(Some(Duration::from_secs(2)));
                redis::aio::ConnectionManager::new_with_config(self.client.clone(), config).await
            })
            .await?;
        let mut connection = connection.clone();
        let window_millis = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        let (count, millis_left): (u64, i64) = redis::Script::new(COUNT_ATTEMPT)
            .key(key)
            .arg(window_millis)
            .invoke_async(&mut connection)
            .await?;
        Ok((count, u64::try_from(millis_left).unwrap_or(0)))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
