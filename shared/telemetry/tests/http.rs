//! The HTTP middleware and `/metrics`, called in-process with `oneshot` (no network).
//!
//! The metrics recorder is process-wide and these tests run concurrently, so each test uses its
//! own route and asserts that a sample exists, never how many there are.

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::Path;
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use telemetry::{EventOutcome, REQUEST_ID_HEADER, RequestContext, TRACEPARENT_HEADER};
use tower::ServiceExt;

const INCOMING_TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// A small application: handlers echo what telemetry told them.
fn app() -> Router {
    telemetry::instrument(
        Router::new()
            .route(
                "/request-id",
                get(|context: RequestContext| async move { context.request_id }),
            )
            .route(
                "/traceparent",
                get(|context: RequestContext| async move { context.trace.to_header() }),
            )
            .route(
                "/items/{id}",
                get(|Path(id): Path<u32>| async move { format!("item {id}") }),
            )
            .route("/missing/{id}", get(|| async { StatusCode::NOT_FOUND })),
    )
}

async fn get_from(router: Router, request: Request<Body>) -> (Response, String) {
    let response = router.oneshot(request).await.expect("routers are infallible");
    let (parts, body) = response.into_parts();
    let bytes = to_bytes(body, usize::MAX).await.expect("readable body");
    let text = String::from_utf8(bytes.to_vec()).expect("UTF-8 body");
    (Response::from_parts(parts, Body::empty()), text)
}

fn request(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).expect("valid request")
}

fn request_with_header(uri: &str, name: &str, value: &str) -> Request<Body> {
    Request::get(uri)
        .header(name, value)
        .body(Body::empty())
        .expect("valid request")
}

fn header_text<'a>(response: &'a Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .map(|value| value.to_str().expect("visible ASCII header"))
        .unwrap_or_default()
}

/// The sample lines of `metric` whose labels include every one of `labels`.
fn samples_of(metric: &str, labels: &[&str]) -> Vec<String> {
    telemetry::render_metrics()
        .lines()
        .filter(|line| line.starts_with(&format!("{metric}{{")))
        .filter(|line| labels.iter().all(|label| line.contains(label)))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn a_request_without_a_request_id_gets_a_new_one_that_the_handler_and_the_client_both_see() {
    let (response, handler_saw) = get_from(app(), request("/request-id")).await;

    let echoed = header_text(&response, REQUEST_ID_HEADER);
    let parsed = uuid::Uuid::parse_str(echoed).expect("a generated request id is a UUID");
    assert_eq!(parsed.get_version_num(), 7);
    assert_eq!(handler_saw, echoed);
}

#[tokio::test]
async fn an_incoming_request_id_is_kept_and_echoed() {
    let (response, handler_saw) = get_from(
        app(),
        request_with_header("/request-id", REQUEST_ID_HEADER, "gateway-req-123"),
    )
    .await;

    assert_eq!(header_text(&response, REQUEST_ID_HEADER), "gateway-req-123");
    assert_eq!(handler_saw, "gateway-req-123");
}

#[tokio::test]
async fn an_unusable_incoming_request_id_is_replaced() {
    let overlong = "x".repeat(500);
    let (response, _) = get_from(
        app(),
        request_with_header("/request-id", REQUEST_ID_HEADER, &overlong),
    )
    .await;

    let echoed = header_text(&response, REQUEST_ID_HEADER);
    assert_ne!(echoed, overlong);
    assert!(uuid::Uuid::parse_str(echoed).is_ok());
}

#[tokio::test]
async fn an_incoming_trace_is_continued_with_a_new_span_id() {
    let (_, handler_saw) = get_from(
        app(),
        request_with_header("/traceparent", TRACEPARENT_HEADER, INCOMING_TRACEPARENT),
    )
    .await;

    let seen = telemetry::TraceContext::parse(&handler_saw).expect("the handler sees a valid context");
    assert_eq!(seen.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_ne!(
        seen.parent_id_hex(),
        "00f067aa0ba902b7",
        "this request is a new span in that trace"
    );
    assert!(seen.is_sampled());
}

#[tokio::test]
async fn a_malformed_traceparent_starts_a_new_trace() {
    let malformed = INCOMING_TRACEPARENT.to_uppercase();
    let (_, handler_saw) = get_from(
        app(),
        request_with_header("/traceparent", TRACEPARENT_HEADER, &malformed),
    )
    .await;

    let seen = telemetry::TraceContext::parse(&handler_saw).expect("the handler sees a valid context");
    assert_ne!(seen.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
}

#[tokio::test]
async fn a_request_is_counted_under_its_route_template_method_and_status() {
    let (response, body) = get_from(app(), request("/items/42")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body, "item 42");

    let route = r#"route="/items/{id}""#;
    let counted = samples_of(
        "http_requests_total",
        &[route, r#"method="GET""#, r#"status="200""#],
    );
    assert_eq!(counted.len(), 1, "one series for the route, got {counted:?}");
    assert!(
        !telemetry::render_metrics().contains("/items/42"),
        "raw paths must never become label values"
    );
    let slowest_bucket = samples_of("http_request_duration_seconds_bucket", &[route, r#"le="10""#]);
    assert_eq!(
        slowest_bucket.len(),
        1,
        "latency has buckets up to 10 s, got {slowest_bucket:?}"
    );
}

#[tokio::test]
async fn an_error_status_from_a_handler_is_the_status_label() {
    let (response, _) = get_from(app(), request("/missing/7")).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    let counted = samples_of(
        "http_requests_total",
        &[r#"route="/missing/{id}""#, r#"status="404""#],
    );
    assert_eq!(counted.len(), 1, "got {counted:?}");
}

#[tokio::test]
async fn a_request_no_route_matches_is_counted_as_unmatched() {
    let (response, _) = get_from(app(), request("/no/such/page/314159")).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(
        !header_text(&response, REQUEST_ID_HEADER).is_empty(),
        "404s carry a request id too"
    );

    let counted = samples_of(
        "http_requests_total",
        &[r#"route="unmatched""#, r#"status="404""#],
    );
    assert_eq!(counted.len(), 1, "got {counted:?}");
    assert!(!telemetry::render_metrics().contains("314159"));
}

#[tokio::test]
async fn the_metrics_endpoint_serves_prometheus_text() {
    let _ = get_from(app(), request("/items/7")).await;

    let (response, body) = get_from(telemetry::metrics_router(), request("/metrics")).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert!(header_text(&response, header::CONTENT_TYPE.as_str()).starts_with("text/plain"));
    assert!(body.contains("# TYPE http_requests_total counter"), "{body}");
    assert!(
        body.contains("# TYPE http_request_duration_seconds histogram"),
        "{body}"
    );
}

#[tokio::test]
async fn event_outcomes_retries_and_dead_letters_are_counted_with_their_labels() {
    let event_type = "commerce.test.outcome-recorded.v1";
    telemetry::record_event_handled(
        "reserve-stock",
        event_type,
        EventOutcome::PermanentFailure,
        std::time::Duration::from_millis(3),
    );
    telemetry::record_event_retry("reserve-stock", event_type);
    telemetry::record_event_dead_lettered("reserve-stock", event_type);

    let type_label = format!(r#"type="{event_type}""#);
    let labels = [r#"function="reserve-stock""#, type_label.as_str()];
    let handled = samples_of(
        "events_handled_total",
        &[labels[0], labels[1], r#"outcome="permanent_failure""#],
    );
    assert_eq!(handled.len(), 1, "got {handled:?}");
    assert!(!samples_of("event_handling_duration_seconds_bucket", &labels).is_empty());
    assert_eq!(samples_of("event_retries_total", &labels).len(), 1);
    assert_eq!(samples_of("events_dead_lettered_total", &labels).len(), 1);
}

#[tokio::test]
async fn a_handler_on_a_router_without_instrument_fails_loudly() {
    let bare = Router::new().route(
        "/request-id",
        get(|context: RequestContext| async move { context.request_id }),
    );

    let (response, _) = get_from(bare, request("/request-id")).await;

    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
}
