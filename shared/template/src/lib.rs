//! `template.yaml` as the registry of the platform's functions.
//!
//! The SAM template is what AWS deploys, so it is also what the local stack starts: every
//! `AWS::Serverless::Function` becomes a [`FunctionSpec`] with its binary, its context, its
//! HTTP routes (`HttpApi` events), its Kafka subscriptions (`SelfManagedKafka` / `MSK`
//! events), its schedules and its literal environment. CloudFormation intrinsics (`!Ref`,
//! `!Sub`, …) only make sense in AWS; values built with them are left out, and the local stack
//! supplies its own (database URLs, bootstrap servers).

use std::collections::BTreeMap;
use std::path::Path;

use serde_yaml::Value;

/// Everything the local stack needs to know about the platform's functions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Registry {
    /// Sorted by function name, so ports and logs are assigned in a stable order.
    pub functions: Vec<FunctionSpec>,
}

/// One deployable function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSpec {
    /// The template's logical id, e.g. `ProjectCatalogProductFunction`.
    pub logical_id: String,
    /// The binary = the function's name, e.g. `project-catalog-product`.
    pub name: String,
    /// The bounded context from the `context` tag; it chooses the database.
    pub context: Option<String>,
    pub routes: Vec<Route>,
    pub subscriptions: Vec<Subscription>,
    pub schedules: Vec<String>,
    /// Literal environment variables (intrinsics left out).
    pub environment: BTreeMap<String, String>,
}

/// An HTTP route of the public API: `POST /orders`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    pub method: String,
    pub path: String,
}

/// A Kafka topic the function consumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub topic: String,
    pub consumer_group: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read {path}: {source}")]
    Unreadable { path: String, source: std::io::Error },
    #[error("template.yaml is not valid YAML: {0}")]
    NotYaml(#[from] serde_yaml::Error),
    #[error("function {logical_id}: {problem}")]
    Invalid { logical_id: String, problem: String },
}

impl Registry {
    pub fn load(path: &Path) -> Result<Self, TemplateError> {
        let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Unreadable {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let document: Value = serde_yaml::from_str(text)?;
        let mut functions = Vec::new();
        if let Some(resources) = document.get("Resources").and_then(Value::as_mapping) {
            for (logical_id, resource) in resources {
                if resource.get("Type").and_then(Value::as_str) != Some("AWS::Serverless::Function") {
                    continue;
                }
                let logical_id = logical_id.as_str().unwrap_or_default().to_owned();
                functions.push(function_spec(logical_id, resource)?);
            }
        }
        functions.sort_by(|left, right| left.name.cmp(&right.name));
        if let Some(pair) = functions.windows(2).find(|pair| pair[0].name == pair[1].name) {
            return Err(TemplateError::Invalid {
                logical_id: pair[1].logical_id.clone(),
                problem: format!("binary {} is declared twice", pair[1].name),
            });
        }
        Ok(Self { functions })
    }

    pub fn function(&self, name: &str) -> Option<&FunctionSpec> {
        self.functions.iter().find(|function| function.name == name)
    }

    /// The port each function gets on a laptop: `base_port` + its position by name. Every tool
    /// of the local stack (the scripts, the dispatcher's subscriptions, the gateway) derives
    /// ports this way, so they agree without a shared file.
    pub fn local_ports(&self, base_port: u16) -> Vec<(&FunctionSpec, u16)> {
        self.functions.iter().zip(base_port..).collect()
    }
}

fn function_spec(logical_id: String, resource: &Value) -> Result<FunctionSpec, TemplateError> {
    let invalid = |problem: &str| TemplateError::Invalid {
        logical_id: logical_id.clone(),
        problem: problem.to_owned(),
    };
    let name = resource
        .get("Metadata")
        .and_then(|metadata| metadata.get("BuildProperties"))
        .and_then(|build| build.get("Binary"))
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("Metadata.BuildProperties.Binary (the function's binary) is missing"))?
        .to_owned();
    let properties = resource.get("Properties");
    let context = properties
        .and_then(|properties| properties.get("Tags"))
        .and_then(|tags| tags.get("context"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let environment = properties
        .and_then(|properties| properties.get("Environment"))
        .and_then(|environment| environment.get("Variables"))
        .and_then(Value::as_mapping)
        .map(|variables| {
            variables
                .iter()
                .filter_map(|(key, value)| Some((key.as_str()?.to_owned(), literal(value)?)))
                .collect()
        })
        .unwrap_or_default();

    let mut spec = FunctionSpec {
        logical_id: logical_id.clone(),
        name,
        context,
        routes: Vec::new(),
        subscriptions: Vec::new(),
        schedules: Vec::new(),
        environment,
    };
    let events = properties
        .and_then(|properties| properties.get("Events"))
        .and_then(Value::as_mapping);
    for (_, event) in events.into_iter().flatten() {
        let event_properties = event.get("Properties");
        let text = |key: &str| {
            event_properties
                .and_then(|properties| properties.get(key))
                .and_then(Value::as_str)
        };
        match event.get("Type").and_then(Value::as_str) {
            Some("HttpApi") => {
                let (Some(method), Some(path)) = (text("Method"), text("Path")) else {
                    return Err(invalid("an HttpApi event needs a literal Method and Path"));
                };
                spec.routes.push(Route {
                    method: method.to_ascii_uppercase(),
                    path: path.to_owned(),
                });
            }
            Some("SelfManagedKafka" | "MSK") => {
                let topics = event_properties
                    .and_then(|properties| properties.get("Topics"))
                    .and_then(Value::as_sequence)
                    .ok_or_else(|| invalid("a Kafka event needs a literal list of Topics"))?;
                for topic in topics {
                    let topic = topic
                        .as_str()
                        .ok_or_else(|| invalid("a Kafka topic must be a literal name"))?;
                    spec.subscriptions.push(Subscription {
                        topic: topic.to_owned(),
                        consumer_group: text("ConsumerGroupId").map(str::to_owned),
                    });
                }
            }
            Some("Schedule" | "ScheduleV2") => {
                if let Some(expression) = text("ScheduleExpression").or_else(|| text("Schedule")) {
                    spec.schedules.push(expression.to_owned());
                }
            }
            _ => {}
        }
    }
    spec.routes.sort();
    Ok(spec)
}

/// A plain scalar, as text; `None` for intrinsics (`!Ref`, `!Sub`, …) and structures.
fn literal(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
Transform: AWS::Serverless-2016-10-31
Resources:
  HttpApi:
    Type: AWS::Serverless::HttpApi
  PlaceOrderFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: rust-cargolambda
      BuildProperties: {Binary: place-order}
    Properties:
      Tags: {context: ordering}
      Environment:
        Variables:
          RUST_LOG: debug
          DATABASE_URL: !Sub "{{resolve:secretsmanager:${Secret}}}"
          MAX_LINES: 50
      Events:
        Place: {Type: HttpApi, Properties: {Path: /orders, Method: post, ApiId: !Ref HttpApi}}
        Expire: {Type: ScheduleV2, Properties: {ScheduleExpression: rate(1 minute)}}
  ReserveStockFunction:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: reserve-stock}}
    Properties:
      Tags: {context: inventory}
      Events:
        Orders:
          Type: SelfManagedKafka
          Properties: {Topics: [commerce.ordering.order], ConsumerGroupId: reserve-stock}
"#;

    #[test]
    fn functions_are_read_with_their_routes_topics_schedules_and_literal_environment() {
        let registry = Registry::parse(SAMPLE).expect("valid");
        let names: Vec<&str> = registry
            .functions
            .iter()
            .map(|function| function.name.as_str())
            .collect();
        assert_eq!(names, ["place-order", "reserve-stock"]);

        let place_order = registry.function("place-order").expect("declared");
        assert_eq!(place_order.context.as_deref(), Some("ordering"));
        assert_eq!(
            place_order.routes,
            [Route {
                method: "POST".to_owned(),
                path: "/orders".to_owned()
            }]
        );
        assert_eq!(place_order.schedules, ["rate(1 minute)"]);
        assert_eq!(
            place_order.environment.get("RUST_LOG").map(String::as_str),
            Some("debug")
        );
        assert_eq!(
            place_order.environment.get("MAX_LINES").map(String::as_str),
            Some("50")
        );
        assert!(
            !place_order.environment.contains_key("DATABASE_URL"),
            "intrinsics are AWS-only"
        );

        let reserve_stock = registry.function("reserve-stock").expect("declared");
        assert_eq!(
            reserve_stock.subscriptions,
            [Subscription {
                topic: "commerce.ordering.order".to_owned(),
                consumer_group: Some("reserve-stock".to_owned())
            }]
        );
    }

    #[test]
    fn a_function_without_a_binary_is_refused_by_name() {
        let error =
            Registry::parse("Resources:\n  X:\n    Type: AWS::Serverless::Function\n    Properties: {}\n")
                .expect_err("no binary");
        assert!(
            error
                .to_string()
                .contains("function X: Metadata.BuildProperties.Binary"),
            "{error}"
        );
    }

    #[test]
    fn the_repository_template_declares_only_platform_topics_and_existing_binaries() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let registry = Registry::load(&root.join("template.yaml")).expect("template.yaml parses");
        assert!(!registry.functions.is_empty());
        for function in &registry.functions {
            let context = function
                .context
                .as_deref()
                .expect("every function has a context tag");
            let binary = root
                .join("functions")
                .join(context)
                .join("src/bin")
                .join(format!("{}.rs", function.name));
            assert!(
                binary.exists(),
                "{} has no binary at {}",
                function.name,
                binary.display()
            );
            for subscription in &function.subscriptions {
                assert!(
                    events::topics::by_name(&subscription.topic).is_some(),
                    "{} subscribes to {}, which is not a platform topic",
                    function.name,
                    subscription.topic
                );
            }
        }
    }
}
