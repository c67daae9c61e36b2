//! The local stack's HTTP gateway: what API Gateway's HTTP API does in AWS and the ingress
//! does on Knative. The storefront talks to one port; every route declared in
//! `template.yaml` (`HttpApi` events) is forwarded to the function that owns it, which listens
//! on its own port.
//!
//! It is a plain reverse proxy: method, path, query, headers and body go through unchanged,
//! except hop-by-hop headers, and the function's answer comes back as it is. Unknown routes
//! get the platform's 404 envelope; a function that is down gets `502 FUNCTION_UNAVAILABLE`.
//!
//! Like API Gateway and every ingress, it appends the address of whoever connected to it to
//! `X-Forwarded-For`. Functions that need the client's address (login's limits) read the
//! entry their trusted proxies appended, so what a client writes in the header itself is
//! never taken for its address (docs/adr/0023). The gateway learns the peer's address from
//! `ConnectInfo<SocketAddr>`, which the server must provide
//! (`into_make_service_with_connect_info`, as the `local-gateway` binary does); without it
//! every client is forwarded as `unknown`, never as what it claims.
//!
//! It also serves the API's OpenAPI document at [`OPENAPI_PATH`] ([`openapi_router`]): the
//! file `openapi-document` generates from the functions' code (docs/adr/0052).
//!
//! [`storefront`] serves the built web shop under `/shop/`, and [`cors`] answers browsers on
//! the origins `CORS_ALLOWED_ORIGINS` lists. [`prometheus`] lets admins read the local
//! Prometheus (two read-only query calls) for the storefront's metrics page.
//!
//! [`scheduler`] is the same kind of stand-in for EventBridge schedules (`local-scheduler`).

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Once};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on};
use runtime::envelope::ApiError;

pub mod cors;
pub mod prometheus;
pub mod scheduler;
pub mod storefront;

/// Where the gateway serves the API's OpenAPI document.
pub const OPENAPI_PATH: &str = "/openapi.json";

/// `GET /openapi.json`: `document` (the JSON of `docs/api/openapi.json`) as it is. Browsers
/// revalidate it on every load, so a regenerated document shows at once.
pub fn openapi_router(document: Vec<u8>) -> Router {
    let document = axum::body::Bytes::from(document);
    Router::new().route(
        OPENAPI_PATH,
        axum::routing::get(move || {
            let document = document.clone();
            async move {
                (
                    [
                        (axum::http::header::CONTENT_TYPE, "application/json"),
                        (axum::http::header::CACHE_CONTROL, "no-cache"),
                    ],
                    document,
                )
            }
        }),
    )
}

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
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip());
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
        if !is_hop_by_hop(name) && name != X_FORWARDED_FOR {
            outgoing = outgoing.header(name, value);
        }
    }
    outgoing = outgoing.header(X_FORWARDED_FOR, forwarded_for(&parts.headers, peer));
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

const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The `X-Forwarded-For` to send on: the entries the request came with, in order, and then
/// the address of the peer that connected to the gateway — the only entry the gateway vouches
/// for. Without a known peer it appends `unknown`, so the last entry is never the client's
/// own claim.
pub fn forwarded_for(headers: &HeaderMap, peer: Option<IpAddr>) -> HeaderValue {
    static PEER_UNKNOWN: Once = Once::new();
    let peer = match peer {
        Some(ip) => ip.to_string(),
        None => {
            PEER_UNKNOWN.call_once(|| {
                tracing::error!(
                    "The gateway is not told its clients' addresses (serve it with connect info); \
                     forwarding every client as unknown"
                );
            });
            "unknown".to_owned()
        }
    };
    let mut list: Vec<u8> = Vec::new();
    for line in headers.get_all(X_FORWARDED_FOR) {
        if !line.as_bytes().iter().all(u8::is_ascii_whitespace) {
            list.extend_from_slice(line.as_bytes());
            list.extend_from_slice(b", ");
        }
    }
    list.extend_from_slice(peer.as_bytes());
    HeaderValue::from_bytes(&list)
        .unwrap_or_else(|_| HeaderValue::from_str(&peer).unwrap_or(HeaderValue::from_static("unknown")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_forwarded_for(lines: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(X_FORWARDED_FOR, HeaderValue::from_static(line));
        }
        headers
    }

    #[test]
    fn the_peer_is_appended_after_whatever_the_client_sent() {
        let peer = Some("192.0.2.44".parse().expect("ip"));
        assert_eq!(forwarded_for(&HeaderMap::new(), peer), "192.0.2.44");
        assert_eq!(
            forwarded_for(&with_forwarded_for(&["6.6.6.6"]), peer),
            "6.6.6.6, 192.0.2.44"
        );
        assert_eq!(
            forwarded_for(&with_forwarded_for(&["6.6.6.6, 7.7.7.7", "8.8.8.8"]), peer),
            "6.6.6.6, 7.7.7.7, 8.8.8.8, 192.0.2.44"
        );
    }

    #[test]
    fn without_a_known_peer_the_last_entry_is_unknown_not_the_clients_claim() {
        assert_eq!(
            forwarded_for(&with_forwarded_for(&["6.6.6.6"]), None),
            "6.6.6.6, unknown"
        );
    }
}
