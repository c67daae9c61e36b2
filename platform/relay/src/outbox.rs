//! An outbox row, read from the binlog by column name, and the CloudEvent it becomes.
//!
//! Columns are looked up by the names the table map carries (`binlog_row_metadata=FULL`),
//! never by position: a column added in the middle of the table would otherwise shift every
//! value after it into the wrong field.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use cloudevents::{Event, EventBuilder, EventBuilderV10};
use events::kafka::{CAUSATION_ID, CORRELATION_ID, PARTITION_KEY, TRACEPARENT, TRACESTATE};
use mysql_async::Value;
use mysql_async::binlog::row::BinlogRow;
use mysql_async::binlog::value::BinlogValue;

use crate::error::RelayError;

/// The media type of every outbox payload.
const JSON: &str = "application/json";

/// One committed outbox row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    /// The context schema whose outbox holds the row (where it is purged from).
    pub schema: String,
    pub id: String,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub event_type: String,
    /// The JSON text as stored. Kept as bytes, so large numbers and key order survive.
    pub payload: Vec<u8>,
    pub topic: String,
    pub source: String,
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
    pub correlation_id: Option<String>,
    pub causation_id: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

impl OutboxRow {
    /// Reads the after image of an inserted row. `table` is `schema.outbox`, for messages.
    ///
    /// The columns that become the CloudEvent's id, type, source and subject (and the record's
    /// key) must not be empty: consumers refuse such an event, so publishing it would only
    /// move the problem to every consumer's dead letters. The relay stops on the row instead.
    pub fn from_binlog_row(schema: &str, table: &str, row: &BinlogRow) -> Result<Self, RelayError> {
        let columns = Columns { table, row };
        Ok(Self {
            schema: schema.to_owned(),
            id: columns.non_empty_text("id")?,
            aggregate_type: columns.text("aggregatetype")?,
            aggregate_id: columns.non_empty_text("aggregateid")?,
            event_type: columns.non_empty_text("type")?,
            payload: columns.bytes("payload")?,
            topic: columns.non_empty_text("topic")?,
            source: columns.non_empty_text("source")?,
            traceparent: columns.optional_text("traceparent")?,
            tracestate: columns.optional_text("tracestate")?,
            correlation_id: columns.optional_text("correlationid")?,
            causation_id: columns.optional_text("causationid")?,
            occurred_at: columns.timestamp("occurred_at")?,
        })
    }

    /// Reads the rows of `<schema>.outbox` with the given ids from the table itself, in no
    /// particular order; ids that are not there are left out. For rows the binlog carries
    /// only as a statement (an operator's `republish`, docs/adr/0026). `schema` must be a
    /// plain identifier (a configured context schema).
    pub async fn read_from_table(
        pool: &sqlx::MySqlPool,
        schema: &str,
        ids: &[String],
    ) -> Result<Vec<Self>, RelayError> {
        type TableRow = (
            String,
            String,
            String,
            String,
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            String,
        );
        let table = format!("{schema}.outbox");
        let mut rows = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let placeholders = vec!["?"; chunk.len()].join(", ");
            let statement = format!(
                "SELECT id, aggregatetype, aggregateid, `type`, payload, topic, source, traceparent,
                        tracestate, correlationid, causationid,
                        DATE_FORMAT(occurred_at, '%Y-%m-%d %H:%i:%s.%f')
                 FROM `{schema}`.outbox WHERE id IN ({placeholders})"
            );
            let mut query = sqlx::query_as::<_, TableRow>(sqlx::AssertSqlSafe(statement));
            for id in chunk {
                query = query.bind(id);
            }
            let found = query.fetch_all(pool).await.map_err(RelayError::PositionStore)?;
            for row in found {
                let occurred_at = NaiveDateTime::parse_from_str(&row.11, "%Y-%m-%d %H:%M:%S%.f")
                    .map_err(|error| RelayError::InvalidColumn {
                        table: table.clone(),
                        column: "occurred_at",
                        reason: error.to_string(),
                    })?
                    .and_utc();
                rows.push(Self {
                    schema: schema.to_owned(),
                    id: row.0,
                    aggregate_type: row.1,
                    aggregate_id: row.2,
                    event_type: row.3,
                    payload: row.4.into_bytes(),
                    topic: row.5,
                    source: row.6,
                    traceparent: row.7,
                    tracestate: row.8,
                    correlation_id: row.9,
                    causation_id: row.10,
                    occurred_at,
                });
            }
        }
        Ok(rows)
    }

    /// The CloudEvent of this row, following the platform's conventions (`events::envelope`):
    /// id, type, source, subject = aggregate id, trace and saga extensions; data = payload.
    pub fn to_cloud_event(&self) -> Result<Event, RelayError> {
        let mut builder = EventBuilderV10::new()
            .id(&self.id)
            .ty(&self.event_type)
            .source(self.source.as_str())
            .subject(&self.aggregate_id)
            .time(self.occurred_at)
            .extension(PARTITION_KEY, self.aggregate_id.as_str())
            .data(JSON, self.payload.clone());
        for (name, value) in [
            (TRACEPARENT, &self.traceparent),
            (TRACESTATE, &self.tracestate),
            (CORRELATION_ID, &self.correlation_id),
            (CAUSATION_ID, &self.causation_id),
        ] {
            if let Some(value) = value.as_deref().filter(|value| !value.is_empty()) {
                builder = builder.extension(name, value);
            }
        }
        builder.build().map_err(|error| {
            RelayError::Unexpected(anyhow::anyhow!(
                "outbox row {} does not make a valid CloudEvent: {error}",
                self.id
            ))
        })
    }
}

/// The columns of one row image, by name.
struct Columns<'a> {
    table: &'a str,
    row: &'a BinlogRow,
}

impl Columns<'_> {
    fn value(&self, column: &'static str) -> Result<&Value, RelayError> {
        let index = self
            .row
            .columns_ref()
            .iter()
            .position(|candidate| candidate.name_ref() == column.as_bytes());
        let missing = || RelayError::MissingColumn {
            table: self.table.to_owned(),
            column,
            // Without FULL row metadata every column is called `@<n>`.
            hint: if self
                .row
                .columns_ref()
                .iter()
                .all(|c| c.name_ref().starts_with(b"@"))
            {
                " (the table map carries no column names: set binlog_row_metadata=FULL)"
            } else {
                ""
            },
        };
        match index.and_then(|index| self.row.as_ref(index)) {
            Some(BinlogValue::Value(value)) => Ok(value),
            Some(_) => Err(self.invalid(column, "a MySQL binary JSON value, not MariaDB text".to_owned())),
            None => Err(missing()),
        }
    }

    fn invalid(&self, column: &'static str, reason: String) -> RelayError {
        RelayError::InvalidColumn {
            table: self.table.to_owned(),
            column,
            reason,
        }
    }

    fn optional_bytes(&self, column: &'static str) -> Result<Option<Vec<u8>>, RelayError> {
        match self.value(column)? {
            Value::NULL => Ok(None),
            Value::Bytes(bytes) => Ok(Some(bytes.clone())),
            other => Err(self.invalid(column, format!("expected text, found {other:?}"))),
        }
    }

    fn bytes(&self, column: &'static str) -> Result<Vec<u8>, RelayError> {
        self.optional_bytes(column)?
            .ok_or_else(|| self.invalid(column, "NULL in a NOT NULL column".to_owned()))
    }

    fn optional_text(&self, column: &'static str) -> Result<Option<String>, RelayError> {
        self.optional_bytes(column)?
            .map(|bytes| String::from_utf8(bytes).map_err(|_| self.invalid(column, "not UTF-8".to_owned())))
            .transpose()
    }

    fn text(&self, column: &'static str) -> Result<String, RelayError> {
        self.optional_text(column)?
            .ok_or_else(|| self.invalid(column, "NULL in a NOT NULL column".to_owned()))
    }

    fn non_empty_text(&self, column: &'static str) -> Result<String, RelayError> {
        let text = self.text(column)?;
        if text.is_empty() {
            return Err(self.invalid(column, "empty, but it names the event".to_owned()));
        }
        Ok(text)
    }

    /// A `DATETIME(6)` in UTC, which the binlog carries as its calendar fields. The year must
    /// have four digits, as in every `DATETIME` MariaDB writes and every RFC 3339 time: the
    /// binlog's packing has room for later years, and such a year would make an event no
    /// consumer can read (the `binlog_stream` fuzz target checks for that).
    fn timestamp(&self, column: &'static str) -> Result<DateTime<Utc>, RelayError> {
        match self.value(column)? {
            &Value::Date(year, month, day, hour, minute, second, micros) => Some(year)
                .filter(|year| *year <= 9999)
                .and_then(|year| NaiveDate::from_ymd_opt(i32::from(year), u32::from(month), u32::from(day)))
                .and_then(|date| {
                    date.and_hms_micro_opt(u32::from(hour), u32::from(minute), u32::from(second), micros)
                })
                .map(|time| time.and_utc())
                .ok_or_else(|| self.invalid(column, "not a valid calendar time".to_owned())),
            other => Err(self.invalid(column, format!("expected DATETIME, found {other:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloudevents::AttributesReader;
    use mysql_async::Column;
    use mysql_async::consts::ColumnType;
    use std::sync::Arc;

    /// The after image of an outbox insert, every column named as with FULL row metadata.
    fn binlog_row(replace: (&str, Value)) -> BinlogRow {
        let text = |text: &str| Value::Bytes(text.as_bytes().to_vec());
        let values: Vec<(&str, Value)> = [
            ("id", text("0190f1e2-0000-7000-8000-000000000001")),
            ("aggregatetype", text("order")),
            ("aggregateid", text("order-1")),
            ("type", text("commerce.order.placed.v1")),
            ("payload", text("{}")),
            ("topic", text("commerce.ordering.order")),
            ("source", text("commerce/ordering/place-order")),
            ("traceparent", Value::NULL),
            ("tracestate", Value::NULL),
            ("correlationid", Value::NULL),
            ("causationid", Value::NULL),
            ("occurred_at", Value::Date(2025, 1, 31, 12, 34, 56, 0)),
        ]
        .into_iter()
        .map(|(name, value)| {
            if name == replace.0 {
                (name, replace.1.clone())
            } else {
                (name, value)
            }
        })
        .collect();
        let columns: Arc<[Column]> = values
            .iter()
            .map(|(name, _)| Column::new(ColumnType::MYSQL_TYPE_VARCHAR).with_name(name.as_bytes()))
            .collect();
        BinlogRow::new(
            values
                .into_iter()
                .map(|(_, value)| Some(BinlogValue::Value(value)))
                .collect(),
            columns,
        )
    }

    fn read(row: &BinlogRow) -> Result<OutboxRow, RelayError> {
        OutboxRow::from_binlog_row("ordering", "ordering.outbox", row)
    }

    #[test]
    fn an_outbox_insert_is_read_by_column_name() {
        let row = read(&binlog_row(("tracestate", Value::Bytes(b"vendor=1".to_vec())))).expect("a valid row");

        assert_eq!(row.aggregate_id, "order-1");
        assert_eq!(row.tracestate.as_deref(), Some("vendor=1"));
        assert_eq!(row.traceparent, None);
    }

    #[test]
    fn a_row_whose_event_would_have_an_empty_id_type_source_or_subject_stops_the_relay() {
        for column in ["id", "aggregateid", "type", "source", "topic"] {
            let error = read(&binlog_row((column, Value::Bytes(Vec::new())))).expect_err("refused");

            assert!(
                matches!(&error, RelayError::InvalidColumn { column: named, .. } if *named == column),
                "{column}: {error:?}"
            );
        }
    }

    #[test]
    fn an_occurred_at_beyond_the_year_9999_stops_the_relay() {
        let error = read(&binlog_row((
            "occurred_at",
            Value::Date(10_000, 1, 1, 0, 0, 0, 0),
        )))
        .expect_err("refused");

        assert!(
            matches!(
                &error,
                RelayError::InvalidColumn {
                    column: "occurred_at",
                    ..
                }
            ),
            "{error:?}"
        );
    }

    fn row() -> OutboxRow {
        OutboxRow {
            schema: "ordering".to_owned(),
            id: "0190f1e2-0000-7000-8000-000000000001".to_owned(),
            aggregate_type: "order".to_owned(),
            aggregate_id: "order-1".to_owned(),
            event_type: "commerce.order.placed.v1".to_owned(),
            payload: br#"{"big":123456789012345678901}"#.to_vec(),
            topic: "commerce.ordering.order".to_owned(),
            source: "ordering/place-order".to_owned(),
            traceparent: Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_owned()),
            tracestate: None,
            correlation_id: Some("flow-1".to_owned()),
            causation_id: Some(String::new()),
            occurred_at: DateTime::from_timestamp(1_700_000_000, 123_456_000).expect("valid"),
        }
    }

    #[test]
    fn a_row_becomes_a_binary_mode_record_keyed_by_its_aggregate() {
        let event = row().to_cloud_event().expect("valid event");
        let record = events::kafka::encode_binary(&event);

        assert_eq!(record.key.as_deref(), Some(&b"order-1"[..]));
        // The payload travels byte for byte: a 21-digit number is not rounded through f64.
        assert_eq!(
            record.payload.as_deref(),
            Some(&br#"{"big":123456789012345678901}"#[..])
        );
        let header = |key: &str| {
            record
                .headers
                .iter()
                .find(|header| header.key == key)
                .and_then(|header| header.value.clone())
                .map(|value| String::from_utf8(value).expect("UTF-8"))
        };
        assert_eq!(header("ce_subject").as_deref(), Some("order-1"));
        assert_eq!(header("ce_time").as_deref(), Some("2023-11-14T22:13:20.123456Z"));
        assert_eq!(header("ce_correlationid").as_deref(), Some("flow-1"));
        assert_eq!(header("content-type").as_deref(), Some("application/json"));
        // Absent and empty extensions are left out rather than sent empty.
        assert_eq!(header("ce_tracestate"), None);
        assert_eq!(header("ce_causationid"), None);
        assert_eq!(event.ty(), "commerce.order.placed.v1");
    }
}
