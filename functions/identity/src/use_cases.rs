//! The identity use cases: plain async functions over the pool and validated commands,
//! each with its own error enum named after the rules it can break.

use chrono::Utc;
use security::{AccessClaims, Role};
use sqlx::MySqlPool;
use store::outbox::{self, EventContext, Origin};
use uuid::Uuid;

use crate::client::ClientAddress;
use crate::domain::{AccountStatus, DisplayName, Email, LockChange, LockRefusal, Password, decide_lock};
use crate::hashing::{HashingError, PasswordHashing};
use crate::limits::Verdict;
use crate::rate_limit::{AttemptLimiter, LoginGuard, LoginOutcome};
use crate::sessions::{Issuing, RefreshToken, SessionTokens, hash_refresh_token, seconds_until};
use crate::store::{self as db, LoginAttempt, NewUser};

/// The function that registers users, the `source` of `user.registered`.
const REGISTER_USER: &str = "register-user";
/// The functions of the account's later life, the `source` of their events.
const WITHDRAW_ACCOUNT: &str = "withdraw-account";
const LOCK_USER: &str = "lock-user";
const UNLOCK_USER: &str = "unlock-user";

/// The login history's reason, and the sessions' revocation reasons, of the account's life.
const ACCOUNT_LOCKED: &str = "account-locked";
const ACCOUNT_WITHDRAWN: &str = "account-withdrawn";

// ---------------------------------------------------------------------------------------
// Register

#[derive(Debug)]
pub struct RegisterUser {
    pub email: Email,
    pub password: Password,
    pub display_name: DisplayName,
    /// Who asks, for the limit on registrations per address.
    pub client: ClientAddress,
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
    /// Too many registrations from this address: mass sign-ups, or e-mail addresses tried one
    /// after the other to learn which have accounts.
    #[error("too many registrations from this address; retry in {retry_after_seconds} s")]
    RateLimited { retry_after_seconds: u64 },
    #[error("too many passwords are being hashed; nothing was written")]
    Busy,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<HashingError> for RegisterError {
    fn from(error: HashingError) -> Self {
        match error {
            HashingError::Busy(_) => Self::Busy,
            HashingError::Failed(error) => Self::Unexpected(error),
        }
    }
}

/// Creates the account with the customer role and records `user.registered` in the outbox,
/// in one transaction. Registrations are limited per address; every one that got an answer
/// (created or already taken) counts.
#[tracing::instrument(skip_all, fields(user_id))]
pub async fn register(
    pool: &MySqlPool,
    hashing: &PasswordHashing,
    limiter: &AttemptLimiter,
    command: RegisterUser,
) -> Result<RegisteredUser, RegisterError> {
    let (verdict, ticket) = limiter.admit(&command.client.limit_subject()).await;
    if let Verdict::Limited { retry_after_seconds } = verdict {
        tracing::warn!(client = %command.client.for_history(), "Registration rate limited");
        return Err(RegisterError::RateLimited { retry_after_seconds });
    }
    let registered = create_account(pool, hashing, command).await;
    let answered = matches!(registered, Ok(_) | Err(RegisterError::EmailTaken));
    limiter.settle(ticket, answered).await;
    registered
}

async fn create_account(
    pool: &MySqlPool,
    hashing: &PasswordHashing,
    command: RegisterUser,
) -> Result<RegisteredUser, RegisterError> {
    let password_hash = hashing.hash(&command.password).await?;
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

/// Where a login attempt came from, for the history and the limits per address.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub address: ClientAddress,
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
    /// The password was right, but an admin locked the account. Said only after the password
    /// was checked, so it tells nothing to someone who does not know it (docs/adr/0048).
    #[error("the account is locked")]
    AccountLocked,
    #[error("too many login attempts; retry in {retry_after_seconds} s")]
    RateLimited { retry_after_seconds: u64 },
    #[error("too many passwords are being checked; this one was not")]
    Busy,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<HashingError> for LoginError {
    fn from(error: HashingError) -> Self {
        match error {
            HashingError::Busy(_) => Self::Busy,
            HashingError::Failed(error) => Self::Unexpected(error),
        }
    }
}

/// What the password check found.
enum Judgement {
    UnknownAccount,
    WrongPassword {
        user_id: Uuid,
    },
    /// The right password of a locked account.
    Locked {
        user_id: Uuid,
    },
    Correct(db::Credentials),
}

impl Judgement {
    fn outcome(judged: &Result<Self, LoginError>) -> LoginOutcome {
        match judged {
            Ok(Self::Correct(_)) => LoginOutcome::Succeeded,
            Ok(Self::WrongPassword { .. }) => LoginOutcome::WrongPassword,
            Ok(Self::UnknownAccount) => LoginOutcome::UnknownAccount,
            // No guess and no success: it neither counts against the limits nor makes the
            // address known to the account.
            Ok(Self::Locked { .. }) | Err(_) => LoginOutcome::NotJudged,
        }
    }
}

/// Checks the credentials and opens a session: a new refresh-token family and a first access
/// token. Every attempt that was judged or limited is written to the login history (one
/// refused because the service was busy was neither, and costs no write).
#[tracing::instrument(skip_all, fields(user_id))]
pub async fn log_in(
    pool: &MySqlPool,
    issuing: &Issuing,
    guard: &LoginGuard,
    hashing: &PasswordHashing,
    command: LogIn,
) -> Result<SessionTokens, LoginError> {
    let now = Utc::now();
    let email = Email::parse(&command.email).ok();
    let history_email = email.as_ref().map_or_else(
        || command.email.trim().to_owned(),
        |email| email.as_str().to_owned(),
    );
    let ip = command.client.address.for_history();
    let mut attempt = LoginAttempt {
        user_id: None,
        email: &history_email,
        ip: &ip,
        user_agent: &command.client.user_agent,
        failure_reason: None,
        at: now,
    };

    let (verdict, ticket) = guard
        .admit(&history_email.to_lowercase(), &command.client.address)
        .await;
    if let Verdict::Limited { retry_after_seconds } = verdict {
        attempt.failure_reason = Some("rate-limited");
        record(pool, &attempt).await?;
        tracing::warn!(%ip, "Login attempt rate limited");
        return Err(LoginError::RateLimited { retry_after_seconds });
    }
    let judged = judge(pool, hashing, email.as_ref(), command.password).await;
    guard.settle(ticket, Judgement::outcome(&judged)).await;

    let credentials = match judged? {
        Judgement::Correct(credentials) => credentials,
        Judgement::WrongPassword { user_id } => {
            tracing::Span::current().record("user_id", tracing::field::display(user_id));
            attempt.user_id = Some(user_id);
            attempt.failure_reason = Some("wrong-password");
            record(pool, &attempt).await?;
            return Err(LoginError::InvalidCredentials);
        }
        Judgement::UnknownAccount => {
            attempt.failure_reason = Some("unknown-account");
            record(pool, &attempt).await?;
            return Err(LoginError::InvalidCredentials);
        }
        Judgement::Locked { user_id } => {
            tracing::Span::current().record("user_id", tracing::field::display(user_id));
            attempt.user_id = Some(user_id);
            attempt.failure_reason = Some(ACCOUNT_LOCKED);
            record(pool, &attempt).await?;
            tracing::info!("Login refused: the account is locked");
            return Err(LoginError::AccountLocked);
        }
    };
    tracing::Span::current().record("user_id", tracing::field::display(credentials.user_id));
    attempt.user_id = Some(credentials.user_id);

    let session_id = Uuid::now_v7();
    let refresh = RefreshToken::generate();
    let refresh_expires_at = issuing.refresh_expiry(now, now);
    let mut transaction = pool.begin().await.map_err(anyhow::Error::from)?;
    // An admin may have locked the account while its password was being checked: the
    // account's row lock orders this session against the lock, which ends every session it
    // finds.
    let current = db::lock_account(&mut transaction, credentials.user_id)
        .await
        .map_err(anyhow::Error::from)?
        .map(|account| account.status);
    if current != Some(AccountStatus::Active) {
        drop(transaction);
        let (reason, refusal) = match current {
            Some(AccountStatus::Locked) => (ACCOUNT_LOCKED, LoginError::AccountLocked),
            // Withdrawn while its password was being checked: the account is gone.
            _ => ("unknown-account", LoginError::InvalidCredentials),
        };
        attempt.failure_reason = Some(reason);
        record(pool, &attempt).await?;
        return Err(refusal);
    }
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
        refresh_expires_in: seconds_until(now, refresh_expires_at),
    })
}

/// Checks the password of the account with `email`, or against a decoy when there is none
/// (or the address is unreadable), so both take the same time.
async fn judge(
    pool: &MySqlPool,
    hashing: &PasswordHashing,
    email: Option<&Email>,
    password: Password,
) -> Result<Judgement, LoginError> {
    let credentials = match email {
        Some(email) => db::credentials_by_email(pool, email.as_str())
            .await
            .map_err(anyhow::Error::from)?,
        None => None,
    };
    let Some(credentials) = credentials else {
        hashing.verify_against_decoy(password).await?;
        return Ok(Judgement::UnknownAccount);
    };
    if hashing
        .verify(password, credentials.password_hash.clone())
        .await?
    {
        if credentials.status == AccountStatus::Locked {
            return Ok(Judgement::Locked {
                user_id: credentials.user_id,
            });
        }
        Ok(Judgement::Correct(credentials))
    } else {
        Ok(Judgement::WrongPassword {
            user_id: credentials.user_id,
        })
    }
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
    /// The session reached its absolute lifetime: however often it was refreshed, its user
    /// logs in again.
    #[error("the session has reached its maximum lifetime")]
    SessionExpired,
    #[error("the session was ended")]
    SessionRevoked,
    /// An admin locked the account: its sessions were ended, and none goes on.
    #[error("the account is locked")]
    AccountLocked,
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
/// spent token is reuse, even when expired, because it proves a copy exists; a session past
/// its absolute end (`session_end`) is over; an expired token is refused; anything else
/// rotates.
pub fn decide_refresh(
    stored: &db::StoredRefreshToken,
    session_end: chrono::DateTime<Utc>,
    now: chrono::DateTime<Utc>,
) -> RefreshDecision {
    if stored.session_revoked {
        RefreshDecision::Refuse(RefreshError::SessionRevoked)
    } else if stored.used_at.is_some() {
        RefreshDecision::RevokeFamily
    } else if session_end <= now {
        RefreshDecision::Refuse(RefreshError::SessionExpired)
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
    // A lock ends the account's sessions, so its tokens would be refused as SESSION_REVOKED
    // anyway; ACCOUNT_LOCKED tells the client why, and that logging in again will not help.
    // (A lock committing while this refresh runs waits for the session row locked above and
    // then ends the session with the token handed out here.)
    if db::account_status(&mut transaction, stored.user_id)
        .await
        .map_err(anyhow::Error::from)?
        == Some(AccountStatus::Locked)
    {
        return Err(RefreshError::AccountLocked);
    }
    match decide_refresh(&stored, issuing.session_end(stored.session_started_at), now) {
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
    let next_expires_at = issuing.refresh_expiry(now, stored.session_started_at);
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
        refresh_expires_in: seconds_until(now, next_expires_at),
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
    /// Too many wrong current passwords in this session: someone holding a stolen access
    /// token is guessing the password.
    #[error("too many wrong current passwords; retry in {retry_after_seconds} s")]
    RateLimited { retry_after_seconds: u64 },
    #[error("the new password breaks the policy: {0}")]
    WeakNewPassword(crate::domain::Invalid),
    #[error("the account no longer exists")]
    NotFound,
    #[error("too many passwords are being checked; nothing was changed")]
    Busy,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<HashingError> for ChangePasswordError {
    fn from(error: HashingError) -> Self {
        match error {
            HashingError::Busy(_) => Self::Busy,
            HashingError::Failed(error) => Self::Unexpected(error),
        }
    }
}

/// Replaces the password after checking the current one, and ends every other session of
/// the user (a stolen refresh token stops working); the calling session goes on.
///
/// Wrong current passwords are limited per session: a stolen access token gets a handful of
/// guesses, not argon2 speed, and the owner's other sessions are not held back by it.
#[tracing::instrument(skip_all, fields(user_id = %claims.sub))]
pub async fn change_password(
    pool: &MySqlPool,
    hashing: &PasswordHashing,
    limiter: &AttemptLimiter,
    claims: &AccessClaims,
    command: ChangePassword,
) -> Result<(), ChangePasswordError> {
    require_active_session(pool, claims)
        .await
        .map_err(|error| match error {
            SessionError::Revoked => ChangePasswordError::SessionRevoked,
            SessionError::Unexpected(error) => ChangePasswordError::Unexpected(error),
        })?;
    let session_id = claims.sid.ok_or(ChangePasswordError::SessionRevoked)?;
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

    let (verdict, ticket) = limiter.admit(&session_id.to_string()).await;
    if let Verdict::Limited { retry_after_seconds } = verdict {
        tracing::warn!(%session_id, "Password change rate limited");
        return Err(ChangePasswordError::RateLimited { retry_after_seconds });
    }
    let checked = hashing.verify(command.current, stored_hash).await;
    limiter.settle(ticket, matches!(checked, Ok(false))).await;
    if !checked? {
        return Err(ChangePasswordError::WrongCurrentPassword);
    }

    let new_hash = hashing.hash(&new_password).await?;
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

/// `time` cut to the microseconds MariaDB stores, so what an answer or an event says equals
/// what a later read finds.
fn stored_precision(time: chrono::DateTime<Utc>) -> chrono::DateTime<Utc> {
    chrono::SubsecRound::trunc_subsecs(time, 6)
}

// ---------------------------------------------------------------------------------------
// Withdrawal

#[derive(Debug, thiserror::Error)]
pub enum WithdrawError {
    #[error("the session of this access token was ended")]
    SessionRevoked,
    #[error("the password is wrong")]
    WrongPassword,
    /// Too many wrong passwords in this session: someone holding a stolen access token is
    /// guessing. Counted together with the password change's wrong current passwords.
    #[error("too many wrong passwords; retry in {retry_after_seconds} s")]
    RateLimited { retry_after_seconds: u64 },
    #[error("the account is locked")]
    AccountLocked,
    #[error("the account no longer exists")]
    NotFound,
    #[error("too many passwords are being checked; nothing was changed")]
    Busy,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<HashingError> for WithdrawError {
    fn from(error: HashingError) -> Self {
        match error {
            HashingError::Busy(_) => Self::Busy,
            HashingError::Failed(error) => Self::Unexpected(error),
        }
    }
}

impl From<SessionError> for WithdrawError {
    fn from(error: SessionError) -> Self {
        match error {
            SessionError::Revoked => Self::SessionRevoked,
            SessionError::Unexpected(error) => Self::Unexpected(error),
        }
    }
}

/// The user withdraws, confirming with their password: the account's personal data is
/// erased (e-mail, display name, password, the login history's addresses), every session
/// ends, and `user.withdrawn` tells the other contexts, all in one transaction. The row and
/// its id stay for the books; the e-mail address may register again at once, as a new user.
///
/// Wrong passwords are limited per session with the same counter as the password change's,
/// so a stolen access token gets one small allowance of guesses across both.
#[tracing::instrument(skip_all, fields(user_id = %claims.sub))]
pub async fn withdraw(
    pool: &MySqlPool,
    hashing: &PasswordHashing,
    limiter: &AttemptLimiter,
    claims: &AccessClaims,
    password: Password,
) -> Result<(), WithdrawError> {
    require_active_session(pool, claims).await?;
    let session_id = claims.sid.ok_or(WithdrawError::SessionRevoked)?;
    let stored_hash = db::password_hash_of(pool, claims.sub)
        .await
        .map_err(anyhow::Error::from)?
        .ok_or(WithdrawError::NotFound)?;

    let (verdict, ticket) = limiter.admit(&session_id.to_string()).await;
    if let Verdict::Limited { retry_after_seconds } = verdict {
        tracing::warn!(%session_id, "Withdrawal rate limited");
        return Err(WithdrawError::RateLimited { retry_after_seconds });
    }
    let checked = hashing.verify(password, stored_hash).await;
    limiter.settle(ticket, matches!(checked, Ok(false))).await;
    if !checked? {
        return Err(WithdrawError::WrongPassword);
    }

    let now = stored_precision(Utc::now());
    let mut transaction = pool.begin().await.map_err(anyhow::Error::from)?;
    let account = db::lock_account(&mut transaction, claims.sub)
        .await
        .map_err(anyhow::Error::from)?
        .ok_or(WithdrawError::NotFound)?;
    match account.status {
        AccountStatus::Active => {}
        AccountStatus::Locked => return Err(WithdrawError::AccountLocked),
        AccountStatus::Withdrawn => return Err(WithdrawError::NotFound),
    }
    db::anonymise_account(&mut transaction, claims.sub, now)
        .await
        .map_err(anyhow::Error::from)?;
    let history = db::anonymise_login_history(&mut transaction, claims.sub, &account.email)
        .await
        .map_err(anyhow::Error::from)?;
    let sessions = db::revoke_all_sessions(&mut transaction, claims.sub, ACCOUNT_WITHDRAWN, now)
        .await
        .map_err(anyhow::Error::from)?;
    let withdrawn = events::identity::UserWithdrawnV1 {
        user_id: claims.sub.to_string(),
        withdrawn_at: now,
    };
    outbox::append(
        &mut transaction,
        &Origin::new(WITHDRAW_ACCOUNT, EventContext::default()),
        &withdrawn,
    )
    .await
    .map_err(anyhow::Error::from)?;
    transaction.commit().await.map_err(anyhow::Error::from)?;
    tracing::info!(
        sessions_ended = sessions,
        login_attempts_anonymised = history,
        "Account withdrawn"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// An admin's lock and unlock

#[derive(Debug, thiserror::Error)]
pub enum ChangeLockError {
    #[error("the session of this access token was ended")]
    SessionRevoked,
    #[error("this action needs the admin role")]
    NotAdmin,
    #[error("no account has this id")]
    NotFound,
    #[error(transparent)]
    Refused(#[from] LockRefusal),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<SessionError> for ChangeLockError {
    fn from(error: SessionError) -> Self {
        match error {
            SessionError::Revoked => Self::SessionRevoked,
            SessionError::Unexpected(error) => Self::Unexpected(error),
        }
    }
}

/// An account's lock as it stands after an admin's request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountLock {
    pub user_id: Uuid,
    pub status: AccountStatus,
    pub locked_at: Option<chrono::DateTime<Utc>>,
}

/// Locks or unlocks the account `user_id` for the admin of `claims`. A lock ends every
/// session of the account and announces `user.locked`; an unlock announces `user.unlocked`
/// (the user logs in again). Asking for the status the account has changes nothing and
/// announces nothing, so a retried request is harmless.
#[tracing::instrument(skip_all, fields(admin_id = %claims.sub, user_id = %user_id, ?change))]
pub async fn change_lock(
    pool: &MySqlPool,
    claims: &AccessClaims,
    user_id: Uuid,
    change: LockChange,
) -> Result<AccountLock, ChangeLockError> {
    if !claims.roles.contains(&Role::Admin) {
        return Err(ChangeLockError::NotAdmin);
    }
    require_active_session(pool, claims).await?;
    let now = stored_precision(Utc::now());
    let mut transaction = pool.begin().await.map_err(anyhow::Error::from)?;
    let account = db::lock_account(&mut transaction, user_id)
        .await
        .map_err(anyhow::Error::from)?
        .ok_or(ChangeLockError::NotFound)?;
    let Some(status) = decide_lock(change, account.status, user_id == claims.sub)? else {
        return Ok(AccountLock {
            user_id,
            status: account.status,
            locked_at: account.locked_at,
        });
    };
    db::set_lock_status(&mut transaction, user_id, status, claims.sub, now)
        .await
        .map_err(anyhow::Error::from)?;
    let user = user_id.to_string();
    match change {
        LockChange::Lock => {
            let sessions = db::revoke_all_sessions(&mut transaction, user_id, ACCOUNT_LOCKED, now)
                .await
                .map_err(anyhow::Error::from)?;
            let locked = events::identity::UserLockedV1 {
                user_id: user,
                locked_at: now,
            };
            outbox::append(
                &mut transaction,
                &Origin::new(LOCK_USER, EventContext::default()),
                &locked,
            )
            .await
            .map_err(anyhow::Error::from)?;
            transaction.commit().await.map_err(anyhow::Error::from)?;
            tracing::info!(sessions_ended = sessions, "Account locked");
        }
        LockChange::Unlock => {
            let unlocked = events::identity::UserUnlockedV1 {
                user_id: user,
                unlocked_at: now,
            };
            outbox::append(
                &mut transaction,
                &Origin::new(UNLOCK_USER, EventContext::default()),
                &unlocked,
            )
            .await
            .map_err(anyhow::Error::from)?;
            transaction.commit().await.map_err(anyhow::Error::from)?;
            tracing::info!("Account unlocked");
        }
    }
    Ok(AccountLock {
        user_id,
        status,
        locked_at: (status == AccountStatus::Locked).then_some(now),
    })
}

// ---------------------------------------------------------------------------------------
// The public profile

#[derive(Debug, thiserror::Error)]
pub enum PublicProfileError {
    /// No such account, or its user withdrew: the same answer for both.
    #[error("no such user")]
    NotFound,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// What anyone may see of a user: the display name and since when they are a member. A
/// locked account is shown like any other, so the answer does not tell that it is locked.
pub async fn public_profile(
    pool: &MySqlPool,
    user_id: Uuid,
) -> Result<db::PublicProfile, PublicProfileError> {
    db::public_profile(pool, user_id)
        .await
        .map_err(anyhow::Error::from)?
        .ok_or(PublicProfileError::NotFound)
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
            session_started_at: now - Duration::days(1),
            expires_at: if expired {
                now - Duration::seconds(1)
            } else {
                now + Duration::days(1)
            },
            used_at: used.then_some(now - Duration::minutes(1)),
            session_revoked: revoked,
        }
    }

    /// A session that ends in a month.
    fn far() -> chrono::DateTime<Utc> {
        Utc::now() + Duration::days(30)
    }

    #[test]
    fn a_fresh_token_of_a_live_session_rotates() {
        assert!(matches!(
            decide_refresh(&token(false, false, false), far(), Utc::now()),
            RefreshDecision::Rotate
        ));
    }

    #[test]
    fn a_spent_token_revokes_the_family_even_when_it_has_expired() {
        for expired in [false, true] {
            assert!(matches!(
                decide_refresh(&token(true, expired, false), far(), Utc::now()),
                RefreshDecision::RevokeFamily
            ));
        }
    }

    #[test]
    fn an_expired_unspent_token_is_refused_without_revoking_anything() {
        assert!(matches!(
            decide_refresh(&token(false, true, false), far(), Utc::now()),
            RefreshDecision::Refuse(RefreshError::Expired)
        ));
    }

    #[test]
    fn any_token_of_a_revoked_session_is_refused_as_revoked() {
        for used in [false, true] {
            assert!(matches!(
                decide_refresh(&token(used, false, true), far(), Utc::now()),
                RefreshDecision::Refuse(RefreshError::SessionRevoked)
            ));
        }
    }

    #[test]
    fn a_live_token_of_a_session_past_its_absolute_end_is_refused_as_expired_session() {
        let ended = Utc::now() - Duration::seconds(1);
        assert!(matches!(
            decide_refresh(&token(false, false, false), ended, Utc::now()),
            RefreshDecision::Refuse(RefreshError::SessionExpired)
        ));
    }

    #[test]
    fn refresh_tokens_never_outlive_their_session() {
        let issuing = Issuing {
            issuer: std::sync::Arc::new(security::TokenIssuer::new(
                security::SigningKeys::generate("k"),
                "iss",
                "aud",
                std::time::Duration::from_secs(300),
            )),
            refresh_ttl: std::time::Duration::from_secs(14 * 24 * 3600),
            session_lifetime: std::time::Duration::from_secs(30 * 24 * 3600),
        };
        let started = Utc::now();
        let early = started + Duration::days(1);
        assert_eq!(issuing.refresh_expiry(early, started), early + Duration::days(14));
        let late = started + Duration::days(25);
        assert_eq!(
            issuing.refresh_expiry(late, started),
            started + Duration::days(30)
        );
    }
}
