//! The abuse limits' counters in Redis, shared by every instance of a function.
//!
//! A counter is a Redis integer whose key expires with its window (a fixed window). An
//! attempt is counted **before** it is judged, in one atomic script with the reads it needs,
//! so a burst of concurrent attempts cannot slip past a limit between a read and a write;
//! an attempt that turns out not to count (a successful login, one refused by a limit, one
//! that was never judged because the service was busy) is given back afterwards.
//!
//! Keys never hold an e-mail or an address: each is named by an HMAC-SHA-256 of what it counts
//! under a secret of the deployment ([`CounterKeys`]), so reading Redis does not tell who
//! logged in from where, and nobody without the secret can tell which key is whose.
//!
//! When Redis cannot be reached the attempt is let through and an error is logged: an
//! unavailable cache must not lock every user out, and argon2id keeps guessing slow anyway.
//! The function then still answers, but without its limits; its `/readyz` says so
//! ([`Counters::readiness`], docs/adr/0031), so an operator sees it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::OnceCell;

use crate::client::ClientAddress;
use crate::limits::{self, Count, Limit, LoginCounts, LoginLimits, Verdict};

/// The secret that names the counters' keys.
#[derive(Clone)]
pub struct CounterKeys {
    secret: Arc<[u8]>,
}

impl std::fmt::Debug for CounterKeys {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("CounterKeys(<redacted>)")
    }
}

impl CounterKeys {
    /// The shortest secret accepted, in bytes.
    pub const MIN_SECRET_BYTES: usize = 32;

    pub fn new(secret: &[u8]) -> anyhow::Result<Self> {
        anyhow::ensure!(
            secret.len() >= Self::MIN_SECRET_BYTES,
            "the rate-limit key must be at least {} bytes; it has {}",
            Self::MIN_SECRET_BYTES,
            secret.len()
        );
        Ok(Self {
            secret: Arc::from(secret),
        })
    }

    /// A fresh random secret, as `identity-admin init-keys` writes it (base64url of 32 bytes).
    pub fn generate_secret() -> String {
        use base64::Engine;
        let bytes: [u8; 32] = rand::random();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The name of what `parts` count under `kind`: 128 bits of the HMAC, in hex. Each part
    /// goes in with its length, so no two different lists of parts read the same.
    pub fn name(&self, kind: &str, parts: &[&str]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes keys of any length");
        for part in std::iter::once(kind).chain(parts.iter().copied()) {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac.finalize().into_bytes()[..16]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }
}

/// One counter: its Redis key and its window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    key: String,
    window: Duration,
}

/// What to do to one counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Add one, starting the window if none runs.
    Charge,
    /// Take one back, never below zero.
    Refund,
    Read,
    /// Set to 1 for the counter's window (a flag such as "known address").
    Mark,
}

impl Step {
    fn name(self) -> &'static str {
        match self {
            Self::Charge => "charge",
            Self::Refund => "refund",
            Self::Read => "read",
            Self::Mark => "mark",
        }
    }
}

/// Applies each step to its key in one atomic round trip and answers every key's value and
/// milliseconds left. ARGV holds a step and a window in milliseconds per key.
const APPLY: &str = r"
local answer = {}
for index, key in ipairs(KEYS) do
  local step = ARGV[2 * index - 1]
  local window = ARGV[2 * index]
  local value
  if step == 'charge' then
    value = redis.call('INCR', key)
    if value == 1 or redis.call('PTTL', key) < 0 then redis.call('PEXPIRE', key, window) end
  elseif step == 'refund' then
    value = tonumber(redis.call('GET', key) or '0')
    if value > 0 then value = redis.call('DECR', key) end
  elseif step == 'mark' then
    redis.call('SET', key, 1, 'PX', window)
    value = 1
  else
    value = tonumber(redis.call('GET', key) or '0')
  end
  local left = redis.call('PTTL', key)
  if left < 0 then left = 0 end
  answer[2 * index - 1] = value
  answer[2 * index] = left
end
return answer
";

/// How long a readiness ping waits for Redis: shorter than the runtime's readiness deadline,
/// so the answer names Redis rather than only saying that the check took too long.
const PING_TIMEOUT: Duration = Duration::from_millis(1500);

/// The counters of one function on one Redis.
#[derive(Clone)]
pub struct Counters {
    client: redis::Client,
    connection: Arc<OnceCell<redis::aio::ConnectionManager>>,
    prefix: String,
    keys: CounterKeys,
}

impl std::fmt::Debug for Counters {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Counters")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Counters {
    /// Counters under `prefix` on the Redis at `redis_url`; it connects on first use.
    pub fn new(redis_url: &str, prefix: &str, keys: CounterKeys) -> anyhow::Result<Self> {
        Ok(Self {
            client: redis::Client::open(redis_url)?,
            connection: Arc::new(OnceCell::new()),
            prefix: prefix.to_owned(),
            keys,
        })
    }

    /// The counter of `parts` under `kind`, with its window.
    pub fn counter(&self, kind: &str, parts: &[&str], window: Duration) -> Counter {
        Counter {
            key: format!("{}:{kind}:{}", self.prefix, self.keys.name(kind, parts)),
            window,
        }
    }

    /// Applies the steps; `None` when Redis cannot be reached (logged), so the caller fails
    /// open.
    async fn apply(&self, steps: &[(Step, &Counter)]) -> Option<Vec<Count>> {
        match self.try_apply(steps).await {
            Ok(counts) => Some(counts),
            Err(error) => {
                tracing::error!(%error, "Rate limits unavailable; letting the attempt through");
                None
            }
        }
    }

    /// The shared connection, opened on first use.
    async fn connection(&self) -> redis::RedisResult<redis::aio::ConnectionManager> {
        let connection = self
            .connection
            .get_or_try_init(|| async {
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(Duration::from_secs(2)))
                    .set_response_timeout(Some(Duration::from_secs(2)));
                redis::aio::ConnectionManager::new_with_config(self.client.clone(), config).await
            })
            .await?;
        Ok(connection.clone())
    }

    /// Whether Redis answers a `PING` now, within [`PING_TIMEOUT`]: what `/readyz` asks.
    pub async fn ping(&self) -> Result<(), String> {
        let ping = async {
            let mut connection = self.connection().await?;
            redis::cmd("PING").query_async::<String>(&mut connection).await
        };
        match tokio::time::timeout(PING_TIMEOUT, ping).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(format!("redis does not answer: {error}")),
            Err(_) => Err(format!("redis does not answer within {PING_TIMEOUT:?}")),
        }
    }

    /// A readiness check on these counters' Redis, in the shape
    /// `runtime::http::HttpFunction::readiness_check` takes.
    pub fn readiness(
        &self,
    ) -> impl Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync + 'static {
        let counters = self.clone();
        move || {
            let counters = counters.clone();
            Box::pin(async move { counters.ping().await })
        }
    }

    async fn try_apply(&self, steps: &[(Step, &Counter)]) -> anyhow::Result<Vec<Count>> {
        let mut connection = self.connection().await?;
        let script = redis::Script::new(APPLY);
        let mut invocation = script.prepare_invoke();
        for (step, counter) in steps {
            let window_millis = u64::try_from(counter.window.as_millis()).unwrap_or(u64::MAX);
            invocation.key(&counter.key).arg(step.name()).arg(window_millis);
        }
        let answer: Vec<i64> = invocation.invoke_async(&mut connection).await?;
        anyhow::ensure!(
            answer.len() == steps.len() * 2,
            "the rate-limit script answered {} values for {} keys",
            answer.len(),
            steps.len()
        );
        Ok(answer
            .chunks_exact(2)
            .map(|pair| {
                Count::new(
                    u64::try_from(pair[0]).unwrap_or(0),
                    u64::try_from(pair[1]).unwrap_or(0),
                )
            })
            .collect())
    }
}

// ---------------------------------------------------------------------------------------
// Logins

/// How a judged login attempt ended, for the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginOutcome {
    /// The password was right: the attempt is given back and the address becomes known.
    Succeeded,
    WrongPassword,
    /// No such account: also counted against the address's unknown-account allowance.
    UnknownAccount,
    /// Never judged (the service was busy or failed): given back.
    NotJudged,
}

/// The login limits on Redis counters.
#[derive(Debug, Clone)]
pub struct LoginGuard {
    counters: Counters,
    limits: LoginLimits,
}

/// The counters one login attempt was charged to, to settle once its outcome is known.
#[derive(Debug)]
#[must_use = "a charged attempt must be settled"]
pub struct LoginTicket {
    account_and_address: Counter,
    account: Counter,
    address: Counter,
    unknown_accounts: Counter,
    known_address: Counter,
    charged: bool,
}

impl LoginGuard {
    pub fn new(counters: Counters, limits: LoginLimits) -> Self {
        Self { counters, limits }
    }

    pub fn limits(&self) -> &LoginLimits {
        &self.limits
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Counts an attempt on `account` (its normalised e-mail, or what was typed) from
    /// `address` and decides whether it may go on. A refused attempt is given back at once.
    #[tracing::instrument(skip_all)]
    pub async fn admit(&self, account: &str, address: &ClientAddress) -> (Verdict, LoginTicket) {
        let configured = &self.limits;
        let address = address.limit_subject();
        let address = address.as_str();
        let counter =
            |kind: &str, parts: &[&str], limit: Limit| self.counters.counter(kind, parts, limit.window);
        let mut ticket = LoginTicket {
            account_and_address: counter(
                "login-failures-account-address",
                &[account, address],
                configured.per_account_and_address,
            ),
            account: counter("login-failures-account", &[account], configured.per_account),
            address: counter("login-failures-address", &[address], configured.per_address),
            unknown_accounts: counter(
                "login-unknown-accounts-address",
                &[address],
                configured.unknown_accounts_per_address,
            ),
            known_address: self.counters.counter(
                "login-known-address",
                &[account, address],
                configured.known_address_for,
            ),
            charged: false,
        };
        let Some(counts) = self
            .counters
            .apply(&[
                (Step::Charge, &ticket.account_and_address),
                (Step::Charge, &ticket.account),
                (Step::Charge, &ticket.address),
                (Step::Read, &ticket.unknown_accounts),
                (Step::Read, &ticket.known_address),
            ])
            .await
        else {
            return (Verdict::Allowed, ticket);
        };
        let counts = LoginCounts {
            account_and_address: counts[0],
            account: counts[1],
            address: counts[2],
            unknown_accounts_from_address: counts[3],
            known_address: counts[4].value > 0,
        };
        ticket.charged = true;
        let verdict = limits::decide_login(&counts, configured);
        if verdict != Verdict::Allowed {
            self.give_back(&mut ticket).await;
        }
        (verdict, ticket)
    }

    /// Settles an admitted attempt: failures stay counted, anything else is given back.
    pub async fn settle(&self, mut ticket: LoginTicket, outcome: LoginOutcome) {
        if !ticket.charged {
            return;
        }
        match outcome {
            LoginOutcome::Succeeded => {
                self.counters
                    .apply(&[
                        (Step::Refund, &ticket.account_and_address),
                        (Step::Refund, &ticket.account),
                        (Step::Refund, &ticket.address),
                        (Step::Mark, &ticket.known_address),
                    ])
                    .await;
            }
            LoginOutcome::WrongPassword => {}
            LoginOutcome::UnknownAccount => {
                self.counters
                    .apply(&[(Step::Charge, &ticket.unknown_accounts)])
                    .await;
            }
            LoginOutcome::NotJudged => self.give_back(&mut ticket).await,
        }
    }

    async fn give_back(&self, ticket: &mut LoginTicket) {
        self.counters
            .apply(&[
                (Step::Refund, &ticket.account_and_address),
                (Step::Refund, &ticket.account),
                (Step::Refund, &ticket.address),
            ])
            .await;
        ticket.charged = false;
    }
}

// ---------------------------------------------------------------------------------------
// One limit on one counter: registrations per address, password checks per session

/// Attempts of one kind per subject (an address, a session), with one limit.
#[derive(Debug, Clone)]
pub struct AttemptLimiter {
    counters: Counters,
    kind: &'static str,
    limit: Limit,
}

/// The counter one attempt was charged to.
#[derive(Debug)]
#[must_use = "a charged attempt must be settled"]
pub struct AttemptTicket {
    counter: Counter,
    charged: bool,
}

impl AttemptLimiter {
    pub fn new(counters: Counters, kind: &'static str, limit: Limit) -> Self {
        Self {
            counters,
            kind,
            limit,
        }
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Counts an attempt of `subject` and decides whether it may go on. A refused attempt is
    /// given back at once.
    #[tracing::instrument(skip_all, fields(kind = self.kind))]
    pub async fn admit(&self, subject: &str) -> (Verdict, AttemptTicket) {
        let counter = self.counters.counter(self.kind, &[subject], self.limit.window);
        let Some(counts) = self.counters.apply(&[(Step::Charge, &counter)]).await else {
            return (
                Verdict::Allowed,
                AttemptTicket {
                    counter,
                    charged: false,
                },
            );
        };
        let verdict = limits::decide(counts[0], self.limit);
        let charged = verdict == Verdict::Allowed;
        if !charged {
            self.give_back(&counter).await;
        }
        (verdict, AttemptTicket { counter, charged })
    }

    /// Settles an admitted attempt: it stays counted when `counts`, or is given back.
    pub async fn settle(&self, ticket: AttemptTicket, counts: bool) {
        if ticket.charged && !counts {
            self.give_back(&ticket.counter).await;
        }
    }

    async fn give_back(&self, counter: &Counter) {
        self.counters.apply(&[(Step::Refund, counter)]).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> CounterKeys {
        CounterKeys::new(&[7; 32]).expect("a long enough secret")
    }

    #[test]
    fn counter_names_hide_what_they_count_and_differ_by_secret_kind_and_parts() {
        let name = keys().name("login-failures-account", &["ada@example.com"]);
        assert_eq!(name.len(), 32);
        assert!(!name.contains("ada"));
        let other_secret = CounterKeys::new(&[8; 32]).expect("secret");
        assert_ne!(
            name,
            other_secret.name("login-failures-account", &["ada@example.com"])
        );
        assert_ne!(name, keys().name("registrations", &["ada@example.com"]));
        assert_eq!(name, keys().name("login-failures-account", &["ada@example.com"]));
    }

    #[test]
    fn parts_cannot_be_shifted_into_one_another() {
        assert_ne!(keys().name("k", &["ab", "c"]), keys().name("k", &["a", "bc"]));
        assert_ne!(keys().name("k", &["a\u{1f}b"]), keys().name("k", &["a", "b"]));
    }

    #[test]
    fn a_short_secret_is_refused_and_a_generated_one_is_long_enough() {
        assert!(CounterKeys::new(b"too short").is_err());
        assert!(CounterKeys::new(CounterKeys::generate_secret().as_bytes()).is_ok());
        assert_eq!(format!("{:?}", keys()), "CounterKeys(<redacted>)");
    }
}
