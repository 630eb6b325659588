//! The socket data plane allocates nothing per packet: after a warm-up, a
//! thousand queries (answers, NXDOMAIN, NODATA, every one sampled into the
//! latency histogram and name sketch) run with the process-wide allocation
//! counter unchanged. This binary holds only this test, so no other thread
//! allocates meanwhile; the client side uses fixed buffers.

mod alloc_support;

use alloc_support::{assert_no_allocations, query};
use arc_swap::ArcSwap;
use skylane_dataplane::record::{RData, Record};
use skylane_dataplane::snapshot::{Snapshot, ZoneConfig};
use skylane_dataplane::socket::{spawn, SocketConfig};
use skylane_dataplane::stats::{Backend, Stats};
use skylane_dataplane::Name;
use std::net::{Ipv4Addr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn socket_loop_does_not_allocate_per_packet() {
    let records = vec![Record::new(
        Name::from_ascii("web.skylane.local.").unwrap(),
        60,
        RData::A(Ipv4Addr::new(10, 0, 0, 7)),
    )];
    let snap = Snapshot::build(Arc::new(ZoneConfig::default()), records);
    let shared = Arc::new(ArcSwap::from_pointee(snap));
    let stats = Arc::new(Stats::with_sampling(Backend::Socket, &[0], 1));
    let shutdown = Arc::new(AtomicBool::new(false));
    let cfg = SocketConfig {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        cores: vec![0],
        max_udp: 1232,
        batch: 32,
    };
    let plane = spawn(cfg, shared, stats.clone(), shutdown.clone()).unwrap();
    let server = plane.local_addrs()[0];
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();

    let names: [(&[u8], u16); 3] = [
        (b"\x03web\x07skylane\x05local\x00", 1),  // answer
        (b"\x04nope\x07skylane\x05local\x00", 1), // NXDOMAIN
        (b"\x03web\x07skylane\x05local\x00", 28), // NODATA
    ];
    let mut q = [0u8; 64];
    let mut reply = [0u8; 512];
    let exchange = |rounds: u16| {
        let mut answered = 0;
        for id in 0..rounds {
            let (name, qtype) = names[usize::from(id) % names.len()];
            let len = query(&mut q, id, name, qtype);
            client.send_to(&q[..len], server).unwrap();
            if let Ok((n, _)) = client.recv_from(&mut reply) {
                if n > 12 && reply[..2] == id.to_be_bytes() {
                    answered += 1;
                }
            }
        }
        answered
    };
    assert_no_allocations(exchange);

    shutdown.store(true, Ordering::Relaxed);
    plane.join();
    let total = stats.report().total;
    assert_eq!(total.queries, 1600);
    assert_eq!(total.rcode[0] + total.rcode[3], 1600);
    assert_eq!(stats.latency().samples, 1600);
}
