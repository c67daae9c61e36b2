//! One consumer per topic (ADR 0062) against the local stack's broker: each function keeps its
//! own offsets in its own group, though the dispatcher fetches each record once for all.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::StatusCode;
use dispatcher::Fetching;
use serde_json::json;
use support::*;

/// Produces `count` events named `<prefix>-<n>`; answers the last offset per partition.
async fn produce(topic: &str, prefix: &str, count: usize) -> HashMap<i32, i64> {
    let producer = producer();
    let mut last = HashMap::new();
    for sequence in 0..count {
        let (partition, offset) = produce_event(
            &producer,
            topic,
            &format!("{prefix}-{sequence}"),
            &format!("k-{}", sequence % 7),
            json!({ "sequence": sequence }),
        )
        .await;
        last.insert(partition, offset);
    }
    last
}

fn committed_past(group: &str, topic: &str, partitions: i32, last: &HashMap<i32, i64>) -> bool {
    let committed = committed_offsets(group, topic, partitions);
    last.iter()
        .all(|(partition, offset)| committed.get(partition).is_some_and(|next| *next > *offset))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_function_subscribed_later_gets_the_whole_topic_and_the_others_get_nothing_twice() {
    let topic = TestTopic::create(3).await;
    let early = FakeFunction::acknowledging().await;
    let late = FakeFunction::acknowledging().await;
    let prefix = unique("test.fan-out");
    let early_group = subscription("early", &topic.name, &early.url, &prefix).group_id;

    let before = produce(&topic.name, "before", 30).await;
    let first = RunningDispatcher::start(
        test_config(),
        vec![subscription("early", &topic.name, &early.url, &prefix)],
    );
    eventually("the first function's group committed past every record", || {
        committed_past(&early_group, &topic.name, 3, &before)
    })
    .await;
    first.stop().await;
    assert_eq!(early.received().len(), 30);

    // The same dispatcher again, now with a second function on the topic: one consumer
    // fetches from the start for the newcomer, and the first function skips what it had.
    let second = RunningDispatcher::start(
        test_config(),
        vec![
            subscription("early", &topic.name, &early.url, &prefix),
            subscription("late", &topic.name, &late.url, &prefix),
        ],
    );
    let after = produce(&topic.name, "after", 10).await;
    eventually("the new function got the whole topic", || {
        late.distinct_ids().len() == 40
    })
    .await;
    eventually("the first function got the new records", || {
        early.distinct_ids().len() == 40
    })
    .await;
    let late_group = subscription("late", &topic.name, &late.url, &prefix).group_id;
    eventually("both groups committed past every record", || {
        committed_past(&early_group, &topic.name, 3, &after)
            && committed_past(&late_group, &topic.name, 3, &after)
    })
    .await;
    second.stop().await;

    let again: Vec<String> = early
        .received()
        .iter()
        .filter(|received| received.event_id.starts_with("before-"))
        .map(|received| received.event_id.clone())
        .collect();
    assert_eq!(
        again.len(),
        30,
        "the first function was sent records it had already acknowledged"
    );
    topic.delete(&["early", "late"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_function_in_retries_holds_up_neither_another_function_of_its_topic_nor_is_committed_past() {
    let topic = TestTopic::create(1).await;
    let released = Arc::new(AtomicBool::new(false));
    let stuck = {
        let released = Arc::clone(&released);
        // Refuses everything until the test lets it through, as a function whose database is down.
        FakeFunction::start(move |_, _| {
            if released.load(Ordering::SeqCst) {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            }
        })
        .await
    };
    let healthy = FakeFunction::acknowledging().await;
    let prefix = unique("test.fan-out");
    let stuck_group = subscription("stuck", &topic.name, &stuck.url, &prefix).group_id;
    let healthy_group = subscription("healthy", &topic.name, &healthy.url, &prefix).group_id;
    let mut config = test_config();
    config.delivery.retry.max_attempts = 10_000;
    // The refusing function may fall 200 records behind (its backlog) before the receive loop,
    // which feeds both, waits for it; its channel from the loop holds only 16.
    config.consumer.backlog = 200;
    let running = RunningDispatcher::start(
        config,
        vec![
            subscription("stuck", &topic.name, &stuck.url, &prefix),
            subscription("healthy", &topic.name, &healthy.url, &prefix),
        ],
    );

    let last = produce(&topic.name, "event", 150).await;
    eventually("the healthy function got every record", || {
        healthy.distinct_ids().len() == 150
    })
    .await;
    eventually("the healthy function's group committed past every record", || {
        committed_past(&healthy_group, &topic.name, 1, &last)
    })
    .await;
    eventually("the refusing function was retried", || {
        stuck.received().len() >= 8
    })
    .await;
    let first_offset = 0;
    let committed = committed_offsets(&stuck_group, &topic.name, 1).get(&0).copied();
    assert!(
        committed.is_none_or(|next| next <= first_offset),
        "the refusing function's group committed {committed:?} though it acknowledged nothing"
    );

    released.store(true, Ordering::SeqCst);
    eventually(
        "the refusing function's group committed past every record once it took them",
        || committed_past(&stuck_group, &topic.name, 1, &last),
    )
    .await;
    running.stop().await;
    assert_eq!(stuck.distinct_ids().len(), 150);
    topic.delete(&["stuck", "healthy"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_consumer_per_subscription_still_delivers_every_record_to_every_function() {
    let topic = TestTopic::create(2).await;
    let first = FakeFunction::acknowledging().await;
    let second = FakeFunction::acknowledging().await;
    let prefix = unique("test.per-subscription");
    let mut config = test_config();
    config.consumer.fetching = Fetching::PerSubscription;
    let subscriptions = vec![
        subscription("first", &topic.name, &first.url, &prefix),
        subscription("second", &topic.name, &second.url, &prefix),
    ];
    let groups: Vec<String> = subscriptions.iter().map(|s| s.group_id.clone()).collect();
    let running = RunningDispatcher::start(config, subscriptions);

    let last = produce(&topic.name, "event", 20).await;
    eventually("both functions got every record", || {
        first.distinct_ids().len() == 20 && second.distinct_ids().len() == 20
    })
    .await;
    eventually("both groups committed past every record", || {
        groups
            .iter()
            .all(|group| committed_past(group, &topic.name, 2, &last))
    })
    .await;
    running.stop().await;
    topic.delete(&["first", "second"]).await;
}
