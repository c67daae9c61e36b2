//! The dispatcher's Prometheus metrics, recorded through the `metrics` facade (the process's
//! recorder and `/metrics` come from the `telemetry` crate).
//!
//! Labels stay low-cardinality: function, topic, partition, outcome — never event ids.

use std::time::Duration;

use crate::delivery::Verdict;

/// Records whose delivery ended, by `function`, `topic` and `outcome` (`acknowledged` |
/// `dead_lettered` | `filtered`: of a type the function does not read, so never sent).
pub const RECORDS_DELIVERED_TOTAL: &str = "dispatcher_records_total";
/// HTTP attempts, by `function`, `topic` and `verdict` (`acknowledged` | `rejected` | `retryable`).
pub const ATTEMPTS_TOTAL: &str = "dispatcher_delivery_attempts_total";
/// One HTTP attempt's duration in seconds, by `function` and `topic`.
pub const ATTEMPT_DURATION_SECONDS: &str = "dispatcher_delivery_duration_seconds";
/// From taking a record to acknowledging or dead-lettering it (retries included), in seconds.
pub const RECORD_DURATION_SECONDS: &str = "dispatcher_record_duration_seconds";
/// Retries scheduled, by `function` and `topic`.
pub const RETRIES_TOTAL: &str = "dispatcher_retries_total";
/// Dead letters produced, by `function` and `topic` (of the original record).
pub const DEAD_LETTERS_TOTAL: &str = "dispatcher_dead_letters_total";
/// Failed attempts to produce a dead letter (each is retried).
pub const DEAD_LETTER_PRODUCE_FAILURES_TOTAL: &str = "dispatcher_dead_letter_produce_failures_total";
/// High watermark minus the next offset to deliver, by `function`, `topic`, `partition`.
pub const CONSUMER_LAG: &str = "dispatcher_consumer_lag";

pub fn describe() {
    metrics::describe_counter!(
        RECORDS_DELIVERED_TOTAL,
        "Records whose delivery ended, by outcome"
    );
    metrics::describe_counter!(ATTEMPTS_TOTAL, "HTTP delivery attempts, by verdict");
    metrics::describe_histogram!(
        ATTEMPT_DURATION_SECONDS,
        metrics::Unit::Seconds,
        "Duration of one HTTP delivery attempt"
    );
    metrics::describe_histogram!(
        RECORD_DURATION_SECONDS,
        metrics::Unit::Seconds,
        "Time from taking a record to its final outcome"
    );
    metrics::describe_counter!(RETRIES_TOTAL, "Delivery retries scheduled");
    metrics::describe_counter!(DEAD_LETTERS_TOTAL, "Records dead-lettered");
    metrics::describe_counter!(
        DEAD_LETTER_PRODUCE_FAILURES_TOTAL,
        "Failed attempts to produce a dead letter"
    );
    metrics::describe_gauge!(CONSUMER_LAG, "Records of the partition not yet delivered");
}

pub(crate) fn attempt_finished(function: &str, topic: &str, verdict: &Verdict, elapsed: Duration) {
    let verdict = match verdict {
        Verdict::Acknowledged => "acknowledged",
        Verdict::Rejected(_) => "rejected",
        Verdict::Retryable(_) => "retryable",
        Verdict::Unreachable(_) => "unreachable",
    };
    let labels = [("function", function.to_owned()), ("topic", topic.to_owned())];
    metrics::histogram!(ATTEMPT_DURATION_SECONDS, &labels).record(elapsed.as_secs_f64());
    metrics::counter!(ATTEMPTS_TOTAL, "function" => function.to_owned(), "topic" => topic.to_owned(), "verdict" => verdict)
        .increment(1);
}

pub(crate) fn record_finished(function: &str, topic: &str, outcome: &'static str, elapsed: Duration) {
    metrics::counter!(RECORDS_DELIVERED_TOTAL, "function" => function.to_owned(), "topic" => topic.to_owned(), "outcome" => outcome)
        .increment(1);
    metrics::histogram!(RECORD_DURATION_SECONDS, "function" => function.to_owned(), "topic" => topic.to_owned(), "outcome" => outcome)
        .record(elapsed.as_secs_f64());
}

pub(crate) fn retried(function: &str, topic: &str) {
    metrics::counter!(RETRIES_TOTAL, "function" => function.to_owned(), "topic" => topic.to_owned())
        .increment(1);
}

pub(crate) fn dead_lettered(function: &str, topic: &str) {
    metrics::counter!(DEAD_LETTERS_TOTAL, "function" => function.to_owned(), "topic" => topic.to_owned())
        .increment(1);
}

pub(crate) fn dead_letter_produce_failed(function: &str, topic: &str) {
    metrics::counter!(DEAD_LETTER_PRODUCE_FAILURES_TOTAL, "function" => function.to_owned(), "topic" => topic.to_owned())
        .increment(1);
}

pub(crate) fn lag(function: &str, topic: &str, partition: i32, lag: i64) {
    metrics::gauge!(CONSUMER_LAG, "function" => function.to_owned(), "topic" => topic.to_owned(), "partition" => partition.to_string())
        .set(lag as f64);
}
