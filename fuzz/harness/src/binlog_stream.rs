//! Bytes off the replication connection → the relay's binlog decoder and transaction
//! assembler, then every outbox row it would publish → a Kafka record → the consumers' codec.
//!
//! The input is a sequence of frames, one binlog event each: a control byte, then the event
//! as the server sends it (the 19-byte v4 header, whose `event_size` says how long the event
//! is, the body, and the CRC32). Unless bit 0 of the control byte is set, the harness writes
//! the right CRC32 over the event before reading it, so that mutations reach the decoder
//! instead of stopping at the checksum; with the bit set the event goes in as it is, which
//! exercises the checksum check itself. Events are read with the same reader the relay's
//! stream uses (`mysql_common`'s `EventStreamReader`, which also keeps the table maps), then
//! handed to `relay::binlog::decode` and `relay::transaction::Assembler`, exactly as the
//! relay's pipeline does; the first error ends the input, as it stops the relay.
//!
//! The reader trusts an event's `event_size`: an event that claims more bytes than it has,
//! or fewer than a header and a checksum, makes `mysql_common` 0.37 panic (`read_exact(…)
//! .unwrap()` and a length subtraction in `Event::read`). The relay gets whole packets from
//! the server, and a panic there ends the relay's task, which the supervisor reports as an
//! error; the framing here therefore ends the input at such an event, so that fuzzing time
//! goes to the relay's own code (docs/fuzzing.md).
//!
//! What must hold for any input:
//!
//! - decoding and assembling answer, never panic;
//! - every committed transaction's rows belong to outbox tables, and every row the relay
//!   would publish either is refused by `OutboxRow::to_cloud_event` (the relay stops and
//!   names it) or makes a record that `events::kafka::decode` accepts with the row's id,
//!   type, source, subject, key and payload: the relay must never publish a record that
//!   every consumer dead-letters.

use cloudevents::{AttributesReader, Data};
use mysql_async::binlog::events::TableMapEvent;
use mysql_common::binlog::EventStreamReader;
use mysql_common::binlog::consts::BinlogVersion;
use relay::binlog::{self, OutboxTables, TableMaps};
use relay::outbox::OutboxRow;
use relay::transaction::{Assembler, Committed};

/// The schema the committed seeds were captured in (`capture-binlog-seeds`), published by the
/// harness beside the platform's own context schemas.
pub const SEED_SCHEMA: &str = "fuzz_seed";

/// Control bit: leave the event's checksum as it is.
const KEEP_CHECKSUM: u8 = 1;

/// The v4 event header: timestamp, type, server id, size, position, flags.
const HEADER_LENGTH: usize = 19;
const CHECKSUM_LENGTH: usize = 4;
/// A format description event carries its checksum algorithm in one more byte.
const SHORTEST_EVENT: usize = HEADER_LENGTH + 1 + CHECKSUM_LENGTH;
/// `LOG_EVENT_BINLOG_IN_USE_F`, which the server clears before computing a checksum.
const BINLOG_IN_USE_FLAG: u8 = 0x01;

/// The relay's reader: the table maps seen so far come from it.
struct Reader(EventStreamReader);

impl TableMaps for Reader {
    fn table_map(&self, table_id: u64) -> Option<&TableMapEvent<'static>> {
        self.0.get_tme(table_id)
    }
}

pub fn outbox_tables() -> OutboxTables {
    OutboxTables::new(relay::CONTEXT_SCHEMAS.iter().copied().chain([SEED_SCHEMA]))
}

pub fn binlog_stream(input: &[u8]) {
    let tables = outbox_tables();
    read_stream(input, &tables, |committed| check_committed(committed, &tables));
}

/// How many outbox rows the relay would publish from `input`: a check that seeds reach the
/// rows rather than stopping at the first event.
pub fn published_rows(input: &[u8]) -> usize {
    let mut rows = 0;
    read_stream(input, &outbox_tables(), |committed| rows += committed.rows.len());
    rows
}

/// Reads events as the relay's pipeline does and hands each committed transaction to
/// `on_commit`, until the input ends or the relay would stop.
fn read_stream(input: &[u8], tables: &OutboxTables, mut on_commit: impl FnMut(&Committed)) {
    let mut reader = Reader(EventStreamReader::new(BinlogVersion::Version4));
    let mut assembler = Assembler::new(tables.clone());
    let mut rest = input;
    while let Some((event_bytes, tail)) = next_frame(rest) {
        rest = tail;
        let Ok(Some(event)) = reader.0.read(event_bytes.as_slice()) else {
            return;
        };
        let Ok(decoded) = binlog::decode(&event, &reader, tables) else {
            return;
        };
        match assembler.push(decoded) {
            Ok(Some(committed)) => on_commit(&committed),
            Ok(None) => {}
            Err(_) => return,
        }
    }
}

/// The next event's bytes (checksum written unless the control byte says not to) and what
/// follows it, or `None` where the input ends or the next event could not be a packet.
fn next_frame(input: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    let (&control, rest) = input.split_first()?;
    let size_field: [u8; 4] = rest.get(9..13)?.try_into().ok()?;
    let size = usize::try_from(u32::from_le_bytes(size_field)).ok()?;
    if size < SHORTEST_EVENT || size > rest.len() {
        return None;
    }
    let (event, tail) = rest.split_at(size);
    let mut event = event.to_vec();
    if control & KEEP_CHECKSUM == 0 {
        write_checksum(&mut event);
    }
    Some((event, tail))
}

/// Writes the CRC32 of everything before the last four bytes into them, the way the server
/// computes it (with the in-use flag of the header cleared).
pub fn write_checksum(event: &mut [u8]) {
    let body_end = event.len() - CHECKSUM_LENGTH;
    let mut hasher = crc32fast::Hasher::new();
    let mut header = [0_u8; HEADER_LENGTH];
    header.copy_from_slice(&event[..HEADER_LENGTH]);
    header[17] &= !BINLOG_IN_USE_FLAG;
    hasher.update(&header);
    hasher.update(&event[HEADER_LENGTH..body_end]);
    event[body_end..].copy_from_slice(&hasher.finalize().to_le_bytes());
}

fn check_committed(committed: &Committed, tables: &OutboxTables) {
    for row in &committed.rows {
        assert!(
            tables.is_outbox(&row.schema, binlog::OUTBOX_TABLE),
            "a row of {:?} was taken for an outbox row",
            row.schema
        );
        check_publishable(row);
    }
}

fn check_publishable(row: &OutboxRow) {
    // Refusing the row stops the relay with the reason; that is allowed.
    let Ok(event) = row.to_cloud_event() else {
        return;
    };
    let record = events::kafka::encode_binary(&event);
    let decoded = events::kafka::decode(&record.headers, record.payload.as_deref()).unwrap_or_else(|error| {
        panic!("the relay would publish a record no consumer can decode: {error}\n{row:?}")
    });
    assert_eq!(decoded.id(), row.id);
    assert_eq!(decoded.ty(), row.event_type);
    assert_eq!(decoded.source().as_str(), row.source);
    assert_eq!(decoded.subject(), Some(row.aggregate_id.as_str()));
    assert_eq!(record.key.as_deref(), Some(row.aggregate_id.as_bytes()));
    assert_eq!(decoded.data(), Some(&Data::Binary(row.payload.clone())));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checksum_is_the_crc32_of_the_event_before_it() {
        let mut event = vec![0_u8; SHORTEST_EVENT];
        event[17] = BINLOG_IN_USE_FLAG;
        write_checksum(&mut event);

        let mut cleared = event[..SHORTEST_EVENT - CHECKSUM_LENGTH].to_vec();
        cleared[17] = 0;
        assert_eq!(
            event[SHORTEST_EVENT - CHECKSUM_LENGTH..],
            crc32fast::hash(&cleared).to_le_bytes()
        );
    }

    #[test]
    fn an_event_longer_than_its_input_ends_the_stream() {
        let mut frame = vec![0_u8; 1 + SHORTEST_EVENT];
        frame[1 + 9..1 + 13].copy_from_slice(&100_u32.to_le_bytes());
        assert!(next_frame(&frame).is_none());

        frame[1 + 9..1 + 13].copy_from_slice(&(SHORTEST_EVENT as u32).to_le_bytes());
        let (event, rest) = next_frame(&frame).expect("a whole event");
        assert_eq!(event.len(), SHORTEST_EVENT);
        assert!(rest.is_empty());
    }
}
