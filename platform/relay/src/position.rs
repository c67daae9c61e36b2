//! The position store: the last GTID position whose outbox rows were all acknowledged by
//! Kafka, in a one-row-per-relay table of the relay's own schema (`migrations/relay/`).
//!
//! Kept in MariaDB rather than a local file so it survives the loss of the relay's host and
//! fails over with the database it describes.

use sqlx::MySqlPool;
use sqlx::mysql::MySqlPoolOptions;

use crate::error::RelayError;
use crate::gtid::GtidPosition;

/// An operator's intervention, as [`PositionStore::record_intervention`] writes it.
#[derive(Debug, Clone)]
pub struct InterventionRecord {
    /// `skip` or `republish`.
    pub action: &'static str,
    pub gtid: crate::gtid::Gtid,
    pub reason: String,
    pub position_before: GtidPosition,
    pub position_after: GtidPosition,
    /// The binlog file and end offset of the transaction, for people reading the table.
    pub binlog_file: String,
    pub binlog_pos: u32,
    pub statements: Vec<String>,
    pub problems: Vec<String>,
    pub published_event_ids: Vec<String>,
    pub unpublished_event_ids: Vec<String>,
    pub performed_by: String,
}

/// One row of the audit table, for `outbox-relay interventions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedIntervention {
    pub id: u64,
    pub action: String,
    pub gtid: String,
    pub reason: String,
    pub position_before: String,
    pub position_after: String,
    pub performed_by: String,
    pub performed_at: String,
}

/// Why an intervention was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum PositionChanged {
    #[error(
        "the stored position changed meanwhile (expected {expected}, found {found:?}); nothing was changed"
    )]
    Moved { expected: String, found: Option<String> },
    #[error(transparent)]
    Store(RelayError),
}

fn json_list(items: &[String]) -> String {
    serde_json::Value::from(items.to_vec()).to_string()
}

/// How many rows one purge statement deletes.
const PURGE_CHUNK: usize = 500;

/// Reads and writes one relay's stored position, and purges published outbox rows (the
/// relay's account may delete from every context's outbox, nothing more).
#[derive(Debug, Clone)]
pub struct PositionStore {
    pool: MySqlPool,
    relay: String,
}

impl PositionStore {
    /// Connects lazily-sized: the store needs one connection, used every few hundred ms.
    pub async fn connect(url: &str, relay: &str) -> Result<Self, RelayError> {
        let pool = MySqlPoolOptions::new()
            .max_connections(1)
            // A purge deletes by primary key, some of them rows already gone (a restarted
            // relay publishes again what it delivered after its last stored position). Under
            // REPEATABLE READ such a delete takes gap locks that make the use cases' inserts
            // of new outbox rows wait; READ COMMITTED locks only the rows it finds.
            .after_connect(|connection, _| {
                Box::pin(async move {
                    sqlx::raw_sql("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
                        .execute(connection)
                        .await
                        .map(|_| ())
                })
            })
            .connect(url)
            .await
            .map_err(RelayError::PositionStore)?;
        Ok(Self {
            pool,
            relay: relay.to_owned(),
        })
    }

    /// The pool of the relay's account: its own schema, and SELECT and DELETE on every
    /// context's outbox.
    pub(crate) fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// The stored position, or `None` if this relay never stored one.
    pub async fn load(&self) -> Result<Option<GtidPosition>, RelayError> {
        let text: Option<String> =
            sqlx::query_scalar("SELECT gtid_position FROM relay_position WHERE relay = ?")
                .bind(&self.relay)
                .fetch_optional(&self.pool)
                .await
                .map_err(RelayError::PositionStore)?;
        text.map(|text| {
            GtidPosition::parse(&text).map_err(|reason| {
                RelayError::Unexpected(anyhow::anyhow!(
                    "the stored position of relay {} is unreadable: {reason}",
                    self.relay
                ))
            })
        })
        .transpose()
    }

    /// Stores `position` (with the binlog file and offset, for people reading the table).
    pub async fn save(&self, position: &GtidPosition, file: &str, log_pos: u32) -> Result<(), RelayError> {
        sqlx::query(
            "INSERT INTO relay_position (relay, gtid_position, binlog_file, binlog_pos) VALUES (?, ?, ?, ?)
             ON DUPLICATE KEY UPDATE gtid_position = VALUES(gtid_position),
                 binlog_file = VALUES(binlog_file), binlog_pos = VALUES(binlog_pos)",
        )
        .bind(&self.relay)
        .bind(position.to_string())
        .bind(file)
        .bind(log_pos)
        .execute(&self.pool)
        .await
        .map_err(RelayError::PositionStore)?;
        Ok(())
    }

    /// Deletes published rows from their outbox tables. `published` maps a schema to the ids
    /// of its rows whose delivery Kafka acknowledged. Deleting twice is harmless, and a row
    /// the relay crashes before deleting is published again from the binlog after restart (it
    /// purges before it stores the position), so no row outlives its publication for long.
    pub async fn purge(
        &self,
        published: &std::collections::BTreeMap<String, Vec<String>>,
    ) -> Result<u64, RelayError> {
        let mut deleted = 0;
        for (schema, ids) in published {
            for chunk in ids.chunks(PURGE_CHUNK) {
                let placeholders = vec!["?"; chunk.len()].join(", ");
                let statement = format!("DELETE FROM `{schema}`.outbox WHERE id IN ({placeholders})");
                let mut query = sqlx::query(sqlx::AssertSqlSafe(statement));
                for id in chunk {
                    query = query.bind(id);
                }
                deleted += query
                    .execute(&self.pool)
                    .await
                    .map_err(RelayError::PositionStore)?
                    .rows_affected();
            }
        }
        Ok(deleted)
    }

    /// Moves the stored position from `record.position_before` to `record.position_after`,
    /// purges `purge` (rows published by the intervention) and writes the audit row, all in
    /// one transaction. Fails with [`PositionChanged`] when the stored position is no longer
    /// `position_before`. Returns the audit row's id.
    pub async fn record_intervention(
        &self,
        record: &InterventionRecord,
        purge: &std::collections::BTreeMap<String, Vec<String>>,
    ) -> Result<u64, PositionChanged> {
        let failed = |error| PositionChanged::Store(RelayError::PositionStore(error));
        let mut transaction = self.pool.begin().await.map_err(failed)?;
        let stored: Option<String> =
            sqlx::query_scalar("SELECT gtid_position FROM relay_position WHERE relay = ? FOR UPDATE")
                .bind(&self.relay)
                .fetch_optional(&mut *transaction)
                .await
                .map_err(failed)?;
        let expected = record.position_before.to_string();
        if stored.as_deref() != Some(expected.as_str()) {
            return Err(PositionChanged::Moved {
                expected,
                found: stored,
            });
        }
        for (schema, ids) in purge {
            for chunk in ids.chunks(PURGE_CHUNK) {
                let placeholders = vec!["?"; chunk.len()].join(", ");
                let statement = format!("DELETE FROM `{schema}`.outbox WHERE id IN ({placeholders})");
                let mut query = sqlx::query(sqlx::AssertSqlSafe(statement));
                for id in chunk {
                    query = query.bind(id);
                }
                query.execute(&mut *transaction).await.map_err(failed)?;
            }
        }
        let audit_id = sqlx::query(
            "INSERT INTO relay_intervention
                 (relay, action, gtid, reason, position_before, position_after, statements, problems,
                  published_event_ids, unpublished_event_ids, performed_by, database_account)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, CURRENT_USER())",
        )
        .bind(&self.relay)
        .bind(record.action)
        .bind(record.gtid.to_string())
        .bind(&record.reason)
        .bind(&expected)
        .bind(record.position_after.to_string())
        .bind(json_list(&record.statements))
        .bind(json_list(&record.problems))
        .bind(json_list(&record.published_event_ids))
        .bind(json_list(&record.unpublished_event_ids))
        .bind(&record.performed_by)
        .execute(&mut *transaction)
        .await
        .map_err(failed)?
        .last_insert_id();
        sqlx::query(
            "UPDATE relay_position SET gtid_position = ?, binlog_file = ?, binlog_pos = ? WHERE relay = ?",
        )
        .bind(record.position_after.to_string())
        .bind(&record.binlog_file)
        .bind(record.binlog_pos)
        .bind(&self.relay)
        .execute(&mut *transaction)
        .await
        .map_err(failed)?;
        transaction.commit().await.map_err(failed)?;
        Ok(audit_id)
    }

    /// The newest `limit` interventions on this relay, newest first.
    pub async fn interventions(&self, limit: u32) -> Result<Vec<RecordedIntervention>, RelayError> {
        /// id, action, gtid, reason, positions before and after, who, when.
        type AuditRow = (u64, String, String, String, String, String, String, String);
        let rows: Vec<AuditRow> = sqlx::query_as(
            "SELECT id, CAST(action AS CHAR), gtid, reason, position_before, position_after, performed_by,
                    DATE_FORMAT(performed_at, '%Y-%m-%dT%H:%i:%s.%fZ')
             FROM relay_intervention WHERE relay = ? ORDER BY id DESC LIMIT ?",
        )
        .bind(&self.relay)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(RelayError::PositionStore)?;
        Ok(rows
            .into_iter()
            .map(
                |(id, action, gtid, reason, position_before, position_after, performed_by, performed_at)| {
                    RecordedIntervention {
                        id,
                        action,
                        gtid,
                        reason,
                        position_before,
                        position_after,
                        performed_by,
                        performed_at,
                    }
                },
            )
            .collect())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}
