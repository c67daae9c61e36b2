//! One record to one function over HTTP: the POST, the classification of its answer, and the
//! retry loop around it.
//!
//! The request is what Knative's KafkaSource sends — a CloudEvent in HTTP binary mode — plus
//! the record's coordinates and the attempt number as `x-kafka-*` / `x-delivery-attempt`
//! headers, named once in `runtime::knative`, the receiving side. The answer is classified with
//! KafkaSource's rule (see [`classify_status`]). Several records of a partition can also go
//! in one request ([`Deliverer::deliver_batch`], ADR 0064).

use std::time::{Duration, Instant};

use cloudevents::AttributesReader;
use cloudevents::Event;
use cloudevents::binding::http::Serializer;
use cloudevents::binding::http::builder::Builder;
use cloudevents::message::BinaryDeserializer;
use http::{HeaderMap, HeaderValue, StatusCode};
use reqwest::Url;
use runtime::events::Outcome;
use runtime::knative::{
    ATTEMPT_HEADER, BATCH_CONTENT_TYPE, BatchHandled, OFFSET_HEADER, OFFSETS_HEADER, PARTITION_HEADER,
    TIMESTAMP_HEADER, TIMESTAMPS_HEADER, TOPIC_HEADER,
};
use tokio::sync::watch;

use crate::backoff::RetryPolicy;
use crate::metrics;
use crate::record::Record;

/// While a function is unreachable, the waits grow like the retry policy's first
/// `UNREACHABLE_BACKOFF_STEPS` attempts and then stay there.
const UNREACHABLE_BACKOFF_STEPS: u32 = 5;

/// How much of an error answer's body is kept in the dead-letter reason.
const REASON_BODY_LIMIT: usize = 512;

/// What one attempt's answer means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx: the function handled the record.
    Acknowledged,
    /// The function refused the record for good (422, 400, any other final status).
    Rejected(String),
    /// A transient failure: try again later.
    Retryable(String),
    /// The request never reached the function (nothing listens, the connection was refused),
    /// or it failed while the function said it was not ready: it is down, restarting or
    /// without its database, which says nothing about the record. Retried until the function
    /// is back, without using up the record's attempts.
    Unreachable(String),
}

/// KafkaSource's rule (Knative data-plane spec): 2xx acknowledges; 5xx, 404, 408, 409 and 429
/// are retried (the function may be starting, overloaded or briefly inconsistent); every
/// other status is final, so the record goes to the dead-letter topic at once.
pub fn classify_status(status: StatusCode) -> Verdict {
    let code = status.as_u16();
    if status.is_success() {
        Verdict::Acknowledged
    } else if status.is_server_error() || matches!(code, 404 | 408 | 409 | 429) {
        Verdict::Retryable(format!("HTTP {code}"))
    } else {
        Verdict::Rejected(format!("HTTP {code}"))
    }
}

/// How the delivery of one record ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finished {
    Acknowledged {
        attempts: u32,
    },
    /// Rejected or out of attempts: the record must be dead-lettered with this reason.
    DeadLetter {
        reason: String,
        attempts: u32,
    },
    /// Shutdown began while the record waited for a retry; it stays unacknowledged.
    Interrupted,
}

/// POSTs CloudEvents to functions. One per dispatcher; the connection pool is shared.
#[derive(Debug, Clone)]
pub struct Deliverer {
    client: reqwest::Client,
    request_timeout: Duration,
    retry: RetryPolicy,
}

impl Deliverer {
    pub fn new(request_timeout: Duration, retry: RetryPolicy) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder().build()?;
        Ok(Self {
            client,
            request_timeout,
            retry,
        })
    }

    /// Delivers `event` until it is acknowledged, rejected, out of attempts, or shutdown
    /// interrupts a backoff wait. An HTTP request already sent is always awaited, so
    /// shutdown never abandons a request the function may be acting on.
    pub async fn deliver(
        &self,
        function: &str,
        target: &Url,
        record: &Record,
        event: &Event,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Finished {
        let max_attempts = self.retry.max_attempts.max(1);
        let mut attempt = 1;
        let mut unreachable_streak = 0_u32;
        loop {
            let knobs = knobs_of(function);
            if knobs.delay_ms > 0
                && !sleep_unless_shutdown(Duration::from_millis(knobs.delay_ms), shutdown).await
            {
                return Finished::Interrupted;
            }
            let started = Instant::now();
            let verdict = if faults::happens(knobs.failure_rate) {
                Verdict::Retryable("a fault knob failed this attempt".to_owned())
            } else {
                self.post_once(target, record, event, attempt).await
            };
            metrics::attempt_finished(function, &record.topic, &verdict, started.elapsed());
            match verdict {
                Verdict::Acknowledged => return Finished::Acknowledged { attempts: attempt },
                Verdict::Rejected(reason) => {
                    return Finished::DeadLetter {
                        reason: format!("rejected: {reason}"),
                        attempts: attempt,
                    };
                }
                Verdict::Unreachable(reason) => {
                    unreachable_streak += 1;
                    // Short waits (at most 1.6 s with the default policy): the function is
                    // expected back within seconds, and every partition waits for it.
                    let wait = self
                        .retry
                        .delay(unreachable_streak.min(UNREACHABLE_BACKOFF_STEPS));
                    if unreachable_streak.is_power_of_two() {
                        tracing::warn!(
                            function,
                            topic = %record.topic,
                            partition = record.partition,
                            offset = record.offset,
                            event_id = event.id(),
                            tries = unreachable_streak,
                            %reason,
                            "The function is unreachable; waiting for it to come back."
                        );
                    }
                    if !sleep_unless_shutdown(wait, shutdown).await {
                        return Finished::Interrupted;
                    }
                }
                Verdict::Retryable(reason) if attempt >= max_attempts => {
                    return Finished::DeadLetter {
                        reason: format!("gave up after {attempt} attempts: {reason}"),
                        attempts: attempt,
                    };
                }
                Verdict::Retryable(reason) => {
                    let wait = self.retry.delay(attempt);
                    tracing::warn!(
                        function,
                        topic = %record.topic,
                        partition = record.partition,
                        offset = record.offset,
                        event_id = event.id(),
                        attempt,
                        wait_ms = wait.as_millis() as u64,
                        %reason,
                        "Delivery failed; retrying after a backoff."
                    );
                    metrics::retried(function, &record.topic);
                    if !sleep_unless_shutdown(wait, shutdown).await {
                        return Finished::Interrupted;
                    }
                    attempt += 1;
                }
            }
        }
    }

    /// Posts several records' events to the function in one request (the batched mode of
    /// ADR 0064), once, and answers for each whether the function acknowledged it. A request
    /// that fails as a whole, or an answer without one outcome per event, acknowledges
    /// nothing; the caller then delivers every record on its own, with its retries.
    pub async fn deliver_batch(
        &self,
        function: &str,
        target: &Url,
        batch: &[(&Record, &Event)],
        shutdown: &watch::Receiver<bool>,
    ) -> Vec<bool> {
        let Some((first, _)) = batch.first() else {
            return Vec::new();
        };
        let knobs = knobs_of(function);
        if knobs.delay_ms > 0
            && !sleep_unless_shutdown(Duration::from_millis(knobs.delay_ms), &mut shutdown.clone()).await
        {
            return vec![false; batch.len()];
        }
        let started = Instant::now();
        let (verdict, acknowledged) = if faults::happens(knobs.failure_rate) {
            (
                Verdict::Retryable("a fault knob failed this attempt".to_owned()),
                vec![false; batch.len()],
            )
        } else {
            self.post_batch(target, batch).await
        };
        metrics::attempt_finished(function, &first.topic, &verdict, started.elapsed());
        if verdict != Verdict::Acknowledged {
            tracing::info!(
                function,
                topic = %first.topic,
                partition = first.partition,
                records = batch.len(),
                ?verdict,
                "A batch was not delivered; its records go again one by one."
            );
        }
        acknowledged
    }

    async fn post_batch(&self, target: &Url, batch: &[(&Record, &Event)]) -> (Verdict, Vec<bool>) {
        let nothing = || vec![false; batch.len()];
        let events: Vec<&Event> = batch.iter().map(|(_, event)| *event).collect();
        let body = match serde_json::to_vec(&events) {
            Ok(body) => body,
            Err(error) => {
                return (
                    Verdict::Rejected(format!("the batch cannot be written as JSON: {error}")),
                    nothing(),
                );
            }
        };
        let (first, _) = batch[0];
        let list = |values: &mut dyn Iterator<Item = String>| values.collect::<Vec<_>>().join(",");
        let mut request = self
            .client
            .post(target.clone())
            .header(http::header::CONTENT_TYPE, BATCH_CONTENT_TYPE)
            .header(TOPIC_HEADER, first.topic.as_str())
            .header(PARTITION_HEADER, first.partition)
            .header(
                OFFSETS_HEADER,
                list(&mut batch.iter().map(|(record, _)| record.offset.to_string())),
            )
            .header(ATTEMPT_HEADER, 1)
            .body(body)
            .timeout(self.request_timeout);
        let timestamps: Option<Vec<i64>> = batch.iter().map(|(record, _)| record.timestamp_millis).collect();
        if let Some(timestamps) = timestamps {
            request = request.header(
                TIMESTAMPS_HEADER,
                list(&mut timestamps.iter().map(i64::to_string)),
            );
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) if error.is_connect() => {
                return (
                    Verdict::Unreachable(format!("cannot connect: {}", error_chain(&error))),
                    nothing(),
                );
            }
            Err(error) => {
                return (
                    Verdict::Retryable(format!("request failed: {}", error_chain(&error))),
                    nothing(),
                );
            }
        };
        let status = response.status();
        if !status.is_success() {
            let verdict = match classify_status(status) {
                Verdict::Rejected(reason) => Verdict::Rejected(with_body(reason, response).await),
                Verdict::Retryable(reason) => Verdict::Retryable(with_body(reason, response).await),
                other => other,
            };
            return (verdict, nothing());
        }
        #[derive(serde::Deserialize)]
        struct Answer {
            data: BatchHandled,
        }
        let body = response.bytes().await.unwrap_or_default();
        match serde_json::from_slice::<Answer>(&body) {
            Ok(answer) if answer.data.outcomes.len() == batch.len() => (
                Verdict::Acknowledged,
                answer
                    .data
                    .outcomes
                    .iter()
                    .map(|handled| handled.outcome == Outcome::Ack.label())
                    .collect(),
            ),
            Ok(answer) => (
                Verdict::Retryable(format!(
                    "the function answered {} outcomes for a batch of {}",
                    answer.data.outcomes.len(),
                    batch.len()
                )),
                nothing(),
            ),
            Err(error) => (
                Verdict::Retryable(format!("the function's answer to a batch is unreadable: {error}")),
                nothing(),
            ),
        }
    }

    async fn post_once(&self, target: &Url, record: &Record, event: &Event, attempt: u32) -> Verdict {
        let (headers, body) = match request_parts(event, record, attempt) {
            Ok(parts) => parts,
            // An event the HTTP binding cannot express (e.g. an attribute that is not a
            // legal header value) will never succeed: reject it.
            Err(reason) => return Verdict::Rejected(reason),
        };
        let sent = self
            .client
            .post(target.clone())
            .headers(headers)
            .body(body)
            .timeout(self.request_timeout)
            .send()
            .await;
        match sent {
            Ok(response) => match classify_status(response.status()) {
                Verdict::Rejected(reason) => Verdict::Rejected(with_body(reason, response).await),
                Verdict::Retryable(reason) => {
                    let reason = with_body(reason, response).await;
                    match self.not_ready(target).await {
                        Some(why) => Verdict::Unreachable(format!("not ready ({why}): {reason}")),
                        None => Verdict::Retryable(reason),
                    }
                }
                answered => answered,
            },
            // No connection: the request never reached the function.
            Err(error) if error.is_connect() => {
                Verdict::Unreachable(format!("cannot connect: {}", error_chain(&error)))
            }
            // Timeouts and resets: the function may have seen the record (and may fail on it
            // every time), so these count as attempts.
            Err(error) if error.is_timeout() => {
                Verdict::Retryable(format!("timed out after {:?}", self.request_timeout))
            }
            Err(error) => Verdict::Retryable(format!("request failed: {}", error_chain(&error))),
        }
    }

    /// Why the function at `target` says it cannot work now, asked after it failed a record:
    /// its `/readyz` (beside the target) answers 503 or no longer answers at all. A failure
    /// while the function is not ready — its database is down, say — tells nothing about the
    /// record, so it does not use up the record's attempts; an outage longer than the retry
    /// budget then delays records instead of dead-lettering them (docs/adr/0037).
    ///
    /// Any other answer (200, or 404 from a target without a readiness endpoint) counts the
    /// attempt as usual.
    async fn not_ready(&self, target: &Url) -> Option<String> {
        let readyz = target.join("readyz").ok()?;
        let probe = self.client.get(readyz).timeout(READINESS_TIMEOUT).send().await;
        match probe {
            Ok(answer) if answer.status() == StatusCode::SERVICE_UNAVAILABLE => Some("readyz 503".to_owned()),
            Ok(_) => None,
            Err(error) if error.is_connect() => Some("it stopped answering".to_owned()),
            Err(_) => None,
        }
    }
}

/// The fault knobs for `function` (`local-stack/faults`): a delay before each attempt, and a
/// share of attempts that fail without reaching it.
fn knobs_of(function: &str) -> faults::DeliveryFaults {
    faults::current()
        .dispatcher
        .get(function)
        .cloned()
        .unwrap_or_default()
}

/// How long the readiness question after a failed attempt may take.
const READINESS_TIMEOUT: Duration = Duration::from_secs(2);

/// Waits `wait`, returning false early if shutdown begins.
pub(crate) async fn sleep_unless_shutdown(wait: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    if *shutdown.borrow() {
        return false;
    }
    tokio::select! {
        () = tokio::time::sleep(wait) => true,
        () = stopped(shutdown) => false,
    }
}

/// Completes when shutdown begins. A dropped sender means nobody can ask for a shutdown any
/// more, so it never completes then. Returns nothing, so no watch guard (which is not `Send`)
/// is held across awaits by the callers' `select!`.
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    if shutdown.wait_for(|stopping| *stopping).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// The status reason plus the start of the answer's body, which names the cause (the
/// runtime's error envelope carries a machine code and a message).
async fn with_body(reason: String, response: reqwest::Response) -> String {
    let body = response.bytes().await.unwrap_or_default();
    let text = String::from_utf8_lossy(&body[..body.len().min(REASON_BODY_LIMIT)]);
    let text = text.trim();
    if text.is_empty() {
        reason
    } else {
        format!("{reason}: {text}")
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The HTTP binary-mode headers and body of `event`, plus the record's coordinates.
pub fn request_parts(event: &Event, record: &Record, attempt: u32) -> Result<(HeaderMap, Vec<u8>), String> {
    let (mut headers, body) =
        BinaryDeserializer::deserialize_binary(event.clone(), Serializer::new(Parts::default()))
            .map_err(|error| format!("the event cannot be sent over HTTP: {error}"))?;
    headers.insert(
        TOPIC_HEADER,
        HeaderValue::from_str(&record.topic).map_err(|error| error.to_string())?,
    );
    headers.insert(PARTITION_HEADER, HeaderValue::from(record.partition));
    headers.insert(OFFSET_HEADER, HeaderValue::from(record.offset));
    if let Some(millis) = record.timestamp_millis {
        headers.insert(TIMESTAMP_HEADER, HeaderValue::from(millis));
    }
    headers.insert(ATTEMPT_HEADER, HeaderValue::from(attempt));
    Ok((headers, body))
}

/// Collects what cloudevents' HTTP serializer writes into plain headers and a body.
#[derive(Default)]
struct Parts {
    headers: HeaderMap,
}

impl Builder<(HeaderMap, Vec<u8>)> for Parts {
    fn header(&mut self, key: &str, value: HeaderValue) {
        if let Ok(name) = http::HeaderName::from_bytes(key.as_bytes()) {
            self.headers.insert(name, value);
        }
    }

    fn body(&mut self, bytes: Vec<u8>) -> cloudevents::message::Result<(HeaderMap, Vec<u8>)> {
        Ok((std::mem::take(&mut self.headers), bytes))
    }

    fn finish(&mut self) -> cloudevents::message::Result<(HeaderMap, Vec<u8>)> {
        Ok((std::mem::take(&mut self.headers), Vec::new()))
    }
}

#[cfg(test)]
mod tests {
    use cloudevents::{EventBuilder, EventBuilderV10};

    use super::*;

    #[test]
    fn success_acknowledges_and_knatives_transient_codes_are_retried() {
        for code in [200, 201, 202, 204] {
            assert_eq!(
                classify_status(StatusCode::from_u16(code).expect("code")),
                Verdict::Acknowledged
            );
        }
        for code in [500, 502, 503, 504, 404, 408, 409, 429] {
            let verdict = classify_status(StatusCode::from_u16(code).expect("code"));
            assert!(
                matches!(verdict, Verdict::Retryable(_)),
                "{code} should be retried"
            );
        }
    }

    #[test]
    fn other_statuses_are_final_rejections() {
        for code in [400, 401, 403, 405, 410, 413, 415, 422, 301, 304] {
            let verdict = classify_status(StatusCode::from_u16(code).expect("code"));
            assert!(matches!(verdict, Verdict::Rejected(_)), "{code} should be final");
        }
    }

    #[test]
    fn the_request_carries_the_event_in_binary_mode_and_the_record_coordinates() {
        let event = EventBuilderV10::new()
            .id("0190c0de-0000-7000-8000-000000000001")
            .source("ordering/place-order")
            .ty("commerce.order.placed.v1")
            .subject("order-1")
            .extension("partitionkey", "order-1")
            .data("application/json", serde_json::json!({"orderId": "order-1"}))
            .build()
            .expect("event");
        let record = Record {
            topic: "commerce.ordering.order".into(),
            partition: 2,
            offset: 41,
            timestamp_millis: Some(1_764_753_600_123),
            key: None,
            payload: None,
            headers: Vec::new(),
            unreadable_headers: 0,
        };
        let (headers, body) = request_parts(&event, &record, 3).expect("parts");
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        assert_eq!(
            header("ce-id").as_deref(),
            Some("0190c0de-0000-7000-8000-000000000001")
        );
        assert_eq!(header("ce-type").as_deref(), Some("commerce.order.placed.v1"));
        assert_eq!(header("ce-partitionkey").as_deref(), Some("order-1"));
        assert_eq!(header("content-type").as_deref(), Some("application/json"));
        assert_eq!(header("x-kafka-partition").as_deref(), Some("2"));
        assert_eq!(header("x-kafka-offset").as_deref(), Some("41"));
        assert_eq!(header("x-kafka-timestamp").as_deref(), Some("1764753600123"));
        assert_eq!(header("x-delivery-attempt").as_deref(), Some("3"));
        let data: serde_json::Value = serde_json::from_slice(&body).expect("json body");
        assert_eq!(data["orderId"], "order-1");
    }
}
