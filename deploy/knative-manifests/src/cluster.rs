//! Names and addresses the manifests share: namespaces, the objects that hold configuration
//! and secrets, where Kafka and MariaDB are, and the labels every object carries.
//!
//! The base points at the backing services of the k3s overlay (`commerce-data`); an overlay
//! for another cluster replaces the addresses (see docs/deploy/knative-k3s.md).

use serde_json::{Value, json};

/// The platform's own namespace: functions, the relay, the provisioning jobs.
pub const NAMESPACE: &str = "commerce";

/// Where the k3s overlay runs MariaDB, Kafka and Redis.
pub const DATA_NAMESPACE: &str = "commerce-data";

/// Knative's networking layer (net-kourier); the ingress routes live next to its internal
/// gateway, which they forward to.
pub const KOURIER_NAMESPACE: &str = "kourier-system";

/// Knative's namespaces: the activator and controllers, the sources' dispatchers and adapters.
pub const SERVING_NAMESPACE: &str = "knative-serving";
pub const EVENTING_NAMESPACE: &str = "knative-eventing";

/// Where Prometheus runs; it may scrape the processes' metrics ports.
pub const MONITORING_NAMESPACE: &str = "monitoring";

/// The ConfigMap of non-secret settings (`platform-config.yaml`).
pub const PLATFORM_CONFIG: &str = "commerce-platform";

/// Created by the operator (`deploy/k3s-secrets`), never committed: database URLs
/// (`<context>-url`, `relay-url`, `cdc-url`, `admin-url`) and the context users' password.
pub const DATABASE_SECRET: &str = "commerce-database";

/// Created by the operator: the private signing keys (`signing-keys.json`) and the secret
/// that names the identity limits' Redis keys (`rate-limit-key`).
pub const SIGNING_KEYS_SECRET: &str = "commerce-identity-keys";

/// The fault knobs (docs/adr/0054): `faults.json`, every knob off (`{}`) as generated. An
/// operator switches one with `kubectl edit`/`kubectl apply`; the kubelet rewrites the mounted
/// file and each process rereads it, without a restart.
pub const FAULTS_CONFIG: &str = "commerce-faults";

/// The key of [`FAULTS_CONFIG`] that holds the knobs, and so the file's name in the volume.
pub const FAULTS_KEY: &str = "faults.json";

/// Where [`FAULTS_CONFIG`] is mounted in every process that reads knobs.
pub const FAULTS_DIR: &str = "/etc/commerce/faults";

/// Created by the operator: the public JWKS (`jwks.json`) that verifying functions trust.
pub const JWKS_CONFIG: &str = "commerce-jwks";

/// Created by the operator: Redis (`url`), for the identity rate limits.
pub const REDIS_SECRET: &str = "commerce-redis";

/// Created by the operator for the k3s overlay: MariaDB's root password (`mariadb-root-password`).
pub const DATA_SECRET: &str = "commerce-data";

pub const KAFKA_BOOTSTRAP_SERVERS: &str = "kafka.commerce-data.svc.cluster.local:9092";
pub const MARIADB_HOST: &str = "mariadb.commerce-data.svc.cluster.local";
pub const MARIADB_PORT: u16 = 3306;

/// Copies of every topic; the k3s overlay's single broker lowers it to 1.
pub const REPLICATION_FACTOR: u32 = 3;

/// Consumer groups are `knative.<function>.<topic>`, like the local dispatcher's
/// `local.<function>.<topic>` and apart from the Lambda event source mappings' groups.
pub const CONSUMER_GROUP_PREFIX: &str = "knative";

/// Image names in the base; an overlay's `images:` gives each its registry and tag.
pub fn image(binary: &str) -> String {
    format!("commerce/{binary}")
}

/// The labels every object of the platform carries.
pub fn labels(name: &str, component: &str) -> Value {
    json!({
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": "commerce",
    })
}

/// An environment variable from the platform ConfigMap.
pub fn from_config(variable: &str, key: &str) -> Value {
    json!({"name": variable, "valueFrom": {"configMapKeyRef": {"name": PLATFORM_CONFIG, "key": key}}})
}

/// An environment variable from a Secret.
pub fn from_secret(variable: &str, secret: &str, key: &str) -> Value {
    json!({"name": variable, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}})
}

/// A plain environment variable.
pub fn literal(variable: &str, value: &str) -> Value {
    json!({"name": variable, "value": value})
}

/// A container that runs as the images' non-root user with nothing it does not need.
pub fn restricted_container_security() -> Value {
    json!({
        "allowPrivilegeEscalation": false,
        "readOnlyRootFilesystem": true,
        "runAsNonRoot": true,
        "runAsUser": 65532,
        "runAsGroup": 65532,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    })
}

/// Prometheus's annotation-based discovery: scrape `/metrics` on `port`.
pub fn scrape_annotations(port: u16) -> Value {
    json!({
        "prometheus.io/scrape": "true",
        "prometheus.io/port": port.to_string(),
        "prometheus.io/path": "/metrics",
    })
}

/// The volume of the fault knobs, to list in a pod's `volumes`.
pub fn faults_volume() -> Value {
    json!({"name": "faults", "configMap": {"name": FAULTS_CONFIG}})
}

/// The mount of [`faults_volume`], read-only. The whole volume is mounted, never one key
/// through `subPath`: the kubelet updates a ConfigMap volume by swapping a symbolic link in
/// it, and a `subPath` mount keeps the file it was started with.
pub fn faults_mount() -> Value {
    json!({"name": "faults", "mountPath": FAULTS_DIR, "readOnly": true})
}

/// `FAULTS_FILE`, naming the mounted knobs (the key's link in the volume, which follows
/// the kubelet's updates).
pub fn faults_file() -> Value {
    literal("FAULTS_FILE", &format!("{FAULTS_DIR}/{FAULTS_KEY}"))
}
