//! The dispatcher against the local stack's Kafka broker and an in-process function.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::http::StatusCode;
use dispatcher::dead_letter;
use serde_json::json;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn records_of_one_key_arrive_in_the_order_they_were_produced_even_with_retries() {
    let topic = TestTopic::create(3).await;
    // Every 7th record fails once, so retries happen in the middle of the stream.
    let function = FakeFunction::start(|received, _| {
        let sequence = received.data["sequence"].as_u64().unwrap_or(0);
        if sequence % 7 == 0 && received.attempt == 1 {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::OK
        }
    })
    .await;
    let group = unique("test.group");
    let running = RunningDispatcher::start(
        test_config(),
        vec![subscription("ordered", &topic.name, &function.url, &group)],
    );

    let producer = producer();
    let total = 300;
    for sequence in 0..total {
        let key = format!("order-{}", sequence % 12);
        produce_event(
            &producer,
            &topic.name,
            &format!("event-{sequence}"),
            &key,
            json!({ "sequence": sequence }),
        )
        .await;
    }

    eventually("every record was acknowledged", || {
        function.distinct_ids().len() == total
    })
    .await;
    running.stop().await;

    let mut acknowledged_per_key: HashMap<String, Vec<u64>> = HashMap::new();
    for received in function.received() {
        let sequence = received.data["sequence"].as_u64().unwrap();
        if !(sequence % 7 == 0 && received.attempt == 1) {
            acknowledged_per_key
                .entry(received.key.clone())
                .or_default()
                .push(sequence);
        }
    }
    assert_eq!(acknowledged_per_key.len(), 12);
    for (key, sequences) in acknowledged_per_key {
        assert!(
            sequences.windows(2).all(|pair| pair[0] < pair[1]),
            "{key} arrived out of order: {sequences:?}"
        );
    }
    topic.delete(&["ordered"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_key_in_retries_holds_up_neither_the_other_keys_of_its_partition_nor_is_committed_past() {
    let topic = TestTopic::create(1).await;
    let group_prefix = unique("test.group");
    let group = subscription("lanes-fn", &topic.name, "http://127.0.0.1:1/", &group_prefix).group_id;
    // The stuck record is refused until the test lets it through, as a payment gateway that
    // times out for a while.
    let released = Arc::new(AtomicBool::new(false));
    let function = {
        let released = Arc::clone(&released);
        FakeFunction::start(move |received, _| {
            if received.event_id == "stuck" && !released.load(Ordering::SeqCst) {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::OK
            }
        })
        .await
    };
    let mut config = test_config();
    config.delivery.retry.max_attempts = 10_000;
    let running = RunningDispatcher::start(
        config,
        vec![subscription(
            "lanes-fn",
            &topic.name,
            &function.url,
            &group_prefix,
        )],
    );

    let producer = producer();
    let (_, stuck_offset) = produce_event(&producer, &topic.name, "stuck", "order-stuck", json!({})).await;
    let mut last_offset = stuck_offset;
    for order in 0..24 {
        let (_, offset) = produce_event(
            &producer,
            &topic.name,
            &format!("other-{order}"),
            &format!("order-{order}"),
            json!({}),
        )
        .await;
        last_offset = offset;
    }

    // Every other key is delivered while the stuck one is still refused: it holds one of the
    // partition's four slots, not a share of the keys.
    eventually("every other key delivered behind the stuck one", || {
        function
            .distinct_ids()
            .iter()
            .filter(|id| id.starts_with("other-"))
            .count()
            == 24
    })
    .await;
    eventually("the stuck record retried a few times", || {
        function
            .received()
            .iter()
            .filter(|received| received.event_id == "stuck")
            .count()
            >= 3
    })
    .await;
    // Commits run every 100 ms; whatever the group committed must not pass the stuck record.
    let committed = committed_offsets(&group, &topic.name, 1).get(&0).copied();
    assert!(
        committed.is_none_or(|next| next <= stuck_offset),
        "the group committed {committed:?} while offset {stuck_offset} was unfinished"
    );

    released.store(true, Ordering::SeqCst);
    eventually(
        "the group committed past every record once the stuck one went through",
        || committed_offsets(&group, &topic.name, 1).get(&0) == Some(&(last_offset + 1)),
    )
    .await;
    running.stop().await;
    assert_eq!(function.distinct_ids().len(), 25);
    topic.delete(&["lanes-fn"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_record_answered_503_twice_is_delivered_three_times_and_committed_only_after_it_succeeded() {
    let topic = TestTopic::create(1).await;
    // The subscription's consumer group, whose commits the test inspects.
    let group_prefix = unique("test.group");
    let group = subscription("flaky-fn", &topic.name, "http://127.0.0.1:1/", &group_prefix).group_id;
    let covered_unfinished_record = Arc::new(AtomicBool::new(false));
    let function = {
        let (group, topic_name, covered) = (
            group.clone(),
            topic.name.clone(),
            Arc::clone(&covered_unfinished_record),
        );
        FakeFunction::start(move |received, _| {
            if received.event_id != "flaky" {
                return StatusCode::OK;
            }
            // While the function still works on the record, no commit may cover it.
            let committed = tokio::task::block_in_place(|| committed_offsets(&group, &topic_name, 1));
            if committed.get(&0).is_some_and(|next| *next > received.offset) {
                covered.store(true, Ordering::SeqCst);
            }
            if received.attempt <= 2 {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::OK
            }
        })
        .await
    };
    let running = RunningDispatcher::start(
        test_config(),
        vec![subscription(
            "flaky-fn",
            &topic.name,
            &function.url,
            &group_prefix,
        )],
    );

    let producer = producer();
    let (_, flaky_offset) = produce_event(&producer, &topic.name, "flaky", "k", json!({})).await;
    let (_, next_offset) = produce_event(&producer, &topic.name, "after", "k", json!({})).await;

    eventually("the record after the flaky one was delivered", || {
        function.distinct_ids().contains("after")
    })
    .await;
    eventually("the group committed past both records", || {
        committed_offsets(&group, &topic.name, 1).get(&0) == Some(&(next_offset + 1))
    })
    .await;
    running.stop().await;

    let flaky: Vec<_> = function
        .received()
        .into_iter()
        .filter(|received| received.event_id == "flaky")
        .collect();
    assert_eq!(
        flaky.iter().map(|received| received.attempt).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(flaky.iter().all(|received| received.offset == flaky_offset));
    assert!(
        !covered_unfinished_record.load(Ordering::SeqCst),
        "a commit covered the record before it was acknowledged"
    );
    topic.delete(&["flaky-fn"]).await;
}

/// Delivery attempts of `function` that could not connect, from the process's metrics.
fn unreachable_attempts(function: &str) -> u64 {
    let function_label = format!("function=\"{function}\"");
    telemetry::render_metrics()
        .lines()
        .filter(|line| line.starts_with(dispatcher::metrics::ATTEMPTS_TOTAL))
        .filter(|line| line.contains(&function_label) && line.contains("verdict=\"unreachable\""))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_function_that_is_down_gets_its_record_once_it_is_back_instead_of_a_dead_letter() {
    telemetry::init("dispatcher-test", "dispatcher-test");
    let topic = TestTopic::create(1).await;
    // Refuses connections until the function starts below; nobody else can take its port.
    let down = DownFunction::bind();
    let function_name = unique("down-fn");
    let config = test_config();
    let budget = u64::from(config.delivery.retry.max_attempts);
    let running = RunningDispatcher::start(
        config,
        vec![subscription(
            &function_name,
            &topic.name,
            &down.url,
            &unique("test.group"),
        )],
    );
    produce_event(&producer(), &topic.name, "waiting", "k", json!({})).await;

    eventually(
        "the dispatcher kept trying well past the record's attempts",
        || unreachable_attempts(&function_name) >= 3 * budget,
    )
    .await;
    let function = FakeFunction::start_on(down, |_, _| StatusCode::OK);
    eventually("the record reached the function once it was back", || {
        function.distinct_ids().contains("waiting")
    })
    .await;
    running.stop().await;

    // Not dead-lettered (that would have ended its delivery), and its first real attempt.
    let received = function.received();
    assert_eq!(received.len(), 1, "delivered once");
    assert_eq!(
        received[0].attempt, 1,
        "the tries that never connected are not attempts"
    );
    topic.delete(&[&function_name]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failures_while_a_function_is_not_ready_do_not_use_up_the_records_attempts() {
    telemetry::init("dispatcher-test", "dispatcher-test");
    let topic = TestTopic::create(1).await;
    // A function whose database is down: every record fails with 503 and /readyz says 503.
    let database_up = Arc::new(AtomicBool::new(false));
    let handled = Arc::new(AtomicBool::new(false));
    let (up, done) = (Arc::clone(&database_up), Arc::clone(&handled));
    let function = FakeFunction::start(move |_, _| {
        if up.load(Ordering::SeqCst) {
            done.store(true, Ordering::SeqCst);
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        }
    })
    .await;
    function.set_ready(false);
    let function_name = unique("unready-fn");
    let config = test_config();
    let budget = config.delivery.retry.max_attempts as usize;
    let running = RunningDispatcher::start(
        config,
        vec![subscription(
            &function_name,
            &topic.name,
            &function.url,
            &unique("test.group"),
        )],
    );
    produce_event(&producer(), &topic.name, "during-outage", "k", json!({})).await;

    // A record out of attempts is dead-lettered and never delivered again, so neither of
    // these could happen to it.
    eventually(
        "the record was tried well past its attempts while the function was not ready",
        || function.received().len() > 3 * budget,
    )
    .await;
    // Each delivery carries the attempt count of the failures before it.
    let during_outage = function.received();
    assert!(
        during_outage.iter().all(|received| received.attempt == 1),
        "failures while the function was not ready are not counted as attempts: {:?}",
        during_outage
            .iter()
            .map(|received| received.attempt)
            .collect::<Vec<_>>()
    );
    database_up.store(true, Ordering::SeqCst);
    function.set_ready(true);
    eventually("the record was handled once the function was ready again", || {
        handled.load(Ordering::SeqCst)
    })
    .await;
    running.stop().await;
    topic.delete(&[&function_name]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dispatcher_still_waiting_for_its_broker_stops_cleanly_when_asked() {
    // Nothing listens on port 1: the start-up keeps asking for the topic's metadata (for a
    // minute, then it fails). A stop in that minute is an orderly one.
    let config = dispatcher::DispatcherConfig::new("127.0.0.1:1");
    let running = RunningDispatcher::start(
        config,
        vec![subscription(
            "waiting-fn",
            "commerce.nowhere",
            "http://127.0.0.1:1/",
            "test.group",
        )],
    );
    // Ok, not the "broker unreachable" error a stop that sat out the minute would end with.
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rejected_record_is_dead_lettered_with_why_and_where_and_the_partition_moves_on() {
    let topic = TestTopic::create(1).await;
    let function = FakeFunction::start(|received, _| {
        if received.event_id == "poison" {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        }
    })
    .await;
    let group = unique("test.group");
    let running = RunningDispatcher::start(
        test_config(),
        vec![subscription("picky", &topic.name, &function.url, &group)],
    );

    let producer = producer();
    produce_event(&producer, &topic.name, "before", "k", json!({})).await;
    let (partition, offset) =
        produce_event(&producer, &topic.name, "poison", "order-9", json!({"bad": true})).await;
    produce_event(&producer, &topic.name, "after", "k", json!({})).await;

    eventually("the record after the rejected one was delivered", || {
        function.distinct_ids().contains("after")
    })
    .await;
    let dead_letters = read_records(&topic.dead_letter_topic("picky"), 1).await;
    running.stop().await;

    let dead_letter = &dead_letters[0];
    assert_eq!(dead_letter.key.as_deref(), Some(&b"order-9"[..]));
    assert_eq!(header_text(dead_letter, "ce_id"), Some("poison"));
    assert!(header_text(dead_letter, dead_letter::REASON).is_some_and(|reason| reason.contains("422")));
    assert_eq!(header_text(dead_letter, dead_letter::FUNCTION), Some("picky"));
    assert_eq!(header_text(dead_letter, dead_letter::ATTEMPTS), Some("1"));
    assert_eq!(
        header_text(dead_letter, dead_letter::ORIGINAL_TOPIC),
        Some(topic.name.as_str())
    );
    assert_eq!(
        header_text(dead_letter, dead_letter::ORIGINAL_PARTITION),
        Some(partition.to_string().as_str())
    );
    assert_eq!(
        header_text(dead_letter, dead_letter::ORIGINAL_OFFSET),
        Some(offset.to_string().as_str())
    );
    assert!(
        header_text(dead_letter, dead_letter::ORIGINAL_TIMESTAMP)
            .is_some_and(|time| time.parse::<i64>().is_ok())
    );
    assert!(header_text(dead_letter, dead_letter::FAILED_AT).is_some());
    let data: serde_json::Value = serde_json::from_slice(dead_letter.payload.as_deref().unwrap()).unwrap();
    assert_eq!(data, json!({"bad": true}));
    assert_eq!(
        function
            .received()
            .iter()
            .filter(|received| received.event_id == "poison")
            .count(),
        1
    );
    topic.delete(&["picky"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn malformed_records_are_dead_lettered_and_the_records_behind_them_are_delivered() {
    let topic = TestTopic::create(1).await;
    let function = FakeFunction::acknowledging().await;
    let group = unique("test.group");
    let running = RunningDispatcher::start(
        test_config(),
        vec![subscription("strict", &topic.name, &function.url, &group)],
    );

    let producer = producer();
    // Not a CloudEvent at all: no ce_ headers, a value that is not even UTF-8.
    produce_raw(
        &producer,
        &topic.name,
        Some(b"junk"),
        Some(&[0xff, 0xfe, 0x00]),
        &[],
    )
    .await;
    // CloudEvent headers, one of them null.
    let null_header = vec![
        ("ce_specversion".to_owned(), Some(b"1.0".to_vec())),
        ("ce_id".to_owned(), None),
        ("ce_source".to_owned(), Some(b"tests".to_vec())),
        (
            "ce_type".to_owned(),
            Some(b"commerce.test.thing-happened.v1".to_vec()),
        ),
    ];
    produce_raw(&producer, &topic.name, Some(b"junk"), Some(b"{}"), &null_header).await;
    produce_event(&producer, &topic.name, "good", "k", json!({})).await;

    eventually("the well-formed record was delivered", || {
        function.distinct_ids().contains("good")
    })
    .await;
    let dead_letters = read_records(&topic.dead_letter_topic("strict"), 2).await;
    running.stop().await;

    assert_eq!(
        function.received().len(),
        1,
        "malformed records must never reach the function"
    );
    for dead_letter in &dead_letters {
        assert!(
            header_text(dead_letter, dead_letter::REASON)
                .is_some_and(|reason| reason.starts_with("malformed record")),
            "{:?}",
            header_text(dead_letter, dead_letter::REASON)
        );
        assert_eq!(header_text(dead_letter, dead_letter::ATTEMPTS), Some("0"));
    }
    assert_eq!(dead_letters[0].payload.as_deref(), Some(&[0xff, 0xfe, 0x00][..]));
    topic.delete(&["strict"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dispatcher_killed_mid_stream_and_restarted_with_the_same_group_loses_no_record() {
    let topic = TestTopic::create(3).await;
    let function = FakeFunction::start_working(Duration::from_millis(5), |_, _| StatusCode::OK).await;
    let group = unique("test.group");
    let subscribe = || vec![subscription("durable", &topic.name, &function.url, &group)];

    let producer = producer();
    let total = 400;
    for sequence in 0..total {
        produce_event(
            &producer,
            &topic.name,
            &format!("event-{sequence}"),
            &format!("k-{}", sequence % 20),
            json!({}),
        )
        .await;
    }

    let first = RunningDispatcher::start(test_config(), subscribe());
    eventually("the first dispatcher delivered some records", || {
        function.received().len() >= 50
    })
    .await;
    first.abort().await;
    let delivered_by_first = function.distinct_ids().len();

    let second = RunningDispatcher::start(test_config(), subscribe());
    eventually("every record was delivered at least once", || {
        function.distinct_ids().len() == total
    })
    .await;
    second.stop().await;

    assert!(
        delivered_by_first < total,
        "the first dispatcher should have been stopped mid-stream"
    );
    let expected: std::collections::HashSet<String> =
        (0..total).map(|sequence| format!("event-{sequence}")).collect();
    assert_eq!(function.distinct_ids(), expected);
    topic.delete(&["durable"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn records_of_types_a_function_does_not_read_are_finished_without_reaching_it() {
    let topic = TestTopic::create(2).await;
    let reader = FakeFunction::start(|_, _| StatusCode::OK).await;
    let bystander = FakeFunction::start(|_, _| StatusCode::OK).await;
    let group_prefix = unique("test.group");
    // Both subscribe to the topic; only one reads the type the test produces.
    let reads = subscription("reads-it", &topic.name, &reader.url, &group_prefix)
        .reading_only(&["commerce.test.thing-happened.v1"]);
    let ignores = subscription("ignores-it", &topic.name, &bystander.url, &group_prefix)
        .reading_only(&["commerce.test.something-else.v1"]);
    let ignoring_group = ignores.group_id.clone();
    let running = RunningDispatcher::start(test_config(), vec![reads, ignores]);

    let producer = producer();
    let mut last = HashMap::new();
    for sequence in 0..6 {
        let (partition, offset) = produce_event(
            &producer,
            &topic.name,
            &format!("thing-{sequence}"),
            &format!("k{sequence}"),
            json!({}),
        )
        .await;
        last.insert(partition, offset);
    }

    eventually("the reading function got all six records", || {
        reader.distinct_ids().len() == 6
    })
    .await;
    eventually("the other function's group committed past every record", || {
        let committed = committed_offsets(&ignoring_group, &topic.name, 2);
        last.iter()
            .all(|(partition, offset)| committed.get(partition) == Some(&(offset + 1)))
    })
    .await;
    running.stop().await;

    assert!(
        bystander.received().is_empty(),
        "a function was sent types it does not read: {:?}",
        bystander.received()
    );
    topic.delete(&["reads-it", "ignores-it"]).await;
}
