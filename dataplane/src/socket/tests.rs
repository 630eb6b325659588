//! End-to-end tests of the socket backend over loopback with real DNS queries.

use super::*;
use crate::record::{RData, Record};
use crate::snapshot::{Snapshot, ZoneConfig};
use crate::stats::{qtype_bucket, Backend, CounterSnapshot};
use crate::Name;
use arc_swap::ArcSwap;
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{RData as HRData, RecordType};
use std::collections::HashSet;
use std::net::{Ipv4Addr, UdpSocket};
use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const WEB_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 7);

fn snapshot() -> SharedSnapshot {
    let records = vec![Record::new(
        Name::from_ascii("web.skylane.local.").unwrap(),
        60,
        RData::A(WEB_IP),
    )];
    let snap = Snapshot::build(Arc::new(ZoneConfig::default()), records);
    Arc::new(ArcSwap::from_pointee(snap))
}

fn query(id: u16, name: &str, qtype: RecordType) -> Vec<u8> {
    let mut m = Message::new();
    m.set_id(id)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .add_query(Query::query(
            hickory_proto::rr::Name::from_str(name).unwrap(),
            qtype,
        ));
    m.to_vec().unwrap()
}

struct Running {
    plane: SocketDataPlane,
    stats: Arc<Stats>,
    shutdown: Arc<AtomicBool>,
}

fn start(listen: &[&str], cores: &[usize]) -> Running {
    let stats = Arc::new(Stats::new(Backend::Socket, cores));
    let shutdown = Arc::new(AtomicBool::new(false));
    let cfg = SocketConfig {
        listen: listen.iter().map(|a| a.parse().unwrap()).collect(),
        cores: cores.to_vec(),
        max_udp: 1232,
        batch: 32,
    };
    let plane = spawn(cfg, snapshot(), stats.clone(), shutdown.clone()).unwrap();
    Running {
        plane,
        stats,
        shutdown,
    }
}

/// Waits until the total counters satisfy `done` (counting may trail replies).
fn wait_for(stats: &Stats, done: impl Fn(&CounterSnapshot) -> bool) -> CounterSnapshot {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let total = stats.report().total;
        if done(&total) || Instant::now() > deadline {
            return total;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends `count` A queries for web.skylane.local from a client bound at
/// `client`, plus a response (QR=1) and 5 bytes of garbage; returns the IDs
/// answered correctly.
fn exchange(server: SocketAddr, client: &str, count: u16) -> HashSet<u16> {
    let sock = UdpSocket::bind(client).unwrap();
    // Generous: a loaded machine may not run the server's thread for a while.
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    for id in 0..count {
        sock.send_to(&query(id, "web.skylane.local.", RecordType::A), server)
            .unwrap();
    }
    let mut response = query(9999, "web.skylane.local.", RecordType::A);
    response[2] |= 0x80;
    sock.send_to(&response, server).unwrap();
    sock.send_to(&[1, 2, 3, 4, 5], server).unwrap();

    let mut answered = HashSet::new();
    let mut buf = [0u8; 4096];
    while let Ok((n, from)) = sock.recv_from(&mut buf) {
        if answered.len() + 1 == usize::from(count) {
            // After the last expected reply, only wait briefly for strays (duplicates).
            sock.set_read_timeout(Some(Duration::from_millis(100)))
                .unwrap();
        }
        assert_eq!(from, server);
        let msg = Message::from_vec(&buf[..n]).unwrap();
        assert_eq!(msg.message_type(), MessageType::Response);
        assert_eq!(msg.response_code(), ResponseCode::NoError, "{msg}");
        let ips: Vec<_> = msg
            .answers()
            .iter()
            .filter_map(|r| match r.data() {
                HRData::A(a) => Some(a.0),
                _ => None,
            })
            .collect();
        assert_eq!(ips, vec![WEB_IP]);
        assert!(answered.insert(msg.id()), "duplicate reply {}", msg.id());
    }
    answered
}

#[test]
fn answers_on_v4_and_v6_with_two_cores_and_counts_add_up() {
    let run = start(&["127.0.0.1:0", "[::1]:0"], &[0, 1]);
    let addrs = run.plane.local_addrs().to_vec();
    assert_eq!(addrs.len(), 2);
    assert!(addrs[0].is_ipv4() && addrs[1].is_ipv6());
    assert!(addrs.iter().all(|a| a.port() != 0));

    let v4 = exchange(addrs[0], "127.0.0.1:0", 60);
    let v6 = exchange(addrs[1], "[::1]:0", 60);
    assert_eq!(v4, (0..60).collect());
    assert_eq!(v6, (0..60).collect());

    // 120 answered, 2 responses + 2 garbage dropped.
    let total = wait_for(&run.stats, |t| t.queries >= 124);
    assert_eq!(total.queries, 124);
    assert_eq!(total.rx_packets, 124);
    assert_eq!(total.rcode[0], 120);
    assert_eq!(total.responses(), 120);
    assert_eq!(total.dropped, 4);
    assert_eq!(total.qtype[qtype_bucket(1)], 120);
    assert_eq!(total.tx_packets, 120);
    assert_eq!(total.send_errors, 0);
    let report = run.stats.report();
    let tcp = report.slots.last().unwrap();
    assert_eq!((tcp.backend, tcp.counters.queries), ("tcp", 0));
    assert_eq!(report.slots.len(), 3);

    let stopping = Instant::now();
    run.shutdown.store(true, Ordering::Relaxed);
    run.plane.try_join().unwrap();
    // Loops check the flag every 100 ms; the bound leaves room for a loaded machine.
    assert!(
        stopping.elapsed() < Duration::from_secs(10),
        "{:?}",
        stopping.elapsed()
    );
}

#[test]
fn single_address_path_answers_and_stops() {
    let run = start(&["127.0.0.1:0"], &[0]);
    let server = run.plane.local_addrs()[0];
    assert_eq!(exchange(server, "127.0.0.1:0", 200), (0..200).collect());
    let total = wait_for(&run.stats, |t| t.queries >= 202);
    assert_eq!(
        (total.queries, total.responses(), total.dropped),
        (202, 200, 2)
    );
    // 200 replies: the 64th, 128th and 192nd queries were sampled and timed.
    let stopping = Instant::now();
    run.shutdown.store(true, Ordering::Relaxed);
    run.plane.try_join().unwrap();
    assert!(stopping.elapsed() < Duration::from_secs(10));
    assert_eq!(run.stats.latency().samples, 3);
    let top = run.stats.top_names(5);
    assert_eq!(top.len(), 1);
    assert_eq!(top[0].name, "web.skylane.local.");
    assert_eq!(top[0].sampled, 3);
}

#[test]
fn missing_core_runs_unpinned_and_bad_config_is_refused() {
    // Core 4095 does not exist: warn, run unpinned, still answer.
    let run = start(&["127.0.0.1:0"], &[4095]);
    let server = run.plane.local_addrs()[0];
    assert_eq!(exchange(server, "127.0.0.1:0", 3), (0..3).collect());
    run.shutdown.store(true, Ordering::Relaxed);
    run.plane.try_join().unwrap();

    let stats = Arc::new(Stats::new(Backend::Socket, &[0]));
    let flag = Arc::new(AtomicBool::new(false));
    let cfg = |listen: Vec<SocketAddr>, cores: Vec<usize>| SocketConfig {
        listen,
        cores,
        max_udp: 1232,
        batch: 32,
    };
    let local: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let err = spawn(
        cfg(vec![], vec![0]),
        snapshot(),
        stats.clone(),
        flag.clone(),
    )
    .unwrap_err();
    assert!(matches!(err, SocketError::NoListenAddress));
    let err = spawn(
        cfg(vec![local], vec![0, 1]),
        snapshot(),
        stats.clone(),
        flag.clone(),
    )
    .unwrap_err();
    assert!(matches!(err, SocketError::StatsMismatch { .. }));
    let bad: SocketAddr = "192.0.2.1:5353".parse().unwrap();
    let err = spawn(cfg(vec![bad], vec![0]), snapshot(), stats, flag).unwrap_err();
    assert!(err.to_string().contains("192.0.2.1:5353"), "{err}");
}
