//! ContainerDNS-style calls work verbatim under `/skydns/api/`.

mod api_common;

use api_common::{a_addrs, TestServer, TOKEN};
use serde_json::{json, Value};

#[test]
fn containerdns_calls_work_verbatim() {
    let s = TestServer::start();
    s.wait_ready();
    let p = |path: &str| format!("/skydns/api/{path}?token={TOKEN}");
    // curl -X POST 'http://127.0.0.1:9001/skydns/api/cctv2.skydns.local?token=T' -d '{"type":"A","ips":["192.168.10.1"]}'
    let (status, text) = s.call(
        "POST",
        &p("cctv2.skydns.local"),
        Some(r#"{"type":"A","ips":["192.168.10.1"]}"#),
        None,
    );
    assert_eq!((status, text.as_str()), (200, "OK"));
    let (status, text) = s.call(
        "POST",
        &p("cctv2.skydns.local"),
        Some(r#"{"type":"A","ips":["192.168.10.2"]}"#),
        None,
    );
    assert_eq!((status, text.as_str()), (200, "OK"));
    s.wait_dns("cctv2.skydns.local.", 1, |_, a| a_addrs(a).len() == 2);

    // The path names the target, `alias` the new name.
    let (status, text) = s.call(
        "POST",
        &p("cctv2.skydns.local"),
        Some(r#"{"type":"cname","alias":"tv1"}"#),
        None,
    );
    assert_eq!((status, text.as_str()), (200, "OK"));
    let tv1 = s.json("GET", "/v1/records/tv1.skydns.local.", None, 200);
    assert_eq!(
        tv1["records"],
        json!([{"type":"CNAME","target":"cctv2.skydns.local.","ttl":30}])
    );
    // A CNAME query for the alias answers the CNAME.
    s.wait_dns("tv1.skydns.local.", 5, |_, a| {
        a.len() == 1 && a[0].rtype == 5
    });

    // GET lists every name.
    let (status, text) = s.call("GET", &p(""), None, None);
    assert_eq!(status, 200, "{text}");
    let all: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        all["cctv2.skydns.local."],
        json!([{"type":"A","ips":["192.168.10.1","192.168.10.2"],"ttl":30}])
    );
    assert!(all.get("tv1.skydns.local.").is_some());

    // PUT swaps an address.
    let (status, text) = s.call(
        "PUT",
        &p("cctv2.skydns.local"),
        Some(r#"{"type":"A","update":{"192.168.10.2":"192.168.10.3"}}"#),
        None,
    );
    assert_eq!((status, text.as_str()), (200, "OK"));
    let (status, text) = s.call(
        "PUT",
        &p("cctv2.skydns.local"),
        Some(r#"{"type":"A","update":{"192.168.10.99":"192.168.10.4"}}"#),
        None,
    );
    assert_eq!(status, 404);
    assert!(text.starts_with("ERR, "), "{text}");

    // DELETE with ips removes those.
    let (status, text) = s.call(
        "DELETE",
        &p("cctv2.skydns.local"),
        Some(r#"{"type":"A","ips":["192.168.10.1"]}"#),
        None,
    );
    assert_eq!((status, text.as_str()), (200, "OK"));
    let got = s.json("GET", "/v1/records/cctv2.skydns.local", None, 200);
    assert_eq!(
        got["records"],
        json!([{"type":"A","ips":["192.168.10.3"],"ttl":30}])
    );
    s.wait_dns("cctv2.skydns.local.", 1, |_, a| {
        a_addrs(a) == ["192.168.10.3".parse::<std::net::Ipv4Addr>().unwrap()]
    });

    // DELETE of the alias, then of the whole name.
    let (status, text) = s.call(
        "DELETE",
        &p("cctv2.skydns.local"),
        Some(r#"{"type":"cname","alias":"tv1"}"#),
        None,
    );
    assert_eq!((status, text.as_str()), (200, "OK"));
    let (status, _) = s.auth("GET", "/v1/records/tv1", None);
    assert_eq!(status, 404);
    let (status, text) = s.call("DELETE", &p("cctv2.skydns.local"), None, None);
    assert_eq!((status, text.as_str()), (200, "OK"));
    assert!(s.keys().is_empty(), "{:?}", s.keys());
    s.wait_dns("cctv2.skydns.local.", 1, |rcode, _| rcode == 3);
}

#[test]
fn containerdns_errors_are_text() {
    let s = TestServer::start();
    let p = |path: &str| format!("/skydns/api/{path}?token={TOKEN}");
    for (method, path, body, want) in [
        (
            "POST",
            "cctv2.skydns.local",
            r#"{"type":"A","ips":["192.168.10.300"]}"#,
            "ERR, ips[0]: ",
        ),
        (
            "POST",
            "cctv2.skydns.local",
            r#"{"type":"A","ips":["192.168.10.1"]"#,
            "ERR, body: ",
        ),
        (
            "POST",
            "cctv2.skydns.local",
            r#"{"type":"cname","alias":"a..b"}"#,
            "ERR, alias: ",
        ),
        (
            "POST",
            "x.example.org.",
            r#"{"type":"A","ips":["192.168.10.1"]}"#,
            "ERR, name: ",
        ),
        (
            "DELETE",
            "nothing.skydns.local",
            "",
            "ERR, nothing to delete",
        ),
    ] {
        let (status, text) = s.call(method, &p(path), Some(body), None);
        assert!(
            (400..500).contains(&status),
            "{method} {path}: {status} {text}"
        );
        assert!(text.starts_with(want), "{method} {path}: {text}");
    }
    assert!(s.keys().is_empty());
}
