//! Crash safety of the refund saga on the running local stack. While the owners of 120
//! confirmed orders ask for refunds, `refund-payment`, the outbox relay, `settle-refund`, the
//! trigger dispatcher, `restock-refund` and `request-refund` are killed with SIGKILL, one after
//! the other (a refund request that gets no answer is sent again with its Idempotency-Key, as a
//! client would); then `local-stack/up` brings back whatever is down. Afterwards every order
//! is refunded, every unit is back on hand exactly once, and payment refunded each order once.
//!
//! Kept in its own test binary because it kills processes the other end-to-end tests rely on.

use events::EventType;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use e2e::platform::{bring_the_stack_back, kill};
use e2e::refunds::line_statuses;
use e2e::shop::{SETTLE_DEADLINE, Shop, order_id};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use reqwest::StatusCode;
use security::Role;
use testkit::poll::Polling;
use testkit::stack;
use uuid::Uuid;

const ORDERS: usize = 120;
/// Refund requests sent at once, as many owners would.
const OWNERS: usize = 8;
/// After how many accepted refunds each process is killed.
const KILLS: [(usize, &str); 6] = [
    (10, "refund-payment"),
    (30, "outbox-relay"),
    (50, "settle-refund"),
    (70, "trigger-dispatcher"),
    (90, "restock-refund"),
    (100, "request-refund"),
];
/// How long the owners may take to reach the next kill.
const ASKING: Polling = Polling::new(Duration::from_secs(300), Duration::from_millis(5));

/// Event ids of `payment.refunded` per order (the record key), read from the start of the
/// payment topic up to its current end.
fn refunds_per_order(orders: &HashSet<String>) -> HashMap<String, HashSet<String>> {
    let topic = events::topics::PAYMENT_PAYMENT.name;
    let consumer: BaseConsumer = ClientConfig::new()
        .set(
            "bootstrap.servers",
            stack::setting("KAFKA_BOOTSTRAP_SERVERS").expect("KAFKA_BOOTSTRAP_SERVERS"),
        )
        .set("group.id", format!("refund-crash-{}", Uuid::now_v7().simple()))
        .set("enable.auto.commit", "false")
        .create()
        .expect("a consumer");
    let mut assignment = TopicPartitionList::new();
    let mut ends = HashMap::new();
    for partition in 0..events::topics::PAYMENT_PAYMENT.partitions {
        let (_, high) = consumer
            .fetch_watermarks(topic, partition, Duration::from_secs(10))
            .expect("the topic's end");
        ends.insert(partition, high);
        assignment
            .add_partition_offset(topic, partition, Offset::Beginning)
            .expect("assignment");
    }
    consumer.assign(&assignment).expect("assign");
    let mut refunds: HashMap<String, HashSet<String>> = HashMap::new();
    let mut positions: HashMap<i32, i64> = HashMap::new();
    let started = Instant::now();
    while ends
        .iter()
        .any(|(partition, end)| positions.get(partition).copied().unwrap_or(0) < *end)
    {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the payment topic could not be read to its end"
        );
        let Some(Ok(message)) = consumer.poll(Duration::from_millis(500)) else {
            continue;
        };
        positions.insert(message.partition(), message.offset() + 1);
        let key = String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned();
        if !orders.contains(&key) {
            continue;
        }
        let header = |name: &str| {
            message
                .headers()
                .and_then(|headers| headers.iter().find(|header| header.key == name))
                .and_then(|header| header.value)
                .map(|value| String::from_utf8_lossy(value).into_owned())
        };
        if header("ce_type").as_deref() == Some(events::payment::PaymentRefundedV1::NAME) {
            refunds
                .entry(key)
                .or_default()
                .insert(header("ce_id").expect("a CloudEvent id"));
        }
    }
    refunds
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refund_functions_relay_and_dispatcher_killed_during_120_refunds_refund_and_restock_each_once() {
    let shop = Arc::new(Shop::new());
    let cup = shop.product_in_stock(375, ORDERS as i64).await;
    let customer = shop.token(Uuid::now_v7(), Role::Customer);
    let mut orders = Vec::with_capacity(ORDERS);
    for n in 0..ORDERS {
        orders.push(order_id(
            &shop
                .place(&customer, &format!("to-refund-{n}"), &cup, 1, "tok_approve")
                .await,
        ));
    }
    for order in &orders {
        assert_eq!(shop.settled(&customer, order).await["status"], "CONFIRMED");
    }
    assert_eq!(shop.stock_at_rest(&cup).await, (0, 0), "all sold");

    let orders = Arc::new(orders);
    let accepted = Arc::new(AtomicUsize::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let owners: Vec<_> = (0..OWNERS)
        .map(|_| {
            let (shop, customer, orders) = (Arc::clone(&shop), customer.clone(), Arc::clone(&orders));
            let (accepted, next) = (Arc::clone(&accepted), Arc::clone(&next));
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let Some(order) = orders.get(n) else {
                        return;
                    };
                    // No answer, or an answer from a gateway whose function is down: ask again
                    // with the same key until the refund is accepted.
                    let key = format!("crash-{n}");
                    let answer = Polling::new(SETTLE_DEADLINE, Duration::from_millis(100))
                        .until(
                            || shop.try_refund(&customer, order, &key, &[0]),
                            |answer| {
                                answer
                                    .as_ref()
                                    .is_ok_and(|answer| answer.status == StatusCode::ACCEPTED)
                            },
                        )
                        .await;
                    let answer = answer.expect("the gateway answers in the end");
                    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
                    accepted.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for (after, process) in KILLS {
        ASKING
            .eventually(&format!("{after} refunds accepted"), || async {
                accepted.load(Ordering::Relaxed) >= after
            })
            .await;
        kill(process);
        eprintln!("killed {process} after {after} refunds");
    }
    bring_the_stack_back();
    for owner in owners {
        owner.await.expect("an owner");
    }
    assert_eq!(
        accepted.load(Ordering::Relaxed),
        ORDERS,
        "every refund was accepted"
    );

    let mut outcomes: HashMap<String, usize> = HashMap::new();
    for order in orders.iter() {
        let settled = shop.refunds_settled(&customer, order).await;
        let refunds = settled["refunds"].as_array().cloned().unwrap_or_default();
        let outcome = format!(
            "{} {:?} refunds={} {:?}",
            settled["status"].as_str().unwrap_or_default(),
            line_statuses(&settled),
            refunds.len(),
            refunds
                .iter()
                .map(|refund| refund["status"].clone())
                .collect::<Vec<_>>()
        );
        *outcomes.entry(outcome).or_default() += 1;
    }
    assert_eq!(
        outcomes,
        HashMap::from([(
            r#"REFUNDED ["REFUNDED"] refunds=1 [String("SUCCEEDED")]"#.to_owned(),
            ORDERS
        )]),
        "every order refunded by exactly one refund"
    );
    assert_eq!(
        shop.on_hand_reaching(&cup, ORDERS as i64).await,
        ORDERS as i64,
        "every refunded unit back on hand, once"
    );
    assert_eq!(shop.stock_at_rest(&cup).await, (ORDERS as i64, 0));

    let all: HashSet<String> = orders.iter().cloned().collect();
    let refunds = refunds_per_order(&all);
    let twice: Vec<_> = refunds
        .iter()
        .filter(|(_, ids)| ids.len() > 1)
        .map(|(order, _)| order)
        .collect();
    assert_eq!(refunds.len(), ORDERS, "payment refunded every order");
    assert!(twice.is_empty(), "refunded more than once: {twice:?}");
}
