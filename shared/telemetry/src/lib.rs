//! Telemetry for every binary of the platform: one call to [`init`] at the top of `main`, one
//! call to [`instrument`] on each HTTP router, and [`TraceContext`] to carry a trace across
//! HTTP, the outbox and Kafka.
//!
//! - `logging` (private): flat JSON lines on stdout carrying `service`,
//!   `function` and the fields of every enclosing span (`request_id`, `trace_id`, `user_id`,
//!   `order_id`, `event_id`, `event_type`, …); `LOG_FORMAT=pretty` for humans; `RUST_LOG`
//!   filters, default `info`.
//! - [`metrics`]: the shared metric names, the process-wide Prometheus recorder,
//!   [`render_metrics`] and [`metrics_router`] (`GET /metrics`), and helpers that record event
//!   outcomes.
//! - `http`: the [`instrument`] middleware (request id, trace context,
//!   `http.request` span, HTTP metrics) and the [`RequestContext`] extractor.
//! - [`trace_context`]: W3C `traceparent` parsing and propagation.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use telemetry::RequestContext;
//!
//! async fn show_order(context: RequestContext) -> String {
//!     context.trace.to_header()
//! }
//!
//! telemetry::init("ordering", "order-api");
//! let app = telemetry::instrument(Router::new().route("/orders/{id}", get(show_order)))
//!     // Merged after `instrument`, so scrapes are not counted as traffic.
//!     .merge(telemetry::metrics_router());
//! # drop(app);
//! ```

mod http;
mod logging;
pub mod metrics;
pub mod trace_context;

use std::sync::Once;

pub use crate::http::{
    MissingRequestContext, REQUEST_ID_HEADER, RequestContext, UNMATCHED_ROUTE, instrument,
};
pub use crate::metrics::{
    EventOutcome, FUNCTION_READY, metrics_router, metrics_router_refreshed_by,
    record_cache_invalidation_failure, record_cache_requests, record_event_dead_lettered,
    record_event_duplicate, record_event_handled, record_event_retry, record_readiness, render_metrics,
};
pub use crate::trace_context::{TRACEPARENT_HEADER, TraceContext};

/// Starts telemetry for this process: the global log subscriber (every line tagged with
/// `service` and `function`) and the Prometheus recorder.
///
/// Call it first thing in `main`. Only the first call does anything, so a later call (or a test
/// that calls it again) is harmless; if some other subscriber was installed first, it is kept.
pub fn init(service: &str, function: &str) {
    static STARTED: Once = Once::new();
    STARTED.call_once(|| {
        // Logging first, so a problem installing the recorder is logged.
        logging::install(service, function);
        crate::metrics::install_recorder();
    });
}
