//! What each fuzz target checks, written once and run two ways.
//!
//! Every target is a plain function from bytes to nothing that panics when the code under test
//! breaks a rule: it panics itself, answers a stranger with a 5xx, or fails a round trip that
//! must hold. libFuzzer runs these functions through the thin binaries in
//! `fuzz/libfuzzer/fuzz_targets/` (a workspace of its own, built with a nightly toolchain and
//! `cargo fuzz`), and
//! `tests/corpus.rs` runs them over every committed input in `fuzz/seeds/<target>/`,
//! `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/` as an ordinary test of the main
//! workspace, so a finding fixed once stays fixed without anyone running a fuzzer.
//!
//! The targets, by the trust boundary each one guards:
//!
//! - [`kafka_record`]: a Kafka record's headers and value → `events::kafka::decode`, and an
//!   accepted event must survive `encode_binary` → `decode` unchanged.
//! - [`binlog_stream`]: bytes off the replication connection → the relay's binlog decoder
//!   and transaction assembler; every outbox row it would publish must make a record that
//!   consumers can decode.
//! - [`template_yaml`]: a `template.yaml` → `template::Registry`, whose functions come out
//!   sorted, unique, and with a local port each.
//! - [`http_request`]: an HTTP request → a function's router (the envelope's `Json` extractor,
//!   the Knative CloudEvent endpoint, the fallbacks and the body limit), which answers in the
//!   envelope and never with a 5xx.
//!
//! [`message`] is the small text framing the Kafka and HTTP targets share, so that their seeds
//! can be written and read by a person.

pub mod binlog_stream;
pub mod http_request;
pub mod kafka_record;
pub mod message;
pub mod template_yaml;

pub use binlog_stream::binlog_stream;
pub use http_request::http_request;
pub use kafka_record::kafka_record;
pub use template_yaml::template_yaml;

/// What a target checks: a function of the input that panics when a rule breaks.
pub type Check = fn(&[u8]);

/// Every target by the name of its folders under `fuzz/seeds/` and `fuzz/corpus/` and of its
/// binary in `fuzz/libfuzzer/`.
pub const TARGETS: &[(&str, Check)] = &[
    ("binlog_stream", binlog_stream),
    ("http_request", http_request),
    ("kafka_record", kafka_record),
    ("template_yaml", template_yaml),
];
