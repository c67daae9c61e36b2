//! Crash safety of the whole saga on the running local stack. While 1,000 orders pour in, the
//! outbox relay, the trigger dispatcher, `reserve-stock` and `capture-payment` are killed with
//! SIGKILL, one after the other; then `local-stack/up` brings back whatever is down, as an
//! operator would. Afterwards every order is terminal, nothing is oversold or left reserved,
//! every reservation is committed or released, and no payment is captured twice.
//!
//! Kept in its own test binary because it kills processes the other end-to-end tests rely on.

use events::EventType;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use e2e::platform::{bring_the_stack_back, kill};
use e2e::shop::{SETTLE_DEADLINE, Shop, order_id};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use security::Role;
use testkit::poll::Polling;
use testkit::stack;
use uuid::Uuid;

const ORDERS: usize = 1_000;
const UNITS: i64 = 600;
/// Every tenth order is paid with a card the gateway declines.
const DECLINED_EVERY: usize = 10;
/// Orders placed at once, as many shoppers would.
const SHOPPERS: usize = 16;
/// After how many placed orders each process is killed.
const KILLS: [(usize, &str); 4] = [
    (150, "outbox-relay"),
    (350, "trigger-dispatcher"),
    (550, "reserve-stock"),
    (750, "capture-payment"),
];
/// How long the shoppers may take to reach the next kill: generous, and there so that
/// shoppers that failed end the test instead of leaving it waiting for ever.
const PLACING: Polling = Polling::new(Duration::from_secs(300), Duration::from_millis(5));

/// Event ids of `payment.captured` per order (the record key), read from the start of the
/// payment topic up to its current end.
fn captures_per_order(orders: &HashSet<String>) -> HashMap<String, HashSet<String>> {
    let topic = events::topics::PAYMENT_PAYMENT.name;
    let consumer: BaseConsumer = ClientConfig::new()
        .set(
            "bootstrap.servers",
            stack::setting("KAFKA_BOOTSTRAP_SERVERS").expect("KAFKA_BOOTSTRAP_SERVERS"),
        )
        .set("group.id", format!("saga-crash-{}", Uuid::now_v7().simple()))
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
    let mut captures: HashMap<String, HashSet<String>> = HashMap::new();
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
        if header("ce_type").as_deref() == Some(events::payment::PaymentCapturedV1::NAME) {
            captures
                .entry(key)
                .or_default()
                .insert(header("ce_id").expect("a CloudEvent id"));
        }
    }
    captures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn relay_dispatcher_and_functions_killed_during_a_thousand_orders_lose_and_oversell_nothing() {
    let shop = Arc::new(Shop::new());
    let cup = shop.product_in_stock(450, UNITS).await;
    // Ordering must know the product before the rush; one probe order settles that.
    let probe_customer = shop.token(Uuid::now_v7(), Role::Customer);
    let probe = order_id(&shop.place(&probe_customer, "probe", &cup, 1, "tok_decline").await);
    shop.settled(&probe_customer, &probe).await;

    let customer = shop.token(Uuid::now_v7(), Role::Customer);
    let placed = Arc::new(AtomicUsize::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let shoppers: Vec<_> = (0..SHOPPERS)
        .map(|_| {
            let (shop, cup, customer) = (Arc::clone(&shop), cup.clone(), customer.clone());
            let (placed, next) = (Arc::clone(&placed), Arc::clone(&next));
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= ORDERS {
                        return mine;
                    }
                    let card = if n % DECLINED_EVERY == 0 {
                        "tok_decline"
                    } else {
                        "tok_approve"
                    };
                    let answer = shop.place(&customer, &format!("crash-{n}"), &cup, 1, card).await;
                    mine.push(order_id(&answer));
                    placed.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for (after, process) in KILLS {
        PLACING
            .eventually(&format!("{after} orders placed"), || async {
                placed.load(Ordering::Relaxed) >= after
            })
            .await;
        kill(process);
        eprintln!("killed {process} after {after} orders");
    }
    let mut orders = Vec::with_capacity(ORDERS);
    for shopper in shoppers {
        orders.extend(shopper.await.expect("a shopper"));
    }
    assert_eq!(
        orders.len(),
        ORDERS,
        "every order was accepted while processes were down"
    );

    bring_the_stack_back();

    let mut outcomes: HashMap<String, usize> = HashMap::new();
    let mut confirmed = HashSet::new();
    for order_id in &orders {
        let order = shop.settled(&customer, order_id).await;
        let outcome = match (order["status"].as_str(), order["cancelReason"].as_str()) {
            (Some("CONFIRMED"), _) => {
                confirmed.insert(order_id.clone());
                "confirmed".to_owned()
            }
            (Some("CANCELLED"), Some(reason)) => reason.to_owned(),
            other => panic!("order {order_id} did not end: {other:?}"),
        };
        *outcomes.entry(outcome).or_default() += 1;
    }
    eprintln!("outcomes: {outcomes:?}");
    assert!(
        outcomes
            .keys()
            .all(|outcome| ["confirmed", "out-of-stock", "payment-declined"].contains(&outcome.as_str())),
        "{outcomes:?}"
    );
    // More approved orders than units: the units all go, except those a declined order held
    // while the approved ones behind it were refused.
    let declined = ORDERS.div_ceil(DECLINED_EVERY);
    assert!(
        (UNITS as usize - declined..=UNITS as usize).contains(&confirmed.len()),
        "{} confirmed of {UNITS} units",
        confirmed.len()
    );
    assert_eq!(
        shop.stock_at_rest(&cup).await,
        (UNITS - confirmed.len() as i64, 0),
        "every sold unit belongs to a confirmed order; nothing is left reserved"
    );

    let inventory =
        sqlx::MySqlPool::connect(&stack::setting("INVENTORY_DATABASE_URL").expect("INVENTORY_DATABASE_URL"))
            .await
            .expect("inventory's database");
    let reservations: Vec<(String, i64)> = sqlx::query_as(
        "SELECT r.status, COUNT(*) FROM reservation r JOIN reservation_line l ON l.order_id = r.order_id
         WHERE l.sku = ? GROUP BY r.status",
    )
    .bind(&cup)
    .fetch_all(&inventory)
    .await
    .expect("the product's reservations");
    let reservations: HashMap<String, i64> = reservations.into_iter().collect();
    assert_eq!(
        reservations.get("COMMITTED").copied().unwrap_or(0),
        confirmed.len() as i64,
        "one committed reservation per confirmed order: {reservations:?}"
    );
    assert!(
        !reservations.contains_key("RESERVED"),
        "every reservation is committed, released or failed: {reservations:?}"
    );

    // Payment may still be capturing the last confirmed orders.
    let all: HashSet<String> = orders.iter().cloned().collect();
    let captures = Polling::new(SETTLE_DEADLINE, Duration::from_millis(500))
        .until(
            || async { captures_per_order(&all) },
            |captures| confirmed.iter().all(|order| captures.contains_key(order)),
        )
        .await;
    let uncaptured = confirmed
        .iter()
        .filter(|order| !captures.contains_key(*order))
        .count();
    let twice: Vec<_> = captures
        .iter()
        .filter(|(_, ids)| ids.len() > 1)
        .map(|(order, _)| order)
        .collect();
    let stray: Vec<_> = captures
        .keys()
        .filter(|order| !confirmed.contains(*order))
        .collect();
    assert_eq!(uncaptured, 0, "every confirmed order is captured");
    assert!(twice.is_empty(), "captured more than once: {twice:?}");
    assert!(stray.is_empty(), "captured without being confirmed: {stray:?}");
}
