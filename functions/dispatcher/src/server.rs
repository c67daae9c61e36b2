//! The process's side doors: `/metrics` and `/healthz`, and the shutdown signal.

use axum::Router;
use axum::routing::get;

/// `/metrics` (Prometheus, from `telemetry`) and `/healthz`.
pub fn router() -> Router {
    telemetry::metrics_router().route("/healthz", get(|| async { "ok" }))
}

/// Binds `0.0.0.0:port` (before anything else starts, so a taken port fails the start-up).
pub async fn bind(port: u16) -> anyhow::Result<tokio::net::TcpListener> {
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", port)).await?;
    tracing::info!(port, "Serving /metrics and /healthz.");
    Ok(listener)
}

/// Serves [`router`] until the process ends.
pub async fn serve(listener: tokio::net::TcpListener) {
    if let Err(error) = axum::serve(listener, router()).await {
        tracing::error!(%error, "Serving /metrics and /healthz failed.");
    }
}

/// Completes on Ctrl-C or SIGTERM (what Kubernetes and `local-stack/down` send).
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "Listening for Ctrl-C failed.");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "Listening for SIGTERM failed.");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
