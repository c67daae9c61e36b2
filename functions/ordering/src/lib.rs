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
//! - The refund saga (docs/adr/0046): [`refund`] (the rules without I/O: which lines a refund
//!   may take and what it is worth), [`refunds`] (asking for a refund, settling it with
//!   payment's answer), [`refund_http`] (the HTTP function `request-refund`) and
//!   [`refund_saga`] (the event function `settle-refund`).
//! - The shopping flow (docs/adr/0044, 0045): [`shopping`] holds its rules without I/O (cart
//!   limits, addresses, the shipping fee, totals, order numbers); [`cart`] and [`addresses`]
//!   are its use cases, [`shopper`] the per-customer lock and `erase_customer`,
//!   [`availability`] the port to inventory's availability, [`orders::checkout`] places a cart,
//!   and [`shop_http`] serves `manage-cart`, `manage-addresses` and `POST /cart/checkout`.

pub mod addresses;
pub mod availability;
pub mod cart;
pub mod catalog_projection;
pub mod customer_status;
pub mod http;
pub mod openapi;
pub mod order;
pub mod orders;
pub mod progress;
pub mod refund;
pub mod refund_http;
pub mod refund_saga;
pub mod refunds;
pub mod saga;
pub mod shop_http;
pub mod shopper;
pub mod shopping;
