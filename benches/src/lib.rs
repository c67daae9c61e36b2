//! What the benchmark programs share beyond the platform's own crates.
//!
//! - [`saga`]: how `saga-bench` spreads its orders over SKUs and stock, and how it counts
//!   the orders' outcomes.

pub mod saga;
