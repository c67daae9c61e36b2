//! The trigger's filter against the code: every function with Kafka subscriptions declares in
//! template.yaml (`Metadata.EventTypes`) exactly the CloudEvent types its running code reads
//! (`GET /event-types`). The dispatcher delivers only those; a type missing from the list would
//! silently never reach the function, and one too many would cost a delivery for nothing.
//! Likewise `Metadata.DeliveryBatch` is set exactly for the functions whose code applies a
//! batch of records in one transaction.

use std::collections::BTreeSet;

use e2e::platform::function_url;
use testkit::stack;

#[tokio::test]
async fn every_event_function_declares_exactly_the_event_types_its_code_reads() {
    let registry =
        template::Registry::load(&stack::repository().join("template.yaml")).expect("template.yaml");
    let client = reqwest::Client::new();
    let mut checked = 0;
    for function in registry
        .functions
        .iter()
        .filter(|function| !function.subscriptions.is_empty())
    {
        let declared: BTreeSet<String> = function
            .event_types
            .clone()
            .unwrap_or_else(|| {
                panic!(
                    "{} subscribes to Kafka but declares no Metadata.EventTypes",
                    function.name
                )
            })
            .into_iter()
            .collect();
        let answer: serde_json::Value = client
            .get(format!("{}event-types", function_url(&function.name)))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .unwrap_or_else(|error| panic!("GET /event-types of {}: {error}", function.name))
            .text()
            .await
            .map(|body| serde_json::from_str(&body).expect("a JSON envelope"))
            .expect("an answer");
        let read: BTreeSet<String> = answer["data"]["eventTypes"]
            .as_array()
            .expect("eventTypes")
            .iter()
            .map(|name| name.as_str().expect("a type name").to_owned())
            .collect();
        assert_eq!(
            declared, read,
            "{}: template.yaml's Metadata.EventTypes (left) differs from what its code reads (right)",
            function.name
        );
        // A batch pays off only for a function that applies it in one transaction; for any
        // other it would only serialize records that could have gone side by side.
        assert_eq!(
            function.delivery_batch.is_some(),
            answer["data"]["appliesBatches"] == true,
            "{}: template.yaml's Metadata.DeliveryBatch (left: set) differs from whether its code \
             applies a batch in one transaction (right)",
            function.name
        );
        checked += 1;
    }
    assert!(checked >= 17, "only {checked} event functions were checked");
}
