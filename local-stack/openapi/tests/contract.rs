//! The OpenAPI document against what is deployed and what is committed.
//!
//! `template.yaml` declares the routes API Gateway, the Knative ingress and the local gateway
//! serve; the document must describe exactly those: none left undocumented, none documented
//! that nothing serves. `docs/api/openapi.json` must be the document the code generates; after
//! changing an annotation, run `UPDATE_OPENAPI=1 cargo test -p openapi-document --test contract`
//! and commit the result.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_document_describes_exactly_the_routes_of_the_template() {
    let registry = template::Registry::load(&repository().join("template.yaml")).expect("template.yaml");
    let declared: BTreeSet<(String, String)> = registry
        .functions
        .iter()
        .flat_map(|function| &function.routes)
        .map(|route| (route.method.to_uppercase(), route.path.clone()))
        .collect();
    let documented: BTreeSet<(String, String)> = openapi_document::routes(&openapi_document::document())
        .into_iter()
        .collect();
    let undocumented: Vec<_> = declared.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&declared).collect();
    assert!(
        undocumented.is_empty() && unserved.is_empty(),
        "routes in template.yaml but not in the document ({}): {undocumented:#?}\n\
         routes in the document but not in template.yaml ({}): {unserved:#?}",
        undocumented.len(),
        unserved.len(),
    );
}

#[test]
fn every_operation_has_an_id_a_success_answer_and_error_examples() {
    let document = openapi_document::document();
    let mut ids = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            let id = operation["operationId"].as_str().unwrap_or_default();
            assert!(
                ids.insert(id.to_owned()),
                "{method} {path}: operationId {id:?} is missing or repeated"
            );
            let responses = operation["responses"].as_object().expect("responses");
            assert!(
                responses.keys().any(|status| status.starts_with('2')),
                "{method} {path} has no success answer"
            );
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    let examples = response["content"]["application/json"]["examples"]
                        .as_object()
                        .filter(|examples| !examples.is_empty());
                    let Some(examples) = examples else {
                        panic!("{method} {path} {status} names no error code");
                    };
                    for (code, example) in examples {
                        let name = example["$ref"]
                            .as_str()
                            .and_then(|reference| reference.strip_prefix("#/components/examples/"))
                            .unwrap_or_default();
                        assert_eq!(
                            document["components"]["examples"][name]["value"]["error"]["code"],
                            code.as_str(),
                            "{method} {path} {status}: the example of {code}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn the_committed_document_is_the_generated_one() {
    let path = repository().join("docs/api/openapi.json");
    let generated = format!(
        "{}\n",
        serde_json::to_string_pretty(&openapi_document::document()).expect("serializable")
    );
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::create_dir_all(path.parent().expect("folder")).expect("docs/api");
        std::fs::write(&path, &generated).expect("written");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/api/openapi.json is stale: run UPDATE_OPENAPI=1 cargo test -p openapi-document --test contract"
    );
}
