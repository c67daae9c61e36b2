//! What runs beside the functions: the namespace and its settings, the outbox relay, and the
//! jobs that provision MariaDB and Kafka (docs/adr/0033).

use serde_json::{Value, json};

use crate::cluster::{
    self, DATABASE_SECRET, FAULTS_CONFIG, FAULTS_KEY, KAFKA_BOOTSTRAP_SERVERS, MARIADB_HOST, MARIADB_PORT,
    PLATFORM_CONFIG, REPLICATION_FACTOR,
};

/// The relay's `/metrics` and `/healthz`, as on a laptop.
pub const RELAY_PORT: u16 = 9465;

pub fn namespace() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": cluster::NAMESPACE, "labels": cluster::labels(cluster::NAMESPACE, "namespace")},
    })
}

/// The settings that are not secret. An overlay for another cluster replaces the addresses.
pub fn config() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": PLATFORM_CONFIG, "namespace": cluster::NAMESPACE, "labels": cluster::labels(PLATFORM_CONFIG, "config")},
        "data": {
            "KAFKA_BOOTSTRAP_SERVERS": KAFKA_BOOTSTRAP_SERVERS,
            "KAFKA_REPLICATION_FACTOR": REPLICATION_FACTOR.to_string(),
            "MARIADB_HOST": MARIADB_HOST,
            "MARIADB_PORT": MARIADB_PORT.to_string(),
            "JWT_ISSUER": "https://identity.commerce.example",
            "JWT_AUDIENCE": "commerce",
            "STAGE": "dev",
            // Where the cart asks inventory's availability: the function that serves it.
            "INVENTORY_URL": format!("http://get-availability.{}.svc.cluster.local", cluster::NAMESPACE),
            // Unique among the replicas of the MariaDB server the relay streams from.
            "RELAY_SERVER_ID": "4242",
        },
    })
}

/// The fault knobs, all off (docs/adr/0054). Mounted into every function and the relay;
/// `kubectl edit configmap commerce-faults` switches one on within the kubelet's sync
/// period, without a restart. Applying the manifests again turns them all off.
pub fn faults() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": FAULTS_CONFIG, "namespace": cluster::NAMESPACE, "labels": cluster::labels(FAULTS_CONFIG, "config")},
        "data": {FAULTS_KEY: "{}\n"},
    })
}

fn pod_security() -> Value {
    json!({"runAsNonRoot": true, "runAsUser": 65532, "runAsGroup": 65532, "seccompProfile": {"type": "RuntimeDefault"}})
}

/// The outbox relay: one replica and no standby. A second relay would be safe (it waits for
/// the first one's MariaDB lock), but Kubernetes restarts a failed relay within seconds and
/// a rollout starts the new relay before stopping the old, which then hands the lock over.
pub fn relay() -> Vec<Value> {
    let name = "outbox-relay";
    let labels = cluster::labels(name, "relay");
    let deployment = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": cluster::NAMESPACE, "labels": labels},
        "spec": {
            "replicas": 1,
            "revisionHistoryLimit": 3,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            // The new relay starts, waits for the lock, and takes over when the old one stops.
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": labels, "annotations": cluster::scrape_annotations(RELAY_PORT)},
                "spec": {
                    "automountServiceAccountToken": false,
                    "enableServiceLinks": false,
                    // It stores its delivered position on the way out.
                    "terminationGracePeriodSeconds": 60,
                    "securityContext": pod_security(),
                    "containers": [{
                        "name": name,
                        "image": cluster::image(name),
                        "env": [
                            cluster::literal("BIND_ADDRESS", "0.0.0.0"),
                            cluster::from_secret("CDC_DATABASE_URL", DATABASE_SECRET, "cdc-url"),
                            // relay.paused and relay.delayMs.
                            cluster::faults_file(),
                            cluster::from_config("KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS"),
                            cluster::literal("PORT", &RELAY_PORT.to_string()),
                            cluster::from_secret("RELAY_DATABASE_URL", DATABASE_SECRET, "relay-url"),
                            cluster::from_config("RELAY_SERVER_ID", "RELAY_SERVER_ID"),
                            cluster::literal("RUST_LOG", "info"),
                        ],
                        "ports": [{"containerPort": RELAY_PORT, "name": "metrics"}],
                        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "metrics"}, "periodSeconds": 10, "failureThreshold": 3},
                        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "metrics"}, "periodSeconds": 10},
                        "resources": {
                            "requests": {"cpu": "100m", "memory": "64Mi"},
                            "limits": {"memory": "512Mi"},
                        },
                        "securityContext": cluster::restricted_container_security(),
                        "volumeMounts": [cluster::faults_mount()],
                    }],
                    "volumes": [cluster::faults_volume()],
                },
            },
        },
    });
    let service = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": cluster::NAMESPACE, "labels": labels},
        "spec": {
            "selector": {"app.kubernetes.io/name": name},
            "ports": [{"name": "metrics", "port": RELAY_PORT, "targetPort": "metrics"}],
        },
    });
    vec![deployment, service]
}

/// A job of `stackctl` (the provisioning tool of the local stack, in an image of its own):
/// idempotent, so it is safe to run on every deploy. It is removed ten minutes after it
/// finishes, so the next `kubectl apply` creates it again rather than failing on a changed,
/// immutable job.
fn stackctl_job(name: &str, init: Option<Value>, main: Value) -> Value {
    let labels = cluster::labels(name, "provisioning");
    let mut spec = json!({
        "restartPolicy": "OnFailure",
        "automountServiceAccountToken": false,
        "enableServiceLinks": false,
        "securityContext": pod_security(),
        "containers": [main],
    });
    if let Some(init) = init {
        spec["initContainers"] = json!([init]);
    }
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": cluster::NAMESPACE, "labels": labels},
        "spec": {
            "backoffLimit": 20,
            "ttlSecondsAfterFinished": 600,
            "template": {"metadata": {"labels": labels}, "spec": spec},
        },
    })
}

fn stackctl(name: &str, arguments: &[&str], env: Vec<Value>) -> Value {
    json!({
        "name": name,
        "image": cluster::image("stackctl"),
        "args": arguments,
        "env": env,
        "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
        "securityContext": cluster::restricted_container_security(),
    })
}

/// Provisioning: each context's schema and least-privilege user, the relay's and the CDC
/// user with their grants, every migration (`migrations/` in the image), then the check of
/// the binlog settings the relay needs.
pub fn jobs() -> Vec<Value> {
    let database = || {
        vec![
            cluster::from_config("MARIADB_HOST", "MARIADB_HOST"),
            cluster::from_config("MARIADB_PORT", "MARIADB_PORT"),
            cluster::from_secret("STACK_CONTEXT_PASSWORD", DATABASE_SECRET, "context-password"),
            cluster::from_secret("STACK_MARIADB_ADMIN_URL", DATABASE_SECRET, "admin-url"),
        ]
    };
    vec![
        stackctl_job(
            "commerce-provision-mariadb",
            Some(stackctl(
                "provision",
                &["provision", "--migrations", "/migrations"],
                database(),
            )),
            stackctl("check-binlog", &["check-binlog"], database()),
        ),
        stackctl_job(
            "commerce-provision-topics",
            None,
            stackctl(
                "topics",
                &["topics", "--replication-factor", "$(KAFKA_REPLICATION_FACTOR)"],
                vec![
                    cluster::from_config("KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS"),
                    cluster::from_config("KAFKA_REPLICATION_FACTOR", "KAFKA_REPLICATION_FACTOR"),
                ],
            ),
        ),
    ]
}
