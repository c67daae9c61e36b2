//! libFuzzer entry point of the `binlog_stream` target; what it checks is `harness::binlog_stream`.
#![no_main]

libfuzzer_sys::fuzz_target!(|input: &[u8]| harness::binlog_stream(input));
