//! An operator's way past a transaction the relay cannot pass (docs/adr/0026).
//!
//! The relay stops, without moving its stored position, on a transaction it cannot read
//! safely: DDL on an outbox, a statement-logged insert, a compressed or unknown event. Two
//! commands move it on:
//!
//! - **skip** moves the stored position past the transaction and publishes nothing: the
//!   answer to reviewed DDL, or to a change that must not be published.
//! - **republish** publishes the outbox rows the transaction inserted, in order, waits for
//!   Kafka to acknowledge them, purges them, and then moves past it. Rows that row events
//!   carry come from the binlog; rows of a statement-logged insert come from the outbox table
//!   itself, found by the ids the statement names (`sql`) or that the operator names.
//!
//! Either works only on the transaction the relay stops at: the first one after the stored
//! position that has anything to publish or cannot be read (the `scan`). Both hold the relay
//! lock while they work, so no relay with that name runs meanwhile (one that failed holds
//! none, and starts again by itself once the position moved). The position moves in one
//! transaction with a row in `relay.relay_intervention` that records the reason, who, and
//! what was published or left unpublished.

mod scan;
pub mod sql;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use crate::binlog::{self, OutboxTables, StreamSettings, TouchedOutbox};
use crate::config::RelayConfig;
use crate::error::RelayError;
use crate::gtid::{Gtid, GtidPosition};
use crate::lock::RelayLock;
use crate::outbox::OutboxRow;
use crate::position::{InterventionRecord, PositionChanged, PositionStore};
use crate::publisher::Publisher;

pub use scan::{OutboxStatement, Part, ScannedTransaction};

/// How long a command waits for the relay lock before it says a relay is running.
const LOCK_WAIT: Duration = Duration::from_secs(3);

/// What the operator asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Skip,
    /// `ids`: the outbox rows a statement-logged insert wrote, for a statement whose text
    /// does not name them (`INSERT … SELECT`, `UUID()`); empty to read them from the text.
    Republish {
        ids: Vec<String>,
    },
}

impl Action {
    pub fn label(&self) -> &'static str {
        match self {
            Self::Skip => "skip",
            Self::Republish { .. } => "republish",
        }
    }
}

/// One intervention on one transaction.
#[derive(Debug, Clone)]
pub struct Intervention {
    pub gtid: Gtid,
    pub action: Action,
    /// Why, in the operator's words; required, and kept in the audit table.
    pub reason: String,
    /// Shows what would happen and changes nothing.
    pub dry_run: bool,
    /// Who runs it (the operating-system user), for the audit table.
    pub performed_by: String,
}

/// What an intervention did (or, on a dry run, would do).
#[derive(Debug, Clone)]
pub struct Outcome {
    pub action: &'static str,
    pub gtid: Gtid,
    pub position_before: GtidPosition,
    pub position_after: GtidPosition,
    /// The transaction's statements on an outbox, as logged.
    pub statements: Vec<String>,
    /// Events of the transaction the relay could not read.
    pub problems: Vec<String>,
    /// The rows published, in order.
    pub published: Vec<OutboxRow>,
    /// Ids of the transaction's outbox rows that stay unpublished, as far as they are known.
    pub unpublished_event_ids: Vec<String>,
    /// The audit row; `None` on a dry run.
    pub audit_id: Option<u64>,
}

/// Why an intervention was refused; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum InterventionError {
    #[error("a reason is required (--reason \"…\"); it is kept in relay.relay_intervention")]
    ReasonRequired,
    #[error(
        "a relay named {relay} is running: it holds the relay lock. A relay that stopped on a \
         transaction holds none; stop this one first (local-stack/down, or its Deployment)"
    )]
    RelayRunning { relay: String },
    #[error("relay {relay} has no stored position: it never ran against this database")]
    NoStoredPosition { relay: String },
    #[error("transaction {gtid} is at or before the stored position {stored}: the relay is already past it")]
    AlreadyPast { gtid: Gtid, stored: GtidPosition },
    #[error(
        "transaction {gtid} is not in the binlog after the stored position {stored} (the server is at \
         {server}); take the GTID from the relay's /healthz or its log"
    )]
    NotInBinlog {
        gtid: Gtid,
        stored: GtidPosition,
        server: GtidPosition,
    },
    #[error("the relay does not stop at {gtid} but before it, at transaction {earlier}: {why}")]
    EarlierTransaction { gtid: Gtid, earlier: Gtid, why: String },
    #[error("transaction {gtid} cannot be republished: {why}")]
    CannotRepublish { gtid: Gtid, why: String },
    #[error(transparent)]
    PositionChanged(#[from] PositionChanged),
    #[error(transparent)]
    Relay(#[from] RelayError),
}

/// Carries out `intervention` on the relay `config` names (its name, schemas, servers).
pub async fn run(config: &RelayConfig, intervention: &Intervention) -> Result<Outcome, InterventionError> {
    if intervention.reason.trim().is_empty() {
        return Err(InterventionError::ReasonRequired);
    }
    let store = PositionStore::connect(&config.position_store_url, &config.name).await?;
    let outcome = checked_then_locked(config, intervention, &store).await;
    store.close().await;
    outcome
}

/// Says first what needs no lock (a transaction the relay is past), then takes the lock and
/// does the work, checking again under it.
async fn checked_then_locked(
    config: &RelayConfig,
    intervention: &Intervention,
    store: &PositionStore,
) -> Result<Outcome, InterventionError> {
    if let Some(stored) = store.load().await?
        && stored.includes(intervention.gtid)
    {
        return Err(InterventionError::AlreadyPast {
            gtid: intervention.gtid,
            stored,
        });
    }
    let Some(lock) = RelayLock::try_acquire(&config.position_store_url, &config.name, LOCK_WAIT).await?
    else {
        return Err(InterventionError::RelayRunning {
            relay: config.name.clone(),
        });
    };
    let outcome = run_holding_the_lock(config, intervention, store).await;
    drop(lock);
    outcome
}

async fn run_holding_the_lock(
    config: &RelayConfig,
    intervention: &Intervention,
    store: &PositionStore,
) -> Result<Outcome, InterventionError> {
    let gtid = intervention.gtid;
    let before = store
        .load()
        .await?
        .ok_or_else(|| InterventionError::NoStoredPosition {
            relay: config.name.clone(),
        })?;
    if before.includes(gtid) {
        return Err(InterventionError::AlreadyPast { gtid, stored: before });
    }
    let server_at = binlog::current_position(&config.cdc_url).await?;
    let not_in_binlog = || InterventionError::NotInBinlog {
        gtid,
        stored: before.clone(),
        server: server_at.clone(),
    };
    if !server_at.includes(gtid) {
        return Err(not_in_binlog());
    }
    let (transaction, position_after) = match read_up_to(config, &before, gtid, &server_at).await? {
        scan::Scanned::Found {
            transaction,
            position_after,
        } => (transaction, position_after),
        scan::Scanned::Earlier { transaction, why } => {
            return Err(InterventionError::EarlierTransaction {
                gtid,
                earlier: transaction,
                why,
            });
        }
        scan::Scanned::Missing => return Err(not_in_binlog()),
    };

    let published = match &intervention.action {
        Action::Skip => Vec::new(),
        Action::Republish { ids } => rows_to_republish(&transaction, ids, store).await?,
    };
    let unpublished_event_ids = match intervention.action {
        Action::Skip => known_row_ids(&transaction),
        Action::Republish { .. } => Vec::new(),
    };
    let mut outcome = Outcome {
        action: intervention.action.label(),
        gtid,
        position_before: before,
        position_after,
        statements: transaction
            .statements()
            .map(|statement| statement.text.clone())
            .collect(),
        problems: transaction.problems.clone(),
        published,
        unpublished_event_ids,
        audit_id: None,
    };
    if intervention.dry_run {
        return Ok(outcome);
    }

    publish(config, &outcome.published).await?;
    let mut purge: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in &outcome.published {
        purge.entry(row.schema.clone()).or_default().push(row.id.clone());
    }
    let record = InterventionRecord {
        action: outcome.action,
        gtid,
        reason: intervention.reason.trim().to_owned(),
        position_before: outcome.position_before.clone(),
        position_after: outcome.position_after.clone(),
        binlog_file: transaction.file.clone(),
        binlog_pos: transaction.end_log_pos,
        statements: outcome.statements.clone(),
        problems: outcome.problems.clone(),
        published_event_ids: outcome.published.iter().map(|row| row.id.clone()).collect(),
        unpublished_event_ids: outcome.unpublished_event_ids.clone(),
        performed_by: intervention.performed_by.clone(),
    };
    outcome.audit_id = Some(store.record_intervention(&record, &purge).await?);
    tracing::info!(
        action = outcome.action,
        gtid = %gtid,
        position = %outcome.position_after,
        published = outcome.published.len(),
        "An operator moved the relay past a transaction."
    );
    Ok(outcome)
}

/// Opens the binlog at the stored position and reads up to `gtid`, with the relay's own
/// replica id: the lock guarantees no relay of this name streams meanwhile.
async fn read_up_to(
    config: &RelayConfig,
    stored: &GtidPosition,
    gtid: Gtid,
    server_at: &GtidPosition,
) -> Result<scan::Scanned, RelayError> {
    let settings = StreamSettings {
        url: config.cdc_url.clone(),
        server_id: config.server_id,
        heartbeat: config.heartbeat,
    };
    let tables = OutboxTables::new(config.schemas.iter().cloned());
    let mut stream = binlog::open(&settings, stored).await?;
    let scanned = scan::find(
        &mut stream,
        &tables,
        stored.clone(),
        gtid,
        server_at,
        config.heartbeat * 3,
    )
    .await;
    let _ = stream.close().await;
    scanned
}

/// The rows to publish for `transaction`, in order: those its row events carry, and for
/// each statement-logged insert, its rows as the outbox table holds them.
async fn rows_to_republish(
    transaction: &ScannedTransaction,
    named_ids: &[String],
    store: &PositionStore,
) -> Result<Vec<OutboxRow>, InterventionError> {
    let refuse = |why: String| InterventionError::CannotRepublish {
        gtid: transaction.gtid,
        why,
    };
    if let Some(problem) = transaction.problems.first() {
        return Err(refuse(format!(
            "the relay cannot read all of it ({problem}), so its rows cannot be recovered from the \
             binlog; skip it, and publish its rows another way"
        )));
    }
    let mut rows: Vec<OutboxRow> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut found_named: HashSet<String> = HashSet::new();
    for part in &transaction.parts {
        let statement = match part {
            Part::Rows(inserted) => {
                for row in inserted {
                    if seen.insert(row.id.clone()) {
                        rows.push(row.clone());
                    }
                }
                continue;
            }
            Part::Statement(statement) => statement,
        };
        if !matches!(statement.verb.as_str(), "INSERT" | "REPLACE" | "LOAD") {
            return Err(refuse(format!(
                "{statement}; it inserts no rows, so there is nothing to republish: review it and skip it"
            )));
        }
        let TouchedOutbox::Table { schema } = &statement.touched else {
            return Err(refuse(format!(
                "{statement}; it does not say which outbox it writes"
            )));
        };
        let ids = if named_ids.is_empty() {
            sql::inserted_ids(&statement.text).ok_or_else(|| {
                refuse(format!(
                    "{statement}; its text does not name the ids of the rows it inserted: name them \
                     with --id (SELECT id FROM {schema}.outbox shows what is waiting)"
                ))
            })?
        } else {
            named_ids.to_vec()
        };
        let mut found = OutboxRow::read_from_table(store.pool(), schema, &ids).await?;
        let by_id: HashSet<&str> = found.iter().map(|row| row.id.as_str()).collect();
        let missing: Vec<&String> = ids.iter().filter(|id| !by_id.contains(id.as_str())).collect();
        if named_ids.is_empty() && !missing.is_empty() {
            return Err(refuse(format!(
                "rows {missing:?} that it inserted are no longer in {schema}.outbox"
            )));
        }
        // In the order the statement (or the operator) names them.
        found.sort_by_key(|row| ids.iter().position(|id| *id == row.id));
        for row in found {
            found_named.insert(row.id.clone());
            if seen.insert(row.id.clone()) {
                rows.push(row);
            }
        }
    }
    let not_found: Vec<&String> = named_ids.iter().filter(|id| !found_named.contains(*id)).collect();
    if !not_found.is_empty() {
        return Err(refuse(format!(
            "--id names rows {not_found:?} that no statement-logged insert of it left in an outbox"
        )));
    }
    if rows.is_empty() {
        return Err(refuse("it has no outbox rows; review it and skip it".to_owned()));
    }
    Ok(rows)
}

/// The ids of the transaction's outbox rows as far as they are known without the table:
/// those of its row events and those its statements name.
fn known_row_ids(transaction: &ScannedTransaction) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for part in &transaction.parts {
        match part {
            Part::Rows(rows) => ids.extend(rows.iter().map(|row| row.id.clone())),
            Part::Statement(statement) => ids.extend(sql::inserted_ids(&statement.text).unwrap_or_default()),
        }
    }
    ids
}

/// Publishes `rows` in order with the relay's producer and waits for every acknowledgement.
async fn publish(config: &RelayConfig, rows: &[OutboxRow]) -> Result<(), RelayError> {
    if rows.is_empty() {
        return Ok(());
    }
    let publisher = Publisher::new(&config.kafka_bootstrap_servers, config.linger)?;
    let mut deliveries = Vec::with_capacity(rows.len());
    for row in rows {
        deliveries.push(publisher.publish(row).await?);
    }
    for delivery in deliveries {
        delivery.acknowledged().await?;
    }
    Ok(())
}
