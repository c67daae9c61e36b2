//! Events of the identity context, on `commerce.identity.user`, keyed by user id.
//!
//! Payloads carry what other contexts may keep about a user (id, e-mail, display name) and
//! never anything secret: no password hash, no token. The account's later life — an admin's
//! lock and unlock, the user's withdrawal — carries only the user id and the time, so a
//! consumer can keep the account's status without keeping anything personal.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The aggregate type of identity's user events in the outbox.
pub const AGGREGATE: &str = "user";

/// `commerce.identity.user.registered.v1`: a user registered an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserRegisteredV1 {
    pub user_id: String,
    /// The normalised (lower-case) e-mail address.
    pub email: String,
    pub display_name: String,
    pub registered_at: chrono::DateTime<chrono::Utc>,
}

crate::event_type!(UserRegisteredV1 = "commerce.identity.user.registered.v1", version 1, on IDENTITY_USER, keyed by user_id);

/// `commerce.identity.user.locked.v1`: an admin locked the account. It can no longer log in
/// or refresh, and its sessions were ended; its access tokens live until they expire, so
/// contexts where money moves keep the status and refuse the account themselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserLockedV1 {
    pub user_id: String,
    /// When identity locked it: the order of this account's status events.
    pub locked_at: chrono::DateTime<chrono::Utc>,
}

/// `commerce.identity.user.unlocked.v1`: an admin lifted the lock; the user may log in again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserUnlockedV1 {
    pub user_id: String,
    pub unlocked_at: chrono::DateTime<chrono::Utc>,
}

/// `commerce.identity.user.withdrawn.v1`: the user withdrew. Identity erased the account's
/// personal data and ended its sessions; every context erases what it keeps about the user
/// beyond its books. Final: no later event brings the account back (its e-mail address may
/// register again, as a new user with a new id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserWithdrawnV1 {
    pub user_id: String,
    pub withdrawn_at: chrono::DateTime<chrono::Utc>,
}

crate::event_type!(UserLockedV1 = "commerce.identity.user.locked.v1", version 1, on IDENTITY_USER, keyed by user_id);
crate::event_type!(UserUnlockedV1 = "commerce.identity.user.unlocked.v1", version 1, on IDENTITY_USER, keyed by user_id);
crate::event_type!(UserWithdrawnV1 = "commerce.identity.user.withdrawn.v1", version 1, on IDENTITY_USER, keyed by user_id);

crate::one_of! {
    /// The events that change whether an account may act: what a context that keeps the
    /// account's status reads.
    pub enum AccountStatusEvent {
        Locked(UserLockedV1),
        Unlocked(UserUnlockedV1),
        Withdrawn(UserWithdrawnV1),
    }
}

impl AccountStatusEvent {
    /// The account the event is about.
    pub fn user_id(&self) -> &str {
        match self {
            Self::Locked(locked) => &locked.user_id,
            Self::Unlocked(unlocked) => &unlocked.user_id,
            Self::Withdrawn(withdrawn) => &withdrawn.user_id,
        }
    }

    /// When identity changed the account's status.
    pub fn changed_at(&self) -> chrono::DateTime<chrono::Utc> {
        match self {
            Self::Locked(locked) => locked.locked_at,
            Self::Unlocked(unlocked) => unlocked.unlocked_at,
            Self::Withdrawn(withdrawn) => withdrawn.withdrawn_at,
        }
    }
}
