//! libFuzzer entry point of the `template_yaml` target; what it checks is `harness::template_yaml`.
#![no_main]

libfuzzer_sys::fuzz_target!(|input: &[u8]| harness::template_yaml(input));
