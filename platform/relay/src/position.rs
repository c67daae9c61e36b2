//! The position store: the last GTID position whose outbox rows were all acknowledged by
//! Kafka, in a one-row-per-relay table of the relay's own schema (`migrations/relay/`).
//!
//! Kept in MariaDB rather than a local file so it survives the loss of the relay's host and
//! fails over with the database it describes.

use sqlx::MySqlPool;
use sqlx::mysql::MySqlPoolOptions;

use crate::error::RelayError;
use crate::gtid::GtidPosition;

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

    pub async fn close(&self) {
        self.pool.close().await;
    }
}
