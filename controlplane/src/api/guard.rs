//! Browser-facing guards in front of every route.
//!
//! - **421 Misdirected Request** when the Host header names none of the
//!   addresses the API listens on (for a wildcard listener: any address of
//!   this host), nor `localhost`, nor an `[api] hostnames` entry: a
//!   DNS-rebinding page reaches us under its own name and is turned away.
//! - **415 Unsupported Media Type** for a write whose body is not JSON
//!   (`application/json`, parameters such as `charset` allowed, or a
//!   `+json` type): a web page can POST `text/plain` without a CORS
//!   preflight, but not `application/json`.

use super::error::ApiError;
use super::ApiState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::{IpAddr, SocketAddr, UdpSocket};

/// Which Host header values the API accepts.
#[derive(Debug, Clone)]
pub struct HostPolicy {
    listen: IpAddr,
    names: Vec<String>,
}

impl Default for HostPolicy {
    fn default() -> Self {
        HostPolicy::new(IpAddr::from([127, 0, 0, 1]), &[])
    }
}

impl HostPolicy {
    /// Accepts the listen address (any local address when it is unspecified),
    /// `localhost` and `names` (case-insensitive, a trailing dot ignored).
    pub fn new(listen: IpAddr, names: &[String]) -> HostPolicy {
        let mut names: Vec<String> = names.iter().map(|n| normalise(n)).collect();
        names.push("localhost".into());
        HostPolicy { listen, names }
    }

    /// True when `host` (a Host header value, with or without a port) is acceptable.
    pub fn allows(&self, host: &str) -> bool {
        let name = strip_port(host);
        if let Ok(ip) = name.parse::<IpAddr>() {
            return ip == self.listen || (self.listen.is_unspecified() && is_local_address(ip));
        }
        let name = normalise(name);
        self.names.contains(&name)
    }
}

fn normalise(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// `host:port`, `[v6]:port`, `[v6]`, `v6` or `host` → the host part.
fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        // A bare IPv6 address has several colons and no brackets.
        Some((h, port)) if !h.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

/// True when `ip` is an address of this host (binding a socket to it succeeds).
fn is_local_address(ip: IpAddr) -> bool {
    ip.is_loopback() || UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

/// The host the request names: the Host header, else the URI authority (HTTP/2).
fn request_host(req: &Request) -> Option<String> {
    if let Some(h) = req.headers().get(header::HOST) {
        return h.to_str().ok().map(str::to_owned);
    }
    req.uri().authority().map(|a| a.as_str().to_owned())
}

/// True for a request that writes and must therefore carry a JSON body.
fn needs_json(method: &Method, headers: &HeaderMap) -> bool {
    let has_body = headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0");
    *method == Method::POST
        || *method == Method::PUT
        || *method == Method::PATCH
        || (*method == Method::DELETE && has_body)
}

/// True when the Content-Type is `application/json` (or `application/<x>+json`).
pub fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    let Some((kind, sub)) = essence.split_once('/') else {
        return false;
    };
    let sub = sub.to_ascii_lowercase();
    kind.eq_ignore_ascii_case("application") && (sub == "json" || sub.ends_with("+json"))
}

fn reject(req: &Request, err: ApiError) -> Response {
    tracing::info!(method = %req.method(), path = req.uri().path(), status = err.status.as_u16(), "api: request refused");
    if req.uri().path().starts_with("/skydns/") {
        err.into_text_response()
    } else {
        err.into_response()
    }
}

/// Middleware: 421 for a foreign Host, 415 for a write without a JSON body.
pub async fn guard(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    let host_ok = request_host(&req).is_some_and(|h| state.hosts.allows(&h));
    if !host_ok {
        let err = ApiError::new(
            StatusCode::MISDIRECTED_REQUEST,
            "the Host header names neither this server nor an [api] hostnames entry",
        );
        return reject(&req, err);
    }
    if needs_json(req.method(), req.headers()) && !is_json(req.headers()) {
        let err = ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "writes need Content-Type: application/json",
        );
        return reject(&req, err);
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        let p = HostPolicy::new("127.0.0.1".parse().unwrap(), &["DNS.Example.".into()]);
        for ok in [
            "127.0.0.1:9001",
            "127.0.0.1",
            "localhost:9001",
            "LOCALHOST",
            "dns.example:9001",
        ] {
            assert!(p.allows(ok), "{ok}");
        }
        for bad in ["evil.example:9001", "127.0.0.2:9001", "[::1]:9001", ""] {
            assert!(!p.allows(bad), "{bad}");
        }
        let any = HostPolicy::new("0.0.0.0".parse().unwrap(), &[]);
        assert!(any.allows("127.0.0.1:9001") && any.allows("[::1]:9001") && any.allows("::1"));
        assert!(
            !any.allows("192.0.2.77:9001"),
            "TEST-NET address is not ours"
        );
        assert!(!any.allows("attacker.example"));
    }

    #[test]
    fn json_media_types() {
        let with = |ct: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, ct.parse().unwrap());
            is_json(&h)
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=UTF-8"));
        assert!(with("application/merge-patch+json"));
        assert!(!with("text/plain"));
        assert!(!with("text/plain; charset=application/json"));
        assert!(!with("application/x-www-form-urlencoded"));
        assert!(!is_json(&HeaderMap::new()));
        let mut h = HeaderMap::new();
        assert!(needs_json(&Method::POST, &h));
        assert!(!needs_json(&Method::DELETE, &h));
        assert!(!needs_json(&Method::GET, &h));
        h.insert(header::CONTENT_LENGTH, "12".parse().unwrap());
        assert!(needs_json(&Method::DELETE, &h));
    }
}
