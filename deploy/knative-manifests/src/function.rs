//! One Knative `Service` per function of the template: its image, where each environment
//! variable comes from, probes, resources, and how it scales by the kind of function
//! (docs/adr/0032).

use anyhow::{Context as _, bail};
use serde_json::{Value, json};
use template::FunctionSpec;

use crate::cluster::{self, DATABASE_SECRET, JWKS_CONFIG, REDIS_SECRET, SIGNING_KEYS_SECRET};

/// The port Knative gives the container (it sets `PORT` to it).
pub const CONTAINER_PORT: u16 = 8080;

/// What starts a function; it decides where the function may be reached from and how it
/// scales.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// Public routes of the HTTP API, reached through the ingress.
    Http,
    /// Kafka records, delivered by a `KafkaSource` (one record per partition at a time).
    Event,
    /// A timer, delivered by a `PingSource` as `POST /run`.
    Schedule,
}

impl Trigger {
    pub fn of(function: &FunctionSpec) -> anyhow::Result<Self> {
        let kinds = [
            (!function.routes.is_empty(), Self::Http),
            (!function.subscriptions.is_empty(), Self::Event),
            (!function.schedules.is_empty(), Self::Schedule),
        ];
        let mut present = kinds
            .iter()
            .filter(|(present, _)| *present)
            .map(|(_, kind)| *kind);
        match (present.next(), present.next()) {
            (Some(kind), None) => Ok(kind),
            (None, _) => bail!("function {} has no HTTP route, topic or schedule", function.name),
            (Some(_), Some(_)) => bail!(
                "function {} mixes HTTP routes, topics and schedules; each function has one kind of trigger",
                function.name
            ),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Event => "event",
            Self::Schedule => "schedule",
        }
    }
}

/// How many instances run and how much each takes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scaling {
    pub min_scale: u32,
    pub max_scale: u32,
    /// Requests one instance serves at a time (Knative's hard limit).
    pub container_concurrency: u32,
    /// The size of the instance's database pool (`DATABASE_MAX_CONNECTIONS`).
    pub database_connections: u32,
}

/// Requests an HTTP instance serves at once unless the template says otherwise: a handler
/// mostly waits for MariaDB, so many requests share a small pool.
const HTTP_CONCURRENCY: u32 = 50;

/// The largest database pool an instance opens. The k3s overlay's MariaDB accepts every pool
/// at every function's largest scale (`database_connections_at_most`).
const MAX_DATABASE_CONNECTIONS: u32 = 10;

impl Scaling {
    pub fn of(function: &FunctionSpec, trigger: Trigger) -> Self {
        match trigger {
            // Kept warm: a shopper should not wait for a cold start. Up to ten instances.
            Trigger::Http => {
                let concurrency = function.container_concurrency.unwrap_or(HTTP_CONCURRENCY);
                Self {
                    min_scale: 1,
                    max_scale: 10,
                    container_concurrency: concurrency,
                    database_connections: concurrency.min(MAX_DATABASE_CONNECTIONS),
                }
            }
            // Ordered delivery puts at most one record per partition in flight, so one
            // instance can take every partition of its topics; a second covers a rollout or
            // a slow database. Kept warm, because a partition waits behind a cold start.
            Trigger::Event => {
                let in_flight: u32 = function
                    .subscriptions
                    .iter()
                    .map(|subscription| partitions(&subscription.topic))
                    .sum();
                let concurrency = function.container_concurrency.unwrap_or(in_flight.max(1));
                Self {
                    min_scale: 1,
                    max_scale: 2,
                    container_concurrency: concurrency,
                    database_connections: concurrency.min(MAX_DATABASE_CONNECTIONS),
                }
            }
            // One sweep at a time, on a timer: it may wait for a cold start.
            Trigger::Schedule => Self {
                min_scale: 0,
                max_scale: 1,
                container_concurrency: function.container_concurrency.unwrap_or(1),
                database_connections: 2,
            },
        }
    }
}

/// The database pool of one instance of `function` (`DATABASE_MAX_CONNECTIONS`); `None` for a
/// function without a database. The local stack runs one process per function and sizes its
/// pool by this same rule (`stackctl plan`).
pub fn instance_database_connections(function: &FunctionSpec) -> anyhow::Result<Option<u32>> {
    if !has_database(function) {
        return Ok(None);
    }
    Ok(Some(
        Scaling::of(function, Trigger::of(function)?).database_connections,
    ))
}

/// Whether `function` reaches MariaDB: the template gives it a `DATABASE_URL`.
pub fn has_database(function: &FunctionSpec) -> bool {
    function
        .intrinsic_environment
        .iter()
        .any(|name| name == "DATABASE_URL")
}

/// A platform topic's partition count; an unknown topic counts as the platform's default
/// (the template's own test refuses unknown topics).
pub fn partitions(topic: &str) -> u32 {
    let partitions = events::topics::by_name(topic)
        .map(|topic| topic.partitions)
        .unwrap_or(events::topics::DEFAULT_PARTITIONS);
    u32::try_from(partitions).unwrap_or(1)
}

/// The Knative `Service` of `function`.
pub fn service(function: &FunctionSpec) -> anyhow::Result<Value> {
    let trigger = Trigger::of(function)?;
    let scaling = Scaling::of(function, trigger);
    let mut labels = cluster::labels(&function.name, "function");
    labels["commerce/trigger"] = json!(trigger.label());
    if let Some(context) = &function.context {
        labels["commerce/context"] = json!(context);
    }
    let mut service_labels = labels.clone();
    // Every function is reached through Knative's internal gateway only: the event and
    // scheduled ones by their sources, the HTTP ones by the ingress routes (ingress.rs).
    service_labels["networking.knative.dev/visibility"] = json!("cluster-local");

    let mut annotations = cluster::scrape_annotations(CONTAINER_PORT);
    annotations["autoscaling.knative.dev/min-scale"] = json!(scaling.min_scale.to_string());
    annotations["autoscaling.knative.dev/max-scale"] = json!(scaling.max_scale.to_string());

    Ok(json!({
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": function.name, "namespace": cluster::NAMESPACE, "labels": service_labels},
        "spec": {"template": {
            "metadata": {"labels": labels, "annotations": annotations},
            "spec": {
                "containerConcurrency": scaling.container_concurrency,
                "timeoutSeconds": function.timeout_seconds,
                "containers": [{
                    "name": "function",
                    "image": cluster::image(&function.name),
                    "ports": [{"containerPort": CONTAINER_PORT, "name": "http1"}],
                    "env": environment(function)?,
                    "readinessProbe": {"httpGet": {"path": "/readyz"}, "periodSeconds": 10},
                    "livenessProbe": {"httpGet": {"path": "/healthz"}, "periodSeconds": 10, "failureThreshold": 3},
                    "resources": {
                        "requests": {"cpu": "50m", "memory": "64Mi"},
                        "limits": {"memory": format!("{}Mi", function.memory_mb)},
                    },
                    "securityContext": cluster::restricted_container_security(),
                    "volumeMounts": [cluster::faults_mount()],
                }],
                "volumes": [cluster::faults_volume()],
            },
        }},
    }))
}

/// The container's environment, sorted by name: the template's literal values, the
/// cluster's source for every variable the template sets with an intrinsic, and what every
/// container needs here.
fn environment(function: &FunctionSpec) -> anyhow::Result<Vec<Value>> {
    let mut variables: Vec<Value> = function
        .environment
        .iter()
        .map(|(name, value)| cluster::literal(name, value))
        .collect();
    for name in &function.intrinsic_environment {
        variables.push(
            from_cluster(name, function)
                .with_context(|| format!("function {}: variable {name}", function.name))?,
        );
    }
    // The runtime listens on loopback unless told otherwise (docs/adr/0030); in a container
    // the pod's network is the boundary, and the kubelet's liveness probe comes from outside.
    variables.push(cluster::literal("BIND_ADDRESS", "0.0.0.0"));
    // The fault knobs (docs/adr/0054): the runtime's 503s, and the payment gateway's in the
    // functions that call it, follow the mounted ConfigMap.
    variables.push(cluster::faults_file());
    if let Some(connections) = instance_database_connections(function)? {
        variables.push(cluster::literal(
            "DATABASE_MAX_CONNECTIONS",
            &connections.to_string(),
        ));
    }
    variables.sort_by(|left, right| left["name"].as_str().cmp(&right["name"].as_str()));
    if let Some(pair) = variables
        .windows(2)
        .find(|pair| pair[0]["name"] == pair[1]["name"])
    {
        bail!("function {}: {} is set twice", function.name, pair[0]["name"]);
    }
    Ok(variables)
}

/// Where the cluster keeps what AWS fills in for `variable`. Every variable the template sets
/// with an intrinsic must be known here, so a new one cannot be forgotten on Knative.
fn from_cluster(variable: &str, function: &FunctionSpec) -> anyhow::Result<Value> {
    Ok(match variable {
        "DATABASE_URL" => {
            let context = function
                .context
                .as_deref()
                .context("a function with a database needs a `context` tag")?;
            cluster::from_secret(variable, DATABASE_SECRET, &format!("{context}-url"))
        }
        "JWT_ISSUER" | "JWT_AUDIENCE" | "STAGE" => cluster::from_config(variable, variable),
        "JWT_JWKS" => {
            json!({"name": variable, "valueFrom": {"configMapKeyRef": {"name": JWKS_CONFIG, "key": "jwks.json"}}})
        }
        // AWS reads the keys from Secrets Manager at run time; a cluster hands them over as a
        // Secret, which the runtime reads from JWT_SIGNING_KEYS.
        "JWT_SIGNING_KEYS_SECRET_ID" => {
            cluster::from_secret("JWT_SIGNING_KEYS", SIGNING_KEYS_SECRET, "signing-keys.json")
        }
        "REDIS_URL" => cluster::from_secret(variable, REDIS_SECRET, "url"),
        // Inventory's public routes for the cart's availability (docs/adr/0045).
        "INVENTORY_URL" => cluster::from_config(variable, variable),
        // The secret that names the identity limits' Redis keys (docs/adr/0024), kept with
        // the signing keys that `identity-admin init-keys` makes next to it.
        "RATE_LIMIT_HMAC_KEY" => cluster::from_secret(variable, SIGNING_KEYS_SECRET, "rate-limit-key"),
        _ => bail!(
            "template.yaml sets it with an intrinsic, and deploy/knative-manifests does not know where \
             a cluster keeps it; add it to function::from_cluster"
        ),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use template::{Route, Subscription};

    use super::*;

    fn function(name: &str) -> FunctionSpec {
        FunctionSpec {
            logical_id: "F".to_owned(),
            name: name.to_owned(),
            context: Some("ordering".to_owned()),
            routes: Vec::new(),
            subscriptions: Vec::new(),
            schedules: Vec::new(),
            environment: BTreeMap::from([("FUNCTION_NAME".to_owned(), name.to_owned())]),
            intrinsic_environment: vec!["DATABASE_URL".to_owned()],
            timeout_seconds: 10,
            memory_mb: 256,
            container_concurrency: None,
            event_types: None,
            delivery_batch: None,
        }
    }

    fn subscribed(name: &str, topics: &[&str]) -> FunctionSpec {
        let mut spec = function(name);
        spec.subscriptions = topics
            .iter()
            .map(|topic| Subscription {
                topic: (*topic).to_owned(),
                consumer_group: None,
            })
            .collect();
        spec
    }

    fn variable<'a>(service: &'a Value, name: &str) -> &'a Value {
        service["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array()
            .and_then(|variables| variables.iter().find(|variable| variable["name"] == name))
            .unwrap_or(&Value::Null)
    }

    #[test]
    fn an_event_function_takes_one_record_per_partition_of_its_topics_and_stays_warm() {
        let function = subscribed(
            "authorize-payment",
            &["commerce.ordering.order", "commerce.inventory.stock"],
        );
        let scaling = Scaling::of(&function, Trigger::of(&function).expect("one kind"));
        assert_eq!(scaling.container_concurrency, 12);
        assert_eq!(scaling.database_connections, 10);
        assert_eq!(scaling.min_scale, 1);
    }

    #[test]
    fn the_template_can_lower_the_concurrency_of_a_function() {
        let mut login = function("login");
        login.routes.push(Route {
            method: "POST".to_owned(),
            path: "/auth/login".to_owned(),
        });
        assert_eq!(
            Scaling::of(&login, Trigger::Http).container_concurrency,
            HTTP_CONCURRENCY
        );
        login.container_concurrency = Some(8);
        let scaling = Scaling::of(&login, Trigger::Http);
        assert_eq!(
            (scaling.container_concurrency, scaling.database_connections),
            (8, 8)
        );
    }

    #[test]
    fn a_scheduled_function_runs_one_sweep_at_a_time_and_may_scale_to_zero() {
        let mut sweep = function("expire-orders");
        sweep.schedules.push("rate(1 minute)".to_owned());
        let scaling = Scaling::of(&sweep, Trigger::of(&sweep).expect("one kind"));
        assert_eq!(
            (
                scaling.min_scale,
                scaling.max_scale,
                scaling.container_concurrency
            ),
            (0, 1, 1)
        );
    }

    #[test]
    fn a_function_with_two_kinds_of_trigger_or_none_is_refused() {
        let mut both = subscribed("both", &["commerce.ordering.order"]);
        both.schedules.push("rate(1 minute)".to_owned());
        assert!(Trigger::of(&both).is_err());
        assert!(Trigger::of(&function("none")).is_err());
    }

    #[test]
    fn every_container_listens_on_all_addresses_and_reads_its_database_from_its_contexts_secret() {
        let service = service(&subscribed("confirm-order", &["commerce.payment.payment"])).expect("valid");
        assert_eq!(variable(&service, "BIND_ADDRESS")["value"], "0.0.0.0");
        assert_eq!(
            variable(&service, "DATABASE_URL")["valueFrom"]["secretKeyRef"],
            json!({"name": DATABASE_SECRET, "key": "ordering-url"})
        );
        assert_eq!(variable(&service, "DATABASE_MAX_CONNECTIONS")["value"], "6");
        assert_eq!(variable(&service, "FUNCTION_NAME")["value"], "confirm-order");
        assert_eq!(
            service["metadata"]["labels"]["networking.knative.dev/visibility"],
            "cluster-local"
        );
    }

    #[test]
    fn every_function_follows_the_fault_knobs_from_the_whole_mounted_config_map() {
        let service = service(&subscribed("reserve-stock", &["commerce.ordering.order"])).expect("valid");
        let pod = &service["spec"]["template"]["spec"];
        assert_eq!(
            pod["volumes"],
            json!([{"name": "faults", "configMap": {"name": cluster::FAULTS_CONFIG}}])
        );
        let mounts = &pod["containers"][0]["volumeMounts"];
        assert_eq!(
            mounts,
            &json!([{"name": "faults", "mountPath": "/etc/commerce/faults", "readOnly": true}])
        );
        // A subPath mount would never see the kubelet's updates.
        assert_eq!(mounts[0]["subPath"], Value::Null);
        assert_eq!(
            variable(&service, "FAULTS_FILE")["value"],
            "/etc/commerce/faults/faults.json"
        );
    }

    #[test]
    fn signing_keys_read_from_secrets_manager_on_aws_come_from_a_secret_here() {
        let mut login = function("login");
        login.routes.push(Route {
            method: "POST".to_owned(),
            path: "/auth/login".to_owned(),
        });
        login
            .intrinsic_environment
            .push("JWT_SIGNING_KEYS_SECRET_ID".to_owned());
        let service = service(&login).expect("valid");
        assert_eq!(variable(&service, "JWT_SIGNING_KEYS_SECRET_ID"), &Value::Null);
        assert_eq!(
            variable(&service, "JWT_SIGNING_KEYS")["valueFrom"]["secretKeyRef"]["name"],
            SIGNING_KEYS_SECRET
        );
    }

    #[test]
    fn an_intrinsic_variable_the_cluster_has_no_source_for_is_refused_by_name() {
        let mut function = subscribed("confirm-order", &["commerce.payment.payment"]);
        function.intrinsic_environment.push("PAYMENT_API_KEY".to_owned());
        let error = service(&function).expect_err("unknown variable");
        assert!(
            format!("{error:#}").contains("variable PAYMENT_API_KEY"),
            "{error:#}"
        );
    }
}
