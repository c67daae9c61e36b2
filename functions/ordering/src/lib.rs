//! The ordering context.
//!
//! Ordering never asks the catalog for prices: it keeps its own projection of the catalog's
//! events and prices order lines from it.
//!
//! - [`catalog_projection`]: the projection of `commerce.catalog.product` events into
//!   `ordering.product_price` — the rules (which events matter, what a valid price is) apart
//!   from their application to MariaDB, and the event handler that the
//!   `project-catalog-product` function serves.
//! - [`customer_status`]: the projection of identity's account status events into
//!   `ordering.customer_status` (the `project-customer-status` function), the check that
//!   refuses a locked or withdrawn customer's order, and the erasure of a withdrawn
//!   customer's personal data.
//! - [`order`]: the rules without I/O — order values, pricing from the projection, and the
//!   state machine (`PLACED` → `CONFIRMED` | `CANCELLED`) with its guarded transitions.
//! - [`orders`]: the use cases on MariaDB — place (idempotent by customer and key), get,
//!   list, cancel, saga steps, expiry of unpaid orders; history row and outbox event with
//!   every status change.
//! - [`saga`]: the event functions `confirm-order` and `cancel-order`.
//! - [`http`]: the HTTP functions `place-order`, `get-order`, `list-orders` and
//!   `customer-cancel-order`, for authenticated customers.

pub mod catalog_projection;
pub mod customer_status;
pub mod http;
pub mod order;
pub mod orders;
pub mod saga;
