//! etcd as the distributed engine: two appliances on a 3-member etcd cluster keep answering
//! (0 queries lost) and keep taking API writes while the leader is SIGKILLed and restarted;
//! every acknowledged write is then answered by both appliances.
//! Skipped (with a message) when no etcd binary is installed.

mod common;

use common::*;
use hickory_proto::rr::RecordType;
use skylane_testkit::cluster::EtcdCluster;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// POSTs one record set; returns the HTTP status (0 when the exchange failed).
fn post(s: &Server, token: &str, name: &str, body: &str) -> u16 {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], s.api_port));
    let Ok(mut c) = TcpStream::connect_timeout(&addr, Duration::from_secs(20)) else {
        return 0;
    };
    c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let req = format!(
        "POST /v1/records/{name} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    if c.write_all(req.as_bytes()).is_err() {
        return 0;
    }
    let mut text = String::new();
    let _ = c.read_to_string(&mut text);
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

fn answers(s: &Server, name: &str) -> usize {
    udp(s.addr4(), &query(name, RecordType::A)).answers().len()
}

#[test]
fn appliances_ride_out_a_leader_kill() {
    let Some(mut cluster) = EtcdCluster::start(3) else {
        return;
    };
    let endpoints = cluster.endpoints();
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Server::start_etcd(&endpoints, da.path());
    let b = Server::start_etcd(&endpoints, db.path());
    let token = std::fs::read_to_string(da.path().join("api-token")).unwrap();
    let token = token.trim();
    assert_eq!(
        post(&a, token, "svc", r#"{"type":"A","ips":["10.8.0.1"]}"#),
        200
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while answers(&a, "svc.skydns.local.") != 1 || answers(&b, "svc.skydns.local.") != 1 {
        assert!(Instant::now() < deadline, "svc not answered by both");
        std::thread::sleep(Duration::from_millis(20));
    }

    // Queries at a steady rate against both appliances for the whole run.
    let stop = AtomicBool::new(false);
    let (sent, lost) = (AtomicU64::new(0), AtomicU64::new(0));
    let mut acked = Vec::new();
    let mut failed = 0;
    std::thread::scope(|scope| {
        for s in [&a, &b] {
            let (stop, sent, lost) = (&stop, &sent, &lost);
            scope.spawn(move || {
                let q = query("svc.skydns.local.", RecordType::A);
                let from = "127.0.0.1".parse().unwrap();
                while !stop.load(Ordering::Relaxed) {
                    sent.fetch_add(1, Ordering::Relaxed);
                    // No retry: a query without an answer within 5 s is lost.
                    match udp_exchange_from(s.addr4(), &q, from, 5000) {
                        Some(r) if r.answers().len() == 1 => {}
                        _ => {
                            lost.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            });
        }
        // API writes through the leader kill and restart.
        let leader = cluster.leader();
        for i in 0..40 {
            if i == 10 {
                cluster.members[leader].kill();
            }
            if i == 30 {
                cluster.members[leader].restart();
            }
            let name = format!("w{i}");
            let body = format!(r#"{{"type":"A","ips":["10.8.1.{i}"]}}"#);
            match post(&a, token, &name, &body) {
                200 => acked.push(name),
                status => {
                    eprintln!("write {name} during the leader change: HTTP {status}");
                    failed += 1;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        stop.store(true, Ordering::Relaxed);
    });
    // Every acknowledged write is answered by both appliances.
    let started = Instant::now();
    let deadline = started + Duration::from_secs(60);
    for name in &acked {
        let fqdn = format!("{name}.skydns.local.");
        while answers(&a, &fqdn) != 1 || answers(&b, &fqdn) != 1 {
            assert!(Instant::now() < deadline, "{fqdn} not answered by both");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    eprintln!(
        "queries sent {}, lost {}; writes acknowledged {}, failed {failed}; both appliances \
         converged {:?} after the last write",
        sent.load(Ordering::Relaxed),
        lost.load(Ordering::Relaxed),
        acked.len(),
        started.elapsed()
    );
    assert_eq!(lost.load(Ordering::Relaxed), 0, "queries lost");
    assert!(acked.len() >= 30, "most writes acknowledged: {acked:?}");
}
