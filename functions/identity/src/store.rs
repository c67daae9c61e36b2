//! The MariaDB adapter of the identity schema. Every function here is one statement (or a
//! small fixed group) so the use cases read as the rules they apply.

use chrono::{DateTime, Utc};
use security::Role;
use sqlx::{MySqlConnection, MySqlPool, Row};
use uuid::Uuid;

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
}

fn parse_uuid(text: &str) -> Result<Uuid, sqlx::Error> {
    Uuid::parse_str(text).map_err(|error| sqlx::Error::Decode(Box::new(error)))
}

pub async fn credentials_by_email(pool: &MySqlPool, email: &str) -> Result<Option<Credentials>, sqlx::Error> {
    let row = sqlx::query("SELECT id, password_hash FROM user_account WHERE email = ?")
        .bind(email)
        .fetch_optional(pool)
        .await?;
    row.map(|row| {
        Ok(Credentials {
            user_id: parse_uuid(row.try_get("id")?)?,
            password_hash: row.try_get("password_hash")?,
        })
    })
    .transpose()
}

pub async fn password_hash_of(pool: &MySqlPool, user_id: Uuid) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT password_hash FROM user_account WHERE id = ?")
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
