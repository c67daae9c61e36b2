//! `stackctl`: the provisioning half of the local stack.
//!
//! The shell scripts in `local-stack/` install, start and stop the servers; this crate does
//! what needs a real client library once the servers are up:
//!
//! - [`settings`]: where the stack's servers are and how to reach them, from the environment.
//! - [`database`]: one schema and one least-privilege user per context, the CDC user, and
//!   each context's sqlx migrations from `migrations/<context>/`.
//! - [`kafka`]: the platform's topics from the `events` registry, created up front because
//!   the broker does not create topics on first use.
//! - [`binlog`]: the preflight of the server settings the CDC relay depends on.

pub mod database;
pub mod kafka;
pub mod settings;

/// The binlog preflight's rules live in their own crate, shared with the outbox relay.
pub use binlog_preflight as binlog;
