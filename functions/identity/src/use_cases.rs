//! The identity use cases: plain async functions over the pool and validated commands,
//! each with its own error enum named after the rules it can break.

use chrono::Utc;
use security::{AccessClaims, Role, password};
use sqlx::MySqlPool;
use store::outbox::{self, EventContext, Origin};
use uuid::Uuid;

use crate::domain::{DisplayName, Email, Password};
use crate::rate_limit::{LoginLimiter, Verdict};
use crate::sessions::{Issuing, RefreshToken, SessionTokens, hash_refresh_token};
use crate::store::{self as db, LoginAttempt, NewUser};

/// The function that registers users, the `source` of `user.registered`.
const REGISTER_USER: &str = "register-user";

/// Runs an argon2id computation on a blocking thread: it takes tens of milliseconds of CPU,
/// which must not stall the async workers serving other requests.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| anyhow::anyhow!("the password hashing task failed: {error}"))
}

async fn hash_password(password: &Password) -> anyhow::Result<String> {
    let password = password.expose().to_owned();
    Ok(blocking(move || password::hash(&password)).await??)
}

async fn verify_password(password: Password, stored_hash: String) -> anyhow::Result<bool> {
    Ok(blocking(move || password::verify(password.expose(), &stored_hash)).await??)
}

// ---------------------------------------------------------------------------------------
// Register

#[derive(Debug)]
pub struct RegisterUser {
    pub email: Email,
    pub password: Password,
    pub display_name: DisplayName,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredUser {
    pub user_id: Uuid,
    pub email: String,
    pub display_name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("an account with this e-mail address exists")]
    EmailTaken,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Creates the account with the customer role and records `user.registered` in the outbox,
/// in one transaction.
#[tracing::instrument(skip_all, fields(user_id))]
pub async fn register(pool: &MySqlPool, command: RegisterUser) -> Result<RegisteredUser, RegisterError> {
    let password_hash = hash_password(&command.password).await?;
    let user_id = Uuid::now_v7();
    tracing::Span::current().record("user_id", tracing::field::display(user_id));
    let now = Utc::now();
    let registered = events::identity::UserRegisteredV1 {
        user_id: user_id.to_string(),
        email: command.email.as_str().to_owned(),
        display_name: command.display_name.as_str().to_owned(),
        registered_at: now,
    };
    let mut transaction = pool.begin().await.map_err(anyhow::Error::from)?;
    let inserted = db::insert_user(
        &mut transaction,
        &NewUser {
            id: user_id,
            email: command.email.as_str(),
            display_name: command.display_name.as_str(),
            password_hash: &password_hash,
            now,
        },
    )
    .await;
    match inserted {
        Err(error) if store::mariadb::is_duplicate_key(&error) => return Err(RegisterError::EmailTaken),
        other => other.map_err(anyhow::Error::from)?,
    }
    let origin = Origin::new(REGISTER_USER, EventContext::default());
    outbox::append(&mut transaction, &origin, &registered)
        .await
        .map_err(anyhow::Error::from)?;
    transaction.commit().await.map_err(anyhow::Error::from)?;
    tracing::info!("User registered");
    Ok(RegisteredUser {
        user_id,
        email: registered.email,
        display_name: registered.display_name,
    })
}

// ---------------------------------------------------------------------------------------
// Log in

/// Where a login attempt came from, for the history and the per-address limit.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub ip: String,
    pub user_agent: String,
}

#[derive(Debug)]
pub struct LogIn {
    /// As typed: an unreadable address is answered like an unknown one.
    pub email: String,
    pub password: Password,
    pub client: ClientInfo,
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown account or wrong password: one answer for both, so the answer does not tell
    /// which e-mail addresses have accounts.
    #[error("the e-mail address or the password is wrong")]
    InvalidCredentials,
    #[error("too many login attempts; retry in {retry_after_seconds} s")]
    RateLimited { retry_after_seconds: u64 },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Checks the credentials and opens a session: a new refresh-token family and a first access
/// token. Every attempt, refused or not, is written to the login history.
#[tracing::instrument(skip_all, fields(user_id))]
pub async fn log_in(
    pool: &MySqlPool,
    issuing: &Issuing,
    limiter: &LoginLimiter,
    command: LogIn,
) -> Result<SessionTokens, LoginError> {
    let now = Utc::now();
    let email = Email::parse(&command.email).map(|email| email.as_str().to_owned());
    let history_email = email.clone().unwrap_or_else(|_| command.email.trim().to_owned());
    let mut attempt = LoginAttempt {
        user_id: None,
        email: &history_email,
        ip: &command.client.ip,
        user_agent: &command.client.user_agent,
        failure_reason: None,
        at: now,
    };

    if let Verdict::Limited { retry_after_seconds } =
        limiter.attempt(&history_email, &command.client.ip).await
    {
        attempt.failure_reason = Some("rate-limited");
        record(pool, &attempt).await?;
        tracing::warn!(ip = %command.client.ip, "Login attempt rate limited");
        return Err(LoginError::RateLimited { retry_after_seconds });
    }

    let credentials = match &email {
        Ok(email) => db::credentials_by_email(pool, email)
            .await
            .map_err(anyhow::Error::from)?,
        Err(_) => None,
    };
    let Some(credentials) = credentials else {
        let password = command.password;
        blocking(move || password::verify_against_decoy(password.expose())).await?;
        attempt.failure_reason = Some("unknown-account");
        record(pool, &attempt).await?;
        return Err(LoginError::InvalidCredentials);
    };
    tracing::Span::current().record("user_id", tracing::field::display(credentials.user_id));
    attempt.user_id = Some(credentials.user_id);

    let matches = verify_password(command.password, credentials.password_hash.clone()).await?;
    if !matches {
        attempt.failure_reason = Some("wrong-password");
        record(pool, &attempt).await?;
        return Err(LoginError::InvalidCredentials);
    }

    let session_id = Uuid::now_v7();
    let refresh = RefreshToken::generate();
    let refresh_expires_at =
        now + chrono::Duration::from_std(issuing.refresh_ttl).map_err(anyhow::Error::from)?;
    let mut transaction = pool.begin().await.map_err(anyhow::Error::from)?;
    db::insert_session(&mut transaction, session_id, credentials.user_id, now)
        .await
        .map_err(anyhow::Error::from)?;
    db::insert_refresh_token(
        &mut transaction,
        &refresh.hash,
        session_id,
        now,
        refresh_expires_at,
    )
    .await
    .map_err(anyhow::Error::from)?;
    db::record_login(&mut transaction, &attempt)
        .await
        .map_err(anyhow::Error::from)?;
    let roles = db::roles_of(&mut transaction, credentials.user_id)
        .await
        .map_err(anyhow::Error::from)?;
    transaction.commit().await.map_err(anyhow::Error::from)?;

    let access = issuing
        .issuer
        .issue_for_session(credentials.user_id, &roles, session_id)
        .map_err(anyhow::Error::from)?;
    tracing::info!(session_id = %session_id, "Logged in");
    Ok(SessionTokens {
        access_token: access.token,
        token_type: "Bearer",
        expires_in: access.expires_in,
        refresh_token: refresh.token,
        refresh_expires_in: issuing.refresh_ttl.as_secs(),
    })
}

async fn record(pool: &MySqlPool, attempt: &LoginAttempt<'_>) -> anyhow::Result<()> {
    let mut connection = pool.acquire().await?;
    db::record_login(&mut connection, attempt).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Refresh

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("the refresh token is unknown")]
    UnknownToken,
    #[error("the refresh token has expired")]
    Expired,
    #[error("the session was ended")]
    SessionRevoked,
    /// A rotated-out token was presented again: someone holds a copy. The whole family is
    /// revoked, so neither the thief nor the user can go on with it.
    #[error("the refresh token was already used; the session is revoked")]
    Reused,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// What to do with a presented refresh token, decided without I/O.
#[derive(Debug)]
pub enum RefreshDecision {
    /// Spend it and hand out the next one of its session.
    Rotate,
    /// It was spent before: someone replays a copy. End the whole session.
    RevokeFamily,
    /// Refuse it and change nothing.
    Refuse(RefreshError),
}

/// The rotation rules, in order: a revoked session stays revoked (whatever the token); a
/// spent token is reuse, even when expired, because it proves a copy exists; an expired
/// token is refused; anything else rotates.
pub fn decide_refresh(stored: &db::StoredRefreshToken, now: chrono::DateTime<Utc>) -> RefreshDecision {
    if stored.session_revoked {
        RefreshDecision::Refuse(RefreshError::SessionRevoked)
    } else if stored.used_at.is_some() {
        RefreshDecision::RevokeFamily
    } else if stored.expires_at <= now {
        RefreshDecision::Refuse(RefreshError::Expired)
    } else {
        RefreshDecision::Rotate
    }
}

/// Rotates a refresh token: spends it and hands out the next one of its session with a new
/// access token (roles re-read, so a granted role shows up at the next refresh).
#[tracing::instrument(skip_all, fields(user_id, session_id))]
pub async fn refresh(
    pool: &MySqlPool,
    issuing: &Issuing,
    presented: &str,
) -> Result<SessionTokens, RefreshError> {
    let now = Utc::now();
    let presented_hash = hash_refresh_token(presented.trim());
    let mut transaction = pool.begin().await.map_err(anyhow::Error::from)?;
    let Some(stored) = db::lock_refresh_token(&mut transaction, &presented_hash)
        .await
        .map_err(anyhow::Error::from)?
    else {
        return Err(RefreshError::UnknownToken);
    };
    let span = tracing::Span::current();
    span.record("user_id", tracing::field::display(stored.user_id));
    span.record("session_id", tracing::field::display(stored.session_id));
    match decide_refresh(&stored, now) {
        RefreshDecision::Rotate => {}
        RefreshDecision::RevokeFamily => {
            db::revoke_session(
                &mut transaction,
                stored.session_id,
                stored.user_id,
                "refresh-token-reused",
                now,
            )
            .await
            .map_err(anyhow::Error::from)?;
            transaction.commit().await.map_err(anyhow::Error::from)?;
            tracing::warn!("Refresh token reused; session revoked");
            return Err(RefreshError::Reused);
        }
        RefreshDecision::Refuse(error) => return Err(error),
    }

    let next = RefreshToken::generate();
    let next_expires_at =
        now + chrono::Duration::from_std(issuing.refresh_ttl).map_err(anyhow::Error::from)?;
    db::mark_refresh_token_used(&mut transaction, &presented_hash, now)
        .await
        .map_err(anyhow::Error::from)?;
    db::insert_refresh_token(
        &mut transaction,
        &next.hash,
        stored.session_id,
        now,
        next_expires_at,
    )
    .await
    .map_err(anyhow::Error::from)?;
    db::touch_session(&mut transaction, stored.session_id, now)
        .await
        .map_err(anyhow::Error::from)?;
    let roles = db::roles_of(&mut transaction, stored.user_id)
        .await
        .map_err(anyhow::Error::from)?;
    transaction.commit().await.map_err(anyhow::Error::from)?;

    let access = issuing
        .issuer
        .issue_for_session(stored.user_id, &roles, stored.session_id)
        .map_err(anyhow::Error::from)?;
    Ok(SessionTokens {
        access_token: access.token,
        token_type: "Bearer",
        expires_in: access.expires_in,
        refresh_token: next.token,
        refresh_expires_in: issuing.refresh_ttl.as_secs(),
    })
}

// ---------------------------------------------------------------------------------------
// Sessions seen from an access token

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The access token names no session, or one that was revoked.
    #[error("the session of this access token was ended")]
    Revoked,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// The identity context's own routes accept an access token only while its session is
/// active, so logout, reuse detection and password changes take effect here at once (other
/// contexts accept it until it expires, at most 15 minutes later).
pub async fn require_active_session(pool: &MySqlPool, claims: &AccessClaims) -> Result<(), SessionError> {
    let Some(session_id) = claims.sid else {
        return Err(SessionError::Revoked);
    };
    if db::session_is_active(pool, session_id, claims.sub)
        .await
        .map_err(anyhow::Error::from)?
    {
        Ok(())
    } else {
        Err(SessionError::Revoked)
    }
}

/// Ends the session of the access token: its refresh-token family is revoked.
#[tracing::instrument(skip_all, fields(user_id = %claims.sub))]
pub async fn log_out(pool: &MySqlPool, claims: &AccessClaims) -> Result<(), SessionError> {
    require_active_session(pool, claims).await?;
    let Some(session_id) = claims.sid else {
        return Err(SessionError::Revoked);
    };
    let mut connection = pool.acquire().await.map_err(anyhow::Error::from)?;
    db::revoke_session(&mut connection, session_id, claims.sub, "logout", Utc::now())
        .await
        .map_err(anyhow::Error::from)?;
    tracing::info!(session_id = %session_id, "Logged out");
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Profile

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("the session of this access token was ended")]
    SessionRevoked,
    #[error("the account no longer exists")]
    NotFound,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<SessionError> for ProfileError {
    fn from(error: SessionError) -> Self {
        match error {
            SessionError::Revoked => Self::SessionRevoked,
            SessionError::Unexpected(error) => Self::Unexpected(error),
        }
    }
}

pub async fn my_profile(pool: &MySqlPool, claims: &AccessClaims) -> Result<db::Profile, ProfileError> {
    require_active_session(pool, claims).await?;
    db::profile(pool, claims.sub)
        .await
        .map_err(anyhow::Error::from)?
        .ok_or(ProfileError::NotFound)
}

#[tracing::instrument(skip_all, fields(user_id = %claims.sub))]
pub async fn update_my_profile(
    pool: &MySqlPool,
    claims: &AccessClaims,
    display_name: DisplayName,
) -> Result<db::Profile, ProfileError> {
    require_active_session(pool, claims).await?;
    if !db::update_display_name(pool, claims.sub, display_name.as_str(), Utc::now())
        .await
        .map_err(anyhow::Error::from)?
    {
        return Err(ProfileError::NotFound);
    }
    my_profile(pool, claims).await
}

// ---------------------------------------------------------------------------------------
// Change password

#[derive(Debug)]
pub struct ChangePassword {
    pub current: Password,
    /// The new password, checked against the policy by the caller.
    pub new: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ChangePasswordError {
    #[error("the session of this access token was ended")]
    SessionRevoked,
    #[error("the current password is wrong")]
    WrongCurrentPassword,
    #[error("the new password breaks the policy: {0}")]
    WeakNewPassword(crate::domain::Invalid),
    #[error("the account no longer exists")]
    NotFound,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Replaces the password after checking the current one, and ends every other session of
/// the user (a stolen refresh token stops working); the calling session goes on.
#[tracing::instrument(skip_all, fields(user_id = %claims.sub))]
pub async fn change_password(
    pool: &MySqlPool,
    claims: &AccessClaims,
    command: ChangePassword,
) -> Result<(), ChangePasswordError> {
    require_active_session(pool, claims)
        .await
        .map_err(|error| match error {
            SessionError::Revoked => ChangePasswordError::SessionRevoked,
            SessionError::Unexpected(error) => ChangePasswordError::Unexpected(error),
        })?;
    let profile = db::profile(pool, claims.sub)
        .await
        .map_err(anyhow::Error::from)?
        .ok_or(ChangePasswordError::NotFound)?;
    let email = Email::parse(&profile.email).ok();
    let new_password =
        Password::new_for(&command.new, email.as_ref()).map_err(ChangePasswordError::WeakNewPassword)?;
    let stored_hash = db::password_hash_of(pool, claims.sub)
        .await
        .map_err(anyhow::Error::from)?
        .ok_or(ChangePasswordError::NotFound)?;
    let matches = verify_password(command.current, stored_hash).await?;
    if !matches {
        return Err(ChangePasswordError::WrongCurrentPassword);
    }
    let new_hash = hash_password(&new_password).await?;
    let now = Utc::now();
    let mut transaction = pool.begin().await.map_err(anyhow::Error::from)?;
    db::update_password_hash(&mut transaction, claims.sub, &new_hash, now)
        .await
        .map_err(anyhow::Error::from)?;
    let ended = db::revoke_other_sessions(&mut transaction, claims.sub, claims.sid, "password-changed", now)
        .await
        .map_err(anyhow::Error::from)?;
    transaction.commit().await.map_err(anyhow::Error::from)?;
    tracing::info!(other_sessions_ended = ended, "Password changed");
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Admin bootstrap

#[derive(Debug, thiserror::Error)]
pub enum GrantAdminError {
    #[error("no account has this e-mail address")]
    UnknownAccount,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Grants the admin role to the account with `email`. Only the operator command calls this;
/// no HTTP route does. The role reaches the user's tokens at their next login or refresh.
pub async fn grant_admin(pool: &MySqlPool, email: &Email) -> Result<Uuid, GrantAdminError> {
    let user_id = db::user_id_by_email(pool, email.as_str())
        .await
        .map_err(anyhow::Error::from)?
        .ok_or(GrantAdminError::UnknownAccount)?;
    let mut connection = pool.acquire().await.map_err(anyhow::Error::from)?;
    db::grant_role(&mut connection, user_id, Role::Admin, Utc::now())
        .await
        .map_err(anyhow::Error::from)?;
    Ok(user_id)
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn token(used: bool, expired: bool, revoked: bool) -> db::StoredRefreshToken {
        let now = Utc::now();
        db::StoredRefreshToken {
            session_id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            expires_at: if expired {
                now - Duration::seconds(1)
            } else {
                now + Duration::days(1)
            },
            used_at: used.then_some(now - Duration::minutes(1)),
            session_revoked: revoked,
        }
    }

    #[test]
    fn a_fresh_token_of_a_live_session_rotates() {
        assert!(matches!(
            decide_refresh(&token(false, false, false), Utc::now()),
            RefreshDecision::Rotate
        ));
    }

    #[test]
    fn a_spent_token_revokes_the_family_even_when_it_has_expired() {
        for expired in [false, true] {
            assert!(matches!(
                decide_refresh(&token(true, expired, false), Utc::now()),
                RefreshDecision::RevokeFamily
            ));
        }
    }

    #[test]
    fn an_expired_unspent_token_is_refused_without_revoking_anything() {
        assert!(matches!(
            decide_refresh(&token(false, true, false), Utc::now()),
            RefreshDecision::Refuse(RefreshError::Expired)
        ));
    }

    #[test]
    fn any_token_of_a_revoked_session_is_refused_as_revoked() {
        for used in [false, true] {
            assert!(matches!(
                decide_refresh(&token(used, false, true), Utc::now()),
                RefreshDecision::Refuse(RefreshError::SessionRevoked)
            ));
        }
    }
}
