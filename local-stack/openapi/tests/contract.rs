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

/// The stable codes a handler file answers with: the code of every `ApiError` built in it
/// (`ApiError::conflict("CODE", …)`, `ApiError::new(StatusCode::…, "CODE", …)`) and every code
/// chosen by a `let code = match … { … => "CODE", … };`.
fn codes_in_source(source: &str) -> BTreeSet<String> {
    let is_code = |text: &str| {
        text.len() > 3
            && text
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    };
    let mut codes = BTreeSet::new();
    for (start, _) in source.match_indices("ApiError::") {
        let rest = &source[start + "ApiError::".len()..];
        let Some(open) = rest.find('(') else { continue };
        let arguments = rest[open + 1..].trim_start();
        let arguments = match arguments.strip_prefix("StatusCode::") {
            Some(after) => after.split_once(',').map_or("", |(_, rest)| rest).trim_start(),
            None => arguments,
        };
        if let Some(literal) = arguments
            .strip_prefix('"')
            .and_then(|text| text.split('"').next())
            && is_code(literal)
        {
            codes.insert(literal.to_owned());
        }
    }
    for (start, _) in source.match_indices("let code = match") {
        let block = &source[start..];
        let block = &block[..block.find("};").unwrap_or(block.len())];
        for literal in block.split('"').skip(1).step_by(2) {
            if is_code(literal) {
                codes.insert(literal.to_owned());
            }
        }
    }
    codes
}

#[test]
fn every_code_a_handler_file_answers_is_documented_on_its_operations() {
    let document = openapi_document::document();
    let mut documented: std::collections::BTreeMap<String, BTreeSet<String>> = Default::default();
    for item in document["paths"].as_object().expect("paths").values() {
        for operation in item.as_object().expect("path item").values() {
            let codes = operation["responses"]
                .as_object()
                .expect("responses")
                .values()
                .flat_map(|response| {
                    runtime::openapi::codes_of(response["description"].as_str().unwrap_or_default())
                })
                .collect();
            documented.insert(
                operation["operationId"].as_str().unwrap_or_default().to_owned(),
                codes,
            );
        }
    }
    let mut files = 0;
    for context in ["catalog", "identity", "inventory", "ordering", "payment"] {
        let folder = repository().join("functions").join(context).join("src");
        for entry in std::fs::read_dir(&folder).expect("src") {
            let path = entry.expect("entry").path();
            let Ok(source) = std::fs::read_to_string(&path) else {
                continue;
            };
            let operations: Vec<&str> = source
                .split("operation_id = \"")
                .skip(1)
                .filter_map(|rest| rest.split('"').next())
                .collect();
            if operations.is_empty() {
                continue;
            }
            files += 1;
            let answered: BTreeSet<String> = operations
                .iter()
                .flat_map(|id| documented.get(*id).cloned().unwrap_or_default())
                .collect();
            let missing: Vec<String> = codes_in_source(&source).difference(&answered).cloned().collect();
            assert!(
                missing.is_empty(),
                "{} answers {missing:?}, which none of its operations documents",
                path.display()
            );
        }
    }
    assert!(files >= 6, "the handler files were not found ({files})");
}
