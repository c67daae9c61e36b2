//! The local stack's HTTP gateway: what API Gateway's HTTP API does in AWS and the ingress
//! does on Knative. The storefront talks to one port; every route declared in
//! `template.yaml` (`HttpApi` events) is forwarded to the function that owns it, which listens
//! on its own port.
//!
//! It is a plain reverse proxy: method, path, query, headers and body go through unchanged,
//! except hop-by-hop headers, and the function's answer comes back as it is. Unknown routes
//! get the platform's 404 envelope; a function that is down gets `502 FUNCTION_UNAVAILABLE`.
//!
//! [`scheduler`] is the same kind of stand-in for EventBridge schedules (`local-scheduler`).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on};
use runtime::envelope::ApiError;

pub mod scheduler;

/// The largest request body the gateway forwards.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// One route and where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub method: String,
    pub path: String,
    pub function: String,
    /// The function's base URL, e.g. `http://127.0.0.1:8101`.
    pub base_url: String,
}

/// The routes of `registry`, with the functions at `host` on their local ports.
pub fn targets(registry: &template::Registry, host: &str, base_port: u16) -> Vec<Target> {
    registry
        .local_ports(base_port)
        .into_iter()
        .flat_map(|(function, port)| {
            function.routes.iter().map(move |route| Target {
                method: route.method.clone(),
                path: route.path.clone(),
                function: function.name.clone(),
                base_url: format!("http://{host}:{port}"),
            })
        })
        .collect()
}

struct Upstream {
    function: String,
    base_url: String,
    client: reqwest::Client,
}

/// The gateway's routes (without health and metrics, which `runtime::http::HttpFunction` adds).
pub fn router(targets: &[Target]) -> anyhow::Result<Router> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let mut router = Router::new();
    for target in targets {
        let filter = method_filter(&target.method)?;
        let upstream = Arc::new(Upstream {
            function: target.function.clone(),
            base_url: target.base_url.clone(),
            client: client.clone(),
        });
        router = router.route(&target.path, on(filter, forward).with_state(upstream));
    }
    Ok(router)
}

fn method_filter(method: &str) -> anyhow::Result<MethodFilter> {
    Ok(match method {
        "GET" => MethodFilter::GET,
        "POST" => MethodFilter::POST,
        "PUT" => MethodFilter::PUT,
        "PATCH" => MethodFilter::PATCH,
        "DELETE" => MethodFilter::DELETE,
        "HEAD" => MethodFilter::HEAD,
        "OPTIONS" => MethodFilter::OPTIONS,
        "ANY" => MethodFilter::GET
            .or(MethodFilter::POST)
            .or(MethodFilter::PUT)
            .or(MethodFilter::PATCH)
            .or(MethodFilter::DELETE),
        other => anyhow::bail!("unsupported HTTP method {other} in template.yaml"),
    })
}

/// Headers that describe one connection, not the request, and must not be forwarded.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "host",
    "content-length",
];

async fn forward(State(upstream): State<Arc<Upstream>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "BODY_TOO_LARGE",
            "The body is larger than the gateway forwards.",
        )
        .into_response();
    };
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|value| value.as_str())
        .unwrap_or("/");
    let mut outgoing = upstream.client.request(
        parts.method.clone(),
        format!("{}{path_and_query}", upstream.base_url),
    );
    for (name, value) in &parts.headers {
        if !is_hop_by_hop(name) {
            outgoing = outgoing.header(name, value);
        }
    }
    match outgoing.body(body).send().await {
        Ok(answer) => {
            let mut response = Response::builder().status(answer.status());
            for (name, value) in answer.headers() {
                if !is_hop_by_hop(name) {
                    response = response.header(name, value);
                }
            }
            let bytes = answer.bytes().await.unwrap_or_default();
            response
                .body(Body::from(bytes))
                .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
        }
        Err(error) => {
            tracing::warn!(function = %upstream.function, %error, "Function unreachable");
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "FUNCTION_UNAVAILABLE",
                format!("The function {} did not answer.", upstream.function),
            )
            .into_response()
        }
    }
}

fn is_hop_by_hop(name: &HeaderName) -> bool {
    HOP_BY_HOP.contains(&name.as_str())
}
