//! The ordering context.
//!
//! Ordering never asks the catalog for prices: it keeps its own projection of the catalog's
//! events and prices order lines from it.
//!
//! - [`catalog_projection`]: the projection of `commerce.catalog.product` events into
//!   `ordering.product_price` — the rules (which events matter, what a valid price is) apart
//!   from their application to MariaDB, and the event handler that the
//!   `project-catalog-product` function serves.

pub mod catalog_projection;
