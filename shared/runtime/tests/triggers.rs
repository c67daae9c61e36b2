//! The runtime's adapters, called in-process: the same handler code answers HTTP routes,
//! Knative-style CloudEvent POSTs and Lambda Kafka batches, with the envelope and the status
//! codes each trigger expects.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::post;
use cloudevents::{AttributesReader, Event};
use http_body_util::BodyExt;
use runtime::envelope::{self, ApiError, Json};
use runtime::events::{Delivery, EventHandler, Outcome};
use runtime::http::HttpFunction;
use serde_json::{Value, json};
use tower::ServiceExt;

/// A handler that answers by event type and remembers what it saw.
#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<(String, Delivery)>>,
}

impl EventHandler for Recorder {
    async fn handle(&self, event: &Event, delivery: &Delivery) -> Outcome {
        self.seen
            .lock()
            .expect("lock")
            .push((event.id().to_owned(), delivery.clone()));
        match event.ty() {
            "test.reject.v1" => Outcome::Reject("the order does not exist".to_owned()),
            "test.retry.v1" => Outcome::Retry("database unavailable".to_owned()),
            _ if event.id().ends_with("016") => Outcome::Retry("deadlock".to_owned()),
            _ => Outcome::Ack,
        }
    }
}

async fn call(router: Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = router.oneshot(request).await.expect("infallible");
    let status = response.status();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, body)
}

#[derive(serde::Deserialize)]
struct NewThing {
    name: String,
}

fn things() -> Router {
    Router::new().route(
        "/things",
        post(|Json(thing): Json<NewThing>| async move {
            if thing.name.is_empty() {
                return Err(ApiError::validation(vec![envelope::FieldError {
                    field: "name".to_owned(),
                    reason: "must not be empty".to_owned(),
                }]));
            }
            Ok(envelope::created(json!({ "name": thing.name })))
        }),
    )
}

fn json_post(uri: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(uri)
        .header("content-type", "application/json")
        .body(body.into())
        .expect("request")
}

#[tokio::test]
async fn a_route_answers_in_the_envelope() {
    let router = HttpFunction::new(things()).into_router();
    let (status, body) = call(router, json_post("/things", r#"{"name":"cup"}"#)).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["success"], true);
    assert_eq!(body["data"]["name"], "cup");
}

#[tokio::test]
async fn validation_errors_name_the_field_and_carry_the_request_id() {
    let router = HttpFunction::new(things()).into_router();
    let request = Request::post("/things")
        .header("content-type", "application/json")
        .header("x-request-id", "req-123")
        .body(Body::from(r#"{"name":""}"#))
        .expect("request");
    let (status, body) = call(router, request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["success"], false);
    assert_eq!(body["error"]["code"], "VALIDATION_FAILED");
    assert_eq!(body["error"]["fieldErrors"][0]["field"], "name");
    assert_eq!(body["error"]["requestId"], "req-123");
}

#[tokio::test]
async fn malformed_json_missing_fields_and_wrong_content_type_get_stable_codes() {
    let cases = [
        (
            json_post("/things", "{not json"),
            StatusCode::BAD_REQUEST,
            "MALFORMED_JSON",
        ),
        (
            json_post("/things", r#"{"title":"cup"}"#),
            StatusCode::BAD_REQUEST,
            "INVALID_BODY",
        ),
        (
            Request::post("/things")
                .header("content-type", "text/plain")
                .body(Body::from("cup"))
                .expect("request"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
    ];
    for (request, expected_status, expected_code) in cases {
        let (status, body) = call(HttpFunction::new(things()).into_router(), request).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (expected_status, Some(expected_code)),
            "{body}"
        );
    }
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_413_in_the_envelope() {
    let router = HttpFunction::new(things()).body_limit(1024).into_router();
    let big = format!(r#"{{"name":"{}"}}"#, "x".repeat(4096));
    let (status, body) = call(router, json_post("/things", big)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["error"]["code"], "BODY_TOO_LARGE");
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_envelope() {
    let (status, body) = call(
        HttpFunction::new(things()).into_router(),
        Request::get("/nope").body(Body::empty()).expect("request"),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("NOT_FOUND"))
    );
    let (status, body) = call(
        HttpFunction::new(things()).into_router(),
        Request::get("/things").body(Body::empty()).expect("request"),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("METHOD_NOT_ALLOWED"))
    );
}

#[tokio::test]
async fn health_is_always_ok_and_readiness_names_the_failing_check() {
    let function = || {
        HttpFunction::new(things())
            .readiness_check("database", || async { Err("connection refused".to_owned()) })
            .readiness_check("keys", || async { Ok(()) })
    };
    let (status, _) = call(
        function().into_router(),
        Request::get("/healthz").body(Body::empty()).expect("req"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = call(
        function().into_router(),
        Request::get("/readyz").body(Body::empty()).expect("req"),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["failing"], json!(["database: connection refused"]));
}

#[tokio::test]
async fn metrics_are_served_in_prometheus_text() {
    let router = HttpFunction::new(things()).into_router();
    let _ = call(router.clone(), json_post("/things", r#"{"name":"cup"}"#)).await;
    let response = router
        .oneshot(Request::get("/metrics").body(Body::empty()).expect("req"))
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    let text = String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec(),
    )
    .expect("utf8");
    assert!(text.contains("http_requests_total"), "{text}");
}

fn knative(handler: Arc<Recorder>) -> Router {
    HttpFunction::new(runtime::knative::router(handler, "test-function".to_owned())).into_router()
}

fn binary_event(id: &str, ty: &str) -> Request<Body> {
    Request::post("/")
        .header("ce-specversion", "1.0")
        .header("ce-id", id)
        .header("ce-source", "commerce/test")
        .header("ce-type", ty)
        .header("ce-subject", "order-7")
        .header("ce-partitionkey", "order-7")
        .header("content-type", "application/json")
        .header("x-kafka-topic", "commerce.ordering.order")
        .header("x-kafka-partition", "2")
        .header("x-kafka-offset", "41")
        .header("x-kafka-timestamp", "1764753600123")
        .header("x-delivery-attempt", "3")
        .body(Body::from(r#"{"orderId":"order-7"}"#))
        .expect("request")
}

#[tokio::test]
async fn a_binary_mode_cloud_event_post_is_acknowledged_with_its_coordinates() {
    let handler = Arc::new(Recorder::default());
    let (status, _) = call(knative(Arc::clone(&handler)), binary_event("e-1", "test.ok.v1")).await;
    assert_eq!(status, StatusCode::OK);
    let seen = handler.seen.lock().expect("lock");
    let (id, delivery) = &seen[0];
    assert_eq!(id, "e-1");
    assert_eq!(delivery.key.as_deref(), Some("order-7"));
    assert_eq!(delivery.topic.as_deref(), Some("commerce.ordering.order"));
    assert_eq!(
        (delivery.partition, delivery.offset, delivery.attempt),
        (Some(2), Some(41), 3)
    );
    assert_eq!(
        delivery.published_at.map(|at| at.to_rfc3339()).as_deref(),
        Some("2025-12-03T09:20:00.123+00:00"),
        "the Kafka timestamp says when the relay published the event"
    );
}

#[tokio::test]
async fn reject_maps_to_422_and_retry_to_503_as_knative_expects() {
    let handler = Arc::new(Recorder::default());
    let (status, body) = call(
        knative(Arc::clone(&handler)),
        binary_event("e-2", "test.reject.v1"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["message"], "the order does not exist");
    let (status, _) = call(knative(handler), binary_event("e-3", "test.retry.v1")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn a_structured_mode_cloud_event_is_accepted_too() {
    let handler = Arc::new(Recorder::default());
    let event = json!({
        "specversion": "1.0", "id": "e-4", "source": "commerce/test", "type": "test.ok.v1",
        "partitionkey": "order-9", "datacontenttype": "application/json", "data": {"orderId": "order-9"}
    });
    let request = Request::post("/")
        .header("content-type", "application/cloudevents+json")
        .body(Body::from(event.to_string()))
        .expect("request");
    let (status, _) = call(knative(Arc::clone(&handler)), request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        handler.seen.lock().expect("lock")[0].1.key.as_deref(),
        Some("order-9")
    );
}

fn batch_request(events: &Value) -> Request<Body> {
    Request::post("/")
        .header("content-type", runtime::knative::BATCH_CONTENT_TYPE)
        .header("x-kafka-topic", "commerce.ordering.order")
        .header("x-kafka-partition", "4")
        .header("x-kafka-offsets", "10,12,13")
        .header("x-kafka-timestamps", "1764753600123,1764753600200,1764753600300")
        .header("x-delivery-attempt", "1")
        .body(Body::from(events.to_string()))
        .expect("request")
}

#[tokio::test]
async fn a_batch_of_cloud_events_gets_one_outcome_per_event_and_each_its_coordinates() {
    let handler = Arc::new(Recorder::default());
    let event = |id: &str, ty: &str, key: &str| {
        json!({
            "specversion": "1.0", "id": id, "source": "commerce/test", "type": ty,
            "partitionkey": key, "datacontenttype": "application/json", "data": {"orderId": key}
        })
    };
    let events = json!([
        event("e-1", "test.ok.v1", "order-1"),
        event("e-2", "test.reject.v1", "order-2"),
        event("e-3", "test.ok.v1", "order-3"),
    ]);
    let (status, body) = call(knative(Arc::clone(&handler)), batch_request(&events)).await;
    assert_eq!(status, StatusCode::OK);
    // The default batch handling stops at the first failure: the third is left untried.
    let outcomes = &body["data"]["outcomes"];
    assert_eq!(outcomes[0], json!({"outcome": "ack"}));
    assert_eq!(
        outcomes[1],
        json!({"outcome": "reject", "reason": "the order does not exist"})
    );
    assert_eq!(outcomes[2]["outcome"], "retry");
    let seen = handler.seen.lock().expect("lock");
    assert_eq!(seen.len(), 2);
    let (id, delivery) = &seen[1];
    assert_eq!(id, "e-2");
    assert_eq!(delivery.key.as_deref(), Some("order-2"));
    assert_eq!(
        (delivery.topic.as_deref(), delivery.partition, delivery.offset),
        (Some("commerce.ordering.order"), Some(4), Some(12))
    );
    assert_eq!(
        delivery.published_at.map(|at| at.timestamp_millis()),
        Some(1_764_753_600_200)
    );
}

#[tokio::test]
async fn a_batch_that_is_not_an_array_of_cloud_events_is_refused_whole() {
    let handler = Arc::new(Recorder::default());
    for body in [json!({"id": "e-1"}), json!([]), json!([{"hello": "world"}])] {
        let (status, answer) = call(knative(Arc::clone(&handler)), batch_request(&body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer["error"]["code"], "INVALID_CLOUD_EVENT_BATCH", "{body}");
    }
    assert!(handler.seen.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn a_post_that_is_not_a_cloud_event_is_refused_without_reaching_the_handler() {
    let handler = Arc::new(Recorder::default());
    let (status, body) = call(
        knative(Arc::clone(&handler)),
        json_post("/", r#"{"hello":"world"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "INVALID_CLOUD_EVENT");
    assert!(handler.seen.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn a_cloud_event_larger_than_the_body_limit_is_refused_in_the_envelope() {
    let handler = Arc::new(Recorder::default());
    let router = HttpFunction::new(runtime::knative::router(
        Arc::clone(&handler),
        "test-function".to_owned(),
    ))
    .body_limit(1024)
    .into_router();
    let request = Request::post("/")
        .header("ce-specversion", "1.0")
        .header("ce-id", "e-5")
        .header("ce-source", "commerce/test")
        .header("ce-type", "test.ok.v1")
        .body(Body::from("x".repeat(2048)))
        .expect("request");

    let (status, body) = call(router, request).await;

    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["error"]["code"], "BODY_TOO_LARGE");
    assert!(handler.seen.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn the_probes_called_with_another_method_answer_in_the_envelope() {
    for path in ["/healthz", "/readyz"] {
        let (status, body) = call(
            HttpFunction::new(things()).into_router(),
            Request::post(path).body(Body::empty()).expect("request"),
        )
        .await;

        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::METHOD_NOT_ALLOWED, Some("METHOD_NOT_ALLOWED")),
            "{path}"
        );
    }
}

fn fixture(name: &str) -> aws_lambda_events::event::kafka::KafkaEvent {
    let path = format!(
        "{}/../../events/fixtures/lambda/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).expect("a KafkaEvent")
}

#[tokio::test]
async fn a_lambda_kafka_batch_stops_a_partition_at_its_first_failure_and_reports_it() {
    let handler = Recorder::default();
    let response =
        runtime::lambda_kafka::handle_batch(&handler, "test-function", fixture("kafka-catalog-product.json"))
            .await;
    let reported = serde_json::to_value(&response).expect("json");
    // Offset 16 of partition 0 asks for a retry; partition 3 is unaffected.
    assert_eq!(
        reported,
        json!({"batchItemFailures": [{"itemIdentifier": {"partition": "commerce.catalog.product-0", "offset": 16}}]})
    );
    let seen = handler.seen.lock().expect("lock");
    let ids: Vec<&str> = seen.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "0196f6a0-0000-7000-8000-000000000015",
            "0196f6a0-0000-7000-8000-000000000016",
            "0196f6a0-0000-7000-8000-000000000107"
        ]
    );
    let first = &seen[0].1;
    assert_eq!(first.key.as_deref(), Some("prod-1"));
    assert_eq!(
        (first.topic.as_deref(), first.partition, first.offset),
        (Some("commerce.catalog.product"), Some(0), Some(15))
    );
    assert_eq!(
        first.published_at.map(|at| at.timestamp_millis()),
        Some(1_795_600_000_015),
        "the record's Kafka timestamp reaches the handler"
    );
}

#[tokio::test]
async fn a_lambda_kafka_record_that_is_not_a_cloud_event_is_reported_not_handled() {
    let handler = Recorder::default();
    let response = runtime::lambda_kafka::handle_batch(
        &handler,
        "test-function",
        fixture("kafka-not-a-cloudevent.json"),
    )
    .await;
    assert_eq!(response.batch_item_failures.len(), 1);
    assert!(handler.seen.lock().expect("lock").is_empty());
}
