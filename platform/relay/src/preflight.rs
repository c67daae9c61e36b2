//! The preflight: the server settings binlog CDC depends on, checked before the first event.
//!
//! The rules are `binlog_preflight`'s, shared with the stack's `up`, so the two cannot disagree on
//! what a correct server is.

use sqlx::mysql::MySqlPoolOptions;

use crate::error::RelayError;

/// Refuses to start, naming every wrong setting, unless the server is fit for binlog CDC.
pub async fn check(url: &str) -> Result<(), RelayError> {
    let pool = MySqlPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .map_err(|error| RelayError::Connect(format!("cannot connect for the preflight: {error}")))?;
    let report = binlog_preflight::check(&pool).await;
    pool.close().await;
    let report = report?;
    if report.is_ok() {
        return Ok(());
    }
    let wrong: Vec<String> = report
        .wrong()
        .map(|check| {
            format!(
                "{} is {} but must be {}",
                check.variable, check.actual, check.expected
            )
        })
        .collect();
    Err(RelayError::WrongServerSettings(wrong.join("; ")))
}
