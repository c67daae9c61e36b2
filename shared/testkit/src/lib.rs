//! What the workspace's tests share, and nothing else: no product code depends on this crate.
//!
//! - [`poll`]: wait for a state by asking again until a deadline, never by sleeping a guessed
//!   time.
//! - [`stack`]: where the running local stack keeps its files and settings (`$STACK_HOME`,
//!   `stack.env`), and where the repository is.
//! - [`app`]: a context's HTTP functions called in-process on a throw-away database, with
//!   access tokens signed by keys of the test's own.
//! - [`serve`]: real HTTP servers for a test, on ports that no other test can be handed in
//!   the meantime: a router on a listener the test keeps, or a function binary that binds
//!   port 0 itself and reports the port it got.
//!
//! Throw-away databases themselves stay with the store (`store::testing`, feature `testing`),
//! next to the migrations code they run.

pub mod app;
pub mod poll;
pub mod serve;
pub mod stack;
