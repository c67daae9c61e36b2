//! Events of the identity context, on `commerce.identity.user`, keyed by user id.
//!
//! Payloads carry what other contexts may keep about a user (id, e-mail, display name) and
//! never anything secret: no password hash, no token.

use serde::{Deserialize, Serialize};

/// `commerce.identity.user.registered.v1`: a user registered an account.
pub const USER_REGISTERED_V1: &str = "commerce.identity.user.registered.v1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRegisteredV1 {
    pub user_id: String,
    /// The normalised (lower-case) e-mail address.
    pub email: String,
    pub display_name: String,
    pub registered_at: chrono::DateTime<chrono::Utc>,
}
