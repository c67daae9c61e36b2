//! What every context's OpenAPI document shares (docs/adr/0052): the envelope, bearer
//! authentication, and the errors any route can answer besides its own.
//!
//! Handlers carry `#[utoipa::path]` annotations that name only what is theirs: the success
//! body as [`Success<T>`], and each error status with its stable codes in backticks in the
//! description (``(status = 409, description = "`BELOW_RESERVED`: …")``). [`finish`] then
//! completes every operation of the merged document the same way, so the shared parts are
//! written once:
//!
//! - every error response gets the [`Failure`] envelope as its body and one example per code;
//! - a route with a request body can answer `400 MALFORMED_JSON` / `INVALID_BODY` /
//!   `UNREADABLE_BODY`, `413 BODY_TOO_LARGE` and `415 UNSUPPORTED_MEDIA_TYPE`
//!   ([`crate::envelope::Json`]);
//! - a route with the [`BEARER`] requirement can answer `401 UNAUTHENTICATED`, and one that
//!   names the `admin` role in it (`security(("bearerAuth" = ["admin"]))`) `403 FORBIDDEN`;
//! - every route can answer `500 INTERNAL_ERROR`, and `503 SERVICE_BUSY` with `Retry-After`
//!   when every connection of its database pool is in use (docs/adr/0059).

use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use crate::envelope::FieldError;

/// The name of the bearer-token security scheme: `security(("bearerAuth" = []))` for any
/// signed-in caller, `security(("bearerAuth" = ["admin"]))` for admins only.
pub const BEARER: &str = "bearerAuth";

/// A successful answer: `{"success": true, "data": …, "timestamp": …}`.
#[derive(Debug, ToSchema)]
pub struct Success<T> {
    /// Always `true`.
    #[schema(example = true)]
    pub success: bool,
    pub data: T,
    /// When the answer was made (RFC 3339, UTC).
    pub timestamp: chrono::DateTime<chrono::Utc>,
}

/// A refused or failed request: `{"success": false, "error": {…}, "timestamp": …}`.
#[derive(Debug, ToSchema)]
pub struct Failure {
    /// Always `false`.
    #[schema(example = false)]
    pub success: bool,
    pub error: ErrorDetail,
    /// When the answer was made (RFC 3339, UTC).
    pub timestamp: chrono::DateTime<chrono::Utc>,
}

/// What went wrong.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    /// Stable and machine-readable (`VALIDATION_FAILED`, `EMAIL_TAKEN`, …): branch on it.
    pub code: String,
    /// For people; it may change.
    pub message: String,
    /// The id to quote when asking about this request (also in the `X-Request-Id` header).
    pub request_id: Option<String>,
    /// Every invalid field, with `VALIDATION_FAILED`.
    #[schema(nullable = false)]
    pub field_errors: Option<Vec<FieldError>>,
}

/// The shared components: [`Failure`] and what it holds, and the bearer scheme.
#[derive(Debug, utoipa::OpenApi)]
#[openapi(components(schemas(Failure, ErrorDetail, FieldError)))]
struct Shared;

/// The shared components as a document to merge the contexts' documents into.
pub fn shared() -> utoipa::openapi::OpenApi {
    use utoipa::OpenApi as _;
    use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
    let mut document = Shared::openapi();
    if let Some(components) = document.components.as_mut() {
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An access token from `POST /auth/login` or `POST /auth/refresh`. \
                         Where the requirement names `admin`, the token must carry the admin role.",
                    ))
                    .build(),
            ),
        );
    }
    document
}

/// The errors a route can answer because of what it takes, not what it does.
const BODY_ERRORS: [(&str, &[&str]); 3] = [
    ("400", &["MALFORMED_JSON", "INVALID_BODY", "UNREADABLE_BODY"]),
    ("413", &["BODY_TOO_LARGE"]),
    ("415", &["UNSUPPORTED_MEDIA_TYPE"]),
];

/// Completes every operation of `document` (serialized): the shared errors, and the
/// [`Failure`] body of every error response with an example per code. The examples are
/// components (`#/components/examples/<CODE>`), written once however many routes answer the
/// code; each carries the message of the first route (by path) that describes it.
pub fn finish(mut document: Value) -> Value {
    let mut examples = Map::new();
    if let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for (method, operation) in item.iter_mut() {
                if !is_method(method) {
                    continue;
                }
                finish_operation(operation, &mut examples);
            }
        }
    }
    if !examples.is_empty() {
        if !document.get("components").is_some_and(Value::is_object) {
            document["components"] = json!({});
        }
        document["components"]["examples"] = Value::Object(examples);
    }
    document
}

fn is_method(name: &str) -> bool {
    matches!(
        name,
        "get" | "put" | "post" | "delete" | "patch" | "head" | "options" | "trace"
    )
}

fn finish_operation(operation: &mut Value, examples: &mut Map<String, Value>) {
    let roles = bearer_roles(operation);
    let has_body = operation.get("requestBody").is_some();
    let Some(responses) = operation.get_mut("responses").and_then(Value::as_object_mut) else {
        return;
    };
    if has_body {
        for (status, codes) in BODY_ERRORS {
            add_codes(
                responses,
                status,
                codes,
                "the body is not JSON of the expected shape",
            );
        }
    }
    if let Some(roles) = roles {
        add_codes(
            responses,
            "401",
            &["UNAUTHENTICATED"],
            "no valid bearer access token",
        );
        if roles.iter().any(|role| role == "admin") {
            add_codes(responses, "403", &["FORBIDDEN"], "the token lacks the admin role");
        }
    }
    add_codes(
        responses,
        "500",
        &["INTERNAL_ERROR"],
        "something went wrong on our side",
    );
    add_codes(
        responses,
        "503",
        &["SERVICE_BUSY"],
        "every database connection is in use; nothing was done, retry after the seconds in the Retry-After header",
    );
    for (status, response) in responses.iter_mut() {
        if status.starts_with('4') || status.starts_with('5') {
            failure_body(response, examples);
        }
    }
}

/// The roles the operation's bearer requirement names, `None` without one.
fn bearer_roles(operation: &Value) -> Option<Vec<String>> {
    operation
        .get("security")?
        .as_array()?
        .iter()
        .find_map(|requirement| requirement.get(BEARER))
        .map(|roles| {
            roles
                .as_array()
                .map(|roles| {
                    roles
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        })
}

/// Adds `codes` to the response for `status`, creating it with `summary` if the route did not
/// declare it.
fn add_codes(responses: &mut Map<String, Value>, status: &str, codes: &[&str], summary: &str) {
    let response = responses
        .entry(status)
        .or_insert_with(|| json!({ "description": "" }));
    let description = response
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let missing: Vec<String> = codes
        .iter()
        .filter(|code| !codes_of(&description).iter().any(|known| known == *code))
        .map(|code| format!("`{code}`"))
        .collect();
    if !missing.is_empty() {
        let line = format!("{}: {summary}.", missing.join(", "));
        let text = if description.is_empty() {
            line
        } else {
            format!("{description}\n\n{line}")
        };
        response["description"] = Value::String(text);
    }
}

/// The stable codes named in a response's description: the backticked `UPPER_CASE` words.
pub fn codes_of(description: &str) -> Vec<String> {
    description
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|word| {
            !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .map(str::to_owned)
        .collect()
}

/// The [`Failure`] envelope as the body of an error response, with a reference to the example
/// of each code, which `examples` gets if it has none yet.
fn failure_body(response: &mut Value, examples: &mut Map<String, Value>) {
    let description = response
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut references = Map::new();
    for code in codes_of(&description) {
        references.insert(
            code.clone(),
            json!({ "$ref": format!("#/components/examples/{code}") }),
        );
        examples
            .entry(code.clone())
            .or_insert_with(|| json!({ "value": failure_example(&code, &description) }));
    }
    let mut content = json!({ "schema": { "$ref": "#/components/schemas/Failure" } });
    if !references.is_empty() {
        content["examples"] = Value::Object(references);
    }
    response["content"] = json!({ "application/json": content });
}

/// An answer with `code`, its message taken from `description`.
fn failure_example(code: &str, description: &str) -> Value {
    let mut error = json!({
        "code": code,
        "message": message_of(description, code),
        "requestId": "4f6c2a1e-8d3b-4c7a-9e21-5b0d7f3a9c11",
    });
    if code == "VALIDATION_FAILED" {
        // What `ApiError::validation` says, whichever fields are at fault.
        error["message"] = json!("The request has invalid fields.");
        error["fieldErrors"] = json!([{ "field": "quantity", "reason": "must be at least 1" }]);
    }
    json!({ "success": false, "error": error, "timestamp": "2026-01-15T09:30:00Z" })
}

/// What the description says of `code`: the rest of its line after the colon, as a sentence.
fn message_of(description: &str, code: &str) -> String {
    let quoted = format!("`{code}`");
    let text = description
        .lines()
        .find(|line| line.contains(&quoted))
        .and_then(|line| line.split_once(": "))
        .map_or("a sentence for people; it may change.", |(_, text)| text.trim());
    let mut letters = text.chars();
    letters
        .next()
        .map_or_else(String::new, |first| first.to_uppercase().chain(letters).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_backticked_upper_case_words() {
        assert_eq!(
            codes_of("`BELOW_RESERVED`: below `reserved`; or `SKU_NOT_FOUND`."),
            ["BELOW_RESERVED", "SKU_NOT_FOUND"]
        );
    }

    #[test]
    fn an_admin_route_with_a_body_gets_every_shared_error_with_examples() {
        let document = json!({ "paths": { "/admin/x": { "put": {
            "requestBody": { "content": {} },
            "security": [{ "bearerAuth": ["admin"] }],
            "responses": {
                "200": { "description": "Done." },
                "400": { "description": "`VALIDATION_FAILED`: bad fields." },
            },
        } } } });
        let finished = finish(document);
        let responses = &finished["paths"]["/admin/x"]["put"]["responses"];
        let examples = &finished["components"]["examples"];
        for (status, code) in [
            ("400", "VALIDATION_FAILED"),
            ("400", "MALFORMED_JSON"),
            ("401", "UNAUTHENTICATED"),
            ("403", "FORBIDDEN"),
            ("413", "BODY_TOO_LARGE"),
            ("415", "UNSUPPORTED_MEDIA_TYPE"),
            ("500", "INTERNAL_ERROR"),
            ("503", "SERVICE_BUSY"),
        ] {
            let reference = &responses[status]["content"]["application/json"]["examples"][code]["$ref"];
            assert_eq!(
                reference,
                &json!(format!("#/components/examples/{code}")),
                "{status} {code}"
            );
            assert_eq!(examples[code]["value"]["error"]["code"], code, "{status} {code}");
        }
        assert!(
            responses["200"].get("content").is_none(),
            "success bodies are the route's own"
        );
    }

    #[test]
    fn a_public_route_without_a_body_answers_only_its_own_errors_500_and_503() {
        let document = json!({ "paths": { "/x": { "get": { "responses": {
            "200": { "description": "Done." },
        } } } } });
        let finished = finish(document);
        let statuses: Vec<&String> = finished["paths"]["/x"]["get"]["responses"]
            .as_object()
            .expect("responses")
            .keys()
            .collect();
        assert_eq!(statuses, ["200", "500", "503"]);
    }
}
