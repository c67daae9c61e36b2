//! The identity context: accounts, logins, sessions and the keys that sign access tokens.
//!
//! - [`domain`]: the values parsed at the edge — [`domain::Email`] (normalised),
//!   [`domain::Password`] (the policy, NFC) and [`domain::DisplayName`].
//! - [`use_cases`]: register, log in, refresh (rotation with reuse detection), log out,
//!   profile, change password, grant admin; one error enum each.
//! - [`store`]: the MariaDB adapter of the `identity` schema.
//! - [`sessions`]: opaque refresh tokens (stored as SHA-256) and the tokens a session hands out.
//! - [`rate_limit`]: login attempts per account and per address, counted in Redis.
//! - [`http`]: one router per function, request validation with field errors, and the
//!   mapping of every error to the envelope.
//! - [`settings`]: configuration from the environment.
//!
//! Passwords, tokens and keys come from the shared `security` crate. Each function binary
//! under `src/bin/` wires one router; `identity-admin` holds the operator commands (key files,
//! rotation, the admin bootstrap). Its benchmark, `identity-bench`, is in the `benches` crate.

pub mod domain;
pub mod http;
pub mod rate_limit;
pub mod sessions;
pub mod settings;
pub mod store;
pub mod use_cases;
