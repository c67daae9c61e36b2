//! What a relay runs with: addresses, its name and replica id, the schemas it publishes, and
//! the knobs of the pipeline, with the platform's defaults and the environment they are read
//! from.

use std::time::Duration;

use runtime::config::{parsed_or, required};

/// Everything the relay needs to run.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// The CDC account: streams the binlog and runs the preflight.
    pub cdc_url: String,
    /// The account and schema of the position store (`relay.relay_position`).
    pub position_store_url: String,
    pub kafka_bootstrap_servers: String,
    /// The key of this relay's row in the position store.
    pub name: String,
    /// The replica server id for the binlog dump; unique among the server's replicas.
    pub server_id: u32,
    /// The schemas whose `outbox` table is published.
    pub schemas: Vec<String>,
    /// How often the delivered position is stored.
    pub flush_interval: Duration,
    /// How often the position is stored when only non-outbox transactions moved it. Longer
    /// than `flush_interval`, because storing it is itself a transaction in the binlog.
    pub idle_store_interval: Duration,
    /// The server's heartbeat period on a quiet binlog; three missed ones count as a dead link.
    pub heartbeat: Duration,
    /// How many transactions may wait for delivery reports before the reader pauses.
    pub max_pending_transactions: usize,
    /// How many events may wait for delivery reports before the reader pauses. Together with
    /// `store_every_events` it bounds what a crash publishes twice.
    pub max_events_in_flight: usize,
    /// The delivered position is stored after this many events even before `flush_interval`.
    pub store_every_events: u64,
    /// How long the producer waits to fill a batch (`linger.ms`): the relay's median latency
    /// at a moderate rate, traded against batch size under load.
    pub linger: Duration,
}

impl RelayConfig {
    /// The platform's defaults for everything but the addresses.
    pub fn new(cdc_url: String, position_store_url: String, kafka_bootstrap_servers: String) -> Self {
        Self {
            cdc_url,
            position_store_url,
            kafka_bootstrap_servers,
            name: "outbox-relay".to_owned(),
            server_id: 4_242,
            schemas: crate::CONTEXT_SCHEMAS
                .iter()
                .map(|schema| (*schema).to_owned())
                .collect(),
            flush_interval: Duration::from_millis(200),
            idle_store_interval: Duration::from_secs(10),
            heartbeat: Duration::from_secs(1),
            max_pending_transactions: 10_000,
            max_events_in_flight: 2_000,
            store_every_events: 1_000,
            linger: crate::publisher::DEFAULT_LINGER,
        }
    }

    /// From the environment: `CDC_DATABASE_URL`, `RELAY_DATABASE_URL` (the position store),
    /// `KAFKA_BOOTSTRAP_SERVERS`, and optionally `RELAY_NAME`, `RELAY_SERVER_ID`,
    /// `RELAY_SCHEMAS` (comma-separated; by default every context schema) and
    /// `RELAY_LINGER_MS` (the producer's `linger.ms`, default 1).
    pub fn from_env() -> anyhow::Result<Self> {
        let mut config = Self::new(
            required("CDC_DATABASE_URL")?,
            required("RELAY_DATABASE_URL")?,
            required("KAFKA_BOOTSTRAP_SERVERS")?,
        );
        if let Ok(name) = std::env::var("RELAY_NAME") {
            config.name = name;
        }
        if let Ok(schemas) = std::env::var("RELAY_SCHEMAS") {
            config.schemas = schemas
                .split(',')
                .map(str::trim)
                .filter(|schema| !schema.is_empty())
                .map(str::to_owned)
                .collect();
        }
        if let Some(bad) = config.schemas.iter().find(|schema| !is_plain_identifier(schema)) {
            anyhow::bail!(
                "RELAY_SCHEMAS names {bad:?}, which is not a plain schema name (letters, digits, _)"
            );
        }
        if config.schemas.is_empty() {
            anyhow::bail!("RELAY_SCHEMAS names no schema");
        }
        let default_linger_ms = u64::try_from(config.linger.as_millis()).unwrap_or(u64::MAX);
        config.linger = Duration::from_millis(parsed_or("RELAY_LINGER_MS", default_linger_ms)?);
        // Set but empty is refused, not taken for the default: two relays that both fell back
        // to the default id would make the server drop one's binlog stream for the other's.
        if let Ok(server_id) = std::env::var("RELAY_SERVER_ID") {
            config.server_id = server_id
                .trim()
                .parse()
                .map_err(|_| anyhow::anyhow!("RELAY_SERVER_ID {server_id:?} is not a server id"))?;
        }
        Ok(config)
    }
}

fn is_plain_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
}
