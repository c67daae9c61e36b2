//! The saga's timeline on the running local stack (docs/adr/0057): after an order is
//! confirmed, its page lists the hops ordering's functions received, and `local-stack/timeline`
//! shows every hop across the contexts, each event committed, then published to Kafka by the
//! relay, then received by each function that reads it, in that order.

use std::path::Path;
use std::process::Command;

use chrono::{DateTime, Utc};
use e2e::shop::{SETTLE, Shop, order_id};
use events::EventType;
use events::ordering::OrderPlacedV1;
use events::payment::PaymentAuthorizedV1;
use reqwest::{Method, StatusCode};
use security::Role;
use serde_json::Value;
use uuid::Uuid;

fn time(value: &Value) -> Option<DateTime<Utc>> {
    value.as_str().map(|at| {
        DateTime::parse_from_rfc3339(at)
            .expect("an RFC 3339 time")
            .to_utc()
    })
}

#[tokio::test]
async fn a_confirmed_order_shows_where_its_time_went_on_its_page_and_in_the_timeline_command() {
    let shop = Shop::new();
    let cup = shop.product_in_stock(990, 5).await;
    let customer = shop.token(Uuid::now_v7(), Role::Customer);
    let id = order_id(&shop.place(&customer, "timeline", &cup, 1, "tok_approve").await);
    let order = shop.settled(&customer, &id).await;
    assert_eq!(order["status"], "CONFIRMED", "{order}");
    let placed_at = time(&order["createdAt"]).expect("createdAt");

    // The page: confirm-order's hop commits with CONFIRMED; record-order-progress's two trail.
    let path = format!("/orders/{id}");
    let answer = SETTLE
        .until(
            || shop.send(Method::GET, &path, Some(&customer), None, None),
            |answer| {
                answer.body["data"]["hops"]
                    .as_array()
                    .is_some_and(|hops| hops.len() >= 3)
            },
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let hops = answer.body["data"]["hops"].as_array().expect("hops").clone();
    let confirming = hops
        .iter()
        .find(|hop| hop["consumer"] == "confirm-order")
        .unwrap_or_else(|| panic!("confirm-order's hop: {hops:?}"));
    assert_eq!(confirming["event"], PaymentAuthorizedV1::NAME);
    let (committed, published, received) = (
        time(&confirming["occurredAt"]).expect("the producer's time"),
        time(&confirming["publishedAt"]).expect("the relay's time, from the dispatcher"),
        time(&confirming["receivedAt"]).expect("the receipt"),
    );
    assert!(
        placed_at <= committed && committed <= published && published <= received,
        "each hop after the one before: {confirming}"
    );
    assert!(
        confirming["attempt"].as_u64().is_some_and(|attempt| attempt >= 1),
        "{confirming}"
    );
    let mut consumers: Vec<&str> = hops.iter().filter_map(|hop| hop["consumer"].as_str()).collect();
    consumers.sort_unstable();
    assert_eq!(
        consumers,
        ["confirm-order", "record-order-progress", "record-order-progress"],
        "ordering's functions that read the saga's events: {hops:?}"
    );

    // The command: every context, the order's first event included.
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let output = Command::new(repo.join("local-stack/timeline"))
        .args([id.as_str(), "--json"])
        .output()
        .expect("local-stack/timeline runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let timeline: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(timeline["status"], "CONFIRMED");
    assert_eq!(
        timeline["traceIds"].as_array().map(Vec::len),
        Some(1),
        "one trace from the POST to the end: {timeline}"
    );
    let events = timeline["events"].as_array().expect("events");
    let receivers = |name: &str| -> Vec<String> {
        events
            .iter()
            .filter(|event| event["type"] == name)
            .flat_map(|event| event["received"].as_array().into_iter().flatten())
            .filter_map(|receipt| receipt["consumer"].as_str().map(str::to_owned))
            .collect()
    };
    assert!(
        receivers(OrderPlacedV1::NAME).contains(&"reserve-stock".to_owned()),
        "inventory received the placed order: {timeline}"
    );
    assert!(receivers(PaymentAuthorizedV1::NAME).contains(&"confirm-order".to_owned()));
    for event in events {
        let committed = time(&event["committed"]).expect("committed");
        let published = time(&event["published"]).expect("published");
        assert!(committed <= published, "{event}");
        for receipt in event["received"].as_array().expect("receipts") {
            assert!(published <= time(&receipt["at"]).expect("at"), "{event}");
        }
    }

    let table = Command::new(repo.join("local-stack/timeline"))
        .arg(&id)
        .output()
        .expect("local-stack/timeline runs");
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.contains("received by reserve-stock (inventory)"), "{table}");
    assert!(table.contains("PLACED -> CONFIRMED:"), "{table}");

    let refused = Command::new(repo.join("local-stack/timeline"))
        .arg("x' OR '1'='1")
        .output()
        .expect("local-stack/timeline runs");
    assert!(!refused.status.success(), "an id that is not one is refused");
}
