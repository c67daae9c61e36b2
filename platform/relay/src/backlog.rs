//! The backlog the relay has not published yet, measured from the outboxes themselves.
//!
//! `outbox_relay_lag_milliseconds` is set when a transaction is published: a relay that
//! publishes nothing (paused, stuck on a slow broker, blocked behind a lock) leaves it at its
//! last, healthy value. The outboxes tell the truth on their own: the relay deletes every row
//! it has delivered, so the oldest row still in a context's outbox is the oldest event not yet
//! published. Once a second the watch reads it and exports its age per schema, as
//! `outbox_relay_backlog_age_seconds{schema}` — 0 for an empty outbox — which keeps growing
//! while the relay stands still (docs/experiments/02-relay-paused.md).

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::MySqlPool;

use crate::config::RelayConfig;
use crate::position::PositionStore;

/// How often the outboxes are looked at.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// The age of the oldest unpublished row of each schema's outbox, in seconds (0 when empty).
/// The rows' ids are UUIDv7, so the first by primary key is the oldest, found without a scan.
pub async fn ages(
    pool: &MySqlPool,
    schemas: &[String],
    now: DateTime<Utc>,
) -> Result<Vec<(String, f64)>, sqlx::Error> {
    let mut ages = Vec::with_capacity(schemas.len());
    for schema in schemas {
        // The schema names were checked to be plain identifiers when the configuration was read.
        let oldest: Option<DateTime<Utc>> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT occurred_at FROM `{schema}`.outbox ORDER BY id LIMIT 1"
        )))
        .fetch_optional(pool)
        .await?;
        let age = oldest.map_or(0.0, |occurred_at| {
            ((now - occurred_at).num_milliseconds().max(0) as f64) / 1000.0
        });
        ages.push((schema.clone(), age));
    }
    Ok(ages)
}

/// Exports the backlog's age every [`WATCH_INTERVAL`], for as long as the relay process runs,
/// whether or not the relay itself is running. A failed look is logged and tried again.
pub async fn watch(config: RelayConfig) {
    let mut store = None;
    let mut ticks = tokio::time::interval(WATCH_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if store.is_none() {
            match PositionStore::connect(&config.position_store_url, &config.name).await {
                Ok(connected) => store = Some(connected),
                Err(error) => {
                    tracing::warn!(error = %error, "Cannot reach MariaDB to measure the outbox backlog; trying again");
                    continue;
                }
            }
        }
        let Some(connected) = store.as_ref() else { continue };
        match ages(connected.pool(), &config.schemas, Utc::now()).await {
            Ok(ages) => {
                for (schema, age) in ages {
                    metrics::gauge!("outbox_relay_backlog_age_seconds", "schema" => schema).set(age);
                }
            }
            Err(error) => {
                tracing::warn!(error = %error, "Measuring the outbox backlog failed; trying again");
                store = None;
            }
        }
    }
}
