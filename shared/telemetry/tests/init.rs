//! `init` in a process of its own: it installs process-wide state, which the other test
//! binaries must not share.

#[test]
fn init_can_be_called_twice_and_then_logs_and_records_metrics() {
    telemetry::init("ordering", "place-order");
    telemetry::init("ordering", "place-order");

    tracing::info!(order_id = "order-1", "Telemetry works after a second init");
    telemetry::record_event_retry("place-order", "commerce.test.init-checked.v1");

    assert!(telemetry::render_metrics().contains(r#"event_retries_total{function="place-order""#));
}
