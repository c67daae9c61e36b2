//! The identity functions' configuration, read once at start-up from the environment.
//!
//! | variable | used by | default |
//! |---|---|---|
//! | `DATABASE_URL` | every function but `jwks` | required |
//! | `JWT_ISSUER`, `JWT_AUDIENCE` | every function but `register-user` | required |
//! | `JWT_SIGNING_KEYS` / `JWT_SIGNING_KEYS_FILE` / `JWT_SIGNING_KEYS_SECRET_ID` / `JWT_SIGNING_KEYS_PARAMETER` | `login`, `refresh-token`, `jwks` | one required |
//! | `JWT_JWKS` / `JWT_JWKS_FILE` | functions that verify access tokens | one required |
//! | `ACCESS_TOKEN_TTL_SECONDS` | `login`, `refresh-token` | 300 (at most 900) |
//! | `REFRESH_TOKEN_TTL_SECONDS` | `login`, `refresh-token` | 1 209 600 (14 days) |
//! | `REDIS_URL` | `login` | required |
//! | `LOGIN_LIMIT_PER_ACCOUNT`, `LOGIN_LIMIT_PER_IP`, `LOGIN_LIMIT_WINDOW_SECONDS` | `login` | 10, 100, 60 |

use std::sync::Arc;
use std::time::Duration;

use runtime::config::{parsed_or, required};
use security::{AccessTokenVerifier, TokenIssuer};

use crate::rate_limit::{Limit, LoginLimiter};
use crate::sessions::Issuing;

/// The access-token issuer and refresh-token lifetime, with the signing keys from AWS, the
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
    })
}

/// The verifier of access tokens, from `JWT_ISSUER`, `JWT_AUDIENCE` and the JWKS.
pub fn verifier() -> anyhow::Result<Arc<AccessTokenVerifier>> {
    Ok(Arc::new(AccessTokenVerifier::from_env()?))
}

/// The login rate limits on `REDIS_URL`.
pub fn login_limiter() -> anyhow::Result<LoginLimiter> {
    let window = Duration::from_secs(parsed_or("LOGIN_LIMIT_WINDOW_SECONDS", 60)?);
    LoginLimiter::new(
        &required("REDIS_URL")?,
        "identity:login-attempts",
        Limit {
            max_attempts: parsed_or("LOGIN_LIMIT_PER_ACCOUNT", 10)?,
            window,
        },
        Limit {
            max_attempts: parsed_or("LOGIN_LIMIT_PER_IP", 100)?,
            window,
        },
    )
}
