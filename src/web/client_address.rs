//! Who is asking: the address of the connection's other end, or, when that is one of
//! `TRUSTED_PROXIES`, the address the proxies say they forwarded for.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use super::SharedApp;

/// The client's address, for limits kept per client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

impl FromRequestParts<SharedApp> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &SharedApp,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(client_of(
            peer_of(&parts.extensions),
            &parts.headers,
            &app.trusted_proxies,
        )))
    }
}

/// The address of the connection's other end.
pub fn peer_of(extensions: &axum::http::Extensions) -> IpAddr {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(peer)| {
            peer.ip()
        })
}

/// Whether a trusted proxy says the client reached it over HTTPS (`X-Forwarded-Proto`, the
/// value the nearest proxy wrote, last); a client's own claim counts for nothing.
pub fn forwarded_https(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> bool {
    trusted.contains(&peer)
        && headers
            .get_all("x-forwarded-proto")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .next_back()
            .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

/// Walks `X-Forwarded-For` from the right (the entry the nearest proxy added) past the
/// trusted proxies; whatever a client wrote further left is its own claim, not trusted.
fn client_of(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|entry| entry.trim().parse::<IpAddr>())
        .collect::<Result<_, _>>()
        .unwrap_or_default();
    forwarded
        .into_iter()
        .rev()
        .find(|address| !trusted.contains(address))
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(forwarded_for: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in forwarded_for {
            headers.append("x-forwarded-for", value.parse().unwrap());
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn https_is_taken_from_a_trusted_proxy_only() {
        let mut proto = HeaderMap::new();
        proto.append("x-forwarded-proto", "https".parse().unwrap());
        let proxy = ip("127.0.0.1");
        assert!(forwarded_https(proxy, &proto, &[proxy]));
        assert!(!forwarded_https(ip("198.51.100.7"), &proto, &[proxy]));
        assert!(!forwarded_https(proxy, &HeaderMap::new(), &[proxy]));
        proto.append("x-forwarded-proto", "http".parse().unwrap());
        assert!(
            !forwarded_https(proxy, &proto, &[proxy]),
            "the nearest proxy's word counts"
        );
    }

    #[test]
    fn a_client_not_behind_a_trusted_proxy_is_its_connection_whatever_it_claims() {
        let claimed = headers(&["203.0.113.9"]);
        assert_eq!(
            client_of(ip("198.51.100.7"), &claimed, &[]),
            ip("198.51.100.7")
        );
        let proxies = [ip("10.0.0.1")];
        assert_eq!(
            client_of(ip("198.51.100.7"), &claimed, &proxies),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn behind_trusted_proxies_the_client_is_the_nearest_untrusted_forwarded_address() {
        let proxies = [ip("10.0.0.1"), ip("10.0.0.2")];
        let chain = headers(&["1.1.1.1, 203.0.113.9", "10.0.0.2"]);
        assert_eq!(
            client_of(ip("10.0.0.1"), &chain, &proxies),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_of(ip("10.0.0.1"), &headers(&[]), &proxies),
            ip("10.0.0.1")
        );
        let garbled = headers(&["not an address"]);
        assert_eq!(
            client_of(ip("10.0.0.1"), &garbled, &proxies),
            ip("10.0.0.1")
        );
    }
}
