//! The position store: the last GTID position whose outbox rows were all acknowledged by
//! Kafka, in a one-row-per-relay table of the relay's own schema (`migrations/relay/`).
//!
//! Kept in MariaDB rather than a local file so it survives the loss of the relay's host and
//! fails over with the database it describes.

use sqlx::MySqlPool;
use sqlx::mysql::MySqlPoolOptions;

use crate::error::RelayError;
use crate::gtid::GtidPosition;

/// Reads and writes one relay's stored position.
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

    pub async fn close(&self) {
        self.pool.close().await;
    }
}
