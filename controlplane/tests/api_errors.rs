//! Every bad input gets a 4xx naming the field, and nothing is written.

mod api_common;

use api_common::TestServer;
use serde_json::Value;

#[test]
fn bad_bodies_name_the_field_and_write_nothing() {
    let s = TestServer::start();
    // A name that exists, so that partial writes would show.
    s.json(
        "PUT",
        "/v1/records/web",
        Some(r#"{"type":"A","ips":["10.0.0.1"]}"#),
        200,
    );
    let before = s.keys();
    let cases: &[(&str, &str, &str, u16, &str)] = &[
        (
            "PUT",
            "/v1/records/web",
            r#"{"type":"A","ips":["10.0.0.1"]"#,
            400,
            "body",
        ),
        ("PUT", "/v1/records/web", "", 400, "body"),
        ("PUT", "/v1/records/web", "[1,2]", 400, "[0]"),
        (
            "PUT",
            "/v1/records/web",
            r#"{"type":"NAPTR","ips":["10.0.0.1"]}"#,
            400,
            "type",
        ),
        (
            "PUT",
            "/v1/records/web",
            r#"{"ips":["10.0.0.1"]}"#,
            400,
            "type",
        ),
        (
            "PUT",
            "/v1/records/web",
            r#"{"type":"A","ips":["10.0.0.2","10.0.0.256"]}"#,
            400,
            "ips[1]",
        ),
        (
            "POST",
            "/v1/records/web",
            r#"{"type":"A","ips":["::1"]}"#,
            400,
            "ips[0]",
        ),
        (
            "PUT",
            "/v1/records/web",
            r#"{"type":"AAAA","ips":["10.0.0.1"]}"#,
            400,
            "ips[0]",
        ),
        (
            "PUT",
            "/v1/records/web",
            r#"{"type":"A","ips":[]}"#,
            400,
            "ips",
        ),
        (
            "PUT",
            "/v1/records/web",
            r#"{"type":"A","ips":["10.0.0.1"],"ttl":0}"#,
            400,
            "ttl",
        ),
        (
            "PUT",
            "/v1/records/web",
            r#"{"type":"A","ips":["10.0.0.1"],"ttl":4294967296}"#,
            400,
            "ttl",
        ),
        (
            "PUT",
            "/v1/records/web",
            r#"{"type":"A","ips":["10.0.0.1"],"ttl":-5}"#,
            400,
            "ttl",
        ),
        (
            "PUT",
            "/v1/records/web",
            r#"{"type":"A","ips":["10.0.0.1"],"colour":"red"}"#,
            400,
            "colour",
        ),
        (
            "PUT",
            "/v1/records/web",
            r#"[{"type":"A","ips":["10.0.0.1"]},{"type":"TXT","texts":[7]}]"#,
            400,
            "[1].texts[0]",
        ),
        (
            "PUT",
            "/v1/records/web",
            r#"{"type":"CNAME","target":"bad..name"}"#,
            400,
            "target",
        ),
        (
            "PUT",
            "/v1/records/web",
            r#"{"type":"SRV","targets":[{"target":"x.skylane.local.","port":99999}]}"#,
            400,
            "targets[0].port",
        ),
        (
            "PUT",
            "/v1/records/web",
            r#"{"type":"MX","exchanges":[{"preference":1}]}"#,
            400,
            "exchanges[0].exchange",
        ),
        (
            "PUT",
            "/v1/records/web",
            r#"{"type":"PTR","targets":["web.skylane.local."]}"#,
            400,
            "type",
        ),
        (
            "PUT",
            "/v1/records/web.example.com.",
            r#"{"type":"A","ips":["10.0.0.1"]}"#,
            400,
            "name",
        ),
        (
            "PUT",
            "/v1/records/a%2Fb",
            r#"{"type":"A","ips":["10.0.0.1"]}"#,
            400,
            "name",
        ),
        (
            "PUT",
            "/v1/records/a..b",
            r#"{"type":"A","ips":["10.0.0.1"]}"#,
            400,
            "name",
        ),
        ("DELETE", "/v1/records/web?type=BOGUS", "", 400, "type"),
        ("GET", "/v1/records?type=BOGUS", "", 400, "type"),
        ("GET", "/v1/records?domain=example.com.", "", 400, "domain"),
        (
            "PUT",
            "/v1/status/10.0.0.999",
            r#"{"status":"DOWN"}"#,
            400,
            "ip",
        ),
        (
            "PUT",
            "/v1/status/10.0.0.1",
            r#"{"status":"MAYBE"}"#,
            400,
            "status",
        ),
        (
            "PUT",
            "/v1/status/10.0.0.1",
            r#"{"state":"DOWN"}"#,
            400,
            "state",
        ),
        (
            "POST",
            "/v1/import",
            r#"{"records":[{"type":"A","ips":["10.0.0.1"]}]}"#,
            400,
            "records[0].name",
        ),
        (
            "POST",
            "/v1/import",
            r#"{"mode":"merge","records":[]}"#,
            400,
            "mode",
        ),
        (
            "POST",
            "/v1/import",
            r#"{"records":[],"statuses":[{"ip":"x","status":"UP"}]}"#,
            400,
            "statuses[0].ip",
        ),
        ("POST", "/v1/import", r#"{"recs":[]}"#, 400, "recs"),
        (
            "POST",
            "/v1/import",
            r#"{"records":[{"name":"web","type":"CNAME","target":"x."},{"name":"web","type":"A","ips":["10.0.0.1"]}]}"#,
            409,
            "records[0].type",
        ),
    ];
    for (method, path, body, want, field) in cases {
        let (status, text) = s.auth(method, path, Some(body));
        assert_eq!(status, *want, "{method} {path} {body}: {text}");
        let err: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(err["field"], *field, "{method} {path} {body}: {text}");
        assert!(!err["error"].as_str().unwrap().is_empty());
    }
    assert_eq!(s.keys(), before, "nothing written by any bad call");
}

#[test]
fn oversized_bodies_are_refused() {
    let s = TestServer::start();
    let ips: Vec<String> = (0..200_000)
        .map(|i| format!("\"10.{}.{}.{}\"", i >> 16, (i >> 8) & 255, i & 255))
        .collect();
    let body = format!(r#"{{"type":"A","ips":[{}]}}"#, ips.join(","));
    assert!(body.len() > 2 << 20);
    let (status, _) = s.auth("PUT", "/v1/records/big", Some(&body));
    assert_eq!(status, 413);
    assert!(s.keys().is_empty());
}
