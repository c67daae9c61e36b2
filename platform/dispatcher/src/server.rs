//! The process's side doors: `/metrics` and `/healthz`, and the shutdown signal.

use axum::Router;
use axum::routing::get;

/// `/metrics` (Prometheus, from `telemetry`) and `/healthz`.
pub fn router() -> Router {
    telemetry::metrics_router().route("/healthz", get(|| async { "ok" }))
}

/// Binds `BIND_ADDRESS` (loopback by default) and `port`, before anything else starts, so a
/// taken port fails the start-up.
pub async fn bind(port: u16) -> anyhow::Result<tokio::net::TcpListener> {
    let address = runtime::config::bind_address()?;
    let listener = tokio::net::TcpListener::bind((address, port)).await?;
    tracing::info!(%address, port, "Serving /metrics and /healthz.");
    Ok(listener)
}

/// Serves [`router`] until the process ends.
pub async fn serve(listener: tokio::net::TcpListener) {
    if let Err(error) = axum::serve(listener, router()).await {
        tracing::error!(%error, "Serving /metrics and /healthz failed.");
    }
}

/// Completes on Ctrl-C or SIGTERM: the runtime's signal handling, shared by every process.
pub use runtime::http::shutdown_signal;
