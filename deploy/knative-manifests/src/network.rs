//! Who may reach what (docs/adr/0030, docs/adr/0032).
//!
//! A function is reached through Knative's internal gateway (Kourier), and from there through
//! the activator or directly; the function's pod never sees who asked the gateway. So the
//! boundary is drawn twice: the function pods accept traffic only from Knative's data plane
//! (and Prometheus on the metrics port), and Kourier's gateway accepts traffic only from the
//! callers the platform intends: the Kafka source dispatchers and the PingSource adapter
//! (Knative Eventing's namespace), Traefik (the HTTP routes, which set the host themselves),
//! Knative Serving's own components, and the one function that reads another context over
//! HTTP: `manage-cart` asks `get-availability` (docs/adr/0045).

use serde_json::{Value, json};

use crate::cluster::{self, EVENTING_NAMESPACE, KOURIER_NAMESPACE, MONITORING_NAMESPACE, SERVING_NAMESPACE};
use crate::function::CONTAINER_PORT;
use crate::platform::RELAY_PORT;

/// The function whose pods call inventory's `get-availability` through Kourier (the cart's
/// availability, docs/adr/0045).
const AVAILABILITY_READER: &str = "manage-cart";

/// A peer: every pod of a namespace.
fn namespace(name: &str) -> Value {
    json!({"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}})
}

fn policy(name: &str, namespace_name: &str, pods: Value, ingress: Value) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace_name, "labels": cluster::labels(name, "network-policy")},
        "spec": {"podSelector": pods, "policyTypes": ["Ingress"], "ingress": ingress},
    })
}

pub fn policies() -> Vec<Value> {
    vec![
        policy(
            "functions-from-knative-only",
            cluster::NAMESPACE,
            json!({"matchLabels": {"app.kubernetes.io/component": "function"}}),
            json!([
                {"from": [namespace(SERVING_NAMESPACE), namespace(KOURIER_NAMESPACE)]},
                {"from": [namespace(MONITORING_NAMESPACE)], "ports": [{"protocol": "TCP", "port": CONTAINER_PORT}]},
            ]),
        ),
        policy(
            "outbox-relay-metrics-only",
            cluster::NAMESPACE,
            json!({"matchLabels": {"app.kubernetes.io/name": "outbox-relay"}}),
            json!([
                {"from": [namespace(MONITORING_NAMESPACE)], "ports": [{"protocol": "TCP", "port": RELAY_PORT}]},
            ]),
        ),
        policy(
            "provisioning-jobs-accept-nothing",
            cluster::NAMESPACE,
            json!({"matchLabels": {"app.kubernetes.io/component": "provisioning"}}),
            json!([]),
        ),
        policy(
            "kourier-gateway-from-platform-callers",
            KOURIER_NAMESPACE,
            json!({"matchLabels": {"app": "3scale-kourier-gateway"}}),
            json!([{"from": [
                namespace(EVENTING_NAMESPACE),
                namespace(SERVING_NAMESPACE),
                {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "traefik"}},
                },
                {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": cluster::NAMESPACE}},
                    "podSelector": {"matchLabels": {"app.kubernetes.io/name": AVAILABILITY_READER}},
                },
            ]}]),
        ),
    ]
}
