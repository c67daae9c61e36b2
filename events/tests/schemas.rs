//! The committed JSON Schemas in `events/schemas/` describe exactly the Rust payload types.
//!
//! The schemas are for readers without Rust (another team's consumer, a schema registry, a
//! code generator), so they must never drift from what the functions really write and read.
//! After changing a payload, regenerate them with
//! `UPDATE_EVENT_SCHEMAS=1 cargo test -p events --test schemas` and commit the result.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn schemas_folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas")
}

fn rendered(schema: &serde_json::Value) -> String {
    let mut text = serde_json::to_string_pretty(schema).expect("a schema is JSON");
    text.push('\n');
    text
}

#[test]
fn every_event_type_has_a_committed_schema_equal_to_the_one_its_rust_type_generates() {
    let update = std::env::var_os("UPDATE_EVENT_SCHEMAS").is_some();
    let folder = schemas_folder();
    let mut stale = Vec::new();
    for descriptor in events::registry() {
        let path = folder.join(format!("{}.json", descriptor.name));
        let generated = rendered(&(descriptor.schema)());
        if update {
            std::fs::write(&path, &generated).expect("write the schema");
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(committed) if committed == generated => {}
            Ok(_) => stale.push(format!("{} differs from its Rust type", path.display())),
            Err(_) => stale.push(format!("{} is missing", path.display())),
        }
    }
    assert!(
        stale.is_empty(),
        "{}\nRegenerate with: UPDATE_EVENT_SCHEMAS=1 cargo test -p events --test schemas",
        stale.join("\n")
    );
}

#[test]
fn no_schema_is_committed_for_an_event_type_that_does_not_exist() {
    let known: BTreeSet<String> = events::registry()
        .iter()
        .map(|descriptor| format!("{}.json", descriptor.name))
        .collect();
    let committed: BTreeSet<String> = std::fs::read_dir(schemas_folder())
        .expect("events/schemas exists")
        .map(|entry| {
            entry
                .expect("a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".json"))
        .collect();
    let unknown: Vec<_> = committed.difference(&known).collect();
    assert!(unknown.is_empty(), "schemas without an event type: {unknown:?}");
}

#[test]
fn every_schema_names_its_topic_and_requires_the_aggregate_key() {
    for descriptor in events::registry() {
        let schema = (descriptor.schema)();
        assert_eq!(
            schema["x-commerce"]["topic"], descriptor.topic.name,
            "{}",
            descriptor.name
        );
        let required: Vec<&str> = schema["required"]
            .as_array()
            .unwrap_or_else(|| panic!("{} lists its required fields", descriptor.name))
            .iter()
            .filter_map(serde_json::Value::as_str)
            .collect();
        let key = match descriptor.aggregate {
            "product" => "productId",
            "user" => "userId",
            "stock" => "sku",
            _ => "orderId",
        };
        assert!(
            required.contains(&key),
            "{} does not require {key}",
            descriptor.name
        );
    }
}
