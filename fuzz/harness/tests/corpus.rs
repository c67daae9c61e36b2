//! Every committed fuzz input, run through its target as an ordinary test: the seeds in
//! `fuzz/seeds/<target>/`, the minimised corpora the fuzzers grew from them in
//! `fuzz/corpus/<target>/`, and the inputs that once failed, kept in
//! `fuzz/regressions/<target>/`. A target's checks are the same code libFuzzer runs, so a
//! change that breaks a rule an input once exercised fails here, with the file named.

use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `check` over the target's committed inputs and fails naming every input that
/// panicked. Panics are caught per input so one failure does not hide the others.
fn replay(target: &str, check: harness::Check) {
    let mut replayed = 0;
    let mut failed = Vec::new();
    for folder in ["seeds", "corpus", "regressions"] {
        let dir = fuzz_dir().join(folder).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries
            .map(|entry| entry.expect("a readable directory entry").path())
            .filter(|path| path.is_file())
            .collect();
        paths.sort();
        for path in paths {
            let input = std::fs::read(&path).expect("a readable input");
            if std::panic::catch_unwind(|| check(&input)).is_err() {
                failed.push(path.display().to_string());
            }
            replayed += 1;
        }
    }
    assert!(
        replayed > 0,
        "no committed inputs for {target}: its seeds belong in fuzz/seeds/{target}/"
    );
    assert!(failed.is_empty(), "{target} fails on: {failed:#?}");
}

#[test]
fn every_committed_kafka_record_decodes_or_is_refused_and_round_trips() {
    replay("kafka_record", harness::kafka_record);
}

#[test]
fn every_committed_binlog_stream_is_decoded_without_publishing_an_undecodable_record() {
    replay("binlog_stream", harness::binlog_stream);
}

#[test]
fn the_captured_binlog_stream_reaches_its_outbox_rows() {
    let input = std::fs::read(fuzz_dir().join("seeds/binlog_stream/captured-stream")).expect("the seed");

    // The use case's three events, the single insert, and the row of the transaction with a
    // savepoint (the row rolled back to it never reaches the binlog); the XA transaction's
    // row is refused and ends the stream there, as it stops the relay.
    assert_eq!(harness::binlog_stream::published_rows(&input), 5);
}

#[test]
fn every_committed_template_parses_into_a_sound_registry_or_is_refused() {
    replay("template_yaml", harness::template_yaml);
}

#[test]
fn every_committed_http_request_is_answered_in_the_envelope_without_a_server_error() {
    replay("http_request", harness::http_request);
}

#[test]
fn every_target_has_a_test_here_and_a_binary_in_fuzz() {
    let tested = ["binlog_stream", "http_request", "kafka_record", "template_yaml"];
    let names: Vec<&str> = harness::TARGETS.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, tested);
    for name in names {
        let binary = fuzz_dir()
            .join("libfuzzer/fuzz_targets")
            .join(format!("{name}.rs"));
        assert!(binary.exists(), "{} is missing", binary.display());
    }
}
