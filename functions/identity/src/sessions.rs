//! Refresh tokens and the pair of tokens a session hands out.
//!
//! A refresh token is 32 random bytes, base64url: opaque to the client and unguessable, so a
//! plain SHA-256 is enough to store it (unlike a password, there is nothing to brute-force).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use security::TokenIssuer;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// How sessions hand out tokens: the access-token issuer and the refresh-token lifetimes.
#[derive(Debug, Clone)]
pub struct Issuing {
    pub issuer: Arc<TokenIssuer>,
    /// How long a refresh token lives; each rotation starts it again (sliding).
    pub refresh_ttl: Duration,
    /// How long a session lives from its login, however often it is refreshed (absolute).
    pub session_lifetime: Duration,
}

impl Issuing {
    /// When the session that started at `session_started` ends for good.
    pub fn session_end(&self, session_started: DateTime<Utc>) -> DateTime<Utc> {
        after(session_started, self.session_lifetime)
    }

    /// When a refresh token issued `now` expires: after the sliding lifetime, but never after
    /// its session's end.
    pub fn refresh_expiry(&self, now: DateTime<Utc>, session_started: DateTime<Utc>) -> DateTime<Utc> {
        after(now, self.refresh_ttl).min(self.session_end(session_started))
    }
}

/// `lifetime` after `start`, or the end of time as chrono counts it for absurd lifetimes.
fn after(start: DateTime<Utc>, lifetime: Duration) -> DateTime<Utc> {
    chrono::TimeDelta::from_std(lifetime)
        .ok()
        .and_then(|lifetime| start.checked_add_signed(lifetime))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// A new opaque refresh token and the hash that is stored.
pub struct RefreshToken {
    pub token: String,
    pub hash: [u8; 32],
}

impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("RefreshToken(<redacted>)")
    }
}

impl RefreshToken {
    pub fn generate() -> Self {
        let bytes: [u8; 32] = rand::random();
        let token = URL_SAFE_NO_PAD.encode(bytes);
        let hash = hash_refresh_token(&token);
        Self { token, hash }
    }
}

pub fn hash_refresh_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// What login and refresh answer.
#[derive(Clone, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"accessToken": "eyJhbGciOiJFZERTQSJ9.…", "tokenType": "Bearer", "expiresIn": 900, "refreshToken": "rt_…", "refreshExpiresIn": 1209600}))]
#[serde(rename_all = "camelCase")]
pub struct SessionTokens {
    pub access_token: String,
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub refresh_token: String,
    /// Seconds until the refresh token expires (it is also spent by its first use).
    pub refresh_expires_in: u64,
}

/// Whole seconds from `now` until `expiry`, zero when it has passed.
pub fn seconds_until(now: DateTime<Utc>, expiry: DateTime<Utc>) -> u64 {
    u64::try_from((expiry - now).num_seconds()).unwrap_or(0)
}

impl std::fmt::Debug for SessionTokens {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SessionTokens")
            .field("expires_in", &self.expires_in)
            .field("refresh_expires_in", &self.refresh_expires_in)
            .finish_non_exhaustive()
    }
}
