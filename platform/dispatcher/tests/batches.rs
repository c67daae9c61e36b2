//! Batched delivery (ADR 0064) against the local stack's broker and a function served by the
//! platform's own runtime: several records of a partition per request, never two of one key,
//! each key's records in order, and every record the function does not acknowledge in a batch
//! delivered again on its own, down to the dead-letter topic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cloudevents::{AttributesReader, Event};
use dispatcher::dead_letter;
use runtime::events::{Delivery, EventHandler, Outcome};
use serde_json::json;
use support::*;

/// One record as the function saw it.
#[derive(Debug, Clone)]
struct Seen {
    event_id: String,
    key: String,
    sequence: u64,
    offset: Option<i64>,
}

/// A projection-like handler: records every request's records and acknowledges all but the
/// event named `poison`, which it rejects.
#[derive(Default)]
struct Recording {
    requests: Mutex<Vec<Vec<Seen>>>,
}

impl Recording {
    fn seen(event: &Event, delivery: &Delivery) -> Seen {
        let data: serde_json::Value = events::envelope::data_json(event).unwrap_or_default();
        Seen {
            event_id: event.id().to_owned(),
            key: delivery.key.clone().unwrap_or_default(),
            sequence: data["sequence"].as_u64().unwrap_or(u64::MAX),
            offset: delivery.offset,
        }
    }

    fn outcome(event: &Event) -> Outcome {
        if event.id() == "poison" {
            Outcome::Reject("this record breaks a rule".to_owned())
        } else {
            Outcome::Ack
        }
    }

    fn requests(&self) -> Vec<Vec<Seen>> {
        self.requests.lock().unwrap().clone()
    }

    fn acknowledged_ids(&self) -> HashSet<String> {
        self.requests()
            .into_iter()
            .flatten()
            .map(|seen| seen.event_id)
            .filter(|id| id != "poison")
            .collect()
    }
}

impl EventHandler for Recording {
    async fn handle(&self, event: &Event, delivery: &Delivery) -> Outcome {
        self.requests
            .lock()
            .unwrap()
            .push(vec![Self::seen(event, delivery)]);
        Self::outcome(event)
    }

    async fn handle_batch(&self, batch: &[(Event, Delivery)]) -> Vec<Outcome> {
        let seen = batch
            .iter()
            .map(|(event, delivery)| Self::seen(event, delivery))
            .collect();
        self.requests.lock().unwrap().push(seen);
        batch.iter().map(|(event, _)| Self::outcome(event)).collect()
    }
}

/// Serves `handler` with the runtime's CloudEvents router, as an event function does.
async fn serve(handler: Arc<Recording>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let router = runtime::knative::router(handler, "projection".to_owned());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_partition_goes_in_batches_of_distinct_keys_in_order_and_a_rejected_record_is_dead_lettered() {
    let topic = TestTopic::create(1).await;
    let handler = Arc::new(Recording::default());
    let url = serve(Arc::clone(&handler)).await;

    // Everything is in the partition before the dispatcher starts, so batches fill at once.
    let producer = producer();
    let total = 120;
    let mut last_offset = 0;
    let mut poison_offset = None;
    for sequence in 0..total {
        let id = if sequence == 57 {
            "poison".to_owned()
        } else {
            format!("event-{sequence}")
        };
        let (_, offset) = produce_event(
            &producer,
            &topic.name,
            &id,
            &format!("order-{}", sequence % 30),
            json!({ "sequence": sequence }),
        )
        .await;
        if sequence == 57 {
            poison_offset = Some(offset);
        }
        last_offset = offset;
    }

    let prefix = unique("test.batches");
    let projection =
        subscription("projection", &topic.name, &url, &prefix).in_batches_of(10, Duration::from_millis(100));
    let group = projection.group_id.clone();
    let running = RunningDispatcher::start(test_config(), vec![projection]);
    eventually("every other record was acknowledged", || {
        handler.acknowledged_ids().len() == total - 1
    })
    .await;
    let dead_letters = read_records(&topic.dead_letter_topic("projection"), 1).await;
    eventually("the group committed past the last record", || {
        committed_offsets(&group, &topic.name, 1)
            .get(&0)
            .is_some_and(|next| *next > last_offset)
    })
    .await;
    running.stop().await;

    let requests = handler.requests();
    let largest = requests.iter().map(Vec::len).max().unwrap_or(0);
    assert!(largest > 1, "no request carried more than one record");
    assert!(
        largest <= 10,
        "a request carried {largest} records, more than the batch size"
    );
    for request in &requests {
        let keys: HashSet<&str> = request.iter().map(|seen| seen.key.as_str()).collect();
        assert_eq!(
            keys.len(),
            request.len(),
            "two records of one key in one request: {request:?}"
        );
        assert!(
            request.iter().all(|seen| seen.offset.is_some()),
            "a record arrived without its offset: {request:?}"
        );
    }
    let mut sequences_per_key: HashMap<String, Vec<u64>> = HashMap::new();
    for seen in requests.iter().flatten().filter(|seen| seen.event_id != "poison") {
        sequences_per_key
            .entry(seen.key.clone())
            .or_default()
            .push(seen.sequence);
    }
    for (key, sequences) in sequences_per_key {
        assert!(
            sequences.windows(2).all(|pair| pair[0] < pair[1]),
            "{key} arrived out of order or twice: {sequences:?}"
        );
    }
    assert!(
        requests.len() < total,
        "{} requests for {total} records",
        requests.len()
    );

    let dead_letter = &dead_letters[0];
    assert_eq!(header_text(dead_letter, "ce_id"), Some("poison"));
    assert!(
        header_text(dead_letter, dead_letter::REASON).is_some_and(|reason| reason.contains("breaks a rule")),
        "{:?}",
        header_text(dead_letter, dead_letter::REASON)
    );
    assert_eq!(
        header_text(dead_letter, dead_letter::ORIGINAL_OFFSET),
        poison_offset.map(|offset| offset.to_string()).as_deref()
    );
    topic.delete(&["projection"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_function_that_does_not_answer_batches_still_gets_every_record_on_its_own() {
    let topic = TestTopic::create(1).await;
    // A plain function: it answers a batch 200 without outcomes, which acknowledges nothing.
    let function = FakeFunction::acknowledging().await;
    let producer = producer();
    let total = 40;
    for sequence in 0..total {
        produce_event(
            &producer,
            &topic.name,
            &format!("event-{sequence}"),
            &format!("order-{}", sequence % 10),
            json!({ "sequence": sequence }),
        )
        .await;
    }
    let prefix = unique("test.batches");
    let running = RunningDispatcher::start(
        test_config(),
        vec![subscription("plain", &topic.name, &function.url, &prefix).in_batches_of(8, Duration::ZERO)],
    );
    eventually("every record reached the function on its own", || {
        function
            .received()
            .iter()
            .filter(|received| received.event_id.starts_with("event-"))
            .map(|received| received.event_id.clone())
            .collect::<HashSet<_>>()
            .len()
            == total
    })
    .await;
    running.stop().await;
    // The records went again as single requests at once, not after a failed attempt.
    let retried: Vec<String> = function
        .received()
        .iter()
        .filter(|received| received.event_id.starts_with("event-") && received.attempt > 1)
        .map(|received| received.event_id.clone())
        .collect();
    assert!(retried.is_empty(), "records needed a retry: {retried:?}");
    topic.delete(&["plain"]).await;
}
