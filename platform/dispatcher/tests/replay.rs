//! Replay against the local stack's broker: a throw-away consumer, the live delivery pipeline.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashSet;

use axum::http::StatusCode;
use dispatcher::replay::{ReplayRequest, StartFrom, replay};
use serde_json::json;
use support::*;

fn request(function: &str, topic: &str, target: &str, start: StartFrom) -> ReplayRequest {
    ReplayRequest {
        subscription: subscription(function, topic, target, "replay"),
        start,
        event_type: None,
        key: None,
        dry_run: false,
        rate: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replay_from_a_timestamp_redelivers_exactly_the_records_at_or_after_it() {
    let topic = TestTopic::create(3).await;
    let function = FakeFunction::acknowledging().await;
    let producer = producer();
    // Explicit timestamps one second apart make "after the time" exact.
    let start = 1_795_600_800_000_i64;
    for sequence in 0..20_i64 {
        let id = format!("event-{sequence}");
        let key = format!("k-{}", sequence % 5);
        produce_event_at(
            &producer,
            &topic.name,
            &id,
            &key,
            json!({}),
            Some(start + sequence * 1000),
        )
        .await;
    }

    let (_, stopping) = tokio::sync::watch::channel(false);
    let from = StartFrom::Timestamp(start + 12_000);
    let summary = replay(
        &test_config().delivery,
        request("replayed", &topic.name, &function.url, from),
        stopping,
        |_, _| {},
    )
    .await
    .unwrap();

    let expected: HashSet<String> = (12..20).map(|sequence| format!("event-{sequence}")).collect();
    assert_eq!(function.distinct_ids(), expected);
    assert_eq!(function.received().len(), 8);
    assert_eq!(
        (summary.read, summary.acknowledged, summary.interrupted),
        (8, 8, false)
    );
    topic.delete(&["replayed"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replaying_dead_letters_redelivers_them_and_filters_and_dry_runs_deliver_nothing_else() {
    let topic = TestTopic::create(1).await;
    let dead_letters = topic.dead_letter_topic("healed");
    let rejecting = FakeFunction::start(|received, _| {
        if received.key == "bad" {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        }
    })
    .await;
    let producer = producer();
    for (id, key) in [("a", "bad"), ("b", "good"), ("c", "bad")] {
        produce_event(&producer, &topic.name, id, key, json!({})).await;
    }
    let (_, stopping) = tokio::sync::watch::channel(false);
    let first = replay(
        &test_config().delivery,
        request("healed", &topic.name, &rejecting.url, StartFrom::Beginning),
        stopping.clone(),
        |_, _| {},
    )
    .await
    .unwrap();
    assert_eq!((first.acknowledged, first.dead_lettered), (1, 2));

    // A dry run with a key filter counts without delivering.
    let healed = FakeFunction::acknowledging().await;
    let mut dry = request("healed", &dead_letters, &healed.url, StartFrom::Beginning);
    dry.dry_run = true;
    dry.key = Some("bad".into());
    let counted = replay(&test_config().delivery, dry, stopping.clone(), |_, _| {})
        .await
        .unwrap();
    assert_eq!((counted.read, counted.would_deliver), (2, 2));
    assert!(healed.received().is_empty());

    // The fixed function gets both dead letters.
    let redelivered = replay(
        &test_config().delivery,
        request("healed", &dead_letters, &healed.url, StartFrom::Beginning),
        stopping,
        |_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(redelivered.acknowledged, 2);
    assert_eq!(
        healed.distinct_ids(),
        HashSet::from(["a".to_owned(), "c".to_owned()])
    );
    topic.delete(&["healed"]).await;
}
