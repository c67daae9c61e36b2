//! `template.yaml` as the registry of the platform's functions.
//!
//! The SAM template is what AWS deploys, so it is also what the local stack starts and what
//! the Knative manifests are generated from: every `AWS::Serverless::Function` becomes a
//! [`FunctionSpec`] with its binary, its context, its HTTP routes (`HttpApi` events), its
//! Kafka subscriptions (`SelfManagedKafka` / `MSK` events), its schedules, its literal
//! environment, and its timeout and memory (the function's own or the template's `Globals`).
//! CloudFormation intrinsics (`!Ref`, `!Sub`, …) only make sense in AWS: values built with them
//! are left out and only their variables' names are kept ([`FunctionSpec::intrinsic_environment`]),
//! so every other platform can supply its own (database URLs, token settings).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_yaml::Value;

/// Everything the local stack needs to know about the platform's functions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Registry {
    /// Sorted by function name, so ports and logs are assigned in a stable order.
    pub functions: Vec<FunctionSpec>,
    /// The HTTP API's CORS settings (`CorsConfiguration` of the `AWS::Serverless::HttpApi`).
    pub cors: Option<Cors>,
}

/// Which browser origins may call the HTTP API, with which methods and headers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cors {
    pub allow_origins: Vec<String>,
    pub allow_methods: Vec<String>,
    pub allow_headers: Vec<String>,
}

/// What SAM uses when neither the function nor `Globals` sets a timeout: 3 seconds.
pub const SAM_DEFAULT_TIMEOUT_SECONDS: u32 = 3;

/// What SAM uses when neither the function nor `Globals` sets the memory: 128 MB.
pub const SAM_DEFAULT_MEMORY_MB: u32 = 128;

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
    /// Literal environment variables, `Globals` first and the function's own over them
    /// (intrinsics left out).
    pub environment: BTreeMap<String, String>,
    /// Variables whose value is an intrinsic (a parameter, a secret resolved at deploy time):
    /// only AWS can fill them in, so only their names are kept, sorted.
    pub intrinsic_environment: Vec<String>,
    /// How long one invocation may run (`Timeout`).
    pub timeout_seconds: u32,
    /// The memory of one instance (`MemorySize`).
    pub memory_mb: u32,
    /// How many requests one instance may serve at a time where an instance serves several
    /// (Knative's `containerConcurrency`): `Metadata.Knative.ContainerConcurrency`. Lambda
    /// always serves one, so the setting is for the other platforms only; unset, they choose
    /// by the kind of function.
    pub container_concurrency: Option<u32>,
    /// The CloudEvent types the function reads, from `Metadata.EventTypes`: a trigger may
    /// leave every other type undelivered (the local dispatcher does). Unset, it gets every
    /// record of its topics. Lambda's event source mapping can filter only on a record's
    /// value, and our CloudEvents carry their type in a header, so there the function keeps
    /// ignoring the rest itself.
    pub event_types: Option<Vec<String>>,
    /// How the local dispatcher hands the function several records of a partition in one
    /// request (`Metadata.DeliveryBatch`), for a function that applies a batch in one
    /// transaction. Unset, one record per request, as Knative's KafkaSource sends them.
    /// Lambda's batches are the event source's `BatchSize`.
    pub delivery_batch: Option<DeliveryBatch>,
}

/// `Metadata.DeliveryBatch`: `{Size: 50, WindowMs: 100}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryBatch {
    /// At most this many records per request (1 to [`MAX_DELIVERY_BATCH_SIZE`]).
    pub size: u32,
    /// How long a partition's records may wait for the batch to fill before it goes anyway,
    /// in milliseconds (up to [`MAX_DELIVERY_BATCH_WINDOW_MS`]); 0, the default, sends what is
    /// waiting as soon as a delivery slot is free. Lambda's `MaximumBatchingWindowInSeconds`.
    pub window_ms: u32,
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
        let globals = Globals::read(&document);
        let mut functions = Vec::new();
        let mut cors = None;
        if let Some(resources) = document.get("Resources").and_then(Value::as_mapping) {
            for (logical_id, resource) in resources {
                match resource.get("Type").and_then(Value::as_str) {
                    Some("AWS::Serverless::Function") => {
                        let logical_id = logical_id.as_str().unwrap_or_default().to_owned();
                        functions.push(function_spec(logical_id, resource, &globals)?);
                    }
                    Some("AWS::Serverless::HttpApi") => {
                        cors = resource
                            .get("Properties")
                            .and_then(|properties| properties.get("CorsConfiguration"))
                            .map(|configuration| cors_settings(configuration, document.get("Parameters")));
                    }
                    _ => {}
                }
            }
        }
        functions.sort_by(|left, right| left.name.cmp(&right.name));
        if let Some(pair) = functions.windows(2).find(|pair| pair[0].name == pair[1].name) {
            return Err(TemplateError::Invalid {
                logical_id: pair[1].logical_id.clone(),
                problem: format!("binary {} is declared twice", pair[1].name),
            });
        }
        Ok(Self { functions, cors })
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

/// What `Globals.Function` gives every function unless the function says otherwise.
#[derive(Debug, Default)]
struct Globals {
    environment: Environment,
    timeout_seconds: Option<u32>,
    memory_mb: Option<u32>,
}

impl Globals {
    fn read(document: &Value) -> Self {
        let Some(function) = document
            .get("Globals")
            .and_then(|globals| globals.get("Function"))
        else {
            return Self::default();
        };
        Self {
            environment: Environment::read(function),
            timeout_seconds: number(function.get("Timeout")),
            memory_mb: number(function.get("MemorySize")),
        }
    }
}

/// The `Environment.Variables` of a function or of `Globals`, split into literal values and
/// the names of variables set with intrinsics.
#[derive(Debug, Default, Clone)]
struct Environment {
    literal: BTreeMap<String, String>,
    intrinsic: BTreeSet<String>,
}

impl Environment {
    fn read(properties: &Value) -> Self {
        let mut environment = Self::default();
        let variables = properties
            .get("Environment")
            .and_then(|environment| environment.get("Variables"))
            .and_then(Value::as_mapping);
        for (key, value) in variables.into_iter().flatten() {
            let Some(key) = key.as_str() else { continue };
            environment.set(key.to_owned(), literal(value));
        }
        environment
    }

    /// A later setting of a variable replaces an earlier one, whichever kind either is.
    fn set(&mut self, name: String, value: Option<String>) {
        match value {
            Some(value) => {
                self.intrinsic.remove(&name);
                self.literal.insert(name, value);
            }
            None => {
                self.literal.remove(&name);
                self.intrinsic.insert(name);
            }
        }
    }

    /// `self` with `over`'s variables replacing its own.
    fn overridden_by(mut self, over: Self) -> Self {
        for (name, value) in over.literal {
            self.set(name, Some(value));
        }
        for name in over.intrinsic {
            self.set(name, None);
        }
        self
    }
}

fn function_spec(
    logical_id: String,
    resource: &Value,
    globals: &Globals,
) -> Result<FunctionSpec, TemplateError> {
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
    let environment = globals
        .environment
        .clone()
        .overridden_by(properties.map(Environment::read).unwrap_or_default());
    let setting = |key: &str| properties.and_then(|properties| properties.get(key));
    let container_concurrency = resource
        .get("Metadata")
        .and_then(|metadata| metadata.get("Knative"))
        .and_then(|knative| knative.get("ContainerConcurrency"));
    let container_concurrency = match container_concurrency {
        None => None,
        Some(value) => Some(
            number(Some(value))
                .filter(|concurrency| *concurrency > 0)
                .ok_or_else(|| invalid("Metadata.Knative.ContainerConcurrency must be a positive number"))?,
        ),
    };

    let event_types = match resource
        .get("Metadata")
        .and_then(|metadata| metadata.get("EventTypes"))
    {
        None => None,
        Some(value) => {
            let types = value
                .as_sequence()
                .filter(|types| !types.is_empty())
                .and_then(|types| {
                    types
                        .iter()
                        .map(|t| t.as_str().map(str::to_owned))
                        .collect::<Option<Vec<_>>>()
                })
                .ok_or_else(|| invalid("Metadata.EventTypes must be a non-empty list of CloudEvent types"))?;
            Some(types)
        }
    };

    let delivery_batch = match resource
        .get("Metadata")
        .and_then(|metadata| metadata.get("DeliveryBatch"))
    {
        None => None,
        Some(value) => {
            let problem = format!(
                "Metadata.DeliveryBatch must be {{Size: 1 to {MAX_DELIVERY_BATCH_SIZE}, \
                 WindowMs: 0 to {MAX_DELIVERY_BATCH_WINDOW_MS} (optional)}}"
            );
            let size = number(value.get("Size")).filter(|size| (1..=MAX_DELIVERY_BATCH_SIZE).contains(size));
            let window_ms = match value.get("WindowMs") {
                None => Some(0),
                Some(window) => number(Some(window)).filter(|window| *window <= MAX_DELIVERY_BATCH_WINDOW_MS),
            };
            let known = value.as_mapping().is_some_and(|fields| {
                fields
                    .keys()
                    .all(|key| matches!(key.as_str(), Some("Size" | "WindowMs")))
            });
            match (size, window_ms, known) {
                (Some(size), Some(window_ms), true) => Some(DeliveryBatch { size, window_ms }),
                _ => return Err(invalid(&problem)),
            }
        }
    };

    let mut spec = FunctionSpec {
        logical_id: logical_id.clone(),
        name,
        context,
        routes: Vec::new(),
        subscriptions: Vec::new(),
        schedules: Vec::new(),
        environment: environment.literal,
        intrinsic_environment: environment.intrinsic.into_iter().collect(),
        timeout_seconds: number(setting("Timeout"))
            .or(globals.timeout_seconds)
            .unwrap_or(SAM_DEFAULT_TIMEOUT_SECONDS),
        memory_mb: number(setting("MemorySize"))
            .or(globals.memory_mb)
            .unwrap_or(SAM_DEFAULT_MEMORY_MB),
        container_concurrency,
        event_types,
        delivery_batch,
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

/// A literal whole number; `None` for anything else (an intrinsic, text, a fraction).
/// The largest `Metadata.DeliveryBatch.Size`: a batch is one HTTP request and one transaction.
pub const MAX_DELIVERY_BATCH_SIZE: u32 = 1000;
/// The longest `Metadata.DeliveryBatch.WindowMs`: ten seconds.
pub const MAX_DELIVERY_BATCH_WINDOW_MS: u32 = 10_000;

fn number(value: Option<&Value>) -> Option<u32> {
    value?.as_u64().and_then(|number| u32::try_from(number).ok())
}

/// `CorsConfiguration` with literal lists; an intrinsic list reads as empty.
/// The CORS lists; a list given as `!Ref` to a parameter (a `CommaDelimitedList` such as the
/// storefront's origins) takes the parameter's default, which deployments override.
fn cors_settings(configuration: &Value, parameters: Option<&Value>) -> Cors {
    let list = |key: &str| -> Vec<String> {
        match configuration.get(key) {
            Some(Value::Sequence(items)) => items.iter().filter_map(literal).collect(),
            Some(Value::Tagged(tagged)) if tagged.tag == "Ref" => tagged
                .value
                .as_str()
                .and_then(|name| parameters?.get(name)?.get("Default"))
                .and_then(literal)
                .map(|default| {
                    default
                        .split(',')
                        .map(str::trim)
                        .filter(|item| !item.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    };
    Cors {
        allow_origins: list("AllowOrigins"),
        allow_methods: list("AllowMethods"),
        allow_headers: list("AllowHeaders"),
    }
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
Globals:
  Function:
    Timeout: 10
    MemorySize: 256
    Environment:
      Variables:
        RUST_LOG: info
        STAGE: !Ref Stage
Resources:
  HttpApi:
    Type: AWS::Serverless::HttpApi
    Properties:
      CorsConfiguration:
        AllowOrigins: ["*"]
        AllowHeaders: [authorization]
        AllowMethods: [GET, POST]
  PlaceOrderFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: rust-cargolambda
      BuildProperties: {Binary: place-order}
      Knative: {ContainerConcurrency: 8}
    Properties:
      Timeout: 60
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
        assert_eq!(
            place_order.intrinsic_environment,
            ["DATABASE_URL", "STAGE"],
            "the names of variables set with intrinsics are kept, from Globals too"
        );
        assert_eq!(place_order.timeout_seconds, 60, "the function's own timeout wins");
        assert_eq!(
            place_order.memory_mb, 256,
            "Globals fill in what the function leaves out"
        );
        assert_eq!(place_order.container_concurrency, Some(8));

        let reserve_stock = registry.function("reserve-stock").expect("declared");
        assert_eq!(reserve_stock.timeout_seconds, 10);
        assert_eq!(reserve_stock.container_concurrency, None);
        assert_eq!(
            reserve_stock.environment.get("RUST_LOG").map(String::as_str),
            Some("info"),
            "a global literal reaches every function"
        );
        assert_eq!(
            registry.cors,
            Some(Cors {
                allow_origins: vec!["*".to_owned()],
                allow_methods: vec!["GET".to_owned(), "POST".to_owned()],
                allow_headers: vec!["authorization".to_owned()],
            })
        );
        assert_eq!(
            reserve_stock.subscriptions,
            [Subscription {
                topic: "commerce.ordering.order".to_owned(),
                consumer_group: Some("reserve-stock".to_owned())
            }]
        );
    }

    #[test]
    fn cors_origins_from_a_parameter_take_its_default() {
        let registry = Registry::parse(
            r#"
Parameters:
  StorefrontOrigins:
    Type: CommaDelimitedList
    Default: "https://shop.example, http://localhost:5173"
Resources:
  HttpApi:
    Type: AWS::Serverless::HttpApi
    Properties:
      CorsConfiguration:
        AllowOrigins: !Ref StorefrontOrigins
        AllowMethods: [GET]
"#,
        )
        .expect("valid");
        let cors = registry.cors.expect("declared");
        assert_eq!(
            cors.allow_origins,
            ["https://shop.example", "http://localhost:5173"]
        );
        assert_eq!(cors.allow_methods, ["GET"]);
    }

    #[test]
    fn a_function_variable_replaces_a_global_one_of_either_kind() {
        let registry = Registry::parse(
            r#"
Globals:
  Function:
    Environment: {Variables: {RUST_LOG: info, REGION: !Ref AWS::Region}}
Resources:
  F:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: f}}
    Properties:
      Environment: {Variables: {RUST_LOG: !Ref LogLevel, REGION: eu-central-1}}
"#,
        )
        .expect("valid");
        let function = registry.function("f").expect("declared");
        assert_eq!(function.intrinsic_environment, ["RUST_LOG"]);
        assert_eq!(
            function.environment.get("REGION").map(String::as_str),
            Some("eu-central-1")
        );
        assert!(!function.environment.contains_key("RUST_LOG"));
        assert_eq!(function.timeout_seconds, SAM_DEFAULT_TIMEOUT_SECONDS);
        assert_eq!(function.memory_mb, SAM_DEFAULT_MEMORY_MB);
    }

    #[test]
    fn a_container_concurrency_that_is_not_a_positive_number_is_refused() {
        for hint in ["0", "many", "-2"] {
            let text = format!(
                "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Metadata:\n      \
                 BuildProperties: {{Binary: f}}\n      Knative: {{ContainerConcurrency: {hint}}}\n"
            );
            let error = Registry::parse(&text).expect_err(hint);
            assert!(error.to_string().contains("ContainerConcurrency"), "{error}");
        }
    }

    #[test]
    fn a_delivery_batch_is_read_from_the_metadata_and_must_be_sensible() {
        let text = |batch: &str| {
            format!(
                "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Metadata:\n      \
                 BuildProperties: {{Binary: f}}\n      DeliveryBatch: {batch}\n"
            )
        };
        let batch = |text: &str| {
            Registry::parse(text)
                .expect("valid")
                .function("f")
                .and_then(|f| f.delivery_batch)
        };
        assert_eq!(
            batch(&text("{Size: 50, WindowMs: 100}")),
            Some(DeliveryBatch {
                size: 50,
                window_ms: 100
            })
        );
        assert_eq!(
            batch(&text("{Size: 20}")),
            Some(DeliveryBatch {
                size: 20,
                window_ms: 0
            })
        );
        for bad in [
            "{Size: 0}",
            "{Size: 1001}",
            "{Size: many}",
            "{WindowMs: 10}",
            "{Size: 5, WindowMs: 10001}",
            "{Size: 5, Window: 10}",
            "50",
        ] {
            let error = Registry::parse(&text(bad)).expect_err(bad);
            assert!(
                error.to_string().contains("Metadata.DeliveryBatch"),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn the_event_types_a_function_reads_come_from_its_metadata_and_must_be_a_list_of_names() {
        let registry = Registry::parse(
            "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Metadata:\n      \
             BuildProperties: {Binary: f}\n      EventTypes: [commerce.a.b.c.v1, commerce.a.b.d.v1]\n  \
             G:\n    Type: AWS::Serverless::Function\n    Metadata: {BuildProperties: {Binary: g}}\n",
        )
        .expect("valid");
        assert_eq!(
            registry.function("f").and_then(|f| f.event_types.clone()),
            Some(vec![
                "commerce.a.b.c.v1".to_owned(),
                "commerce.a.b.d.v1".to_owned()
            ])
        );
        assert_eq!(registry.function("g").and_then(|g| g.event_types.clone()), None);
        assert_eq!(registry.function("g").and_then(|g| g.delivery_batch), None);
        for types in ["[]", "commerce.a.b.c.v1", "[{a: b}]"] {
            let text = format!(
                "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Metadata:\n      \
                 BuildProperties: {{Binary: f}}\n      EventTypes: {types}\n"
            );
            let error = Registry::parse(&text).expect_err(types);
            assert!(error.to_string().contains("Metadata.EventTypes"), "{error}");
        }
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
