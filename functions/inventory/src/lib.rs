//! The inventory context: stock per SKU and the reservations orders hold on it.
//!
//! Inventory takes part in the order saga without ever being called: it reserves an order's
//! lines when the order is placed (every line or none, never below zero whatever runs at the
//! same time), releases them when the order is cancelled or the reservation lapses, and
//! commits them when the order is confirmed.
//!
//! - [`domain`]: the rules without I/O — SKUs, quantities, the all-or-nothing decision.
//! - [`reservations`]: the use cases on MariaDB, each one transaction with its inbox record
//!   and outbox event.
//! - [`handlers`]: the event functions `reserve-stock`, `release-stock` and `commit-stock`.
//! - [`stock`]: setting, adjusting and reading stock levels.
//! - [`http`]: the HTTP functions `set-stock`, `adjust-stock` (admin) and `get-availability`.

pub mod domain;
pub mod handlers;
pub mod http;
pub mod reservations;
pub mod stock;

/// Connects lazily to the context's database: start-up stays fast and a database that is
/// briefly down makes events retry instead of the function crash-looping. The short acquire
/// timeout answers "retry later" quickly.
pub fn lazy_pool(database_url: &str) -> anyhow::Result<sqlx::MySqlPool> {
    Ok(sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(5)
        .acquire_timeout(std::time::Duration::from_secs(3))
        .connect_lazy(database_url)?)
}
