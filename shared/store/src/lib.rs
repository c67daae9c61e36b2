//! MariaDB persistence shared by the contexts.
//!
//! - [`inbox`]: runs a consumer's effect at most once per event id, in one transaction with
//!   the record that the event was handled.
//! - [`outbox`]: records the events a use case caused, in the transaction of its state change.

pub mod inbox;
pub mod outbox;
