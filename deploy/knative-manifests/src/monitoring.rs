//! Prometheus for the k3s overlay, with the same alert rules as the local stack
//! (docs/adr/0053): the rules file is read from `local-stack/observability` when this crate is
//! built, so the committed manifests and the locally tested rules cannot drift apart.
//!
//! It scrapes the platform's pods by their `prometheus.io/*` annotations, and it gives them
//! the labels the rules group by: `job` (`functions`, or the pod's name such as
//! `outbox-relay`), `function` and `context`. Functions and the relay accept Prometheus from
//! the `monitoring` namespace only on their metrics ports (see [`crate::network`]).

use serde_json::{Value, json};

use crate::cluster::{self, MONITORING_NAMESPACE};
use crate::yaml;

/// The alert rules, exactly as `promtool test rules` checks them.
pub const RULES: &str =
    include_str!("../../../local-stack/observability/prometheus/rules/commerce.rules.yml");

/// The image, the Prometheus release the rules are tested with (Debian 12's `prometheus`).
const PROMETHEUS_IMAGE: &str = "prom/prometheus:v2.42.0";
const PROMETHEUS_PORT: u16 = 9090;
const NAME: &str = "prometheus";

/// Prometheus's configuration: pods of the platform's namespace that ask to be scraped.
pub fn scrape_config() -> Value {
    let label = |name: &str| format!("__meta_kubernetes_pod_label_{name}");
    let annotation = |name: &str| format!("__meta_kubernetes_pod_annotation_{name}");
    json!({
        "global": {"scrape_interval": "15s", "scrape_timeout": "10s", "evaluation_interval": "15s"},
        "rule_files": ["/etc/prometheus/commerce.rules.yml"],
        "scrape_configs": [{
            "job_name": "commerce",
            "kubernetes_sd_configs": [{"role": "pod", "namespaces": {"names": [cluster::NAMESPACE]}}],
            "relabel_configs": [
                {"source_labels": [annotation("prometheus_io_scrape")], "regex": "true", "action": "keep"},
                {"source_labels": ["__meta_kubernetes_pod_phase"], "regex": "Running", "action": "keep"},
                // One target per pod, on the port its annotation names.
                {
                    "source_labels": ["__meta_kubernetes_pod_ip", annotation("prometheus_io_port")],
                    "regex": "(.+);(.+)",
                    "replacement": "$1:$2",
                    "target_label": "__address__",
                },
                {"source_labels": [annotation("prometheus_io_path")], "regex": "(.+)", "target_label": "__metrics_path__"},
                // The labels the rules group by, as the local stack sets them.
                {"source_labels": [label("app_kubernetes_io_name")], "target_label": "job"},
                {
                    "source_labels": [label("app_kubernetes_io_component"), label("app_kubernetes_io_name")],
                    "regex": "function;(.+)",
                    "replacement": "$1",
                    "target_label": "function",
                },
                {
                    "source_labels": [label("app_kubernetes_io_component")],
                    "regex": "function",
                    "replacement": "functions",
                    "target_label": "job",
                },
                {"source_labels": [label("commerce_context")], "regex": "(.+)", "target_label": "context"},
                // A pod is one target, whichever of its containers' ports discovery started from.
                {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
            ],
        }],
    })
}

/// The `monitoring` namespace, Prometheus with the platform's rules, and what it may read.
pub fn objects() -> anyhow::Result<Vec<Value>> {
    let labels = cluster::labels(NAME, "monitoring");
    let config = yaml::document_text(&scrape_config())?;
    Ok(vec![
        json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": MONITORING_NAMESPACE, "labels": cluster::labels(MONITORING_NAMESPACE, "namespace")},
        }),
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": NAME, "namespace": MONITORING_NAMESPACE, "labels": labels},
            "data": {"prometheus.yml": config, "commerce.rules.yml": RULES},
        }),
        json!({
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": NAME, "namespace": MONITORING_NAMESPACE, "labels": labels},
        }),
        // Pod discovery in the platform's namespace only.
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "prometheus-discovery", "namespace": cluster::NAMESPACE, "labels": labels},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}],
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "prometheus-discovery", "namespace": cluster::NAMESPACE, "labels": labels},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "prometheus-discovery"},
            "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": MONITORING_NAMESPACE}],
        }),
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": NAME, "namespace": MONITORING_NAMESPACE, "labels": labels},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app.kubernetes.io/name": NAME}},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "serviceAccountName": NAME,
                        "securityContext": {"runAsNonRoot": true, "runAsUser": 65534, "runAsGroup": 65534, "fsGroup": 65534, "seccompProfile": {"type": "RuntimeDefault"}},
                        "containers": [{
                            "name": NAME,
                            "image": PROMETHEUS_IMAGE,
                            "args": [
                                "--config.file=/etc/prometheus/prometheus.yml",
                                "--storage.tsdb.path=/prometheus",
                                "--storage.tsdb.retention.time=7d",
                            ],
                            "ports": [{"containerPort": PROMETHEUS_PORT, "name": "http"}],
                            "readinessProbe": {"httpGet": {"path": "/-/ready", "port": PROMETHEUS_PORT}, "periodSeconds": 10},
                            "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
                            "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"]}},
                            "volumeMounts": [
                                {"name": "config", "mountPath": "/etc/prometheus", "readOnly": true},
                                {"name": "data", "mountPath": "/prometheus"},
                            ],
                        }],
                        "volumes": [
                            {"name": "config", "configMap": {"name": NAME}},
                            {"name": "data", "emptyDir": {}},
                        ],
                    },
                },
            },
        }),
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": NAME, "namespace": MONITORING_NAMESPACE, "labels": labels},
            "spec": {"selector": {"app.kubernetes.io/name": NAME}, "ports": [{"name": "http", "port": PROMETHEUS_PORT, "targetPort": PROMETHEUS_PORT}]},
        }),
    ])
}
