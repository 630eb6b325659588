//! Starting and restarting without etcd: SERVFAIL (never NXDOMAIN) and `/ready` 503 until the
//! store is loaded; answers once etcd comes; a restart during an outage answers from
//! `<data-dir>/last-known`, and `/v1/stats` says which source is live.
//! Skipped (with a message) when no etcd binary is installed.

mod common;

use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use skylane_testkit::etcd::EtcdServer;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// One HTTP/1.1 GET; returns (status, body).
fn get(s: &Server, path: &str, token: Option<&str>) -> (u16, String) {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], s.api_port));
    let mut c = TcpStream::connect_timeout(&addr, Duration::from_secs(20)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        c,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    let _ = c.read_to_string(&mut text);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

fn rcode(s: &Server, name: &str) -> ResponseCode {
    udp(s.addr4(), &query(name, RecordType::A)).response_code()
}

fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn source(s: &Server, data: &Path) -> String {
    let token = std::fs::read_to_string(data.join("api-token")).unwrap();
    let (status, body) = get(s, "/v1/stats", Some(token.trim()));
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["sync"]["source"].as_str().unwrap_or_default().to_string()
}

#[test]
fn starts_and_restarts_without_etcd() {
    let Some(mut etcd) = EtcdServer::start() else {
        return;
    };
    etcd.kill();
    let data_dir = tempfile::tempdir().unwrap();
    let data = data_dir.path().join("data");

    // etcd down at start: SERVFAIL, never NXDOMAIN; not ready; source none.
    let s = Server::start_etcd(&[etcd.endpoint()], &data);
    assert_eq!(rcode(&s, "svc.skydns.local."), ResponseCode::ServFail);
    assert_eq!(get(&s, "/ready", None).0, 503);
    assert_eq!(source(&s, &data), "none");

    // etcd comes: the store is listed, NXDOMAIN is now the truth, a record is answered.
    etcd.restart();
    eventually("first sync", || {
        rcode(&s, "svc.skydns.local.") == ResponseCode::NXDomain
    });
    assert_eq!(get(&s, "/ready", None).0, 200);
    etcd.etcdctl_ok(&["put", "/skydns/local/skydns/svc", r#"{"host":"10.7.0.1"}"#]);
    eventually("svc answered", || {
        let r = udp(s.addr4(), &query("svc.skydns.local.", RecordType::A));
        r.answers().len() == 1
    });
    assert_eq!(source(&s, &data), "store");
    // The last-known file follows the store (written after every applied change).
    eventually("last-known written", || {
        std::fs::read_to_string(data.join("last-known")).is_ok_and(|t| t.contains("10.7.0.1"))
    });

    // Outage, then a restart: answers from last-known.
    etcd.kill();
    assert!(s.stop().success());
    let s = Server::start_etcd(&[etcd.endpoint()], &data);
    eventually("answers from last-known", || {
        let r = udp(s.addr4(), &query("svc.skydns.local.", RecordType::A));
        r.answers().len() == 1
    });
    assert_eq!(source(&s, &data), "last-known");
    assert_eq!(get(&s, "/ready", None).0, 200);

    // etcd back: the store replaces last-known.
    etcd.restart();
    eventually("store live again", || source(&s, &data) == "store");
    assert!(s.stop().success());
}
