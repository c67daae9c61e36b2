//! The side doors: `/metrics` (Prometheus, via `telemetry`) and `/healthz` with the positions
//! and the lag.

use std::sync::Arc;

use axum::Router;
use axum::routing::get;

use crate::status::RelayStatus;

/// `/metrics` and `/healthz`.
pub fn router(status: Arc<RelayStatus>) -> Router {
    telemetry::metrics_router().route(
        "/healthz",
        get(move || {
            let snapshot = status.snapshot();
            async move {
                axum::Json(serde_json::json!({
                    "status": "ok",
                    "state": snapshot.state.label(),
                    "read_position": snapshot.read_position,
                    "delivered_position": snapshot.delivered_position,
                    "stored_position": snapshot.stored_position,
                    "lag_events": snapshot.events_in_flight,
                    "lag_ms": snapshot.lag_ms,
                    "events_published": snapshot.events_published,
                }))
            }
        }),
    )
}

/// Serves [`router`] on `BIND_ADDRESS` (loopback by default) and `port` until the process ends.
pub async fn serve(port: u16, status: Arc<RelayStatus>) -> anyhow::Result<()> {
    let address = runtime::config::bind_address()?;
    let listener = tokio::net::TcpListener::bind((address, port)).await?;
    tracing::info!(%address, port, "Serving /metrics and /healthz.");
    axum::serve(listener, router(status)).await?;
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM: the runtime's signal handling, shared by every process.
pub use runtime::http::shutdown_signal;
