//! Log output: one flat JSON object per line on stdout, or tracing's pretty format when
//! `LOG_FORMAT=pretty`, filtered by `RUST_LOG` (default `info`).
//!
//! The JSON lines are flat rather than tracing-subscriber's stock layout, which nests span fields
//! under `span` (the innermost span only) and `spans` (a list). Flat keys are what CloudWatch
//! Logs Insights, Loki and `jq` filter on without knowing which span recorded a field:
//!
//! ```text
//! {"timestamp":"…","level":"INFO","service":"ordering","function":"place-order",
//!  "message":"Order placed","target":"ordering::place","span":"place_order",
//!  "method":"POST","order_id":"…","request_id":"…","route":"/orders","trace_id":"…",…}
//! ```
//!
//! Fields of every enclosing span are merged from the outermost inwards, and the event's own
//! fields last, so the innermost value of a repeated name wins. `service` and `function` are
//! written by the formatter itself rather than by a root span: a root span would have to be
//! entered on every thread and task, and lines from spawned tasks or libraries would silently
//! lose them.

use std::error::Error;
use std::fmt::{self, Write as _};
use std::io::IsTerminal;

use serde_json::{Map, Number, Value};
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{self as subscriber_fmt, FmtContext, FormatEvent, FormattedFields, MakeWriter};
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{EnvFilter, Layer};

/// Keys the formatter writes itself. A span or event field with one of these names is written
/// as `field.<name>` instead, so it neither disappears nor produces a duplicate key.
const RESERVED_KEYS: [&str; 7] = [
    "timestamp",
    "level",
    "service",
    "function",
    "message",
    "target",
    "span",
];

/// Installs the global subscriber. Returns without changing anything if one is already
/// installed (by a test harness, or an earlier call).
pub(crate) fn install(service: &str, function: &str) {
    let filter = EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        // A typo in RUST_LOG drops that directive instead of failing the process at start-up.
        .from_env_lossy();
    let pretty = std::env::var("LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("pretty"));
    let installed = if pretty {
        let layer = subscriber_fmt::layer()
            .pretty()
            .with_ansi(std::io::stdout().is_terminal());
        tracing_subscriber::registry().with(filter).with(layer).try_init()
    } else {
        let layer = json_layer(service, function, std::io::stdout);
        tracing_subscriber::registry().with(filter).with(layer).try_init()
    };
    // An error only means another subscriber won the race; keeping it is the no-op we promise.
    let _ = installed;
}

/// The JSON output layer, with the writer as a parameter so tests can capture lines.
pub(crate) fn json_layer<S, W>(service: &str, function: &str, writer: W) -> impl Layer<S> + use<S, W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    subscriber_fmt::layer()
        // Span fields are stored as JSON objects so the formatter can merge them.
        .fmt_fields(JsonFields::new())
        .event_format(FlatJson {
            service: service.to_owned(),
            function: function.to_owned(),
        })
        .with_writer(writer)
}

/// Formats an event as one flat JSON object; see the module docs for the layout.
struct FlatJson {
    service: String,
    function: String,
}

impl<S> FormatEvent<S, JsonFields> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        context: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = Map::new();
        let mut innermost_span = None;
        if let Some(scope) = context.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                // A span without fields has an empty string here, which is not an object: skip it.
                if let Some(formatted) = extensions.get::<FormattedFields<JsonFields>>()
                    && let Ok(Value::Object(span_fields)) = serde_json::from_str(&formatted.fields)
                {
                    fields.extend(span_fields);
                }
                innermost_span = Some(span.name());
            }
        }
        event.record(&mut FieldCollector { fields: &mut fields });

        // Records bridged from the `log` crate all share the target "log"; the real one is a field.
        let mut target = Value::from(event.metadata().target());
        if let Some(log_target) = fields.remove("log.target") {
            target = log_target;
            for location in ["log.module_path", "log.file", "log.line"] {
                fields.remove(location);
            }
        }
        let message = fields.remove("message");

        let mut timestamp = String::new();
        SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
        write!(writer, "{{\"timestamp\":{}", Value::from(timestamp))?;
        write!(
            writer,
            ",\"level\":{}",
            Value::from(event.metadata().level().as_str())
        )?;
        write!(writer, ",\"service\":{}", Value::from(self.service.as_str()))?;
        write!(writer, ",\"function\":{}", Value::from(self.function.as_str()))?;
        if let Some(message) = message {
            write!(writer, ",\"message\":{message}")?;
        }
        write!(writer, ",\"target\":{target}")?;
        if let Some(name) = innermost_span {
            write!(writer, ",\"span\":{}", Value::from(name))?;
        }
        for (key, value) in &fields {
            if RESERVED_KEYS.contains(&key.as_str()) {
                write!(writer, ",{}:{value}", Value::from(format!("field.{key}")))?;
            } else {
                write!(writer, ",{}:{value}", Value::from(key.as_str()))?;
            }
        }
        writeln!(writer, "}}")
    }
}

/// Collects an event's fields as JSON values, keeping numbers and booleans typed.
struct FieldCollector<'a> {
    fields: &'a mut Map<String, Value>,
}

impl FieldCollector<'_> {
    fn insert(&mut self, field: &Field, value: Value) {
        self.fields.insert(field.name().to_owned(), value);
    }
}

impl Visit for FieldCollector<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        // JSON has no NaN or infinity; a string keeps the information.
        let value = Number::from_f64(value).map_or_else(|| Value::from(value.to_string()), Value::Number);
        self.insert(field, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.insert(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.insert(field, Value::from(value));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        let value = i64::try_from(value).map_or_else(|_| Value::from(value.to_string()), Value::from);
        self.insert(field, value);
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        let value = u64::try_from(value).map_or_else(|_| Value::from(value.to_string()), Value::from);
        self.insert(field, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.insert(field, Value::from(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.insert(field, Value::from(value));
    }

    /// The whole `source()` chain, because the cause of a failure is usually at its end.
    fn record_error(&mut self, field: &Field, value: &(dyn Error + 'static)) {
        let mut chain = value.to_string();
        let mut source = value.source();
        while let Some(cause) = source {
            let _ = write!(chain, ": {cause}");
            source = cause.source();
        }
        self.insert(field, Value::from(chain));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.insert(field, Value::from(format!("{value:?}")));
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::registry;

    use super::*;

    /// Captures what the layer writes, so the lines can be parsed back.
    #[derive(Clone, Default)]
    struct CapturedLines(Arc<Mutex<Vec<u8>>>);

    impl CapturedLines {
        fn parsed(&self) -> Vec<Value> {
            let bytes = self.0.lock().expect("lines lock").clone();
            String::from_utf8(bytes)
                .expect("UTF-8 output")
                .lines()
                .map(|line| serde_json::from_str(line).expect("each line is one JSON object"))
                .collect()
        }
    }

    impl io::Write for CapturedLines {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().expect("lines lock").extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for CapturedLines {
        type Writer = Self;

        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    fn capture(emit: impl FnOnce()) -> Vec<Value> {
        let lines = CapturedLines::default();
        let subscriber = registry().with(json_layer("ordering", "place-order", lines.clone()));
        tracing::subscriber::with_default(subscriber, emit);
        lines.parsed()
    }

    #[test]
    fn a_line_inside_nested_spans_carries_every_context_field_at_the_top_level() {
        let lines = capture(|| {
            let request = tracing::info_span!(
                "http.request",
                request_id = "req-1",
                trace_id = "4bf92f3577b34da6a3ce929d0e0e4736",
                user_id = tracing::field::Empty,
            );
            let _request = request.enter();
            request.record("user_id", "user-7");
            let use_case = tracing::info_span!("place_order", order_id = 42);
            let _use_case = use_case.enter();
            tracing::info!(event_type = "commerce.order.placed.v1", "Order placed");
        });

        let [line] = lines.as_slice() else {
            panic!("expected one line, got {lines:?}")
        };
        assert_eq!(line["service"], "ordering");
        assert_eq!(line["function"], "place-order");
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["message"], "Order placed");
        assert_eq!(line["span"], "place_order");
        assert_eq!(line["request_id"], "req-1");
        assert_eq!(line["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(line["user_id"], "user-7");
        assert_eq!(line["order_id"], 42);
        assert_eq!(line["event_type"], "commerce.order.placed.v1");
        assert!(line["timestamp"].is_string());
    }

    #[test]
    fn a_line_outside_any_span_still_names_its_service_and_function() {
        let lines = capture(|| tracing::warn!(attempt = 3, "Broker unreachable"));

        let [line] = lines.as_slice() else {
            panic!("expected one line, got {lines:?}")
        };
        assert_eq!(line["service"], "ordering");
        assert_eq!(line["function"], "place-order");
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["attempt"], 3);
        assert!(line.get("span").is_none());
    }

    #[test]
    fn a_field_named_like_a_reserved_key_is_kept_under_a_prefix() {
        let lines = capture(|| tracing::info!(service = "payment-provider", "Called a service"));

        let [line] = lines.as_slice() else {
            panic!("expected one line, got {lines:?}")
        };
        assert_eq!(line["service"], "ordering");
        assert_eq!(line["field.service"], "payment-provider");
    }

    #[test]
    fn an_error_field_shows_its_whole_cause_chain() {
        #[derive(Debug, thiserror::Error)]
        #[error("could not reserve stock")]
        struct ReserveFailed(#[source] io::Error);

        let error = ReserveFailed(io::Error::other("connection reset"));
        let lines = capture(|| tracing::error!(error = &error as &(dyn Error + 'static), "Handling failed"));

        let [line] = lines.as_slice() else {
            panic!("expected one line, got {lines:?}")
        };
        assert_eq!(line["error"], "could not reserve stock: connection reset");
    }
}
