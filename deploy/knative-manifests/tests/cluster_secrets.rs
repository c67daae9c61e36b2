//! Every Secret and ConfigMap key the generated manifests read exists on the cluster: the
//! platform's ConfigMap is generated with them, and the operator's Secrets and the JWKS are
//! created by `deploy/k3s-secrets`. A key renamed on one side only would leave a pod stuck in
//! `CreateContainerConfigError` on the first deployment, which nothing here could run.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize as _;
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every object of every generated file.
fn objects() -> Vec<Value> {
    let registry = template::Registry::load(&root().join("template.yaml")).expect("template.yaml parses");
    let files = knative_manifests::generate(&registry).expect("the template generates");
    let mut objects = Vec::new();
    for file in files {
        for document in serde_yaml::Deserializer::from_str(&file.contents) {
            let object = Value::deserialize(document).expect("generated YAML parses");
            if !object.is_null() {
                objects.push(object);
            }
        }
    }
    objects
}

/// `(kind, name, key)` of every `secretKeyRef` and `configMapKeyRef` below `value`.
fn references(value: &Value, found: &mut BTreeSet<(&'static str, String, String)>) {
    match value {
        Value::Object(map) => {
            for (field, kind) in [("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")] {
                if let Some(reference) = map.get(field) {
                    let text = |name: &str| reference[name].as_str().expect("a string").to_owned();
                    found.insert((kind, text("name"), text("key")));
                }
            }
            map.values().for_each(|child| references(child, found));
        }
        Value::Array(items) => items.iter().for_each(|child| references(child, found)),
        _ => {}
    }
}

#[test]
fn every_key_the_manifests_read_is_generated_or_created_by_k3s_secrets() {
    let objects = objects();
    let mut found = BTreeSet::new();
    objects.iter().for_each(|object| references(object, &mut found));
    assert!(!found.is_empty(), "the manifests read no Secret or ConfigMap");

    let script = std::fs::read_to_string(root().join("deploy/k3s-secrets")).expect("readable");
    let contexts: BTreeSet<String> = std::fs::read_dir(root().join("migrations"))
        .expect("migrations/ lists the contexts")
        .map(|entry| {
            entry
                .expect("readable")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    // k3s-secrets writes one URL per folder of migrations/, in a loop.
    assert!(
        script.contains("--from-literal=$context-url="),
        "k3s-secrets no longer writes the context URLs"
    );

    let mut missing = Vec::new();
    for (kind, name, key) in &found {
        let generated = objects
            .iter()
            .find(|object| object["kind"] == *kind && object["metadata"]["name"] == name.as_str());
        let present = match generated {
            Some(object) => object["data"].get(key).is_some(),
            None => {
                let command = match *kind {
                    "Secret" => format!("create secret generic {name} "),
                    _ => format!("create configmap {name} "),
                };
                let from_loop = key
                    .strip_suffix("-url")
                    .is_some_and(|context| contexts.contains(context));
                script.contains(&command)
                    && (from_loop
                        || script.contains(&format!("--from-literal={key}="))
                        || script.contains(&format!("--from-file={key}=")))
            }
        };
        if !present {
            missing.push(format!("{kind} {name} key {key}"));
        }
    }
    assert!(
        missing.is_empty(),
        "the manifests read keys nothing creates: {}",
        missing.join("; ")
    );
}
