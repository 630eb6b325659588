//! End-to-end control-plane tests against the real `skylane` binary: records
//! written over the REST API (with curl, as operators do) are answered; DOWN
//! status leaves answers in UDP and TCP; ContainerDNS-style calls; two
//! instances on one real etcd answer identically and survive an etcd outage.

mod common;

use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};
use skylane_testkit::etcd::EtcdServer;
use std::net::IpAddr;
use std::time::{Duration, Instant};

const ZONE: &str =
    "$ORIGIN skydns.local.\n$TTL 30\nweb A 10.0.0.1\nweb A 10.0.0.2\nweb A 10.0.0.3\n";
const TOKEN: &str = "e2e-secret-token";

fn addrs(m: &hickory_proto::op::Message) -> Vec<IpAddr> {
    let mut v: Vec<IpAddr> = m
        .answers()
        .iter()
        .filter_map(|r| match r.data() {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        })
        .collect();
    v.sort();
    v
}

fn ips(list: &[&str]) -> Vec<IpAddr> {
    let mut v: Vec<IpAddr> = list.iter().map(|s| s.parse().unwrap()).collect();
    v.sort();
    v
}

/// A server with an API token (via a config file) and the test zone.
fn start_with_token(extra: &[&str]) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("skylane.toml");
    std::fs::write(&cfg, format!("[api]\ntoken = \"{TOKEN}\"\n")).unwrap();
    let mut args = vec!["--config", cfg.to_str().unwrap()];
    args.extend_from_slice(extra);
    let mut s = Server::start(ZONE, &args);
    s.held.push(dir); // the config must outlive the server
    s
}

/// curl against the server's API; returns (HTTP status, body).
fn curl(
    s: &Server,
    method: &str,
    path: &str,
    body: Option<&str>,
    token: Option<&str>,
) -> (u16, String) {
    let url = format!("http://127.0.0.1:{}{}", s.api_port, path);
    let mut args = vec![
        "-s",
        "-o",
        "-",
        "-w",
        "\n%{http_code}",
        "-X",
        method,
        url.as_str(),
    ];
    let auth;
    if let Some(t) = token {
        auth = format!("Authorization: Bearer {t}");
        args.extend_from_slice(&["-H", auth.as_str()]);
    }
    if let Some(b) = body {
        args.extend_from_slice(&["-H", "Content-Type: application/json", "-d", b]);
    }
    let out = run("curl", &args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", text.as_str()));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// Polls `check` for up to 30 s (store → snapshot propagation, on a loaded machine).
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for: {what}");
}

#[test]
fn rest_records_are_answered_and_deleted() {
    let s = start_with_token(&[]);
    let (code, body) = curl(
        &s,
        "PUT",
        "/v1/records/api1.skydns.local.",
        Some(r#"{"type":"A","ips":["10.5.0.1","10.5.0.2"],"ttl":60}"#),
        Some(TOKEN),
    );
    assert!(code == 200 || code == 201, "{code} {body}");
    eventually("api1 answered", || {
        addrs(&udp(s.addr4(), &query("api1.skydns.local.", RecordType::A)))
            == ips(&["10.5.0.1", "10.5.0.2"])
    });
    let r = tcp(s.addr4(), &query("api1.skydns.local.", RecordType::A));
    assert_eq!(r.answers()[0].ttl(), 60);
    let (code, _) = curl(
        &s,
        "DELETE",
        "/v1/records/api1.skydns.local.",
        None,
        Some(TOKEN),
    );
    assert!((200..300).contains(&code), "{code}");
    eventually("api1 gone", || {
        udp(s.addr4(), &query("api1.skydns.local.", RecordType::A)).response_code()
            == ResponseCode::NXDomain
    });
}

#[test]
fn bad_tokens_and_bodies_change_nothing() {
    let s = start_with_token(&[]);
    let body = r#"{"type":"A","ips":["10.6.0.1"]}"#;
    assert_eq!(curl(&s, "PUT", "/v1/records/x", Some(body), None).0, 401);
    assert_eq!(
        curl(&s, "PUT", "/v1/records/x", Some(body), Some("wrong")).0,
        403
    );
    let (code, err) = curl(
        &s,
        "PUT",
        "/v1/records/x",
        Some(r#"{"type":"A","ips":["10.6.0.1","nope"]}"#),
        Some(TOKEN),
    );
    assert_eq!(code, 400, "{err}");
    assert!(err.contains("ips[1]"), "{err}");
    let (code, _) = curl(&s, "PUT", "/v1/records/x", Some("{not json"), Some(TOKEN));
    assert!((400..500).contains(&code));
    let (code, _) = curl(
        &s,
        "PUT",
        "/v1/records/x.example.org.",
        Some(body),
        Some(TOKEN),
    );
    assert!((400..500).contains(&code));
    // ContainerDNS style with a bad token in the URL: 403, not 200.
    let (code, _) = curl(
        &s,
        "POST",
        "/skydns/api/x.skydns.local?token=wrong",
        Some(body),
        None,
    );
    assert_eq!(code, 403);
    // A barrier instead of a sleep: the store applies writes in order, so once a later,
    // valid write is answered, any of the refused ones would have been too.
    let (code, _) = curl(
        &s,
        "PUT",
        "/v1/records/marker.skydns.local.",
        Some(body),
        Some(TOKEN),
    );
    assert!((200..300).contains(&code), "{code}");
    eventually("marker answered", || {
        addrs(&udp(
            s.addr4(),
            &query("marker.skydns.local.", RecordType::A),
        )) == ips(&["10.6.0.1"])
    });
    let r = udp(s.addr4(), &query("x.skydns.local.", RecordType::A));
    assert_eq!(
        r.response_code(),
        ResponseCode::NXDomain,
        "nothing was written"
    );
}

#[test]
fn containerdns_calls_work_verbatim() {
    let s = start_with_token(&[]);
    let url = format!(
        "http://127.0.0.1:{}/skydns/api/cctv2.skydns.local?token={TOKEN}",
        s.api_port
    );
    let out = run(
        "curl",
        &[
            "-s",
            "-X",
            "POST",
            &url,
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"type":"A","ips":["192.168.10.1","192.168.10.2"]}"#,
        ],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "OK");
    eventually("cctv2 answered", || {
        addrs(&udp(
            s.addr4(),
            &query("cctv2.skydns.local.", RecordType::A),
        )) == ips(&["192.168.10.1", "192.168.10.2"])
    });
    let url = format!(
        "http://127.0.0.1:{}/skydns/api/cctv2.skydns.local?token={TOKEN}",
        s.api_port
    );
    let out = run(
        "curl",
        &[
            "-s",
            "-X",
            "POST",
            &url,
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"type":"cname","alias":"tv1"}"#,
        ],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "OK");
    eventually("tv1 is a CNAME to cctv2", || {
        let r = udp(s.addr4(), &query("tv1.skydns.local.", RecordType::A));
        r.answers().first().map(|a| a.record_type()) == Some(RecordType::CNAME)
            && addrs(&r).len() == 2
    });
    let list_url = format!("http://127.0.0.1:{}/skydns/api/?token={TOKEN}", s.api_port);
    let out = run("curl", &["-s", &list_url]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("cctv2"));
}

#[test]
fn down_addresses_leave_udp_and_tcp_answers_and_come_back() {
    let s = start_with_token(&[]);
    let q = query("web.skydns.local.", RecordType::A);
    assert_eq!(addrs(&udp(s.addr4(), &q)).len(), 3);
    let (code, body) = curl(
        &s,
        "PUT",
        "/v1/status/10.0.0.2",
        Some(r#"{"status":"DOWN"}"#),
        Some(TOKEN),
    );
    assert!((200..300).contains(&code), "{code} {body}");
    let healthy = ips(&["10.0.0.1", "10.0.0.3"]);
    eventually("10.0.0.2 leaves UDP answers", || {
        addrs(&udp(s.addr4(), &q)) == healthy
    });
    assert_eq!(addrs(&tcp(s.addr4(), &q)), healthy, "TCP excludes it too");
    assert_eq!(addrs(&udp(s.addr6(), &q)), healthy, "and IPv6 transport");
    // Every address down: fail-open answers all of them.
    for ip in ["10.0.0.1", "10.0.0.3"] {
        curl(
            &s,
            "PUT",
            &format!("/v1/status/{ip}"),
            Some(r#"{"status":"DOWN"}"#),
            Some(TOKEN),
        );
    }
    eventually("fail-open", || addrs(&udp(s.addr4(), &q)).len() == 3);
    for ip in ["10.0.0.1", "10.0.0.2", "10.0.0.3"] {
        curl(
            &s,
            "PUT",
            &format!("/v1/status/{ip}"),
            Some(r#"{"status":"UP"}"#),
            Some(TOKEN),
        );
    }
    curl(
        &s,
        "PUT",
        "/v1/status/10.0.0.3",
        Some(r#"{"status":"DOWN"}"#),
        Some(TOKEN),
    );
    eventually("only 10.0.0.3 down", || {
        addrs(&udp(s.addr4(), &q)) == ips(&["10.0.0.1", "10.0.0.2"])
    });
    curl(
        &s,
        "PUT",
        "/v1/status/10.0.0.3",
        Some(r#"{"status":"UP"}"#),
        Some(TOKEN),
    );
    eventually("all back", || addrs(&tcp(s.addr4(), &q)).len() == 3);
    let (code, metrics) = curl(&s, "GET", "/metrics", None, None);
    assert_eq!(code, 200);
    assert!(metrics.contains("skylane_dns_requests_total"), "{metrics}");
}

#[test]
fn two_instances_on_one_etcd_answer_identically_and_survive_an_outage() {
    let Some(mut etcd) = EtcdServer::start() else {
        eprintln!("SKIPPED: no etcd binary (scripts/setup.sh --test installs etcd-server)");
        return;
    };
    let ep = etcd.endpoint();
    let flags = [
        "--store",
        "etcd",
        "--etcd-endpoint",
        ep.as_str(),
        "--policy",
        "hone-one",
    ];
    let a = start_with_token(&flags);
    let b = start_with_token(&flags);
    for i in 1..=5 {
        etcd.etcdctl_ok(&[
            "put",
            &format!("/skydns/local/skydns/svc/x{i}"),
            &format!(r#"{{"host":"10.7.0.{i}"}}"#),
        ]);
    }
    let q = query("svc.skydns.local.", RecordType::A);
    // Both appliances hold all five services before hone-one is compared (one answered
    // address only shows that the first put arrived).
    for s in [&a, &b] {
        for i in 1..=5 {
            let name = format!("x{i}.svc.skydns.local.");
            eventually("every service answered by both", || {
                addrs(&udp(s.addr4(), &query(&name, RecordType::A)))
                    == ips(&[&format!("10.7.0.{i}")])
            });
        }
        eventually("svc answered by both", || {
            addrs(&udp(s.addr4(), &q)).len() == 1
        });
    }
    // hone-one: the same client gets the same address from both appliances.
    for client in 1..=16u8 {
        let from: IpAddr = format!("127.0.0.{client}").parse().unwrap();
        let ra = addrs(&udp_exchange_from(a.addr4(), &q, from, 10_000).unwrap());
        let rb = addrs(&udp_exchange_from(b.addr4(), &q, from, 10_000).unwrap());
        assert_eq!(ra, rb, "client {from}");
    }
    // A record in CoreDNS layout, then deleted.
    etcd.etcdctl_ok(&[
        "put",
        "/skydns/local/skydns/db",
        r#"{"host":"10.8.0.1","ttl":15}"#,
    ]);
    for s in [&a, &b] {
        eventually("db answered", || {
            addrs(&udp(s.addr4(), &query("db.skydns.local.", RecordType::A))) == ips(&["10.8.0.1"])
        });
    }
    // etcd down: the last snapshot keeps answering.
    etcd.kill();
    std::thread::sleep(Duration::from_millis(500));
    for s in [&a, &b] {
        assert_eq!(
            addrs(&udp(s.addr4(), &query("db.skydns.local.", RecordType::A))),
            ips(&["10.8.0.1"])
        );
    }
    etcd.restart();
    etcd.etcdctl_ok(&["del", "/skydns/local/skydns/db"]);
    for s in [&a, &b] {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let r = udp(s.addr4(), &query("db.skydns.local.", RecordType::A));
            if r.response_code() == ResponseCode::NXDomain {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "updates flow again after etcd restarts"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    assert!(a.stop().success());
    assert!(b.stop().success());
}
