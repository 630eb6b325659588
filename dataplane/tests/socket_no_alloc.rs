//! The socket data plane allocates nothing per packet: after a warm-up, a
//! thousand queries (answers, NXDOMAIN, NODATA, every one sampled into the
//! latency histogram and name sketch) run with the process-wide allocation
//! counter unchanged. This binary holds only this test, so no other thread
//! allocates meanwhile; the client side uses fixed buffers.

use arc_swap::ArcSwap;
use skylane_dataplane::record::{RData, Record};
use skylane_dataplane::snapshot::{Snapshot, ZoneConfig};
use skylane_dataplane::socket::{spawn, SocketConfig};
use skylane_dataplane::stats::{Backend, Stats};
use skylane_dataplane::Name;
use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{Ipv4Addr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn query(buf: &mut [u8; 64], id: u16, name: &[u8], qtype: u16) -> usize {
    buf[..12].copy_from_slice(&[0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    buf[..2].copy_from_slice(&id.to_be_bytes());
    buf[12..12 + name.len()].copy_from_slice(name);
    let end = 12 + name.len();
    buf[end..end + 2].copy_from_slice(&qtype.to_be_bytes());
    buf[end + 2..end + 4].copy_from_slice(&1u16.to_be_bytes());
    end + 4
}

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
    let mut exchange = |rounds: u16| {
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
    // Warm-up: thread-locals, arc-swap debt slots, first publishes.
    assert_eq!(exchange(600), 600);
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    let answered = exchange(1000);
    let after = ALLOCATIONS.load(Ordering::SeqCst);
    assert_eq!(answered, 1000);
    assert_eq!(after - before, 0, "allocations during 1000 queries");

    shutdown.store(true, Ordering::Relaxed);
    plane.join();
    let total = stats.report().total;
    assert_eq!(total.queries, 1600);
    assert_eq!(total.rcode[0] + total.rcode[3], 1600);
    assert_eq!(stats.latency().samples, 1600);
}
