//! MariaDB persistence shared by the contexts, and the one way an event function runs.
//!
//! - [`outbox`]: records the events a use case caused, typed, in the transaction of its
//!   state change; [`outbox::Origin`] says which function wrote them and in which flow.
//! - [`inbox`]: runs a consumer's effect at most once per event id, in one transaction with
//!   the record that the event was handled.
//! - [`consumer`]: the runner of every event function: a [`consumer::Consumer`] names the
//!   events it reads and its use case; the [`consumer::Runner`] decodes, claims the inbox,
//!   commits and maps failures to `Ack`/`Retry`/`Reject`.
//! - [`mariadb`]: the pool every function builds from its environment, and MariaDB's error
//!   numbers (duplicate key, missing reference).
//! - `testing` (feature): throw-away databases with a context's migrations, for tests.

pub mod consumer;
pub mod inbox;
pub mod mariadb;
pub mod outbox;
#[cfg(feature = "testing")]
pub mod testing;
