//! Who sent a request: the client's address, as far as the proxies the function trusts can
//! tell, for the login history and for every limit kept per address.
//!
//! A function never sees its clients directly. On the local stack the gateway is in front of
//! it, in Knative the ingress, under Lambda API Gateway. Each proxy appends the address of
//! whoever connected to it to `X-Forwarded-For`, so the list reads from the farthest hop to
//! the nearest: `client-written entries…, what proxy 1 saw, …, what proxy N saw`. Only the
//! entries appended by proxies of our own can be believed; anything to their left was sent by
//! the client and may say anything. With `TRUSTED_PROXY_HOPS = N` the client is therefore the
//! N-th entry from the right, and a client that sends its own header only adds entries that
//! are never read.
//!
//! Under Lambda, API Gateway says it directly (`requestContext.http.sourceIp`, the peer of its
//! TCP connection), and that is used instead of the header. With no trusted proxy at all
//! (`TRUSTED_PROXY_HOPS = 0`) the address is the connection's peer.
//!
//! Limits key IPv6 clients by their /64 network: one customer line gets a whole /64, so a
//! limit per single IPv6 address could be escaped by counting through it.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use lambda_http::request::RequestContext;
use runtime::envelope::ApiError;

/// How many proxies of our own stand between the client and the function, each appending to
/// `X-Forwarded-For`. The local gateway is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedProxies {
    hops: usize,
}

impl TrustedProxies {
    pub const fn hops(hops: usize) -> Self {
        Self { hops }
    }

    /// `TRUSTED_PROXY_HOPS`, 1 unless set.
    pub fn from_env() -> anyhow::Result<Self> {
        Ok(Self::hops(runtime::config::parsed_or("TRUSTED_PROXY_HOPS", 1)?))
    }
}

/// The client's address, or unknown when the trusted proxies did not say.
///
/// As an extractor it needs [`TrustedProxies`] in the request extensions
/// (`.layer(Extension(trusted))`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(Option<IpAddr>);

impl ClientAddress {
    pub const fn unknown() -> Self {
        Self(None)
    }

    pub fn ip(&self) -> Option<IpAddr> {
        self.0
    }

    /// The address as the login history stores it.
    pub fn for_history(&self) -> String {
        self.0.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
    }

    /// What limits per address count: an IPv4 address, or the /64 network of an IPv6 one.
    pub fn limit_subject(&self) -> String {
        match self.0 {
            Some(IpAddr::V4(ip)) => ip.to_string(),
            Some(IpAddr::V6(ip)) => {
                let network = u128::from(ip) & (u128::MAX << 64);
                format!("{}/64", Ipv6Addr::from(network))
            }
            None => "unknown".to_owned(),
        }
    }

    /// Decides the client's address from what the request carries.
    ///
    /// - `gateway_source_ip`: what API Gateway reported, when the function runs under Lambda;
    ///   it wins over everything else.
    /// - `forwarded_for`: the `X-Forwarded-For` header lines, in order.
    /// - `peer`: the address of the connection, when the server knows it.
    ///
    /// With fewer entries than trusted hops the request did not come through all of our
    /// proxies, and no entry can be believed: the peer is used if there is one.
    pub fn resolve(
        trusted: TrustedProxies,
        gateway_source_ip: Option<&str>,
        forwarded_for: &[&str],
        peer: Option<IpAddr>,
    ) -> Self {
        if let Some(ip) = gateway_source_ip.and_then(parse_entry) {
            return Self(Some(ip));
        }
        if trusted.hops == 0 {
            return Self(peer.map(|ip| ip.to_canonical()));
        }
        let entries: Vec<&str> = forwarded_for
            .iter()
            .flat_map(|line| line.split(','))
            .map(str::trim)
            .collect();
        match entries.len().checked_sub(trusted.hops) {
            Some(index) => Self(parse_entry(entries[index])),
            None => Self(peer.map(|ip| ip.to_canonical())),
        }
    }

    fn from_parts(parts: &Parts, trusted: TrustedProxies) -> Self {
        let gateway_source_ip = parts.extensions.get::<RequestContext>().and_then(source_ip_of);
        let forwarded_for = forwarded_for_lines(&parts.headers);
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(address)| address.ip());
        Self::resolve(trusted, gateway_source_ip, &forwarded_for, peer)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(trusted) = parts.extensions.get::<TrustedProxies>().copied() else {
            return Err(ApiError::internal(&anyhow::anyhow!(
                "no TrustedProxies in the request extensions; add .layer(Extension(trusted)) to the router"
            )));
        };
        Ok(Self::from_parts(parts, trusted))
    }
}

/// The source address API Gateway reports for the request (HTTP API or REST API).
fn source_ip_of(context: &RequestContext) -> Option<&str> {
    match context {
        RequestContext::ApiGatewayV2(context) => context.http.source_ip.as_deref(),
        RequestContext::ApiGatewayV1(context) => context.identity.source_ip.as_deref(),
        _ => None,
    }
}

fn forwarded_for_lines(headers: &HeaderMap) -> Vec<&str> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect()
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:5678`,
/// `[2001:db8::1]:443`). Anything else (`unknown`, garbage) is no address.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    let ip = entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|address| address.ip()))
        .or_else(|| {
            entry
                .strip_prefix('[')
                .and_then(|rest| rest.strip_suffix(']'))
                .and_then(|inner| inner.parse::<IpAddr>().ok())
        })?;
    // An IPv4 client seen through an IPv6 socket (`::ffff:1.2.3.4`) is that IPv4 client.
    Some(ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE_PROXY: TrustedProxies = TrustedProxies::hops(1);

    fn resolved(trusted: TrustedProxies, lines: &[&str]) -> String {
        ClientAddress::resolve(trusted, None, lines, None).for_history()
    }

    #[test]
    fn behind_one_proxy_the_client_is_the_entry_that_proxy_appended() {
        assert_eq!(resolved(ONE_PROXY, &["198.51.100.7"]), "198.51.100.7");
        assert_eq!(
            resolved(ONE_PROXY, &["6.6.6.6, 7.7.7.7, 198.51.100.7"]),
            "198.51.100.7",
            "entries the client wrote itself are never read"
        );
    }

    #[test]
    fn header_lines_are_read_as_one_list_in_order() {
        assert_eq!(resolved(ONE_PROXY, &["6.6.6.6", "198.51.100.7"]), "198.51.100.7");
        assert_eq!(
            resolved(TrustedProxies::hops(2), &["6.6.6.6, 198.51.100.7", "10.0.0.2"]),
            "198.51.100.7"
        );
    }

    #[test]
    fn fewer_entries_than_trusted_hops_fall_back_to_the_peer_or_unknown() {
        let peer = Some("192.0.2.1".parse().expect("ip"));
        let two = TrustedProxies::hops(2);
        assert_eq!(
            ClientAddress::resolve(two, None, &["6.6.6.6"], peer).for_history(),
            "192.0.2.1"
        );
        assert_eq!(resolved(two, &["6.6.6.6"]), "unknown");
        assert_eq!(resolved(ONE_PROXY, &[]), "unknown");
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_the_header_says() {
        let peer = Some("192.0.2.1".parse().expect("ip"));
        let address = ClientAddress::resolve(TrustedProxies::hops(0), None, &["6.6.6.6"], peer);
        assert_eq!(address.for_history(), "192.0.2.1");
    }

    #[test]
    fn api_gateways_source_ip_wins_over_the_header() {
        let address = ClientAddress::resolve(ONE_PROXY, Some("203.0.113.5"), &["6.6.6.6"], None);
        assert_eq!(address.for_history(), "203.0.113.5");
    }

    #[test]
    fn entries_with_ports_brackets_or_mapped_addresses_are_read_and_garbage_is_unknown() {
        assert_eq!(resolved(ONE_PROXY, &["198.51.100.7:5123"]), "198.51.100.7");
        assert_eq!(resolved(ONE_PROXY, &["[2001:db8::1]:443"]), "2001:db8::1");
        assert_eq!(resolved(ONE_PROXY, &["[2001:db8::1]"]), "2001:db8::1");
        assert_eq!(resolved(ONE_PROXY, &["::ffff:198.51.100.7"]), "198.51.100.7");
        assert_eq!(resolved(ONE_PROXY, &["unknown"]), "unknown");
        assert_eq!(resolved(ONE_PROXY, &["1.2.3.4, <script>"]), "unknown");
    }

    #[test]
    fn limits_count_ipv4_addresses_and_ipv6_networks() {
        let v4 = ClientAddress::resolve(ONE_PROXY, None, &["198.51.100.7"], None);
        assert_eq!(v4.limit_subject(), "198.51.100.7");
        let first = ClientAddress::resolve(ONE_PROXY, None, &["2001:db8:1:2::1"], None);
        let second = ClientAddress::resolve(ONE_PROXY, None, &["2001:db8:1:2:ffff::9"], None);
        assert_eq!(first.limit_subject(), "2001:db8:1:2::/64");
        assert_eq!(first.limit_subject(), second.limit_subject());
        assert_eq!(ClientAddress::unknown().limit_subject(), "unknown");
    }
}
