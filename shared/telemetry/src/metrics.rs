//! Prometheus metrics: the metric names every binary shares, the process-wide recorder, the
//! `/metrics` route, and helpers that record event-handling outcomes with the right labels.
//!
//! The recorder has no HTTP listener of its own: long-running processes serve
//! [`metrics_router`] from the router they already have, so there is one port to expose and no
//! second server to start or shut down.

use std::sync::OnceLock;
use std::time::Duration;

use ::metrics::Unit;
use axum::Router;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

/// Counter of HTTP requests served, labelled `route`, `method`, `status`.
pub const HTTP_REQUESTS_TOTAL: &str = "http_requests_total";
/// Histogram of the time to produce the response head, in seconds, labelled `route`, `method`,
/// `status`.
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "http_request_duration_seconds";
/// Counter of event records handled, labelled `function`, `type`, `outcome`.
pub const EVENTS_HANDLED_TOTAL: &str = "events_handled_total";
/// Histogram of the time to handle one event record, in seconds, labelled `function`, `type`,
/// `outcome`.
pub const EVENT_HANDLING_DURATION_SECONDS: &str = "event_handling_duration_seconds";
/// Counter of event records handed back for another attempt, labelled `function`, `type`.
pub const EVENT_RETRIES_TOTAL: &str = "event_retries_total";
/// Counter of event records whose id the function's inbox already held, labelled `function`,
/// `type`: redeliveries and replays, acknowledged without an effect. They are counted in
/// `events_handled_total{outcome="succeeded"}` too, since the trigger sees a success.
pub const EVENTS_DUPLICATES_TOTAL: &str = "events_duplicates_total";
/// Counter of event records given up on and sent to the dead-letter topic, labelled `function`,
/// `type`.
pub const EVENTS_DEAD_LETTERED_TOTAL: &str = "events_dead_lettered_total";
/// Counter of read-cache lookups, labelled `cache` (what is cached) and `result` (`hit`,
/// `miss`, or `error` when the cache failed or was pausing and the read went to the database).
pub const CACHE_REQUESTS_TOTAL: &str = "cache_requests_total";
/// Counter of read-cache deletes and generation bumps that failed, labelled `cache`: each
/// leaves an entry that may be stale until its TTL ends.
pub const CACHE_INVALIDATION_FAILURES_TOTAL: &str = "cache_invalidation_failures_total";

/// Upper bounds from 1 ms to 10 s: an endpoint answering from a warm pool sits in the first
/// buckets, a cold start or a slow database shows up in the last ones.
const HTTP_DURATION_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Event handlers may wait on other services (a payment provider), so the range runs to 60 s.
const EVENT_DURATION_BUCKETS: [f64; 15] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Histograms are buffered until drained; without a listener nothing drains them between scrapes
/// (or ever, on Lambda), so a small thread does it to keep memory bounded.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// The handle that renders whatever the process-wide recorder holds.
static PROMETHEUS: OnceLock<PrometheusHandle> = OnceLock::new();

/// What became of one event record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventOutcome {
    /// The effect was applied and committed.
    Succeeded,
    /// The record had already been handled (idempotency key seen) and was acknowledged as is.
    Duplicate,
    /// Handling failed in a way another attempt may fix (a timeout, a lost connection).
    RetryableFailure,
    /// Handling failed in a way no retry will fix (an invalid payload, a broken rule).
    PermanentFailure,
}

impl EventOutcome {
    /// The `outcome` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Duplicate => "duplicate",
            Self::RetryableFailure => "retryable_failure",
            Self::PermanentFailure => "permanent_failure",
        }
    }
}

/// Installs the process-wide Prometheus recorder if nothing has yet, and returns its handle.
///
/// Every entry point that records or renders calls this, so metrics work in tests and in
/// binaries that build a router before (or without) calling [`crate::init`].
pub(crate) fn install_recorder() -> &'static PrometheusHandle {
    PROMETHEUS.get_or_init(|| {
        // The only build error is an empty bucket list, which the constants above rule out;
        // should it happen anyway, histograms fall back to summaries rather than no metrics.
        let recorder = builder_with_buckets()
            .unwrap_or_else(|_| PrometheusBuilder::new())
            .build_recorder();
        let handle = recorder.handle();
        match ::metrics::set_global_recorder(recorder) {
            Ok(()) => {
                describe_metrics();
                spawn_upkeep(handle.clone());
            }
            Err(_) => tracing::warn!(
                "Another metrics recorder is already installed; /metrics will not show this process's metrics"
            ),
        }
        handle
    })
}

fn builder_with_buckets() -> Result<PrometheusBuilder, BuildError> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(HTTP_REQUEST_DURATION_SECONDS.to_owned()),
            &HTTP_DURATION_BUCKETS,
        )?
        .set_buckets_for_metric(
            Matcher::Full(EVENT_HANDLING_DURATION_SECONDS.to_owned()),
            &EVENT_DURATION_BUCKETS,
        )
}

fn describe_metrics() {
    ::metrics::describe_counter!(
        HTTP_REQUESTS_TOTAL,
        Unit::Count,
        "HTTP requests served, by route template, method and status."
    );
    ::metrics::describe_histogram!(
        HTTP_REQUEST_DURATION_SECONDS,
        Unit::Seconds,
        "Time to produce the response head, by route template, method and status."
    );
    ::metrics::describe_counter!(
        EVENTS_HANDLED_TOTAL,
        Unit::Count,
        "Event records handled, by function, event type and outcome."
    );
    ::metrics::describe_histogram!(
        EVENT_HANDLING_DURATION_SECONDS,
        Unit::Seconds,
        "Time to handle one event record, by function, event type and outcome."
    );
    ::metrics::describe_counter!(
        EVENT_RETRIES_TOTAL,
        Unit::Count,
        "Event records handed back for another attempt, by function and event type."
    );
    ::metrics::describe_counter!(
        EVENTS_DUPLICATES_TOTAL,
        Unit::Count,
        "Event records the function's inbox had already handled (redeliveries, replays), by function and event type."
    );
    ::metrics::describe_counter!(
        EVENTS_DEAD_LETTERED_TOTAL,
        Unit::Count,
        "Event records sent to the dead-letter topic, by function and event type."
    );
    ::metrics::describe_counter!(
        CACHE_REQUESTS_TOTAL,
        Unit::Count,
        "Read-cache lookups, by cache and result (hit, miss, error)."
    );
    ::metrics::describe_counter!(
        CACHE_INVALIDATION_FAILURES_TOTAL,
        Unit::Count,
        "Read-cache deletes that failed (entries stale until their TTL), by cache."
    );
}

fn spawn_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".to_owned())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_INTERVAL);
                handle.run_upkeep();
            }
        });
    // Rendering drains histograms too, so a process that cannot spawn a thread still works;
    // it only holds more samples between scrapes.
    if let Err(error) = spawned {
        tracing::warn!(%error, "Could not start the metrics upkeep thread");
    }
}

/// Everything the process has recorded, in the Prometheus text exposition format.
pub fn render_metrics() -> String {
    install_recorder().render()
}

/// Gauge of whether the function is ready: 1 when every check of its `/readyz` passed at the
/// last scrape or probe, 0 when one failed. Alerts watch it (`FunctionNotReady`).
pub const FUNCTION_READY: &str = "function_ready";

/// Records the outcome of the readiness checks as [`FUNCTION_READY`].
pub fn record_readiness(ready: bool) {
    install_recorder();
    ::metrics::gauge!(FUNCTION_READY).set(if ready { 1.0 } else { 0.0 });
}

/// A router serving `GET /metrics`.
///
/// Merge it into the application router *after* [`crate::instrument`] so scrapes are not counted
/// as application traffic, and after `with_state` if the application has state.
pub fn metrics_router() -> Router {
    install_recorder();
    Router::new().route("/metrics", get(serve_metrics))
}

/// A router serving `GET /metrics` that awaits `refresh` before each render, for gauges that
/// are measured when scraped (the readiness of [`FUNCTION_READY`]). Merge it like
/// [`metrics_router`], instead of it.
pub fn metrics_router_refreshed_by<F, Fut>(refresh: F) -> Router
where
    F: Fn() -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    install_recorder();
    Router::new().route(
        "/metrics",
        get(move || {
            let refresh = refresh.clone();
            async move {
                refresh().await;
                serve_metrics().await
            }
        }),
    )
}

async fn serve_metrics() -> impl IntoResponse {
    (
        StatusCode::OK,
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        render_metrics(),
    )
}

/// Records one handled event record: `events_handled_total` and
/// `event_handling_duration_seconds`, labelled with the function, the CloudEvents type and the
/// outcome.
pub fn record_event_handled(function: &str, event_type: &str, outcome: EventOutcome, elapsed: Duration) {
    install_recorder();
    let labels = [
        ("function", function.to_owned()),
        ("type", event_type.to_owned()),
        ("outcome", outcome.as_str().to_owned()),
    ];
    ::metrics::counter!(EVENTS_HANDLED_TOTAL, &labels).increment(1);
    ::metrics::histogram!(EVENT_HANDLING_DURATION_SECONDS, &labels).record(elapsed.as_secs_f64());
}

/// Records that an event record will be attempted again (`event_retries_total`).
pub fn record_event_retry(function: &str, event_type: &str) {
    install_recorder();
    let labels = [("function", function.to_owned()), ("type", event_type.to_owned())];
    ::metrics::counter!(EVENT_RETRIES_TOTAL, &labels).increment(1);
}

/// Records that an event record was a duplicate its inbox recognised (`events_duplicates_total`).
pub fn record_event_duplicate(function: &str, event_type: &str) {
    install_recorder();
    let labels = [("function", function.to_owned()), ("type", event_type.to_owned())];
    ::metrics::counter!(EVENTS_DUPLICATES_TOTAL, &labels).increment(1);
}

/// Records that an event record was sent to the dead-letter topic
/// (`events_dead_lettered_total`).
pub fn record_event_dead_lettered(function: &str, event_type: &str) {
    install_recorder();
    let labels = [("function", function.to_owned()), ("type", event_type.to_owned())];
    ::metrics::counter!(EVENTS_DEAD_LETTERED_TOTAL, &labels).increment(1);
}

/// Records `count` read-cache lookups of `cache` with `result` (`cache_requests_total`).
pub fn record_cache_requests(cache: &'static str, result: &'static str, count: u64) {
    install_recorder();
    ::metrics::counter!(CACHE_REQUESTS_TOTAL, "cache" => cache, "result" => result).increment(count);
}

/// Records a failed read-cache invalidation of `cache` (`cache_invalidation_failures_total`).
pub fn record_cache_invalidation_failure(cache: &'static str) {
    install_recorder();
    ::metrics::counter!(CACHE_INVALIDATION_FAILURES_TOTAL, "cache" => cache).increment(1);
}

/// Records one served HTTP request. `route` is the route template, never the raw path, so the
/// number of label values stays bounded.
pub(crate) fn record_http_request(route: &str, method: &'static str, status: StatusCode, elapsed: Duration) {
    let labels = [
        ("route", route.to_owned()),
        ("method", method.to_owned()),
        ("status", status.as_str().to_owned()),
    ];
    ::metrics::counter!(HTTP_REQUESTS_TOTAL, &labels).increment(1);
    ::metrics::histogram!(HTTP_REQUEST_DURATION_SECONDS, &labels).record(elapsed.as_secs_f64());
}
