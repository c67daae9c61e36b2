//! End-to-end tests of the running platform, and the client they share.
//!
//! The tests in `tests/` drive what `local-stack/up` started from template.yaml — the gateway,
//! every context's functions, the outbox relay, Kafka, the trigger dispatcher and the replay
//! tool — and fake nothing. They cross contexts (an order is priced by ordering from catalog's
//! events, reserved by inventory, paid by payment), so they belong to no context's crate.
//!
//! - [`shop`]: a storefront client through the gateway, signing its own tokens with the
//!   stack's keys, that waits for the saga by polling the public API with a deadline.
//! - [`projection`]: catalog events put on Kafka as the relay would, and ordering's projection
//!   of them read back from MariaDB.
//! - [`refunds`]: the refund saga from the storefront's side: orders of several lines, refund
//!   requests, and waiting for refunds to be settled.
//! - [`platform`]: the stack's processes: where a function listens, the replay tool, killing a
//!   process and bringing the stack back.
//! - [`chaos`]: the chaos run behind the `chaos` binary: orders through the gateway while the
//!   stack's processes, Kafka and MariaDB included, are killed and restarted, then the saga's
//!   invariants checked and reported.
//!
//! `saga_crash`, `refund_crash`, `platform_crash` and `chaos` kill processes the other tests rely on; each is a
//! test binary of its own, and cargo runs test binaries one after another.

pub mod chaos;
pub mod platform;
pub mod projection;
pub mod refunds;
pub mod shop;
