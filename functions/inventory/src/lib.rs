//! The inventory context: stock per SKU and the reservations orders hold on it.
//!
//! Inventory takes part in the order saga without ever being called: it reserves an order's
//! lines when the order is placed (every line or none, never below zero whatever runs at the
//! same time), releases them when the order is cancelled or the reservation lapses, and
//! commits them when the order is confirmed.
//!
//! - [`domain`]: the rules without I/O — SKUs, quantities, the all-or-nothing decision, when
//!   a SKU runs out or comes back.
//! - [`reservations`]: the use cases on MariaDB, each on one transaction with the outbox event
//!   it causes (and, run by the consumer runner, the inbox record of the event that caused it).
//! - [`refunds`]: units of refunded order lines back on hand, once per refund
//!   (docs/adr/0046).
//! - [`handlers`]: the event functions `reserve-stock`, `release-stock`, `commit-stock`,
//!   `restock-refund` and `open-sku-stock` (consumers for `store::consumer::Runner`) and the scheduled
//!   `expire-reservations`.
//! - [`stock`]: opening, setting, adjusting and reading stock levels.
//! - [`changes`]: the change log every stock change writes, and the `stock.depleted` /
//!   `stock.restored` events a change can cause.
//! - [`cache`]: the optional Redis cache of availability, and what forgets it.
//! - [`http`]: the HTTP functions `set-stock`, `adjust-stock`, `list-stock-changes` (admin)
//!   and `get-availability` (one SKU or many).

pub mod cache;
pub mod changes;
pub mod domain;
pub mod handlers;
pub mod http;
pub mod openapi;
pub mod refunds;
pub mod reservations;
pub mod stock;
