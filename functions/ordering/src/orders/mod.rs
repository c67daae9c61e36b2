//! The order use cases on MariaDB, one module per job:
//!
//! - [`view`]: what a customer reads — an order with its lines and history, a page of orders.
//! - [`place`]: placing an order, idempotent per customer and `Idempotency-Key`.
//! - [`checkout`]: placing the customer's cart, shipped to one of their addresses, through the
//!   same steps, if it still costs what they were shown.
//! - [`moves`]: every status change — the customer's cancellation, the saga's steps, the
//!   expiry sweep — and the event each move announces.
//! - [`rows`]: the rows the use cases lock, read and write.
//!
//! Every status change goes through [`crate::order::transition`] on a row locked with
//! `SELECT … FOR UPDATE`, is written with the status it came from in its `WHERE` clause, adds a
//! history row and appends its event to the outbox, all in one transaction.

pub mod checkout;
pub mod moves;
pub mod place;
pub mod rows;
pub mod view;

pub use checkout::{Checkout, CheckoutError, CurrentPrice, checkout};
pub use moves::{
    CancelOrderError, SagaStepError, Stepped, cancel_order, confirm_paid, count_overdue, expire_unpaid,
    saga_step,
};
pub use place::{PlaceOrderError, Placed, place_order};
pub use view::{
    GetOrderError, OrderLineView, OrderSummary, OrderView, ShippingAddressView, StatusChangeView, get_order,
    list_orders,
};
