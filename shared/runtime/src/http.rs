//! HTTP functions: one axum Router, served under Lambda or on `$PORT`.
//!
//! [`HttpFunction`] wraps the use case's router with what every function needs — `/healthz`,
//! `/readyz`, `/metrics`, request ids and trace context, a body-size limit, envelope answers
//! for unknown routes and methods — and [`HttpFunction::run`] picks the platform:
//! `lambda_http::run` under the Lambda Runtime API (AWS or `cargo lambda watch`), otherwise
//! `axum::serve` on `$PORT` with graceful shutdown on SIGTERM or Ctrl-C.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

use crate::config::Platform;
use crate::envelope::{self, ApiError, REQUEST_ID};

/// The largest request body a function accepts unless it says otherwise.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// How long a readiness check may take before it counts as failed.
const READINESS_TIMEOUT: Duration = Duration::from_secs(2);

type CheckFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// A named readiness check, e.g. "the database answers".
#[derive(Clone)]
pub struct ReadinessCheck {
    name: &'static str,
    check: Arc<dyn Fn() -> CheckFuture + Send + Sync>,
}

impl std::fmt::Debug for ReadinessCheck {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ReadinessCheck")
            .field("name", &self.name)
            .finish()
    }
}

/// An HTTP function: the use case's routes plus everything the runtime adds.
#[derive(Debug)]
pub struct HttpFunction {
    routes: Router,
    body_limit: usize,
    readiness: Vec<ReadinessCheck>,
}

impl HttpFunction {
    pub fn new(routes: Router) -> Self {
        Self {
            routes,
            body_limit: DEFAULT_BODY_LIMIT,
            readiness: Vec::new(),
        }
    }

    /// Changes the body-size limit; larger bodies get `413 BODY_TOO_LARGE`.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Adds a check that `/readyz` runs; the function is ready when every check passes.
    pub fn readiness_check<F, Fut>(mut self, name: &'static str, check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.readiness.push(ReadinessCheck {
            name,
            check: Arc::new(move || Box::pin(check())),
        });
        self
    }

    /// The complete router, for serving or for calling in-process in tests.
    pub fn into_router(self) -> Router {
        let checks = Arc::new(self.readiness);
        let scraped_checks = Arc::clone(&checks);
        let probes = Router::new()
            .route(
                "/healthz",
                get(|| async {
                    envelope::ok(Status {
                        status: "ok",
                        failing: Vec::new(),
                    })
                }),
            )
            .route("/readyz", get(move || readyz(Arc::clone(&checks))))
            // The fallback applies to the routes registered before it, so each router needs it.
            .method_not_allowed_fallback(method_not_allowed);
        let routes = self
            .routes
            .fallback(|| async { ApiError::not_found("NOT_FOUND", "No such route.") })
            .method_not_allowed_fallback(method_not_allowed)
            .layer(DefaultBodyLimit::max(self.body_limit))
            // The fault knob `functions.<name>.unavailableRate` (probes and metrics excepted).
            .layer(middleware::from_fn(fault_gate));
        // Scrapes of /metrics are left out of the HTTP metrics they report on.
        let router = probes.merge(routes).layer(middleware::from_fn(request_scope));
        // Each scrape runs the readiness checks first, so `function_ready` says whether the
        // function was ready a moment ago, not when something last asked.
        let metrics = telemetry::metrics_router_refreshed_by(move || {
            let checks = Arc::clone(&scraped_checks);
            async move {
                failing_checks(&checks).await;
            }
        });
        telemetry::instrument(router).merge(metrics)
    }

    /// Serves the function until it is shut down.
    pub async fn run(self) -> anyhow::Result<()> {
        let router = self.into_router();
        match Platform::detect()? {
            Platform::Lambda => {
                tracing::info!("Serving HTTP through the Lambda Runtime API");
                lambda_http::run(router)
                    .await
                    .map_err(|error| anyhow::anyhow!("The Lambda runtime stopped: {error}"))
            }
            Platform::Server { address, port } => {
                if let Some(name) = function_name() {
                    faults::init(faults::Role::Function(name.to_owned()));
                }
                let listener = tokio::net::TcpListener::bind((address, port))
                    .await
                    .map_err(|error| anyhow::anyhow!("Cannot listen on {address} port {port}: {error}"))?;
                // With `PORT=0` the system picks the port; the one actually bound is logged, so
                // whoever started the function (a test, say) can find it without guessing a
                // free port first, which another process could take in between.
                let port = listener.local_addr().map_or(port, |address| address.port());
                tracing::info!(%address, port, "Serving HTTP");
                axum::serve(listener, router)
                    .with_graceful_shutdown(shutdown_signal())
                    .await?;
                tracing::info!("Stopped after draining in-flight requests");
                Ok(())
            }
        }
    }
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        "This route does not accept that method.",
    )
}

#[derive(Serialize)]
struct Status {
    status: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    failing: Vec<String>,
}

/// Runs every readiness check; answers the failing ones, each with its reason, and records
/// the outcome as `function_ready`.
async fn failing_checks(checks: &[ReadinessCheck]) -> Vec<String> {
    let mut failing = Vec::new();
    for check in checks {
        match tokio::time::timeout(READINESS_TIMEOUT, (check.check)()).await {
            Ok(Ok(())) => {}
            Ok(Err(reason)) => failing.push(format!("{}: {reason}", check.name)),
            Err(_) => failing.push(format!("{}: no answer within {READINESS_TIMEOUT:?}", check.name)),
        }
    }
    telemetry::record_readiness(failing.is_empty());
    failing
}

async fn readyz(checks: Arc<Vec<ReadinessCheck>>) -> Response {
    let failing = failing_checks(&checks).await;
    if failing.is_empty() {
        envelope::ok(Status {
            status: "ready",
            failing,
        })
        .into_response()
    } else {
        tracing::warn!(?failing, "Not ready");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(Status {
                status: "not ready",
                failing,
            }),
        )
            .into_response()
    }
}

/// The function's name, as the platform starts it (`FUNCTION_NAME` locally and on Knative,
/// `AWS_LAMBDA_FUNCTION_NAME` on Lambda); the fault knobs are named by it.
fn function_name() -> Option<&'static str> {
    static NAME: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        std::env::var("FUNCTION_NAME")
            .or_else(|_| std::env::var("AWS_LAMBDA_FUNCTION_NAME"))
            .ok()
    })
    .as_deref()
}

/// Answers a share of requests `503 FAULT_INJECTED` while the function's fault knob is on
/// (an experiment's "function failing"); every other request goes through untouched.
async fn fault_gate(request: Request, next: Next) -> Response {
    let rate = function_name()
        .and_then(|name| {
            faults::current()
                .functions
                .get(name)
                .map(|knobs| knobs.unavailable_rate)
        })
        .unwrap_or(0.0);
    if faults::happens(rate) {
        return (
            [(http::header::RETRY_AFTER, "1")],
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "FAULT_INJECTED",
                "A fault knob makes this function refuse a share of requests (local-stack/faults).",
            ),
        )
            .into_response();
    }
    next.run(request).await
}

/// Makes the request id reachable from error responses built anywhere in the request.
async fn request_scope(request: Request, next: Next) -> Response {
    let request_id = request
        .headers()
        .get(telemetry::REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    REQUEST_ID.scope(request_id, next.run(request)).await
}

/// Resolves on SIGTERM (Knative, Kubernetes, the local stack's `down`) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "Cannot listen for Ctrl-C");
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
                tracing::warn!(%error, "Cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C received; shutting down"),
        () = terminate => tracing::info!("SIGTERM received; shutting down"),
    }
}
