//! The MariaDB adapter of the identity schema. Every function here is one statement (or a
//! small fixed group) so the use cases read as the rules they apply.

use chrono::{DateTime, Utc};
use security::Role;
use sqlx::{MySqlConnection, MySqlPool, Row};
use uuid::Uuid;

use crate::domain::{AccountStatus, withdrawn_email};

#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub id: Uuid,
    pub email: &'a str,
    pub display_name: &'a str,
    pub password_hash: &'a str,
    pub now: DateTime<Utc>,
}

/// Inserts the account with the customer role.
pub async fn insert_user(connection: &mut MySqlConnection, user: &NewUser<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO user_account (id, email, display_name, password_hash, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(user.id.to_string())
    .bind(user.email)
    .bind(user.display_name)
    .bind(user.password_hash)
    .bind(user.now)
    .bind(user.now)
    .execute(&mut *connection)
    .await?;
    grant_role(connection, user.id, Role::Customer, user.now).await
}

/// Grants a role; granting one the user has is a no-op.
pub async fn grant_role(
    connection: &mut MySqlConnection,
    user_id: Uuid,
    role: Role,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT IGNORE INTO user_role (user_id, role, granted_at) VALUES (?, ?, ?)")
        .bind(user_id.to_string())
        .bind(role.as_str())
        .bind(now)
        .execute(connection)
        .await?;
    Ok(())
}

/// What login needs to know about an account.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user_id: Uuid,
    pub password_hash: String,
    pub status: AccountStatus,
}

fn parse_uuid(text: &str) -> Result<Uuid, sqlx::Error> {
    Uuid::parse_str(text).map_err(|error| sqlx::Error::Decode(Box::new(error)))
}

fn parse_status(text: &str) -> Result<AccountStatus, sqlx::Error> {
    AccountStatus::parse(text)
        .ok_or_else(|| sqlx::Error::Decode(format!("unknown account status {text:?}").into()))
}

/// The credentials of the account with `email`. A withdrawn account has neither its address
/// nor a password any more, so it is never found here.
pub async fn credentials_by_email(pool: &MySqlPool, email: &str) -> Result<Option<Credentials>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, password_hash, status FROM user_account WHERE email = ? AND password_hash IS NOT NULL",
    )
    .bind(email)
    .fetch_optional(pool)
    .await?;
    row.map(|row| {
        Ok(Credentials {
            user_id: parse_uuid(row.try_get("id")?)?,
            password_hash: row.try_get("password_hash")?,
            status: parse_status(row.try_get("status")?)?,
        })
    })
    .transpose()
}

/// The password hash of the account; `None` when there is no such account or it has none
/// (withdrawn).
pub async fn password_hash_of(pool: &MySqlPool, user_id: Uuid) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT password_hash FROM user_account WHERE id = ? AND password_hash IS NOT NULL")
        .bind(user_id.to_string())
        .fetch_optional(pool)
        .await
}

pub async fn update_password_hash(
    connection: &mut MySqlConnection,
    user_id: Uuid,
    password_hash: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE user_account SET password_hash = ?, updated_at = ? WHERE id = ?")
        .bind(password_hash)
        .bind(now)
        .bind(user_id.to_string())
        .execute(connection)
        .await?;
    Ok(())
}

/// The roles of a user, in a stable order; unknown role names are skipped.
pub async fn roles_of(connection: &mut MySqlConnection, user_id: Uuid) -> Result<Vec<Role>, sqlx::Error> {
    let names: Vec<String> = sqlx::query_scalar("SELECT role FROM user_role WHERE user_id = ? ORDER BY role")
        .bind(user_id.to_string())
        .fetch_all(connection)
        .await?;
    let mut roles: Vec<Role> = names.iter().filter_map(|name| name.parse().ok()).collect();
    roles.sort();
    Ok(roles)
}

/// A user's profile as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub user_id: Uuid,
    pub email: String,
    pub display_name: String,
    pub roles: Vec<Role>,
    pub created_at: DateTime<Utc>,
}

pub async fn profile(pool: &MySqlPool, user_id: Uuid) -> Result<Option<Profile>, sqlx::Error> {
    let mut connection = pool.acquire().await?;
    let row = sqlx::query("SELECT email, display_name, created_at FROM user_account WHERE id = ?")
        .bind(user_id.to_string())
        .fetch_optional(&mut *connection)
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(Some(Profile {
        user_id,
        email: row.try_get("email")?,
        display_name: row.try_get("display_name")?,
        roles: roles_of(&mut connection, user_id).await?,
        created_at: row.try_get("created_at")?,
    }))
}

/// Returns whether the user exists.
pub async fn update_display_name(
    pool: &MySqlPool,
    user_id: Uuid,
    display_name: &str,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM user_account WHERE id = ?")
        .bind(user_id.to_string())
        .fetch_optional(pool)
        .await?;
    if exists.is_none() {
        return Ok(false);
    }
    sqlx::query("UPDATE user_account SET display_name = ?, updated_at = ? WHERE id = ?")
        .bind(display_name)
        .bind(now)
        .bind(user_id.to_string())
        .execute(pool)
        .await?;
    Ok(true)
}

pub async fn user_id_by_email(pool: &MySqlPool, email: &str) -> Result<Option<Uuid>, sqlx::Error> {
    let id: Option<String> = sqlx::query_scalar("SELECT id FROM user_account WHERE email = ?")
        .bind(email)
        .fetch_optional(pool)
        .await?;
    id.as_deref().map(parse_uuid).transpose()
}

// ---------------------------------------------------------------------------------------
// Sessions and refresh tokens

pub async fn insert_session(
    connection: &mut MySqlConnection,
    session_id: Uuid,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO user_session (id, user_id, created_at, last_used_at) VALUES (?, ?, ?, ?)")
        .bind(session_id.to_string())
        .bind(user_id.to_string())
        .bind(now)
        .bind(now)
        .execute(connection)
        .await?;
    Ok(())
}

pub async fn insert_refresh_token(
    connection: &mut MySqlConnection,
    token_hash: &[u8; 32],
    session_id: Uuid,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO refresh_token (token_hash, session_id, issued_at, expires_at) VALUES (?, ?, ?, ?)",
    )
    .bind(token_hash.as_slice())
    .bind(session_id.to_string())
    .bind(now)
    .bind(expires_at)
    .execute(connection)
    .await?;
    Ok(())
}

/// A refresh token with its session, as read (and locked) for rotation.
#[derive(Debug, Clone)]
pub struct StoredRefreshToken {
    pub session_id: Uuid,
    pub user_id: Uuid,
    /// When the session's login happened.
    pub session_started_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub session_revoked: bool,
}

/// Reads a refresh token and locks it and its session until the transaction ends, so two
/// concurrent refreshes with one token are serialised and the second sees it used.
pub async fn lock_refresh_token(
    connection: &mut MySqlConnection,
    token_hash: &[u8; 32],
) -> Result<Option<StoredRefreshToken>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT t.session_id, s.user_id, s.created_at, t.expires_at, t.used_at, s.revoked_at
         FROM refresh_token t JOIN user_session s ON s.id = t.session_id
         WHERE t.token_hash = ? FOR UPDATE",
    )
    .bind(token_hash.as_slice())
    .fetch_optional(connection)
    .await?;
    row.map(|row| {
        let revoked_at: Option<DateTime<Utc>> = row.try_get("revoked_at")?;
        Ok(StoredRefreshToken {
            session_id: parse_uuid(row.try_get("session_id")?)?,
            user_id: parse_uuid(row.try_get("user_id")?)?,
            session_started_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
            used_at: row.try_get("used_at")?,
            session_revoked: revoked_at.is_some(),
        })
    })
    .transpose()
}

pub async fn mark_refresh_token_used(
    connection: &mut MySqlConnection,
    token_hash: &[u8; 32],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE refresh_token SET used_at = ? WHERE token_hash = ?")
        .bind(now)
        .bind(token_hash.as_slice())
        .execute(connection)
        .await?;
    Ok(())
}

pub async fn touch_session(
    connection: &mut MySqlConnection,
    session_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE user_session SET last_used_at = ? WHERE id = ?")
        .bind(now)
        .bind(session_id.to_string())
        .execute(connection)
        .await?;
    Ok(())
}

/// Revokes a session of `user_id` unless it is revoked already; returns whether it was active.
pub async fn revoke_session(
    connection: &mut MySqlConnection,
    session_id: Uuid,
    user_id: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE user_session SET revoked_at = ?, revoked_reason = ?
         WHERE id = ? AND user_id = ? AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(reason)
    .bind(session_id.to_string())
    .bind(user_id.to_string())
    .execute(connection)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Revokes every active session of the user except `keep`.
pub async fn revoke_other_sessions(
    connection: &mut MySqlConnection,
    user_id: Uuid,
    keep: Option<Uuid>,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE user_session SET revoked_at = ?, revoked_reason = ?
         WHERE user_id = ? AND revoked_at IS NULL AND id <> ?",
    )
    .bind(now)
    .bind(reason)
    .bind(user_id.to_string())
    .bind(keep.map(|id| id.to_string()).unwrap_or_default())
    .execute(connection)
    .await?;
    Ok(result.rows_affected())
}

/// Whether the session exists, belongs to the user and is not revoked.
pub async fn session_is_active(
    pool: &MySqlPool,
    session_id: Uuid,
    user_id: Uuid,
) -> Result<bool, sqlx::Error> {
    let found: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM user_session WHERE id = ? AND user_id = ? AND revoked_at IS NULL")
            .bind(session_id.to_string())
            .bind(user_id.to_string())
            .fetch_optional(pool)
            .await?;
    Ok(found.is_some())
}

/// Why a session ended, if it did.
pub async fn session_revoked_reason(
    pool: &MySqlPool,
    session_id: Uuid,
) -> Result<Option<String>, sqlx::Error> {
    let reason: Option<Option<String>> =
        sqlx::query_scalar("SELECT revoked_reason FROM user_session WHERE id = ?")
            .bind(session_id.to_string())
            .fetch_optional(pool)
            .await?;
    Ok(reason.flatten())
}

/// Revokes every active session of the user; returns how many were active.
pub async fn revoke_all_sessions(
    connection: &mut MySqlConnection,
    user_id: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    revoke_other_sessions(connection, user_id, None, reason, now).await
}

// ---------------------------------------------------------------------------------------
// The account's life: lock, unlock, withdrawal, the public profile

/// An account's status and e-mail column, read and locked until the transaction ends, so a
/// lock, an unlock and a withdrawal of one account are serialised.
#[derive(Debug, Clone)]
pub struct LockedAccount {
    pub status: AccountStatus,
    pub email: String,
    pub locked_at: Option<DateTime<Utc>>,
}

pub async fn lock_account(
    connection: &mut MySqlConnection,
    user_id: Uuid,
) -> Result<Option<LockedAccount>, sqlx::Error> {
    let row = sqlx::query("SELECT status, email, locked_at FROM user_account WHERE id = ? FOR UPDATE")
        .bind(user_id.to_string())
        .fetch_optional(connection)
        .await?;
    row.map(|row| {
        Ok(LockedAccount {
            status: parse_status(row.try_get("status")?)?,
            email: row.try_get("email")?,
            locked_at: row.try_get("locked_at")?,
        })
    })
    .transpose()
}

/// The account's status, read without a lock; `None` when there is no such account.
pub async fn account_status(
    connection: &mut MySqlConnection,
    user_id: Uuid,
) -> Result<Option<AccountStatus>, sqlx::Error> {
    let status: Option<String> = sqlx::query_scalar("SELECT status FROM user_account WHERE id = ?")
        .bind(user_id.to_string())
        .fetch_optional(connection)
        .await?;
    status.as_deref().map(parse_status).transpose()
}

/// Sets the status an admin's lock or unlock decided; a lock remembers when and by whom.
pub async fn set_lock_status(
    connection: &mut MySqlConnection,
    user_id: Uuid,
    status: AccountStatus,
    locked_by: Uuid,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let locked = status == AccountStatus::Locked;
    sqlx::query(
        "UPDATE user_account SET status = ?, locked_at = ?, locked_by = ?, updated_at = ?
         WHERE id = ? AND status <> 'WITHDRAWN'",
    )
    .bind(status.as_str())
    .bind(locked.then_some(now))
    .bind(locked.then(|| locked_by.to_string()))
    .bind(now)
    .bind(user_id.to_string())
    .execute(connection)
    .await?;
    Ok(())
}

/// Erases the account's personal data and marks it withdrawn: the e-mail becomes
/// [`withdrawn_email`] (the address is free to register again), the display name empty, the
/// password hash gone. The row and its id stay, for the books of other contexts.
pub async fn anonymise_account(
    connection: &mut MySqlConnection,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE user_account
         SET email = ?, display_name = '', password_hash = NULL, status = 'WITHDRAWN',
             locked_at = NULL, locked_by = NULL, withdrawn_at = ?, updated_at = ?
         WHERE id = ?",
    )
    .bind(withdrawn_email(user_id))
    .bind(now)
    .bind(now)
    .bind(user_id.to_string())
    .execute(connection)
    .await?;
    Ok(())
}

/// Erases who tried to log in to the account and from where: its attempts, and those made
/// with its address before it was known to match, keep their time and outcome (what abuse
/// analysis counts) but lose the address, the client's address and user agent.
pub async fn anonymise_login_history(
    connection: &mut MySqlConnection,
    user_id: Uuid,
    email: &str,
) -> Result<u64, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE login_history SET email = ?, ip = '', user_agent = ''
         WHERE user_id = ? OR (user_id IS NULL AND email = ?)",
    )
    .bind(withdrawn_email(user_id))
    .bind(user_id.to_string())
    .bind(email)
    .execute(connection)
    .await?;
    Ok(result.rows_affected())
}

/// What anyone may see of an account that was not withdrawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicProfile {
    pub user_id: Uuid,
    pub display_name: String,
    pub created_at: DateTime<Utc>,
}

pub async fn public_profile(pool: &MySqlPool, user_id: Uuid) -> Result<Option<PublicProfile>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT display_name, created_at FROM user_account WHERE id = ? AND status <> 'WITHDRAWN'",
    )
    .bind(user_id.to_string())
    .fetch_optional(pool)
    .await?;
    row.map(|row| {
        Ok(PublicProfile {
            user_id,
            display_name: row.try_get("display_name")?,
            created_at: row.try_get("created_at")?,
        })
    })
    .transpose()
}

// ---------------------------------------------------------------------------------------
// Login history

/// One login attempt, as recorded.
#[derive(Debug, Clone)]
pub struct LoginAttempt<'a> {
    pub user_id: Option<Uuid>,
    pub email: &'a str,
    pub ip: &'a str,
    pub user_agent: &'a str,
    pub failure_reason: Option<&'a str>,
    pub at: DateTime<Utc>,
}

pub async fn record_login(
    connection: &mut MySqlConnection,
    attempt: &LoginAttempt<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO login_history (user_id, email, ip, user_agent, success, failure_reason, attempted_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(attempt.user_id.map(|id| id.to_string()))
    .bind(truncate(attempt.email, 254))
    .bind(truncate(attempt.ip, 45))
    .bind(truncate(attempt.user_agent, 512))
    .bind(attempt.failure_reason.is_none())
    .bind(attempt.failure_reason)
    .bind(attempt.at)
    .execute(connection)
    .await?;
    Ok(())
}

/// At most `characters` characters of `text`, cut on a character boundary.
pub fn truncate(text: &str, characters: usize) -> &str {
    match text.char_indices().nth(characters) {
        Some((index, _)) => &text[..index],
        None => text,
    }
}
