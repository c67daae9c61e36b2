//! Manifests are built as JSON values and written as YAML with every mapping's keys sorted,
//! so a file's bytes depend only on its content, never on map implementations or feature
//! flags: the drift check compares bytes.
//!
//! The writer follows YAML 1.2, where `yes` or `10:30` are plain strings, but Kubernetes'
//! tooling and the validator read YAML 1.1, where they are a boolean and a number. Such
//! strings are therefore quoted explicitly.

use serde_json::Value;

/// The header every generated file starts with.
const GENERATED: &str = "# Generated from template.yaml by `cargo run -p knative-manifests`; do not edit.\n";

/// A YAML file of one or more documents, each introduced by `---`, after the generated
/// header and `about` (one comment line per line).
pub fn file(about: &str, documents: &[Value]) -> anyhow::Result<String> {
    let mut text = String::from(GENERATED);
    for line in about.lines() {
        text.push_str(&format!("# {line}\n").replace("# \n", "#\n"));
    }
    for document in documents {
        text.push_str("---\n");
        text.push_str(&document_text(document)?);
    }
    Ok(text)
}

/// One document, keys sorted at every level.
pub fn document_text(document: &Value) -> anyhow::Result<String> {
    let mut quoted = Vec::new();
    let mut text = serde_yaml::to_string(&sorted(document, &mut quoted))?;
    for (index, original) in quoted.iter().enumerate() {
        text = text.replace(&placeholder(index), &format!("'{original}'"));
    }
    Ok(text)
}

/// Stands in for the `index`-th string that must be quoted; the trailing `x` keeps
/// `…1x` from matching the start of `…10x`.
fn placeholder(index: usize) -> String {
    format!("yaml11quoted{index}x")
}

/// Whether YAML 1.1 reads the plain scalar `text` as something other than a string: a
/// boolean (`yes`, `off`, `y`, …), a base-60 number (`10:30`) or a date (`2026-12-02`).
fn is_yaml11_non_string(text: &str) -> bool {
    const BOOLEANS: &[&str] = &["y", "yes", "n", "no", "on", "off", "true", "false"];
    if BOOLEANS.contains(&text.to_ascii_lowercase().as_str()) {
        return true;
    }
    let digits_and = |allowed: &[char]| {
        !text.is_empty()
            && text.starts_with(|c: char| c.is_ascii_digit())
            && text.chars().all(|c| c.is_ascii_digit() || allowed.contains(&c))
    };
    (text.contains(':') && digits_and(&[':', '_', '.']))
        || (text.matches('-').count() == 2 && digits_and(&['-']))
}

fn sorted(value: &Value, quoted: &mut Vec<String>) -> serde_yaml::Value {
    match value {
        Value::Null => serde_yaml::Value::Null,
        Value::Bool(flag) => serde_yaml::Value::Bool(*flag),
        Value::Number(number) => {
            if let Some(whole) = number.as_u64() {
                serde_yaml::Value::Number(whole.into())
            } else if let Some(whole) = number.as_i64() {
                serde_yaml::Value::Number(whole.into())
            } else {
                serde_yaml::Value::Number(number.as_f64().unwrap_or_default().into())
            }
        }
        Value::String(text) if is_yaml11_non_string(text) => {
            quoted.push(text.clone());
            serde_yaml::Value::String(placeholder(quoted.len() - 1))
        }
        Value::String(text) => serde_yaml::Value::String(text.clone()),
        Value::Array(items) => {
            serde_yaml::Value::Sequence(items.iter().map(|item| sorted(item, quoted)).collect())
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut mapping = serde_yaml::Mapping::new();
            for key in keys {
                mapping.insert(serde_yaml::Value::String(key.clone()), sorted(&map[key], quoted));
            }
            serde_yaml::Value::Mapping(mapping)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn keys_are_sorted_and_values_read_back_unchanged() {
        let value =
            json!({"spec": {"b": 1, "a": "true"}, "kind": "X", "apiVersion": "v1", "data": "one\ntwo\n"});
        let text = document_text(&value).expect("writable");
        assert!(text.starts_with("apiVersion: v1\ndata:"), "{text}");
        let back: Value = serde_yaml::from_str(&text).expect("valid YAML");
        assert_eq!(back, value, "strings that look like other scalars stay strings");
    }

    #[test]
    fn strings_yaml_1_1_would_read_as_booleans_numbers_or_dates_are_quoted() {
        let value =
            json!({"args": ["--appendonly", "yes", "Off", "10:30", "2026-12-02", "n", "no-op", "1.2.3"]});
        let text = document_text(&value).expect("writable");
        assert_eq!(
            text,
            "args:\n- --appendonly\n- 'yes'\n- 'Off'\n- '10:30'\n- '2026-12-02'\n- 'n'\n- no-op\n- 1.2.3\n"
        );
        let back: Value = serde_yaml::from_str(&text).expect("valid YAML");
        assert_eq!(back, value);
    }

    #[test]
    fn a_file_starts_with_the_generated_header_and_separates_documents() {
        let text = file(
            "Two things.\n\nSecond paragraph.",
            &[json!({"a": 1}), json!({"b": 2})],
        )
        .expect("writable");
        assert!(text.starts_with(GENERATED));
        assert!(
            text.contains("# Two things.\n#\n# Second paragraph.\n---\na: 1\n---\nb: 2\n"),
            "{text}"
        );
    }
}
