//! Events of the identity context, on `commerce.identity.user`, keyed by user id.
//!
//! Payloads carry what other contexts may keep about a user (id, e-mail, display name) and
//! never anything secret: no password hash, no token.

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
