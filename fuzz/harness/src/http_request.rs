//! An HTTP request → a function's router, fed a request in the [`message`](crate::message)
//! framing whose first line is `METHOD target`.
//!
//! The router is built the way every function's is (`runtime::http::HttpFunction`): one JSON
//! route read with the envelope's [`Json`] extractor, shaped like place-order's request, and
//! the Knative CloudEvent endpoint of event functions (`runtime::knative`) on `/`, whose
//! handler reads the event's data as JSON. A header line that no HTTP server would pass on
//! (an illegal name or value) is dropped, as is a request line that is not one.
//!
//! What must hold for any request:
//!
//! - the router answers, never panics, and never with a 5xx: nothing here is the server's
//!   fault, and a 5xx would make a caller (the dispatcher, a load balancer) retry a request
//!   that can never succeed;
//! - every answer except `/metrics` is the envelope: a JSON object whose `success` agrees
//!   with the status and, on failure, carries a non-empty machine `code`;
//! - the JSON route accepts exactly the bodies that are the expected document: a request with
//!   `Content-Type: application/json` and a body within the limit that parses as the document
//!   gets `201`, and a `201` was only given for such a body; `MALFORMED_JSON` is only the
//!   answer to a body that is not JSON.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderName, HeaderValue, Method, Request, StatusCode, Uri};
use axum::routing::post;
use cloudevents::Event;
use http_body_util::BodyExt;
use runtime::envelope::{self, Json};
use runtime::events::{Delivery, EventHandler, Outcome};
use runtime::http::HttpFunction;
use serde::Deserialize;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::message::{Message, header};

/// Small, so that inputs of a few kilobytes reach the limit.
const BODY_LIMIT: usize = 1024;

/// The JSON route's path.
const ORDERS: &str = "/orders";

/// A request body shaped like place-order's: nested, with an optional field and a number
/// that must fit its type.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Read only by the deserializer.
struct PlaceOrder {
    lines: Vec<OrderLine>,
    currency: String,
    note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct OrderLine {
    sku: String,
    quantity: u32,
}

/// An event function that reads the event's data as JSON, as every consumer does.
struct ReadsJsonData;

impl EventHandler for ReadsJsonData {
    async fn handle(&self, event: &Event, _delivery: &Delivery) -> Outcome {
        if event.data().is_none() {
            return Outcome::Reject("the event carries no data".to_owned());
        }
        match events::envelope::data_json::<Value>(event) {
            Ok(_) => Outcome::Ack,
            Err(error) => Outcome::Reject(error.to_string()),
        }
    }
}

fn router() -> Router {
    let orders = Router::new().route(
        ORDERS,
        post(|Json(order): Json<PlaceOrder>| async move {
            envelope::created(json!({ "lines": order.lines.len() }))
        }),
    );
    let events = runtime::knative::router(Arc::new(ReadsJsonData), "fuzz-consumer".to_owned());
    HttpFunction::new(events.merge(orders))
        .body_limit(BODY_LIMIT)
        .into_router()
}

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime");
    static ROUTER: Router = router();
}

pub fn http_request(input: &[u8]) {
    let message = Message::parse(input);
    let Some((request_line, header_lines)) = message.lines.split_first() else {
        return;
    };
    let body = message.body.unwrap_or_default();
    let Some(request) = request(request_line, header_lines, body) else {
        return;
    };
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let content_type = request.headers().get(CONTENT_TYPE).cloned();
    let described = format!("{request:?} with a body of {} bytes", body.len());

    let router = ROUTER.with(Router::clone);
    let (status, answer) = RUNTIME.with(|runtime| {
        runtime.block_on(async {
            let response = router.oneshot(request).await.expect("a router never fails");
            let status = response.status();
            let bytes = response
                .into_body()
                .collect()
                .await
                .expect("a full body")
                .to_bytes();
            (status, bytes)
        })
    });

    assert!(
        !status.is_server_error(),
        "{status} for {described}: {}",
        String::from_utf8_lossy(&answer)
    );
    // `/metrics` is Prometheus text; a HEAD answer has no body to check.
    if path == "/metrics" || method == Method::HEAD {
        return;
    }
    let document: Value = serde_json::from_slice(&answer).unwrap_or_else(|_| {
        panic!(
            "{status} for {described} is not the envelope: {:?}",
            String::from_utf8_lossy(&answer)
        )
    });
    let success = document["success"].as_bool();
    assert_eq!(
        success,
        Some(status.is_success()),
        "{status} {document} for {described}"
    );
    let code = document["error"]["code"].as_str().unwrap_or_default();
    if !status.is_success() {
        assert!(!code.is_empty(), "{status} {document} for {described}");
    }

    if method == Method::POST && path == ORDERS {
        let is_json = content_type
            .as_ref()
            .is_some_and(|value| value == "application/json");
        let expected_document = serde_json::from_slice::<PlaceOrder>(body).is_ok();
        if is_json && body.len() <= BODY_LIMIT && expected_document {
            assert_eq!(status, StatusCode::CREATED, "{document} for {described}");
        }
        if status == StatusCode::CREATED {
            assert!(
                expected_document,
                "{ORDERS} accepted a body that is not the document"
            );
        }
        // The other way round does not hold: a document deeper than serde_json's recursion
        // limit is JSON of the wrong shape for the route but no `Value` at all.
        if code == "MALFORMED_JSON" {
            assert!(serde_json::from_slice::<Value>(body).is_err(), "{described}");
        }
    }
}

/// The request the input describes, or `None` when its first line is not a request line.
fn request(request_line: &[u8], header_lines: &[&[u8]], body: &[u8]) -> Option<Request<Body>> {
    let mut parts = request_line.splitn(2, |&byte| byte == b' ');
    let method = Method::from_bytes(parts.next()?).ok()?;
    let uri = Uri::try_from(parts.next()?).ok()?;
    let mut builder = Request::builder().method(method).uri(uri);
    for line in header_lines {
        let (name, value) = header(line);
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name),
            HeaderValue::from_bytes(value.unwrap_or_default()),
        ) {
            builder = builder.header(name, value);
        }
    }
    builder.body(Body::from(body.to_vec())).ok()
}
