//! The identity functions' configuration, read once at start-up from the environment.
//!
//! | variable | used by | default |
//! |---|---|---|
//! | `DATABASE_URL` | every function but `jwks` | required |
//! | `JWT_ISSUER`, `JWT_AUDIENCE` | every function but `register-user`, `get-public-profile` and `jwks` | required |
//! | `JWT_SIGNING_KEYS` / `JWT_SIGNING_KEYS_FILE` / `JWT_SIGNING_KEYS_SECRET_ID` / `JWT_SIGNING_KEYS_PARAMETER` | `login`, `refresh-token` | one required |
//! | `JWT_JWKS` / `JWT_JWKS_FILE` | `jwks` and the functions that verify access tokens | one required |
//! | `ACCESS_TOKEN_TTL_SECONDS` | `login`, `refresh-token` | 300 (at most 900) |
//! | `REFRESH_TOKEN_TTL_SECONDS` | `login`, `refresh-token` | 1 209 600 (14 days, sliding) |
//! | `SESSION_MAX_LIFETIME_SECONDS` | `login`, `refresh-token` | 2 592 000 (30 days from login) |
//! | `REDIS_URL` | `login`, `register-user`, `change-password`, `withdraw-account` | required |
//! | `RATE_LIMIT_HMAC_KEY` / `RATE_LIMIT_HMAC_KEY_FILE` | `login`, `register-user`, `change-password`, `withdraw-account` | one required, ≥ 32 bytes |
//! | `TRUSTED_PROXY_HOPS` | `login`, `register-user` | 1 |
//! | `LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS`, `LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS_WINDOW_SECONDS` | `login` | 5, 900 |
//! | `LOGIN_FAILURES_PER_ACCOUNT`, `LOGIN_FAILURES_PER_ACCOUNT_WINDOW_SECONDS` | `login` | 50, 3600 |
//! | `LOGIN_FAILURES_PER_ADDRESS`, `LOGIN_FAILURES_PER_ADDRESS_WINDOW_SECONDS` | `login` | 100, 900 |
//! | `LOGIN_UNKNOWN_ACCOUNTS_PER_ADDRESS`, `LOGIN_UNKNOWN_ACCOUNTS_PER_ADDRESS_WINDOW_SECONDS` | `login` | 20, 900 |
//! | `LOGIN_KNOWN_ADDRESS_DAYS` | `login` | 30 |
//! | `REGISTRATIONS_PER_ADDRESS`, `REGISTRATIONS_PER_ADDRESS_WINDOW_SECONDS` | `register-user` | 20, 3600 |
//! | `PASSWORD_CHANGE_FAILURES_PER_SESSION`, `PASSWORD_CHANGE_FAILURES_PER_SESSION_WINDOW_SECONDS` | `change-password`, `withdraw-account` (one counter for both) | 5, 900 |
//! | `PASSWORD_HASHING_WORKERS`, `PASSWORD_HASHING_QUEUE` | `login`, `register-user`, `change-password`, `withdraw-account` | the cores, 32 per worker |

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use runtime::config::{parsed_or, required};
use security::{AccessTokenVerifier, TokenIssuer};

use crate::client::TrustedProxies;
use crate::hashing::PasswordHashing;
use crate::limits::{Limit, LoginLimits};
use crate::rate_limit::{AttemptLimiter, CounterKeys, Counters, LoginGuard};
use crate::sessions::Issuing;

/// The prefix of every identity counter in Redis.
const COUNTER_PREFIX: &str = "identity:limits";

/// The counter kinds of the limits with one counter.
pub const REGISTRATIONS: &str = "registrations-address";
pub const PASSWORD_CHANGE_FAILURES: &str = "password-change-failures-session";

/// The access-token issuer and refresh-token lifetimes, with the signing keys from AWS, the
/// environment or a file.
pub async fn issuing() -> anyhow::Result<Issuing> {
    let keys = security::aws::signing_keys_from_env().await?;
    let issuer = TokenIssuer::new(
        keys,
        required("JWT_ISSUER")?,
        required("JWT_AUDIENCE")?,
        Duration::from_secs(parsed_or("ACCESS_TOKEN_TTL_SECONDS", 300)?),
    );
    Ok(Issuing {
        issuer: Arc::new(issuer),
        refresh_ttl: Duration::from_secs(parsed_or("REFRESH_TOKEN_TTL_SECONDS", 14 * 24 * 3600)?),
        session_lifetime: Duration::from_secs(parsed_or("SESSION_MAX_LIFETIME_SECONDS", 30 * 24 * 3600)?),
    })
}

/// The verifier of access tokens, from `JWT_ISSUER`, `JWT_AUDIENCE` and the JWKS.
pub fn verifier() -> anyhow::Result<Arc<AccessTokenVerifier>> {
    Ok(Arc::new(AccessTokenVerifier::from_env()?))
}

/// The bounded password hashing: `PASSWORD_HASHING_WORKERS` threads (one per core unless
/// set) and a queue of `PASSWORD_HASHING_QUEUE` (32 per worker unless set).
pub fn password_hashing() -> anyhow::Result<PasswordHashing> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let workers = parsed_or("PASSWORD_HASHING_WORKERS", cores)?;
    let queue = parsed_or("PASSWORD_HASHING_QUEUE", workers * 32)?;
    Ok(PasswordHashing::new(workers, queue))
}

/// How many proxies of our own append to `X-Forwarded-For` (`TRUSTED_PROXY_HOPS`).
pub fn trusted_proxies() -> anyhow::Result<TrustedProxies> {
    TrustedProxies::from_env()
}

/// The secret naming the counters' keys: `RATE_LIMIT_HMAC_KEY`, or the file named by
/// `RATE_LIMIT_HMAC_KEY_FILE` (its content without surrounding white space).
pub fn counter_keys() -> anyhow::Result<CounterKeys> {
    let secret = match required("RATE_LIMIT_HMAC_KEY") {
        Ok(secret) => secret,
        Err(_) => {
            let path = required("RATE_LIMIT_HMAC_KEY_FILE").map_err(|_| {
                anyhow::anyhow!("set RATE_LIMIT_HMAC_KEY (the secret) or RATE_LIMIT_HMAC_KEY_FILE (its path)")
            })?;
            std::fs::read_to_string(Path::new(&path))
                .map_err(|error| anyhow::anyhow!("cannot read the rate-limit key {path}: {error}"))?
        }
    };
    CounterKeys::new(secret.trim().as_bytes())
}

/// The counters on `REDIS_URL`, named with [`counter_keys`].
pub fn counters() -> anyhow::Result<Counters> {
    Counters::new(&required("REDIS_URL")?, COUNTER_PREFIX, counter_keys()?)
}

/// `NAME` attempts per `NAME_WINDOW_SECONDS`.
fn limit(name: &str, max: u64, window_seconds: u64) -> anyhow::Result<Limit> {
    Ok(Limit::new(
        parsed_or(name, max)?,
        Duration::from_secs(parsed_or(&format!("{name}_WINDOW_SECONDS"), window_seconds)?),
    ))
}

/// The login limits (ADR 0013).
pub fn login_guard() -> anyhow::Result<LoginGuard> {
    let defaults = LoginLimits::default();
    let seconds = |limit: Limit| limit.window.as_secs();
    let known_days = parsed_or("LOGIN_KNOWN_ADDRESS_DAYS", 30_u64)?;
    let limits = LoginLimits {
        per_account_and_address: limit(
            "LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS",
            defaults.per_account_and_address.max,
            seconds(defaults.per_account_and_address),
        )?,
        per_account: limit(
            "LOGIN_FAILURES_PER_ACCOUNT",
            defaults.per_account.max,
            seconds(defaults.per_account),
        )?,
        per_address: limit(
            "LOGIN_FAILURES_PER_ADDRESS",
            defaults.per_address.max,
            seconds(defaults.per_address),
        )?,
        unknown_accounts_per_address: limit(
            "LOGIN_UNKNOWN_ACCOUNTS_PER_ADDRESS",
            defaults.unknown_accounts_per_address.max,
            seconds(defaults.unknown_accounts_per_address),
        )?,
        known_address_for: Duration::from_secs(known_days * 24 * 3600),
    };
    Ok(LoginGuard::new(counters()?, limits))
}

/// Registrations per address (`REGISTRATIONS_PER_ADDRESS`, 20 an hour).
pub fn registration_limiter() -> anyhow::Result<AttemptLimiter> {
    Ok(AttemptLimiter::new(
        counters()?,
        REGISTRATIONS,
        limit("REGISTRATIONS_PER_ADDRESS", 20, 3600)?,
    ))
}

/// Failed current-password checks per session (`PASSWORD_CHANGE_FAILURES_PER_SESSION`, 5 a
/// quarter of an hour).
pub fn password_change_limiter() -> anyhow::Result<AttemptLimiter> {
    Ok(AttemptLimiter::new(
        counters()?,
        PASSWORD_CHANGE_FAILURES,
        limit("PASSWORD_CHANGE_FAILURES_PER_SESSION", 5, 900)?,
    ))
}
