//! etcd as the distributed engine: two appliances on a 3-member etcd cluster. `skylane-perf`
//! queries both at a fixed rate while API writes (alternating between the appliances) go on
//! and the etcd leader is SIGKILLed and restarted: 0 queries lost, every acknowledged write is
//! then answered by both appliances, and they converge within 5 s of the last acknowledged
//! write. Then the member holding the appliances' watch streams is SIGKILLed, and later one is
//! frozen (SIGSTOP): the time until both answer a write made right after the failure (the
//! watch noticed and re-opened on a live member) is measured and logged. Skipped (with a message) when no etcd binary is installed.

mod common;

use common::*;
use hickory_proto::rr::RecordType;
use skylane_testkit::cluster::EtcdCluster;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Queries per second `skylane-perf` sends to each appliance.
const QPS: &str = "200";
/// How long each `skylane-perf` run lasts: covers the whole leader kill/restart phase.
const PERF_SECONDS: u64 = 60;
/// Longest wait for anything to show up in an answer.
const WAIT: Duration = Duration::from_secs(30);
/// The convergence target of issue 9: both appliances serve the last acknowledged write
/// within 5 s of its acknowledgement.
const CONVERGE_TARGET: Duration = Duration::from_secs(5);

/// Starts `skylane-perf` against `s` for [`PERF_SECONDS`] at [`QPS`], JSON report on stdout.
fn start_perf(s: &Server, dir: &Path) -> Child {
    let queries = dir.join(format!("queries-{}", s.port));
    std::fs::write(&queries, "svc.skydns.local A\n").unwrap();
    let port = s.port.to_string();
    let seconds = PERF_SECONDS.to_string();
    Command::new(perf_bin())
        .args(["-s", "127.0.0.1", "-p", &port, "-d"])
        .arg(&queries)
        .args(["-Q", QPS, "-l", &seconds, "-t", "5", "--json"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start skylane-perf")
}

/// Waits for a `skylane-perf` run; its JSON report.
fn perf_report(child: Child) -> serde_json::Value {
    let out = child.wait_with_output().expect("skylane-perf ran");
    assert!(out.status.success(), "skylane-perf failed: {out:?}");
    serde_json::from_slice(&out.stdout).expect("skylane-perf --json report")
}

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

/// True when both appliances answer `name` with one A record.
fn both_serve(servers: [&Server; 2], name: &str) -> bool {
    let q = query(&format!("{name}.skydns.local."), RecordType::A);
    servers
        .iter()
        .all(|s| udp(s.addr4(), &q).answers().len() == 1)
}

/// Polls until both appliances answer `name` (at most [`WAIT`]); how long it took.
fn until_both_serve(servers: [&Server; 2], name: &str) -> Duration {
    let started = Instant::now();
    while !both_serve(servers, name) {
        assert!(started.elapsed() < WAIT, "{name} not answered by both");
        std::thread::sleep(Duration::from_millis(10));
    }
    started.elapsed()
}

/// What the write phase saw.
struct Writes {
    acked: Vec<String>,
    failed: usize,
    last_ack: Instant,
    /// From the leader kill until both appliances answered the first write acknowledged
    /// after it.
    resumed: Duration,
    /// When the killed leader was back, from the start of the phase.
    restarted_at: Duration,
}

/// 40 API writes, alternating between the appliances, every 50 ms; the leader is SIGKILLed
/// before write 10 and restarted before write 30.
fn write_through_leader_kill(
    cluster: &mut EtcdCluster,
    s: [&Server; 2],
    tokens: &[String; 2],
) -> Writes {
    let started = Instant::now();
    let leader = cluster.leader();
    let mut w = Writes {
        acked: Vec::new(),
        failed: 0,
        last_ack: Instant::now(),
        resumed: Duration::ZERO,
        restarted_at: Duration::ZERO,
    };
    let mut killed: Option<Instant> = None;
    for i in 0..40 {
        if i == 10 {
            cluster.members[leader].kill();
            killed = Some(Instant::now());
        }
        if i == 30 {
            cluster.members[leader].restart();
            w.restarted_at = started.elapsed();
        }
        let name = format!("w{i}");
        let body = format!(r#"{{"type":"A","ips":["10.8.1.{i}"]}}"#);
        match post(s[i % 2], &tokens[i % 2], &name, &body) {
            200 => {
                w.last_ack = Instant::now();
                if let Some(kill) = killed.take() {
                    until_both_serve(s, &name);
                    w.resumed = kill.elapsed();
                }
                w.acked.push(name);
            }
            status => {
                eprintln!("write {name} during the leader change: HTTP {status}");
                w.failed += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    w
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
    let token = |d: &Path| {
        let t = std::fs::read_to_string(d.join("api-token")).unwrap();
        t.trim().to_string()
    };
    let tokens = [token(da.path()), token(db.path())];
    assert_eq!(
        post(&a, &tokens[0], "svc", r#"{"type":"A","ips":["10.8.0.1"]}"#),
        200
    );
    until_both_serve([&a, &b], "svc");

    let perfs = [start_perf(&a, da.path()), start_perf(&b, da.path())];
    let perf_started = Instant::now();
    std::thread::sleep(Duration::from_secs(1));
    let w = write_through_leader_kill(&mut cluster, [&a, &b], &tokens);
    // Every acknowledged write is answered by both appliances.
    let mut converged = Duration::ZERO;
    for name in &w.acked {
        until_both_serve([&a, &b], name);
        converged = w.last_ack.elapsed();
    }
    let phase_end = perf_started.elapsed();
    let reports: Vec<serde_json::Value> = perfs.into_iter().map(perf_report).collect();
    for r in &reports {
        eprintln!(
            "skylane-perf {}: sent {}, completed {}, lost {}, rcodes {}, qps {:.0}",
            r["server"], r["sent"], r["completed"], r["lost"], r["rcodes"], r["qps"]
        );
    }
    eprintln!(
        "writes acknowledged {}, failed {}; leader restarted {:?} into the write phase; \
         writes served by both {:?} after the leader kill; both appliances served every \
         acknowledged write {converged:?} after the last acknowledgement",
        w.acked.len(),
        w.failed,
        w.restarted_at,
        w.resumed
    );
    assert!(
        phase_end < Duration::from_secs(PERF_SECONDS),
        "the kill/restart phase ({phase_end:?}) outlasted the {PERF_SECONDS} s query run"
    );
    for r in &reports {
        let sent = r["sent"].as_u64().unwrap();
        assert!(sent > 0, "{r}");
        assert_eq!(r["lost"], 0, "queries lost: {r}");
        assert_eq!(r["completed"].as_u64(), Some(sent), "{r}");
        assert_eq!(r["rcodes"]["NOERROR"].as_u64(), Some(sent), "{r}");
    }
    assert!(
        w.acked.len() >= 30,
        "most writes acknowledged: {:?}",
        w.acked
    );
    assert!(
        converged < CONVERGE_TARGET,
        "converged {converged:?} after the last acknowledged write"
    );
    watch_failover(&mut cluster, [&a, &b], Failure::Kill, "probe-kill");
    watch_failover(&mut cluster, [&a, &b], Failure::Freeze, "probe-freeze");
}

/// How a member fails in [`watch_failover`].
#[derive(Debug, Clone, Copy)]
enum Failure {
    /// SIGKILL: the process dies, its connections are closed.
    Kill,
    /// SIGSTOP: the process hangs, its connections stay open (a hung or cut-off member).
    Freeze,
}

/// Fails the member holding the most watch streams, writes `probe` through another member,
/// and measures how long until both appliances answer it: the broken watch was noticed and
/// re-opened on a live member. The member is brought back afterwards.
fn watch_failover(cluster: &mut EtcdCluster, s: [&Server; 2], how: Failure, probe: &str) {
    let watched = (0..cluster.members.len())
        .max_by_key(|&i| cluster.watch_streams(i))
        .unwrap();
    let streams = cluster.watch_streams(watched);
    let other = (watched + 1) % cluster.members.len();
    let broken_before: Vec<usize> = s.iter().map(|x| watch_breaks(x)).collect();
    match how {
        Failure::Kill => cluster.members[watched].kill(),
        Failure::Freeze => cluster.members[watched].pause(),
    }
    let failed = Instant::now();
    // Detected: an appliance logs that its watch broke (and re-opens it).
    let breaks = |x: &[&Server; 2]| -> Vec<usize> {
        x.iter()
            .zip(&broken_before)
            .map(|(x, before)| watch_breaks(x) - before)
            .collect()
    };
    while breaks(&s).iter().all(|&n| n == 0) && failed.elapsed() < WAIT {
        std::thread::sleep(Duration::from_millis(20));
    }
    let detected = failed.elapsed();
    let value = format!(r#"{{"host":"10.8.2.{}"}}"#, probe.len());
    let key = format!("/skydns/local/skydns/{probe}");
    while !cluster.members[other]
        .etcdctl(&["put", &key, &value])
        .status
        .success()
    {
        assert!(
            failed.elapsed() < 2 * WAIT,
            "etcd took no write after the failure"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let written = failed.elapsed();
    until_both_serve(s, probe);
    let served = failed.elapsed();
    let broken = breaks(&s);
    eprintln!(
        "watch failover ({how:?}): member {watched} ({streams} watch streams) failed; the \
         broken watch was noticed {detected:?} later; a write through member {other} \
         committed at {written:?}; both appliances answered it at {served:?} (watches \
         re-opened per appliance: {broken:?})"
    );
    match how {
        Failure::Kill => cluster.members[watched].restart(),
        Failure::Freeze => cluster.members[watched].resume(),
    }
    assert!(streams > 0, "no watch stream found on any member");
    assert!(
        broken.iter().any(|&n| n > 0),
        "no appliance re-opened its watch after the {how:?}"
    );
}

/// How often the appliance's log says its store watch broke.
fn watch_breaks(s: &Server) -> usize {
    s.log_text().matches("store watch broken").count()
}
