//! Safe by default: a generated token when none is configured, JSON-only
//! writes (415), Host checks against DNS rebinding (421), `auth = "none"`
//! only on loopback, slow-header clients cut off, the connection limit.

mod api_common;

use api_common::{TestServer, TOKEN};
use skylane_controlplane::api::{ApiConfig, AuthMode};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const BODY: &str = r#"{"type":"A","ips":["10.9.0.1"]}"#;

fn open_cfg(auth: AuthMode) -> ApiConfig {
    ApiConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        auth,
        ..ApiConfig::default()
    }
}

/// One raw HTTP/1.1 exchange (so the test controls every header); returns the status.
fn raw(s: &TestServer, request: &str) -> u16 {
    let mut c = TcpStream::connect_timeout(&s.addr(), Duration::from_secs(20)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    c.write_all(request.as_bytes()).unwrap();
    let mut text = String::new();
    let _ = c.read_to_string(&mut text);
    text.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {text:?}"))
}

fn post(host: &str, path: &str, content_type: &str, token: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{BODY}",
        BODY.len()
    )
}

#[test]
fn no_configured_token_means_a_generated_one() {
    let s = TestServer::start_with(open_cfg(AuthMode::Token));
    let file = s.data_dir().join("api-token");
    let token = std::fs::read_to_string(&file).unwrap().trim().to_string();
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&file).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(s.call("POST", "/v1/records/web", Some(BODY), None).0, 401);
    assert_eq!(
        s.call("POST", "/v1/records/web", Some(BODY), Some("guess"))
            .0,
        403
    );
    assert!(s.keys().is_empty());
    assert_eq!(
        s.call("POST", "/v1/records/web", Some(BODY), Some(&token))
            .0,
        200
    );
    assert_eq!(s.keys().len(), 1);
}

#[test]
fn auth_none_is_explicit_and_loopback_only() {
    let s = TestServer::start_with(open_cfg(AuthMode::None));
    assert_eq!(s.call("POST", "/v1/records/web", Some(BODY), None).0, 200);
    assert!(!s.data_dir().join("api-token").exists());
    let wild = ApiConfig {
        listen: "0.0.0.0:0".parse().unwrap(),
        auth: AuthMode::None,
        ..ApiConfig::default()
    };
    let err = wild.validate().unwrap_err().to_string();
    assert!(err.contains("loopback"), "{err}");
}

#[test]
fn browser_style_writes_are_refused() {
    let s = TestServer::start();
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ] {
        let (status, text) =
            s.call_typed("POST", "/v1/records/web", Some(BODY), Some(TOKEN), Some(ct));
        assert_eq!(status, 415, "{ct}: {text}");
        let (status, text) = s.call_typed(
            "POST",
            &format!("/skydns/api/web.skydns.local?token={TOKEN}"),
            Some(BODY),
            None,
            Some(ct),
        );
        assert_eq!(status, 415, "{ct}: {text}");
        assert!(text.starts_with("ERR, "), "{text}");
    }
    let (status, _) = s.call_typed("PUT", "/v1/records/web", Some(BODY), Some(TOKEN), None);
    assert_eq!(status, 415);
    let (status, _) = s.call_typed("POST", "/v1/import", Some("[]"), Some(TOKEN), None);
    assert_eq!(status, 415);
    assert!(s.keys().is_empty(), "nothing written");
    let ct = "application/json; charset=UTF-8";
    let (status, text) = s.call_typed("POST", "/v1/records/web", Some(BODY), Some(TOKEN), Some(ct));
    assert_eq!(status, 200, "{text}");
    // A DELETE without a body needs no media type.
    let (status, _) = s.call_typed("DELETE", "/v1/records/web", None, Some(TOKEN), None);
    assert_eq!(status, 200);
}

#[test]
fn foreign_host_headers_are_misdirected() {
    let s = TestServer::start();
    let port = s.addr().port();
    for host in ["evil.example", "evil.example:9001", "127.0.0.2", "[::1]"] {
        let status = raw(
            &s,
            &post(host, "/v1/records/web", "application/json", TOKEN),
        );
        assert_eq!(status, 421, "{host}");
        let status = raw(
            &s,
            &format!("GET /metrics HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
        );
        assert_eq!(status, 421, "{host}");
    }
    assert!(s.keys().is_empty());
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        "LocalHost".to_string(),
    ] {
        let status = raw(
            &s,
            &post(&host, "/v1/records/web", "application/json", TOKEN),
        );
        assert_eq!(status, 200, "{host}");
    }
    let named = TestServer::start_with(ApiConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        token: Some(TOKEN.into()),
        hostnames: vec!["dns-api.example.".into()],
        ..ApiConfig::default()
    });
    let status = raw(
        &named,
        &post(
            "DNS-API.example:9001",
            "/v1/records/web",
            "application/json",
            TOKEN,
        ),
    );
    assert_eq!(status, 200);
}

#[test]
fn slow_header_clients_are_cut_off() {
    let s = TestServer::start();
    let mut c = TcpStream::connect_timeout(&s.addr(), Duration::from_secs(20)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let started = Instant::now();
    c.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .unwrap();
    // Trickle a byte now and then, never finishing the headers.
    let mut buf = [0u8; 512];
    let closed_after = loop {
        if c.write_all(b"a").is_err() {
            break started.elapsed();
        }
        c.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        match c.read(&mut buf) {
            Ok(_) => break started.elapsed(), // the server answered (408) or closed (0)
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break started.elapsed(),
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "still open after 60 s"
        );
    };
    assert!(
        closed_after >= Duration::from_secs(9),
        "cut off too early: {closed_after:?}"
    );
}

#[test]
fn connections_over_the_limit_are_closed() {
    let s = TestServer::start_with(ApiConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        token: Some(TOKEN.into()),
        max_connections: 2,
        ..ApiConfig::default()
    });
    // Two keep-alive connections hold both slots: each has been answered once, so the
    // server has accepted it (accept order across tasks is not connect order).
    let held: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut c = TcpStream::connect_timeout(&s.addr(), Duration::from_secs(20)).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            c.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                .unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 512];
            while !String::from_utf8_lossy(&got).contains("{\"status\":\"ok\"}") {
                let n = c.read(&mut buf).unwrap();
                assert!(
                    n > 0,
                    "held connection closed: {}",
                    String::from_utf8_lossy(&got)
                );
                got.extend_from_slice(&buf[..n]);
            }
            c
        })
        .collect();
    // A third is closed at accept, unanswered.
    let mut c = TcpStream::connect_timeout(&s.addr(), Duration::from_secs(20)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let _ = c.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    let mut text = String::new();
    let _ = c.read_to_string(&mut text);
    assert_eq!(text, "", "a connection over the limit was served");
    drop(held);
    // Slots free again once the server sees the closes: served.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut c = TcpStream::connect_timeout(&s.addr(), Duration::from_secs(20)).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let _ =
            c.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        let mut text = String::new();
        let _ = c.read_to_string(&mut text);
        if text.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not served after the held connections closed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
