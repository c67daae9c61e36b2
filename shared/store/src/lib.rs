//! MariaDB persistence shared by the contexts.
//!
//! - [`inbox`]: runs a consumer's effect at most once per event id, in one transaction with
//!   the record that the event was handled.
//! - [`outbox`]: records the events a use case caused, in the transaction of its state change.
//! - `testing` (feature): throw-away databases with a context's migrations, for tests.

pub mod inbox;
pub mod outbox;
#[cfg(feature = "testing")]
pub mod testing;
