//! The HTTP API's one way in: a Traefik `IngressRoute` (k3s ships Traefik) with a rule per
//! template route, by method and path like API Gateway's HTTP API, forwarding to Knative's
//! internal gateway with the function's cluster-local host name (docs/adr/0032).
//!
//! Every function is cluster-local, so Kourier's internal gateway routes by `Host` only.
//! A route's middleware sets `Host` to `<function>.commerce.svc.cluster.local`; the client
//! cannot choose it, so only the template's HTTP routes are reachable from outside.

use serde_json::{Value, json};
use template::{FunctionSpec, Registry, Route};

use crate::cluster::{self, KOURIER_NAMESPACE};

/// The Service of Kourier's internal gateway (net-kourier), port 80.
const KOURIER_INTERNAL: &str = "kourier-internal";

const CORS_MIDDLEWARE: &str = "commerce-cors";

/// The route object and its middlewares.
pub fn objects(registry: &Registry) -> Vec<Value> {
    let mut objects = Vec::new();
    let mut routes: Vec<(&Route, &FunctionSpec)> = Vec::new();
    for function in &registry.functions {
        if function.routes.is_empty() {
            continue;
        }
        objects.push(host_middleware(function));
        routes.extend(function.routes.iter().map(|route| (route, function)));
    }
    routes.sort_by(|left, right| (&left.0.path, &left.0.method).cmp(&(&right.0.path, &right.0.method)));

    let mut rules: Vec<Value> = routes
        .iter()
        .map(|(route, function)| {
            let mut middlewares = Vec::new();
            if registry.cors.is_some() {
                middlewares.push(json!({"name": CORS_MIDDLEWARE}));
            }
            middlewares.push(json!({"name": host_middleware_name(function)}));
            json!({
                "kind": "Rule",
                "match": rule(route),
                "middlewares": middlewares,
                "services": [{"name": KOURIER_INTERNAL, "port": 80}],
            })
        })
        .collect();
    if let Some(cors) = &registry.cors {
        // Browsers ask first with OPTIONS; the CORS middleware answers it without
        // forwarding, so the preflight needs a rule of its own.
        rules.push(json!({
            "kind": "Rule",
            "match": "Method(`OPTIONS`)",
            "middlewares": [{"name": CORS_MIDDLEWARE}],
            "services": [{"name": KOURIER_INTERNAL, "port": 80}],
        }));
        objects.insert(
            0,
            json!({
                "apiVersion": "traefik.io/v1alpha1",
                "kind": "Middleware",
                "metadata": {"name": CORS_MIDDLEWARE, "namespace": KOURIER_NAMESPACE, "labels": cluster::labels(CORS_MIDDLEWARE, "ingress")},
                "spec": {"headers": {
                    "accessControlAllowOriginList": cors.allow_origins,
                    "accessControlAllowMethods": cors.allow_methods,
                    "accessControlAllowHeaders": cors.allow_headers,
                    "accessControlMaxAge": 600,
                    "addVaryHeader": true,
                }},
            }),
        );
    }
    objects.insert(
        0,
        json!({
            "apiVersion": "traefik.io/v1alpha1",
            "kind": "IngressRoute",
            "metadata": {"name": "commerce-api", "namespace": KOURIER_NAMESPACE, "labels": cluster::labels("commerce-api", "ingress")},
            "spec": {"entryPoints": ["web", "websecure"], "routes": rules},
        }),
    );
    objects
}

fn host_middleware_name(function: &FunctionSpec) -> String {
    format!("commerce-host-{}", function.name)
}

fn host_middleware(function: &FunctionSpec) -> Value {
    let name = host_middleware_name(function);
    json!({
        "apiVersion": "traefik.io/v1alpha1",
        "kind": "Middleware",
        "metadata": {"name": name, "namespace": KOURIER_NAMESPACE, "labels": cluster::labels(&name, "ingress")},
        "spec": {"headers": {"customRequestHeaders": {
            "Host": format!("{}.{}.svc.cluster.local", function.name, cluster::NAMESPACE),
        }}},
    })
}

/// Traefik v3's rule for a template route: the method, and the path exactly or, with
/// `{parameters}`, as a regular expression where a parameter is one path segment (a greedy
/// `{name+}` is the rest of the path).
pub fn rule(route: &Route) -> String {
    let method = format!("Method(`{}`)", route.method);
    if !route.path.contains('{') {
        return format!("{method} && Path(`{}`)", route.path);
    }
    let pattern: Vec<String> = route
        .path
        .split('/')
        .map(
            |segment| match segment.strip_prefix('{').and_then(|rest| rest.strip_suffix('}')) {
                Some(parameter) if parameter.ends_with('+') => ".+".to_owned(),
                Some(_) => "[^/]+".to_owned(),
                None => escape(segment),
            },
        )
        .collect();
    format!("{method} && PathRegexp(`^{}$`)", pattern.join("/"))
}

fn escape(literal: &str) -> String {
    let mut escaped = String::with_capacity(literal.len());
    for character in literal.chars() {
        if "\\.+*?()|[]{}^$".contains(character) {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: &str, path: &str) -> Route {
        Route {
            method: method.to_owned(),
            path: path.to_owned(),
        }
    }

    #[test]
    fn a_route_matches_its_method_and_its_path_with_parameters_as_one_segment() {
        assert_eq!(
            rule(&route("POST", "/orders")),
            "Method(`POST`) && Path(`/orders`)"
        );
        assert_eq!(
            rule(&route("POST", "/orders/{id}/cancel")),
            "Method(`POST`) && PathRegexp(`^/orders/[^/]+/cancel$`)"
        );
        assert_eq!(
            rule(&route("GET", "/.well-known/{file}")),
            "Method(`GET`) && PathRegexp(`^/\\.well-known/[^/]+$`)"
        );
        assert_eq!(
            rule(&route("GET", "/files/{path+}")),
            "Method(`GET`) && PathRegexp(`^/files/.+$`)"
        );
    }
}
