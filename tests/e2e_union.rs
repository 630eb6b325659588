//! Unions (issue 10, SkyDNS subtree answers) through the real binary: a name answers with the
//! records of the names below it whichever way they were written — over the REST API (values
//! stored under the names' own keys) or with `etcdctl` in the SkyDNS layout — and every union
//! RRset holds each RDATA once (RFC 2181 §5) with one TTL, the smallest of its members.

mod common;

use common::*;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};
use skylane_testkit::etcd::EtcdServer;
use std::time::{Duration, Instant};

const TOKEN: &str = "union-test-token";

/// Polls `check` for up to 60 s (store → snapshot propagation on a loaded machine).
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The answer's A records as (address, TTL), in answer order.
fn a_records(m: &Message) -> Vec<(String, u32)> {
    m.answers()
        .iter()
        .filter_map(|r| match r.data() {
            RData::A(a) => Some((a.0.to_string(), r.ttl())),
            _ => None,
        })
        .collect()
}

/// Sorted addresses, and the distinct TTLs seen, of `name`'s A answer over UDP and TCP, or
/// `None` while the two differ: a snapshot swap between the two queries (an update still
/// propagating) is not an error, so the waits below use this.
fn settled(addr: std::net::SocketAddr, name: &str) -> Option<(Vec<String>, Vec<u32>)> {
    let q = query(name, RecordType::A);
    let (u, t) = (udp(addr, &q), tcp(addr, &q));
    assert_eq!(u.response_code(), ResponseCode::NoError, "{name}: {u:?}");
    let (mut a, mut b) = (a_records(&u), a_records(&t));
    a.sort();
    b.sort();
    if a != b {
        return None;
    }
    let mut ttls: Vec<u32> = a.iter().map(|x| x.1).collect();
    ttls.sort();
    ttls.dedup();
    Some((a.into_iter().map(|x| x.0).collect(), ttls))
}

/// [`settled`] once no update is in flight: UDP and TCP must agree.
fn union_of(addr: std::net::SocketAddr, name: &str) -> (Vec<String>, Vec<u32>) {
    settled(addr, name).unwrap_or_else(|| panic!("{name}: UDP and TCP answers differ"))
}

/// curl against the server's API; returns the HTTP status.
fn put(s: &Server, name: &str, body: &str) -> u16 {
    let url = format!("http://127.0.0.1:{}/v1/records/{name}", s.api_port);
    let auth = format!("Authorization: Bearer {TOKEN}");
    let out = run(
        "curl",
        &[
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "PUT",
            &url,
            "-H",
            &auth,
            "-H",
            "Content-Type: application/json",
            "-d",
            body,
        ],
    );
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

#[test]
fn api_written_children_form_a_deduplicated_union() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("skylane.toml");
    std::fs::write(&cfg, format!("[api]\ntoken = \"{TOKEN}\"\n")).unwrap();
    let zone = "$ORIGIN skydns.local.\n$TTL 30\nweb A 10.0.0.1\n";
    let s = Server::start_with(zone, &["--config", cfg.to_str().unwrap()], Some(TOKEN));
    // Two children written through the API; 10.9.0.1 is in both, with different TTLs.
    let code = put(
        &s,
        "a1.grp.skydns.local.",
        r#"{"type":"A","ips":["10.9.0.1"],"ttl":300}"#,
    );
    assert!((200..300).contains(&code), "PUT a1: {code}");
    let code = put(
        &s,
        "a2.grp.skydns.local.",
        r#"{"type":"A","ips":["10.9.0.1","10.9.0.2"],"ttl":120}"#,
    );
    assert!((200..300).contains(&code), "PUT a2: {code}");
    eventually("grp answers the union of a1 and a2", || {
        settled(s.addr4(), "grp.skydns.local.").is_some_and(|u| u.0 == ["10.9.0.1", "10.9.0.2"])
    });
    // One record per RDATA, one TTL: the smallest of the members.
    assert_eq!(
        union_of(s.addr4(), "grp.skydns.local."),
        (vec!["10.9.0.1".into(), "10.9.0.2".into()], vec![120])
    );
    // A child's change shows in the union: the TTL follows the new smallest.
    let code = put(
        &s,
        "a2.grp.skydns.local.",
        r#"{"type":"A","ips":["10.9.0.3"],"ttl":600}"#,
    );
    assert!((200..300).contains(&code), "PUT a2 again: {code}");
    eventually("grp follows a2", || {
        settled(s.addr4(), "grp.skydns.local.")
            == Some((vec!["10.9.0.1".into(), "10.9.0.3".into()], vec![300]))
    });
    drop(dir);
}

#[test]
fn etcd_written_children_form_a_deduplicated_union() {
    let Some(etcd) = EtcdServer::start() else {
        eprintln!("skipped: no etcd binary");
        return;
    };
    // The same address under two services with different TTLs, and a third service.
    for (key, value) in [
        ("grp/x1", r#"{"host":"10.8.0.1","ttl":300}"#),
        ("grp/x2", r#"{"host":"10.8.0.1","ttl":60}"#),
        ("grp/deep/x3", r#"{"host":"10.8.0.2","ttl":90}"#),
    ] {
        etcd.etcdctl_ok(&["put", &format!("/skydns/local/skydns/{key}"), value]);
    }
    let data = tempfile::tempdir().unwrap();
    let s = Server::start_etcd(&[etcd.endpoint()], data.path());
    s.wait_until_ready();
    eventually("grp answers its services", || {
        settled(s.addr4(), "grp.skydns.local.").is_some_and(|u| u.0 == ["10.8.0.1", "10.8.0.2"])
    });
    assert_eq!(
        union_of(s.addr4(), "grp.skydns.local."),
        (vec!["10.8.0.1".into(), "10.8.0.2".into()], vec![60])
    );
}
