//! The side doors: `/metrics` (Prometheus, via `telemetry`), `/healthz` and `/readyz`.
//!
//! Both probes answer the same body: the state, the positions, the lag and the last error.
//! `/healthz` is liveness — 200 as long as the process answers, also when it is `failed`,
//! because restarting a relay that stopped on a transaction it cannot pass only meets the
//! same transaction again. `/readyz` is 200 only while the relay is relaying and has
//! delivered everything committed before it started, and 503 otherwise; it is what
//! `local-stack/up` and `local-stack/status` ask (docs/adr/0025).

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;

use crate::status::{RelayStatus, StatusSnapshot};

/// `/metrics`, `/healthz` and `/readyz`.
pub fn router(status: Arc<RelayStatus>) -> Router {
    let readiness = Arc::clone(&status);
    telemetry::metrics_router()
        .route(
            "/healthz",
            get(move || {
                let snapshot = status.snapshot();
                async move { (StatusCode::OK, axum::Json(body(&snapshot))) }
            }),
        )
        .route(
            "/readyz",
            get(move || {
                let snapshot = readiness.snapshot();
                async move {
                    let code = if snapshot.is_ready() {
                        StatusCode::OK
                    } else {
                        StatusCode::SERVICE_UNAVAILABLE
                    };
                    (code, axum::Json(body(&snapshot)))
                }
            }),
        )
}

/// What both probes answer.
pub fn body(snapshot: &StatusSnapshot) -> serde_json::Value {
    let last_error = snapshot.last_error.as_ref().map(|error| {
        serde_json::json!({
            "kind": error.kind,
            "message": error.message,
            "transaction": error.transaction,
            "needs_operator": error.needs_operator,
            "at": chrono::DateTime::from_timestamp(error.at, 0).map(|at| at.to_rfc3339()),
        })
    });
    serde_json::json!({
        "status": if snapshot.is_ready() { "ready" } else { "not ready" },
        "state": snapshot.state.label(),
        "caught_up": snapshot.caught_up,
        "read_position": snapshot.read_position,
        "delivered_position": snapshot.delivered_position,
        "stored_position": snapshot.stored_position,
        "start_target": snapshot.start_target,
        "lag_events": snapshot.events_in_flight,
        "lag_ms": snapshot.lag_ms,
        "events_published": snapshot.events_published,
        "last_error": last_error,
    })
}

/// Serves [`router`] on `BIND_ADDRESS` (loopback by default) and `port` until the process ends.
pub async fn serve(port: u16, status: Arc<RelayStatus>) -> anyhow::Result<()> {
    let address = runtime::config::bind_address()?;
    let listener = tokio::net::TcpListener::bind((address, port)).await?;
    tracing::info!(%address, port, "Serving /metrics, /healthz and /readyz.");
    axum::serve(listener, router(status)).await?;
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM: the runtime's signal handling, shared by every process.
pub use runtime::http::shutdown_signal;
