//! Transaction assembly: decoded events in, committed transactions out, in commit order.
//!
//! The binlog holds only committed event groups, each opened by a GTID event and closed by an
//! XID (InnoDB), a `COMMIT` query (non-transactional engines), or — for a standalone group
//! such as DDL — by its single statement. Outbox rows are buffered until the group closes, so
//! a consumer never sees half a transaction, and the position handed on is always a
//! transaction boundary, the only place the relay can resume from.

use crate::binlog::{Decoded, OutboxTables, StreamEvent, gtid_flags};
use crate::error::RelayError;
use crate::gtid::Gtid;
use crate::outbox::OutboxRow;

/// A committed event group.
#[derive(Debug, Clone, PartialEq)]
pub struct Committed {
    pub gtid: Gtid,
    /// Its outbox rows, in binlog order; empty for every other transaction.
    pub rows: Vec<OutboxRow>,
    /// The binlog file and end offset, for diagnostics.
    pub file: String,
    pub log_pos: u32,
    /// When the server wrote the commit (seconds since the epoch).
    pub timestamp: u32,
}

/// The assembler's state between events.
#[derive(Debug)]
pub struct Assembler {
    tables: OutboxTables,
    file: String,
    open: Option<OpenGroup>,
}

#[derive(Debug)]
struct OpenGroup {
    gtid: Gtid,
    flags: u8,
    rows: Vec<OutboxRow>,
}

impl OpenGroup {
    fn is_xa(&self) -> bool {
        self.flags & (gtid_flags::PREPARED_XA | gtid_flags::COMPLETED_XA) != 0
    }
}

impl Assembler {
    pub fn new(tables: OutboxTables) -> Self {
        Self {
            tables,
            file: String::new(),
            open: None,
        }
    }

    /// The current binlog file (for diagnostics).
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The transaction being read, if one is open: where the relay stands when it fails.
    pub fn open_gtid(&self) -> Option<Gtid> {
        self.open.as_ref().map(|open| open.gtid)
    }

    /// Feeds one event; returns the group it completed, if any.
    pub fn push(&mut self, decoded: Decoded) -> Result<Option<Committed>, RelayError> {
        let Decoded {
            event,
            log_pos,
            timestamp,
        } = decoded;
        match event {
            StreamEvent::Rotate { file } => {
                self.file = file;
                Ok(None)
            }
            StreamEvent::Gtid { gtid, flags } => {
                // A group never spans another GTID; an unfinished one here would mean the
                // stream was cut, and its rows must not be published half.
                if let Some(open) = self.open.take()
                    && !open.rows.is_empty()
                {
                    return Err(RelayError::Unexpected(anyhow::anyhow!(
                        "transaction {} with outbox rows was not closed before {gtid}",
                        open.gtid
                    )));
                }
                self.open = Some(OpenGroup {
                    gtid,
                    flags,
                    rows: Vec::new(),
                });
                Ok(None)
            }
            StreamEvent::OutboxInserts { rows, .. } => {
                let Some(open) = self.open.as_mut() else {
                    return Err(RelayError::RowsOutsideTransaction { log_pos });
                };
                if open.is_xa() && !rows.is_empty() {
                    return Err(RelayError::XaTransaction {
                        gtid: Some(open.gtid),
                    });
                }
                open.rows.extend(rows);
                Ok(None)
            }
            StreamEvent::Xid => Ok(self.commit(log_pos, timestamp)),
            StreamEvent::XaPrepare => {
                // The outcome of a prepared XA transaction comes in a later group; rows in it
                // were refused above, so there is nothing to publish.
                Ok(self.commit(log_pos, timestamp))
            }
            StreamEvent::Query { schema, query } => self.query(&schema, &query, log_pos, timestamp),
            StreamEvent::Heartbeat | StreamEvent::Nothing => Ok(None),
        }
    }

    fn query(
        &mut self,
        schema: &str,
        query: &str,
        log_pos: u32,
        timestamp: u32,
    ) -> Result<Option<Committed>, RelayError> {
        let statement = query.trim().trim_end_matches(';').trim();
        let keyword = |word: &str| statement.eq_ignore_ascii_case(word);
        if keyword("BEGIN") {
            return Ok(None);
        }
        if keyword("COMMIT") {
            return Ok(self.commit(log_pos, timestamp));
        }
        if keyword("ROLLBACK") {
            // Only mixed transactional/non-transactional groups are logged with ROLLBACK;
            // their transactional part, outbox rows included, did not happen.
            self.open = None;
            return Ok(None);
        }
        let first_word = statement
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        if matches!(first_word.as_str(), "SAVEPOINT" | "XA") {
            if let Some(open) = &self.open
                && !open.rows.is_empty()
                && first_word == "XA"
            {
                return Err(RelayError::XaTransaction {
                    gtid: Some(open.gtid),
                });
            }
            return self.close_if_standalone(log_pos, timestamp);
        }
        if first_word == "ROLLBACK" && self.open.as_ref().is_some_and(|open| !open.rows.is_empty()) {
            // ROLLBACK TO SAVEPOINT in the binlog: whether it undid outbox rows cannot be told.
            let table = self
                .open
                .as_ref()
                .and_then(|open| open.rows.first())
                .map(|row| format!("{}.{}", row.schema, crate::binlog::OUTBOX_TABLE))
                .unwrap_or_default();
            return Err(RelayError::StatementOnOutbox {
                kind: "ROLLBACK TO SAVEPOINT in a transaction",
                table,
                schema: schema.to_owned(),
                query: statement.to_owned(),
                gtid: self.open.as_ref().map(|open| open.gtid),
                log_pos,
            });
        }
        if let Some(touched) = self.tables.touched_outbox(schema, statement) {
            return Err(RelayError::StatementOnOutbox {
                kind: statement_kind(&first_word),
                table: touched.to_string(),
                schema: schema.to_owned(),
                query: statement.chars().take(200).collect(),
                gtid: self.open.as_ref().map(|open| open.gtid),
                log_pos,
            });
        }
        self.close_if_standalone(log_pos, timestamp)
    }

    /// A standalone group (DDL) has no COMMIT: its one statement closes it.
    fn close_if_standalone(&mut self, log_pos: u32, timestamp: u32) -> Result<Option<Committed>, RelayError> {
        if self
            .open
            .as_ref()
            .is_some_and(|open| open.flags & gtid_flags::STANDALONE != 0)
        {
            return Ok(self.commit(log_pos, timestamp));
        }
        Ok(None)
    }

    fn commit(&mut self, log_pos: u32, timestamp: u32) -> Option<Committed> {
        let open = self.open.take()?;
        Some(Committed {
            gtid: open.gtid,
            rows: open.rows,
            file: self.file.clone(),
            log_pos,
            timestamp,
        })
    }
}

/// How a statement that touches an outbox is described, by its first word (uppercase).
pub fn statement_kind(first_word: &str) -> &'static str {
    if matches!(first_word, "INSERT" | "REPLACE" | "UPDATE" | "DELETE" | "LOAD") {
        "statement-logged DML"
    } else {
        "DDL"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn assembler() -> Assembler {
        Assembler::new(OutboxTables::new(["ordering"]))
    }

    fn at(event: StreamEvent) -> Decoded {
        Decoded {
            event,
            log_pos: 100,
            timestamp: 1,
        }
    }

    fn gtid(sequence: u64, flags: u8) -> Decoded {
        at(StreamEvent::Gtid {
            gtid: Gtid {
                domain: 0,
                server: 1,
                sequence,
            },
            flags,
        })
    }

    fn query(text: &str) -> Decoded {
        at(StreamEvent::Query {
            schema: "ordering".to_owned(),
            query: text.to_owned(),
        })
    }

    fn row(id: &str) -> OutboxRow {
        OutboxRow {
            schema: "ordering".to_owned(),
            id: id.to_owned(),
            aggregate_type: "order".to_owned(),
            aggregate_id: "order-1".to_owned(),
            event_type: "commerce.order.placed.v1".to_owned(),
            payload: b"{}".to_vec(),
            topic: "commerce.ordering.order".to_owned(),
            source: "ordering".to_owned(),
            traceparent: None,
            tracestate: None,
            correlation_id: None,
            causation_id: None,
            occurred_at: DateTime::from_timestamp(0, 0).expect("valid"),
        }
    }

    fn inserts(ids: &[&str]) -> Decoded {
        at(StreamEvent::OutboxInserts {
            table: "ordering.outbox".to_owned(),
            rows: ids.iter().map(|id| row(id)).collect(),
        })
    }

    #[test]
    fn rows_are_released_together_when_their_transaction_commits() {
        let mut assembler = assembler();
        assert_eq!(assembler.push(gtid(5, 0)).expect("ok"), None);
        assert_eq!(assembler.push(query("BEGIN")).expect("ok"), None);
        assert_eq!(assembler.push(inserts(&["a", "b"])).expect("ok"), None);
        assert_eq!(assembler.push(inserts(&["c"])).expect("ok"), None);

        let committed = assembler
            .push(at(StreamEvent::Xid))
            .expect("ok")
            .expect("a commit");

        assert_eq!(committed.gtid.sequence, 5);
        let ids: Vec<_> = committed.rows.iter().map(|row| row.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
    }

    #[test]
    fn a_ddl_group_without_outbox_rows_still_moves_the_position() {
        let mut assembler = assembler();
        assembler.push(gtid(6, gtid_flags::STANDALONE)).expect("ok");
        let committed = assembler
            .push(query("CREATE TABLE product_price (id INT)"))
            .expect("ok")
            .expect("a commit");
        assert_eq!(committed.gtid.sequence, 6);
        assert!(committed.rows.is_empty());
    }

    #[test]
    fn ddl_on_the_outbox_stops_the_relay() {
        let mut assembler = assembler();
        assembler.push(gtid(7, gtid_flags::STANDALONE)).expect("ok");
        let error = assembler
            .push(query("ALTER TABLE outbox DROP COLUMN topic"))
            .expect_err("refused");
        assert!(
            error
                .to_string()
                .starts_with("DDL on ordering.outbox in transaction 0-1-7"),
            "{error}"
        );
    }

    #[test]
    fn statement_logged_inserts_into_the_outbox_stop_the_relay() {
        let mut assembler = assembler();
        assembler.push(gtid(8, 0)).expect("ok");
        assembler.push(query("BEGIN")).expect("ok");
        let error = assembler
            .push(query("INSERT INTO outbox (id) VALUES ('x')"))
            .expect_err("refused");
        assert!(
            error
                .to_string()
                .starts_with("statement-logged DML on ordering.outbox in transaction 0-1-8"),
            "{error}"
        );
        assert_eq!(assembler.open_gtid().map(|gtid| gtid.sequence), Some(8));
    }

    #[test]
    fn outbox_rows_in_an_xa_transaction_are_refused() {
        let mut assembler = assembler();
        assembler.push(gtid(9, gtid_flags::PREPARED_XA)).expect("ok");
        assert!(matches!(
            assembler.push(inserts(&["a"])),
            Err(RelayError::XaTransaction { .. })
        ));
    }
}
