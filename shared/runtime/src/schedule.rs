//! Scheduled functions: a job that a timer runs, such as a sweep that expires what waited too
//! long.
//!
//! The job is written once as a [`ScheduledJob`]. Under Lambda, an EventBridge schedule invokes
//! the function with a payload that does not matter: every invocation runs the job once. On
//! `$PORT` (Knative, the local stack), `POST /run` runs it once; a `CronJob` or the local
//! scheduler sends that request. The answer carries the job's summary (what it did) in the
//! envelope, or a 500 whose cause is logged.
//!
//! Jobs must tolerate overlapping and repeated runs: timers fire at least once, and two
//! instances may run side by side.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use lambda_runtime::{LambdaEvent, service_fn};

use crate::config::Platform;
use crate::envelope::{self, ApiError};
use crate::http::HttpFunction;

/// The path that runs the job once when served over HTTP.
pub const RUN_PATH: &str = "/run";

/// A job run on a schedule. Returns a summary of what it did, for logs and the caller.
pub trait ScheduledJob: Send + Sync + 'static {
    fn run(&self) -> impl Future<Output = anyhow::Result<serde_json::Value>> + Send;

    /// Whether the job could run now (its database answers); `/readyz` reports it. Ready by
    /// default.
    fn readiness(&self) -> impl Future<Output = Result<(), String>> + Send {
        async { Ok(()) }
    }
}

/// The job's HTTP routes: `POST /run`.
pub fn router<J: ScheduledJob>(job: Arc<J>) -> Router {
    Router::new().route(RUN_PATH, post(move || run_once(Arc::clone(&job))))
}

async fn run_once<J: ScheduledJob>(job: Arc<J>) -> Response {
    match job.run().await {
        Ok(summary) => {
            tracing::info!(%summary, "Scheduled job ran");
            envelope::ok(summary).into_response()
        }
        Err(cause) => ApiError::internal(&cause).into_response(),
    }
}

/// Serves a scheduled function on whatever platform this is.
pub async fn serve<J: ScheduledJob>(job: J) -> anyhow::Result<()> {
    let job = Arc::new(job);
    match Platform::detect()? {
        Platform::Lambda => {
            tracing::info!("Running the scheduled job on each Lambda invocation");
            lambda_runtime::run(service_fn(move |_event: LambdaEvent<serde_json::Value>| {
                let job = Arc::clone(&job);
                async move {
                    let summary = job.run().await.map_err(|error| format!("{error:#}"))?;
                    tracing::info!(%summary, "Scheduled job ran");
                    Ok::<_, lambda_runtime::Error>(summary)
                }
            }))
            .await
            .map_err(|error| anyhow::anyhow!("The Lambda runtime stopped: {error}"))
        }
        Platform::Server { .. } => {
            let ready = Arc::clone(&job);
            let function = HttpFunction::new(router(job)).readiness_check("job", move || {
                let job = Arc::clone(&ready);
                async move { job.readiness().await }
            });
            Box::pin(function.run()).await
        }
    }
}
