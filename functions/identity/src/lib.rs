//! The identity context: accounts, logins, sessions and the keys that sign access tokens.
//!
//! - [`domain`]: the values parsed at the edge — [`domain::Email`] (normalised),
//!   [`domain::Password`] (the policy, NFC) and [`domain::DisplayName`] — and the account's
//!   status with the rules of its lock (docs/adr/0048).
//! - [`use_cases`]: register, log in, refresh (rotation with reuse detection, an absolute
//!   session lifetime), log out, profile, change password, withdraw, an admin's lock and
//!   unlock, the public profile, grant admin; one error enum each.
//! - [`limits`]: the abuse limits as rules without I/O — which attempt may go on given what
//!   the counters read (ADR 0013).
//! - [`hashing`]: argon2id on a fixed number of threads behind a bounded queue, so a burst of
//!   logins waits or is told to come back instead of taking 19 MiB per request (ADR 0014).
//! - [`client`]: the client's address, from the proxies the function trusts (ADR 0023).
//! - [`store`]: the MariaDB adapter of the `identity` schema.
//! - [`rate_limit`]: the limits' counters in Redis, under HMAC-named keys.
//! - [`sessions`]: opaque refresh tokens (stored as SHA-256), lifetimes, and the tokens a
//!   session hands out.
//! - [`http`]: one router per function, request validation with field errors, and the
//!   mapping of every error to the envelope.
//! - [`settings`]: configuration from the environment.
//!
//! Passwords, tokens and keys come from the shared `security` crate. Each function binary
//! under `src/bin/` wires one router; `identity-admin` holds the operator commands (key files,
//! rotation, the admin bootstrap). Its benchmark, `identity-bench`, is in the `benches` crate.

pub mod client;
pub mod domain;
pub mod hashing;
pub mod http;
pub mod limits;
pub mod openapi;
pub mod rate_limit;
pub mod sessions;
pub mod settings;
pub mod store;
pub mod use_cases;
