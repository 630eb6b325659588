//! REST round trips of `/v1/records` per type, through the store and the sync
//! into DNS answers of the real engine.

mod api_common;

use api_common::{a_addrs, TestServer};
use serde_json::{json, Value};

const A: u16 = 1;

#[test]
fn a_records_replace_add_delete_and_reach_dns() {
    let s = TestServer::start();
    s.wait_ready();
    let v = s.json(
        "PUT",
        "/v1/records/web.skylane.local",
        Some(r#"{"type":"A","ips":["10.0.0.1","10.0.0.2"],"ttl":60}"#),
        200,
    );
    assert_eq!(v["name"], "web.skylane.local.");
    assert_eq!(
        v["records"],
        json!([{"type":"A","ips":["10.0.0.1","10.0.0.2"],"ttl":60}])
    );
    let got = s.json("GET", "/v1/records/web.skylane.local.", None, 200);
    assert_eq!(got["records"], v["records"]);
    let answers = s.wait_dns("web.skylane.local.", A, |_, a| a_addrs(a).len() == 2);
    assert_eq!(
        a_addrs(&answers),
        [
            "10.0.0.1".parse::<std::net::Ipv4Addr>().unwrap(),
            "10.0.0.2".parse().unwrap()
        ]
    );

    // POST adds; an address given again with a new TTL replaces the old value.
    let v = s.json(
        "POST",
        "/v1/records/web.skylane.local",
        Some(r#"{"type":"A","ips":["10.0.0.3","10.0.0.1"],"ttl":60}"#),
        200,
    );
    assert_eq!(
        v["records"],
        json!([{"type":"A","ips":["10.0.0.1","10.0.0.2","10.0.0.3"],"ttl":60}])
    );
    s.wait_dns("web.skylane.local.", A, |_, a| a_addrs(a).len() == 3);

    // PUT replaces everything.
    s.json(
        "PUT",
        "/v1/records/web.skylane.local",
        Some(r#"{"type":"A","ips":["10.0.0.9"]}"#),
        200,
    );
    let got = s.json("GET", "/v1/records/web.skylane.local", None, 200);
    assert_eq!(
        got["records"],
        json!([{"type":"A","ips":["10.0.0.9"],"ttl":30}])
    );
    s.wait_dns("web.skylane.local.", A, |_, a| {
        a_addrs(a) == ["10.0.0.9".parse::<std::net::Ipv4Addr>().unwrap()]
    });

    let v = s.json("DELETE", "/v1/records/web.skylane.local", None, 200);
    assert_eq!(v["deleted"], 1);
    let (status, _) = s.auth("GET", "/v1/records/web.skylane.local", None);
    assert_eq!(status, 404);
    s.wait_dns("web.skylane.local.", A, |rcode, a| {
        rcode == 3 && a.is_empty()
    });
    assert!(s.keys().is_empty(), "{:?}", s.keys());
}

#[test]
fn every_type_round_trips() {
    let s = TestServer::start();
    let cases: [(&str, Value); 7] = [
        ("a", json!({"type":"A","ips":["192.0.2.1"],"ttl":10})),
        (
            "v6",
            json!({"type":"AAAA","ips":["2001:db8::1","2001:db8::2"],"ttl":20}),
        ),
        (
            "alias",
            json!({"type":"CNAME","target":"web.skylane.local.","ttl":30}),
        ),
        (
            "_http._tcp.web",
            json!({"type":"SRV","targets":[
                {"target":"web1.skylane.local.","port":8080,"priority":10,"weight":5},
                {"target":"web2.skylane.local.","port":8081,"priority":20,"weight":0}],"ttl":40}),
        ),
        (
            "txt",
            json!({"type":"TXT","texts":["hello world","v=spf1 -all"],"ttl":50}),
        ),
        (
            "mail",
            json!({"type":"MX","exchanges":[{"exchange":"mx1.skylane.local.","preference":10}],"ttl":60}),
        ),
        (
            "1.2.0.192.in-addr.arpa.",
            json!({"type":"PTR","targets":["a.skylane.local."],"ttl":70}),
        ),
    ];
    for (name, body) in &cases {
        let path = format!("/v1/records/{name}");
        let put = s.json("PUT", &path, Some(&body.to_string()), 200);
        let got = s.json("GET", &path, None, 200);
        assert_eq!(got["records"], json!([body]), "{name}");
        assert_eq!(put["records"], got["records"], "{name}");
    }
    // Relative names took the default (first) domain.
    let got = s.json("GET", "/v1/records/a.skydns.local.", None, 200);
    assert_eq!(got["name"], "a.skydns.local.");
    // The list shows every name once, filtered by type on request.
    let all = s.json("GET", "/v1/records", None, 200);
    assert_eq!(all["count"], 7, "{all}");
    let srv = s.json("GET", "/v1/records?type=srv", None, 200);
    assert_eq!(srv["count"], 1);
    assert_eq!(srv["names"][0]["name"], "_http._tcp.web.skydns.local.");
    let scoped = s.json("GET", "/v1/records?domain=in-addr.arpa.", None, 200);
    assert_eq!(scoped["count"], 1);
    assert_eq!(scoped["names"][0]["records"][0]["type"], "PTR");
}

#[test]
fn delete_leaves_names_below_alone() {
    let s = TestServer::start();
    s.wait_ready();
    let body = r#"{"type":"A","ips":["10.1.0.1"]}"#;
    s.json("PUT", "/v1/records/web.skylane.local", Some(body), 200);
    s.json(
        "PUT",
        "/v1/records/api.web.skylane.local",
        Some(r#"{"type":"A","ips":["10.1.0.2"]}"#),
        200,
    );
    s.json(
        "PUT",
        "/v1/records/web.skylane.local",
        Some(r#"[{"type":"A","ips":["10.1.0.1"]},{"type":"TXT","texts":["x"]}]"#),
        200,
    );
    // Only the TXT value goes with ?type=.
    let v = s.json(
        "DELETE",
        "/v1/records/web.skylane.local?type=TXT",
        None,
        200,
    );
    assert_eq!(v["deleted"], 1);
    // A body removes just the listed values.
    s.json(
        "POST",
        "/v1/records/web.skylane.local",
        Some(r#"{"type":"A","ips":["10.1.0.3"]}"#),
        200,
    );
    let v = s.json(
        "DELETE",
        "/v1/records/web.skylane.local",
        Some(r#"{"type":"A","ips":["10.1.0.3"]}"#),
        200,
    );
    assert_eq!(v["deleted"], 1);
    let got = s.json("GET", "/v1/records/web.skylane.local", None, 200);
    assert_eq!(
        got["records"],
        json!([{"type":"A","ips":["10.1.0.1"],"ttl":30}])
    );
    // Deleting the name keeps api.web.
    s.json("DELETE", "/v1/records/web.skylane.local", None, 200);
    let api = s.json("GET", "/v1/records/api.web.skylane.local", None, 200);
    assert_eq!(
        api["records"],
        json!([{"type":"A","ips":["10.1.0.2"],"ttl":30}])
    );
    s.wait_dns("api.web.skylane.local.", A, |_, a| a_addrs(a).len() == 1);
    let (status, _) = s.auth("DELETE", "/v1/records/web.skylane.local", None);
    assert_eq!(status, 404, "nothing left to delete");
}

#[test]
fn cname_is_alone_at_its_name() {
    let s = TestServer::start();
    s.json(
        "PUT",
        "/v1/records/alias",
        Some(r#"{"type":"CNAME","target":"web.skylane.local."}"#),
        200,
    );
    let before = s.keys();
    let (status, text) = s.auth(
        "POST",
        "/v1/records/alias",
        Some(r#"{"type":"A","ips":["10.0.0.1"]}"#),
    );
    assert_eq!(status, 409, "{text}");
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["field"],
        "type"
    );
    assert_eq!(s.keys(), before, "nothing written");
    // Replacing the CNAME by an A record is fine.
    s.json(
        "PUT",
        "/v1/records/alias",
        Some(r#"{"type":"A","ips":["10.0.0.1"]}"#),
        200,
    );
    let got = s.json("GET", "/v1/records/alias", None, 200);
    assert_eq!(got["records"][0]["type"], "A");
}

#[test]
fn status_marks_addresses_down_in_answers() {
    let s = TestServer::start();
    s.wait_ready();
    s.json(
        "PUT",
        "/v1/records/svc",
        Some(r#"{"type":"A","ips":["10.2.0.1","10.2.0.2"]}"#),
        200,
    );
    s.wait_dns("svc.skydns.local.", A, |_, a| a_addrs(a).len() == 2);
    let v = s.json("GET", "/v1/status/10.2.0.1", None, 200);
    assert_eq!(
        v,
        json!({"ip":"10.2.0.1","status":"UP","explicit":false,"manual":false})
    );
    s.json(
        "PUT",
        "/v1/status/10.2.0.1",
        Some(r#"{"status":"DOWN"}"#),
        200,
    );
    let v = s.json("GET", "/v1/status/10.2.0.1", None, 200);
    assert_eq!(v["status"], "DOWN");
    s.wait_dns("svc.skydns.local.", A, |_, a| {
        a_addrs(a) == ["10.2.0.2".parse::<std::net::Ipv4Addr>().unwrap()]
    });
    let list = s.json("GET", "/v1/status", None, 200);
    assert_eq!(list["statuses"], json!([{"ip":"10.2.0.1","status":"DOWN"}]));
    s.json("DELETE", "/v1/status/10.2.0.1", None, 200);
    s.wait_dns("svc.skydns.local.", A, |_, a| a_addrs(a).len() == 2);
}

#[test]
fn import_is_atomic() {
    let s = TestServer::start();
    s.wait_ready();
    let body = json!({
        "records": [
            {"name":"i1","type":"A","ips":["10.3.0.1"]},
            {"name":"i1","type":"TXT","texts":["one"]},
            {"name":"i2.skylane.local.","type":"AAAA","ips":["2001:db8::3"]},
            {"name":"i3","type":"SRV","targets":[{"target":"i1.skydns.local.","port":80}]}
        ],
        "statuses": [{"ip":"10.3.0.9","status":"DOWN"}]
    });
    let v = s.json("POST", "/v1/import", Some(&body.to_string()), 200);
    assert_eq!(v["names"], 3);
    assert_eq!(v["statuses"], 1);
    let i1 = s.json("GET", "/v1/records/i1", None, 200);
    assert_eq!(
        i1["records"],
        json!([{"type":"A","ips":["10.3.0.1"],"ttl":30},{"type":"TXT","texts":["one"],"ttl":30}])
    );
    s.wait_dns("i1.skydns.local.", A, |_, a| a_addrs(a).len() == 1);
    // The same import again changes nothing.
    let v = s.json("POST", "/v1/import", Some(&body.to_string()), 200);
    assert_eq!(
        (v["puts"].as_u64(), v["deletes"].as_u64()),
        (Some(0), Some(0)),
        "{v}"
    );

    // One bad entry rejects everything.
    let before = s.keys();
    let bad = json!({"records": [
        {"name":"ok1","type":"A","ips":["10.4.0.1"]},
        {"name":"ok2","type":"A","ips":["10.4.0.2"]},
        {"name":"bad","type":"A","ips":["10.4.0.300"]}
    ]});
    let (status, text) = s.auth("POST", "/v1/import", Some(&bad.to_string()));
    assert_eq!(status, 400);
    let err: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(err["field"], "records[2].ips[0]", "{text}");
    assert_eq!(s.keys(), before);
    // Replace mode (default): i1's own records become exactly the new ones.
    let v = s.json(
        "POST",
        "/v1/import",
        Some(r#"[{"name":"i1","type":"A","ips":["10.3.0.2"]}]"#),
        200,
    );
    assert_eq!(v["deletes"], 2);
    let i1 = s.json("GET", "/v1/records/i1", None, 200);
    assert_eq!(
        i1["records"],
        json!([{"type":"A","ips":["10.3.0.2"],"ttl":30}])
    );
    // Add mode keeps them.
    s.json(
        "POST",
        "/v1/import",
        Some(r#"{"mode":"add","records":[{"name":"i1","type":"A","ips":["10.3.0.3"]}]}"#),
        200,
    );
    let i1 = s.json("GET", "/v1/records/i1", None, 200);
    assert_eq!(i1["records"][0]["ips"].as_array().unwrap().len(), 2);
}

#[test]
fn hex_labelled_names_are_not_values_of_their_parent() {
    let s = TestServer::start();
    // cafebabe.web is a name of its own (a CNAME), although its label is 8 hex digits.
    s.json(
        "PUT",
        "/v1/records/cafebabe.web",
        Some(r#"{"type":"CNAME","target":"other.skydns.local."}"#),
        200,
    );
    s.json(
        "PUT",
        "/v1/records/web",
        Some(r#"{"type":"A","ips":["10.0.0.1"]}"#),
        200,
    );
    let v = s.json("GET", "/v1/records/web", None, 200);
    assert_eq!(v["records"].as_array().unwrap().len(), 1, "{v}");
    s.json("DELETE", "/v1/records/web", None, 200);
    let v = s.json("GET", "/v1/records/cafebabe.web", None, 200);
    assert_eq!(v["records"][0]["type"], "CNAME", "{v}");
    assert_eq!(v["records"][0]["target"], "other.skydns.local.", "{v}");
}

#[test]
fn srv_port_0_is_refused_naming_the_field() {
    let s = TestServer::start();
    let (status, text) = s.auth(
        "PUT",
        "/v1/records/_http._tcp.web",
        Some(r#"{"type":"SRV","targets":[{"target":"web.skydns.local.","port":0}]}"#),
    );
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("targets[0].port"), "{text}");
    assert!(s.keys().is_empty());
}

#[test]
fn lists_come_in_pages() {
    let s = TestServer::start();
    for i in 0..5 {
        s.json(
            "PUT",
            &format!("/v1/records/n{i}"),
            Some(r#"{"type":"A","ips":["10.0.0.1"]}"#),
            200,
        );
    }
    let mut seen = Vec::new();
    let mut path = "/v1/records?limit=2".to_string();
    loop {
        let v = s.json("GET", &path, None, 200);
        let names = v["names"].as_array().unwrap();
        assert!(names.len() <= 2, "{v}");
        seen.extend(
            names
                .iter()
                .map(|n| n["name"].as_str().unwrap().to_string()),
        );
        match v["continue"].as_str() {
            Some(t) => path = format!("/v1/records?limit=2&continue={t}"),
            None => break,
        }
    }
    let want: Vec<String> = (0..5).map(|i| format!("n{i}.skydns.local.")).collect();
    assert_eq!(seen, want);
    // Without a limit: one page of up to 1000 names, no token.
    let v = s.json("GET", "/v1/records", None, 200);
    assert_eq!(v["count"], 5);
    assert!(v.get("continue").is_none(), "{v}");
    assert_eq!(s.auth("GET", "/v1/records?limit=0", None).0, 400);
    assert_eq!(s.auth("GET", "/v1/records?limit=10001", None).0, 400);
    assert_eq!(s.auth("GET", "/v1/records?continue=zz", None).0, 400);
}
