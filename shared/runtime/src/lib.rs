//! The function runtime: every use case is written once and runs unchanged under AWS Lambda,
//! `cargo lambda watch`, Knative and the local stack.
//!
//! Two kinds of function, two handler shapes:
//!
//! - **HTTP functions** are an [`axum::Router`]. [`http::serve`] adds health, readiness and
//!   metrics routes, a body-size limit, request ids and trace context, then runs the router
//!   under `lambda_http` when `AWS_LAMBDA_RUNTIME_API` is set and under axum on `$PORT`
//!   otherwise, draining in-flight requests on SIGTERM.
//! - **Event functions** implement [`events::EventHandler`] over a CloudEvent plus its
//!   [`events::Delivery`] metadata and answer an [`events::Outcome`]: `Ack`, `Retry`
//!   (transient) or `Reject` (permanent). [`events::serve`] adapts the handler to the trigger
//!   at hand: the AWS Kafka event source mapping ([`lambda_kafka`]), or HTTP POSTs of
//!   CloudEvents from Knative's KafkaSource and from the local trigger dispatcher
//!   ([`knative`]).
//!
//! - **Scheduled functions** implement [`schedule::ScheduledJob`]; [`schedule::serve`] runs the
//!   job on every Lambda invocation (an EventBridge schedule) or on `POST /run` on `$PORT`.
//!
//! [`envelope`] is the one response envelope and error mapping of every HTTP route;
//! [`openapi`] describes that envelope, bearer authentication and the errors every route can
//! answer to the OpenAPI document; [`config`] reads typed configuration once and fails naming the missing variable.

pub mod config;
pub mod envelope;
pub mod events;
pub mod http;
pub mod knative;
pub mod lambda_kafka;
pub mod openapi;
pub mod schedule;
