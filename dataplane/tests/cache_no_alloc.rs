//! The forward-cache hit path allocates nothing: a socket core with a cache
//! replica holding one entry answers a thousand queries for it (RD=1, from
//! loopback, some with EDNS) with the process-wide allocation counter
//! unchanged, and none reaches the forwarder. This binary holds only this
//! test, so no other thread allocates meanwhile.

mod alloc_support;

use alloc_support::{assert_no_allocations, query};
use arc_swap::ArcSwap;
use skylane_dataplane::cache::entry::TtlLimits;
use skylane_dataplane::cache::{
    now_secs, CacheShared, Command, Entry, ForwardPolicy, Key, Replica,
};
use skylane_dataplane::engine::ForwardMode;
use skylane_dataplane::snapshot::{Snapshot, ZoneConfig};
use skylane_dataplane::socket::{spawn_forwarding, SocketConfig};
use skylane_dataplane::stats::{Backend, Stats};
use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const NAME: &[u8] = b"\x03www\x07example\x04test\x00";

/// The upstream's answer: one A record, TTL 300.
fn upstream_answer() -> Vec<u8> {
    let mut m = vec![0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
    m.extend_from_slice(NAME);
    m.extend_from_slice(&[
        0, 1, 0, 1, 0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 0x2c, 0, 4, 192, 0, 2, 1,
    ]);
    m
}

#[test]
fn cache_hits_do_not_allocate() {
    let snap = Snapshot::build(Arc::new(ZoneConfig::default()), Vec::new());
    let shared = Arc::new(ArcSwap::from_pointee(snap));
    let stats = Arc::new(Stats::with_sampling(Backend::Socket, &[0], 1));
    let shutdown = Arc::new(AtomicBool::new(false));
    let cache = CacheShared::new(1);
    let ring = Arc::new(crossbeam::queue::ArrayQueue::new(16));
    let (tx, rx) = crossbeam::channel::bounded(16);
    let policy = Arc::new(ForwardPolicy {
        allow: vec![("127.0.0.0".parse().unwrap(), 8)],
        serve_stale: true,
        prefetch: true,
    });
    let replica = Replica::new(0, 16, ring.clone(), cache.clone(), tx, policy);
    let key = Key {
        name: NAME.into(),
        qtype: 1,
        qclass: 1,
        dnssec_ok: false,
    };
    let limits = TtlLimits {
        min_ttl: 0,
        max_ttl: 86400,
        negative_max_ttl: 3600,
        failure_ttl: 2,
        stale_max_age: 0,
    };
    let entry = Entry::from_response(key, &upstream_answer(), &limits, now_secs()).unwrap();
    ring.push(Command::Insert(Arc::new(entry))).unwrap();
    let cfg = SocketConfig {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        cores: vec![0],
        max_udp: 1232,
        batch: 32,
    };
    let modes = vec![ForwardMode::Core(Box::new(replica))];
    let plane = spawn_forwarding(cfg, shared, stats.clone(), shutdown.clone(), modes).unwrap();
    let server = plane.local_addrs()[0];
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut q = [0u8; 64];
    let mut reply = [0u8; 512];
    let exchange = |rounds: u16| {
        let mut answered = 0;
        for id in 0..rounds {
            let len = query(&mut q, id, NAME, 1);
            let len = if id % 2 == 0 {
                // With an OPT (EDNS 1232, DO clear) half of the time.
                q[11] = 1;
                q[len..len + 11].copy_from_slice(&[0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0]);
                len + 11
            } else {
                len
            };
            client.send_to(&q[..len], server).unwrap();
            if let Ok((n, _)) = client.recv_from(&mut reply) {
                // Our ID, QR, RA, NOERROR, and the cached address.
                let ok = n > 12
                    && reply[..2] == id.to_be_bytes()
                    && reply[2] & 0x80 != 0
                    && reply[3] == 0x80
                    && reply[..n].windows(4).any(|w| w == [192, 0, 2, 1]);
                answered += u32::from(ok);
            }
        }
        answered
    };
    // The ring (cache replica) is drained at the first batch of the warm-up.
    assert_no_allocations(exchange);
    assert!(
        rx.try_recv().is_err(),
        "nothing was handed to the forwarder"
    );
    assert_eq!(cache.totals().0, 1600, "every query a hit");

    shutdown.store(true, Ordering::Relaxed);
    plane.join();
}
