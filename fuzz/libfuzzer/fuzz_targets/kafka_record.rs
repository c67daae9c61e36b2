//! libFuzzer entry point of the `kafka_record` target; what it checks is `harness::kafka_record`.
#![no_main]

libfuzzer_sys::fuzz_target!(|input: &[u8]| harness::kafka_record(input));
