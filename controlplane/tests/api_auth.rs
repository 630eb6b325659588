//! Bearer / `?token=` authentication: 401 without credentials, 403 with wrong
//! ones, and nothing written either way.

mod api_common;

use api_common::{TestServer, TOKEN};
use serde_json::Value;

const BODY: &str = r#"{"type":"A","ips":["10.9.0.1"]}"#;

#[test]
fn v1_needs_the_bearer_token() {
    let s = TestServer::start();
    for (method, path, body) in [
        ("PUT", "/v1/records/web", Some(BODY)),
        ("POST", "/v1/records/web", Some(BODY)),
        ("DELETE", "/v1/records/web", None),
        ("GET", "/v1/records/web", None),
        ("GET", "/v1/records", None),
        ("PUT", "/v1/status/10.9.0.1", Some(r#"{"status":"DOWN"}"#)),
        (
            "POST",
            "/v1/import",
            Some(r#"[{"name":"x","type":"A","ips":["10.9.0.2"]}]"#),
        ),
        ("GET", "/v1/stats", None),
    ] {
        let (status, text) = s.call(method, path, body, None);
        assert_eq!(status, 401, "{method} {path}: {text}");
        let err: Value = serde_json::from_str(&text).unwrap();
        assert!(err["error"].as_str().unwrap().contains("Bearer"));
        let (status, _) = s.call(method, path, body, Some("wrong-token"));
        assert_eq!(status, 403, "{method} {path}");
        let (status, _) = s.call(method, path, body, Some(&TOKEN[..TOKEN.len() - 1]));
        assert_eq!(status, 403, "a prefix of the token is wrong too");
        // The query-string token is not accepted on /v1.
        let (status, _) = s.call(method, &format!("{path}?token={TOKEN}"), body, None);
        assert!(
            status == 401 || status == 400,
            "{method} {path}?token=: {status}"
        );
    }
    assert!(s.keys().is_empty(), "nothing written: {:?}", s.keys());
    // The right token works.
    let (status, _) = s.call("PUT", "/v1/records/web", Some(BODY), Some(TOKEN));
    assert_eq!(status, 200);
}

#[test]
fn compat_routes_take_query_or_bearer_tokens() {
    let s = TestServer::start();
    let path = "/skydns/api/cctv2.skydns.local";
    let (status, text) = s.call("POST", path, Some(BODY), None);
    assert_eq!((status, text.starts_with("ERR, ")), (401, true), "{text}");
    let (status, text) = s.call("POST", &format!("{path}?token=nope"), Some(BODY), None);
    assert_eq!((status, text.starts_with("ERR, ")), (403, true), "{text}");
    let (status, _) = s.call("POST", path, Some(BODY), Some("nope"));
    assert_eq!(status, 403);
    assert!(s.keys().is_empty());
    let (status, text) = s.call("POST", &format!("{path}?token={TOKEN}"), Some(BODY), None);
    assert_eq!((status, text.as_str()), (200, "OK"));
    let (status, text) = s.call(
        "POST",
        path,
        Some(r#"{"type":"A","ips":["10.9.0.3"]}"#),
        Some(TOKEN),
    );
    assert_eq!((status, text.as_str()), (200, "OK"));
    assert_eq!(s.keys().len(), 2);
}

#[test]
fn probes_and_docs_are_open() {
    let s = TestServer::start();
    for path in ["/health", "/metrics", "/v1/openapi.json"] {
        let (status, text) = s.call("GET", path, None, None);
        assert_eq!(status, 200, "{path}: {text}");
    }
    s.wait_ready();
    let (status, _) = s.call("GET", "/ready", None, None);
    assert_eq!(status, 200);
}
