//! Captures seeds for the `binlog_stream` fuzz target from a real MariaDB: runs the kinds of
//! transaction the relay meets on a throw-away `fuzz_seed` schema with a context's outbox,
//! reads them back from the binlog as the relay does, and writes them in the target's
//! framing to `fuzz/seeds/binlog_stream/`: the whole stream, and each transaction on its
//! own after the stream's opening events.
//!
//! Needs the local stack's MariaDB (the admin account has the replication grants):
//!
//! ```sh
//! set -a; . local-stack/var/stack.env; set +a
//! cargo run -p harness --example capture-binlog-seeds
//! ```
//!
//! The running relay ignores these transactions: `fuzz_seed` is not a context schema.

use std::error::Error;
use std::path::Path;
use std::time::Duration;

use futures::StreamExt;
use harness::binlog_stream::SEED_SCHEMA;
use mysql_async::binlog::events::Event;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};
use mysql_common::binlog::consts::BinlogVersion;
use relay::binlog::{self, StreamSettings};

/// The raw type code of MariaDB's GTID event, which opens every transaction.
const MARIADB_GTID: u8 = 162;
/// The statement whose event ends the capture.
const END_MARKER: &str = "CREATE TABLE end_marker (id INT)";

const OUTBOX_COLUMNS: &str = "id, aggregatetype, aggregateid, type, payload, topic, source, \
                              traceparent, tracestate, correlationid, causationid, occurred_at";

fn outbox_insert(rows: &[String]) -> String {
    format!("INSERT INTO outbox ({OUTBOX_COLUMNS}) VALUES {}", rows.join(", "))
}

/// A row of every column, optional ones included, with `payload` as its JSON text.
fn full_row(id: u32, payload: &str) -> String {
    format!(
        "('0192f0c4-7c1e-7000-8000-{id:012}', 'order', 'order-{id}', 'commerce.ordering.order.placed.v1', \
         '{payload}', 'commerce.ordering.order', 'commerce/ordering/place-order', \
         '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', 'vendor=value', 'saga-{id}', 'request-{id}', \
         '2025-01-31 12:34:56.789012')"
    )
}

fn order_row(id: u32) -> String {
    full_row(
        id,
        &format!(
            r#"{{"order_id":"order-{id}","lines":[{{"sku":"SKU-1","quantity":2}}],"big":123456789012345678901}}"#
        ),
    )
}

/// A row with the optional columns NULL and text beyond ASCII.
fn sparse_row(id: u32) -> String {
    format!(
        "('0192f0c4-7c1e-7000-8000-{id:012}', 'product', 'SKU-{id}', 'commerce.catalog.product.created.v1', \
         '{{\"name\":\"Tasse \u{e9}\u{fc} \u{6f22}\u{5b57}\",\"price_minor\":1999}}', 'commerce.catalog.product', \
         'commerce/catalog/create-product', NULL, NULL, NULL, NULL, '2025-01-31 00:00:00')"
    )
}

/// The transactions, one statement at a time on one session. Those the relay publishes come
/// first; from the savepoint on, each one stops the relay, so the whole stream's seed ends
/// there and each later transaction is reached through its own seed.
fn workload() -> Vec<String> {
    let long_payload = format!(r#"{{"note":"{}"}}"#, "x".repeat(3000));
    vec![
        // A use case: its inbox row and three events in one transaction.
        "START TRANSACTION".to_owned(),
        "INSERT INTO processed_event (consumer, event_id) VALUES \
         ('reserve-stock', '0192f0c4-7c1e-7000-8000-0000000000aa')"
            .to_owned(),
        outbox_insert(&[order_row(1), sparse_row(2)]),
        outbox_insert(&[full_row(3, &long_payload)]),
        "COMMIT".to_owned(),
        // The relay's purge, and an update: neither is published.
        "DELETE FROM outbox WHERE id = '0192f0c4-7c1e-7000-8000-000000000001'".to_owned(),
        "UPDATE outbox SET tracestate = 'changed' WHERE id = '0192f0c4-7c1e-7000-8000-000000000002'"
            .to_owned(),
        // A single-statement transaction (autocommit).
        outbox_insert(&[sparse_row(4)]),
        // A savepoint rolled back inside a transaction with outbox rows.
        "START TRANSACTION".to_owned(),
        outbox_insert(&[order_row(5)]),
        "SAVEPOINT before_second".to_owned(),
        outbox_insert(&[order_row(6)]),
        "ROLLBACK TO SAVEPOINT before_second".to_owned(),
        "COMMIT".to_owned(),
        // An XA transaction.
        "XA START 'seed'".to_owned(),
        outbox_insert(&[order_row(7)]),
        "XA END 'seed'".to_owned(),
        "XA PREPARE 'seed'".to_owned(),
        "XA COMMIT 'seed'".to_owned(),
        // A column added in the middle, then a row: the relay reads columns by name.
        "ALTER TABLE outbox ADD COLUMN extra INT NULL AFTER id".to_owned(),
        outbox_insert(&[sparse_row(10)]),
        // A row whose event no consumer could read (an empty aggregate id, so an empty
        // subject and key).
        outbox_insert(&[sparse_row(9).replace("'SKU-9'", "''")]),
        // A statement-logged insert.
        "SET SESSION binlog_format = 'STATEMENT'".to_owned(),
        outbox_insert(&[sparse_row(8)]),
        "SET SESSION binlog_format = 'ROW'".to_owned(),
        END_MARKER.to_owned(),
    ]
}

fn main() -> Result<(), Box<dyn Error>> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(capture())
}

async fn capture() -> Result<(), Box<dyn Error>> {
    let url = std::env::var("STACK_MARIADB_ADMIN_URL")
        .map_err(|_| "STACK_MARIADB_ADMIN_URL is not set: source local-stack/var/stack.env")?;
    let mut conn = Conn::new(Opts::from_url(&url)?).await?;
    conn.query_drop(format!("DROP DATABASE IF EXISTS {SEED_SCHEMA}"))
        .await?;
    conn.query_drop(format!("CREATE DATABASE {SEED_SCHEMA}")).await?;
    conn.query_drop(format!("USE {SEED_SCHEMA}")).await?;
    let migration =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations/ordering/0001_outbox_and_inbox.sql");
    for statement in std::fs::read_to_string(migration)?.split(";\n") {
        if !statement.trim().is_empty() {
            conn.query_drop(statement).await?;
        }
    }
    // After the tables exist: the relay stops on DDL of an outbox table, as it should.
    let start = binlog::current_position(&url).await?;
    for statement in workload() {
        conn.query_drop(&statement).await?;
    }

    let settings = StreamSettings {
        url: url.clone(),
        server_id: 3_000_000_000 + std::process::id(),
        heartbeat: Duration::from_secs(1),
    };
    let mut stream = binlog::open(&settings, &start).await?;
    let mut opening: Vec<Vec<u8>> = Vec::new();
    let mut groups: Vec<Vec<Vec<u8>>> = Vec::new();
    loop {
        let event: Event = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .map_err(|_| "the end marker did not arrive within 30 s")?
            .ok_or("the binlog stream ended")??;
        let mut bytes = Vec::new();
        event.write(BinlogVersion::Version4, &mut bytes)?;
        if event.header().event_type_raw() == MARIADB_GTID {
            groups.push(Vec::new());
        }
        match groups.last_mut() {
            Some(group) => group.push(bytes),
            None => opening.push(bytes),
        }
        if contains(event.data(), END_MARKER.as_bytes()) {
            break;
        }
    }
    let _ = stream.close().await;
    conn.query_drop(format!("DROP DATABASE {SEED_SCHEMA}")).await?;
    conn.disconnect().await?;

    // Other sessions write to the same binlog; keep only this capture's transactions.
    groups.retain(|group| group.iter().any(|event| contains(event, SEED_SCHEMA.as_bytes())));
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../seeds/binlog_stream");
    std::fs::create_dir_all(&seeds)?;
    let whole: Vec<&Vec<u8>> = opening.iter().chain(groups.iter().flatten()).collect();
    std::fs::write(seeds.join("captured-stream"), frames(whole))?;
    for (index, group) in groups.iter().enumerate() {
        let events: Vec<&Vec<u8>> = opening.iter().chain(group).collect();
        std::fs::write(
            seeds.join(format!("captured-transaction-{index:02}")),
            frames(events),
        )?;
    }
    println!(
        "Wrote {} seeds ({} transactions) to {}",
        groups.len() + 1,
        groups.len(),
        seeds.display()
    );
    Ok(())
}

/// The target's framing: a control byte of 0 (checksum written by the harness) per event.
fn frames(events: Vec<&Vec<u8>>) -> Vec<u8> {
    let mut input = Vec::new();
    for event in events {
        input.push(0);
        input.extend_from_slice(event);
    }
    input
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}
