//! libFuzzer entry point of the `http_request` target; what it checks is `harness::http_request`.
#![no_main]

libfuzzer_sys::fuzz_target!(|input: &[u8]| harness::http_request(input));
