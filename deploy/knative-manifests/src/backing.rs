//! The backing services of the k3s overlay: MariaDB, Kafka and Redis, one replica each, with
//! the settings of the local stack (local-stack/docker-compose.yml). They make a single-node
//! trial cluster complete; a production cluster uses operated services instead and an
//! overlay of its own that points at them.

use serde_json::{Value, json};

use crate::cluster::{self, DATA_NAMESPACE, DATA_SECRET, EVENTING_NAMESPACE, MARIADB_PORT};

const MARIADB_IMAGE: &str = "mariadb:10.11";
const KAFKA_IMAGE: &str = "apache/kafka:4.1.1";
const REDIS_IMAGE: &str = "redis:7.0";

/// The server settings binlog CDC needs (docs/adr/0003), checked by the relay at start and by
/// `stackctl check-binlog` in the provisioning job.
const MARIADB_ARGUMENTS: &[&str] = &[
    "--server-id=1",
    "--log-bin=mariadb-bin",
    "--binlog-format=ROW",
    "--binlog-row-image=FULL",
    "--binlog-row-metadata=FULL",
    "--binlog-checksum=CRC32",
    "--log-bin-compress=OFF",
    "--sync-binlog=1",
    "--innodb-flush-log-at-trx-commit=1",
    "--binlog-expire-logs-seconds=604800",
    "--character-set-server=utf8mb4",
    "--collation-server=utf8mb4_unicode_ci",
    "--skip-name-resolve",
];

fn service(name: &str, port: u16) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": DATA_NAMESPACE, "labels": cluster::labels(name, "backing-service")},
        "spec": {
            "selector": {"app.kubernetes.io/name": name},
            "ports": [{"name": name, "port": port, "targetPort": port}],
        },
    })
}

/// A one-replica StatefulSet with a volume of `storage` at `mount`, run as `user`.
fn stateful_set(name: &str, user: u32, storage: &str, mount: &str, container: Value) -> Value {
    let labels = cluster::labels(name, "backing-service");
    let mut container = container;
    container["name"] = json!(name);
    container["volumeMounts"] = json!([{"name": "data", "mountPath": mount}]);
    container["securityContext"] =
        json!({"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}});
    json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": DATA_NAMESPACE, "labels": labels},
        "spec": {
            "replicas": 1,
            "serviceName": name,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "automountServiceAccountToken": false,
                    // Kubernetes would otherwise set KAFKA_PORT and the like for every Service
                    // in the namespace, which Kafka's image reads as broker settings.
                    "enableServiceLinks": false,
                    "securityContext": {"runAsNonRoot": true, "runAsUser": user, "runAsGroup": user, "fsGroup": user, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [container],
                },
            },
            "volumeClaimTemplates": [{
                "metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": storage}}},
            }],
        },
    })
}

fn environment(pairs: &[(&str, &str)]) -> Vec<Value> {
    pairs
        .iter()
        .map(|(name, value)| cluster::literal(name, value))
        .collect()
}

/// The objects, for a MariaDB that must accept `max_connections` sessions at once.
pub fn objects(max_connections: u32) -> Vec<Value> {
    let mut mariadb_arguments: Vec<String> = MARIADB_ARGUMENTS
        .iter()
        .map(|&argument| argument.to_owned())
        .collect();
    mariadb_arguments.push(format!("--max-connections={max_connections}"));
    let kafka_address = cluster::KAFKA_BOOTSTRAP_SERVERS;
    let advertised = format!("PLAINTEXT://{kafka_address}");
    let mut kafka_environment = environment(&[
        // The cluster id of a new data folder: a fixed one, as the node formats it on first start.
        ("CLUSTER_ID", "Y29tbWVyY2Uta2Fma2EtMQ"),
        ("KAFKA_NODE_ID", "1"),
        ("KAFKA_PROCESS_ROLES", "broker,controller"),
        ("KAFKA_CONTROLLER_QUORUM_VOTERS", "1@localhost:9093"),
        (
            "KAFKA_LISTENERS",
            "PLAINTEXT://0.0.0.0:9092,CONTROLLER://localhost:9093",
        ),
        ("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER"),
        (
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
            "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        ),
        ("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false"),
        ("KAFKA_NUM_PARTITIONS", "6"),
        ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "1"),
        ("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1"),
        ("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1"),
        ("KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR", "1"),
        ("KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR", "1"),
        ("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0"),
        ("KAFKA_LOG_RETENTION_HOURS", "168"),
        // A folder below the volume's root, which may hold a lost+found Kafka would refuse.
        ("KAFKA_LOG_DIRS", "/var/lib/kafka/data"),
        ("KAFKA_HEAP_OPTS", "-Xms512m -Xmx512m"),
    ]);
    kafka_environment.push(cluster::literal("KAFKA_ADVERTISED_LISTENERS", &advertised));

    vec![
        json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": DATA_NAMESPACE, "labels": cluster::labels(DATA_NAMESPACE, "namespace")},
        }),
        json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "platform-only", "namespace": DATA_NAMESPACE, "labels": cluster::labels("platform-only", "network-policy")},
            "spec": {
                "podSelector": {},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [
                    {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": cluster::NAMESPACE}}},
                    // The Kafka sources' dispatchers and the dead-letter sinks' receivers.
                    {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": EVENTING_NAMESPACE}}},
                ]}],
            },
        }),
        stateful_set(
            "mariadb",
            999,
            "10Gi",
            "/var/lib/mysql",
            json!({
                "image": MARIADB_IMAGE,
                "args": mariadb_arguments,
                "env": [cluster::from_secret("MARIADB_ROOT_PASSWORD", DATA_SECRET, "mariadb-root-password")],
                "ports": [{"containerPort": MARIADB_PORT, "name": "mariadb"}],
                "readinessProbe": {"tcpSocket": {"port": MARIADB_PORT}, "periodSeconds": 5},
                "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
            }),
        ),
        service("mariadb", MARIADB_PORT),
        stateful_set(
            "kafka",
            1000,
            "10Gi",
            "/var/lib/kafka",
            json!({
                "image": KAFKA_IMAGE,
                "env": kafka_environment,
                "ports": [{"containerPort": 9092, "name": "kafka"}],
                "readinessProbe": {"tcpSocket": {"port": 9092}, "periodSeconds": 5},
                "resources": {"requests": {"cpu": "250m", "memory": "768Mi"}, "limits": {"memory": "1Gi"}},
            }),
        ),
        service("kafka", 9092),
        stateful_set(
            "redis",
            999,
            "1Gi",
            "/data",
            json!({
                "image": REDIS_IMAGE,
                "args": ["redis-server", "--appendonly", "yes", "--appendfsync", "everysec"],
                "ports": [{"containerPort": 6379, "name": "redis"}],
                "readinessProbe": {"tcpSocket": {"port": 6379}, "periodSeconds": 5},
                "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
            }),
        ),
        service("redis", 6379),
    ]
}
