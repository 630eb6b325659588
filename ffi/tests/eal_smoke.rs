//! EAL smoke test: initialise DPDK without hugepages or PCI, with a `net_null` vdev; configure the port, move packets both ways, and check
//! the counters. Needs root (DPDK maps memory and may touch /dev); skipped otherwise.

use dpdk_sys::{consts, eal, Burst, MbufPool, Port, PortConfig};

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn eal_init_null_vdev_rx_tx() {
    if !is_root() {
        assert!(
            std::env::var_os("SKYLANE_REQUIRE_ALL_TESTS").is_none(),
            "eal_smoke needs root, but SKYLANE_REQUIRE_ALL_TESTS is set"
        );
        eprintln!("SKIPPED: eal_smoke needs root");
        return;
    }
    let prefix = format!("--file-prefix=dpdk-sys-smoke-{}", std::process::id());
    let eal = eal::init(&[
        "--no-huge",
        "--no-pci",
        prefix.as_str(),
        "-m",
        "128",
        "--lcores=0@(0-1)",
        "--log-level=lib.eal:warning",
        "--vdev=net_null0,copy=1",
    ])
    .expect("rte_eal_init");
    // A second init must be refused, not crash.
    assert!(eal::init(&["--no-huge"]).is_err());

    assert!(Port::count(&eal) >= 1);
    let port = Port::by_name(&eal, "net_null0").expect("net_null0 port");
    let info = port.info().expect("info");
    assert_eq!(info.driver, "net_null");

    let pool = MbufPool::create(
        &eal,
        "smoke_pool",
        1023,
        32,
        consts::RTE_MBUF_DEFAULT_BUF_SIZE,
        -1,
    )
    .expect("pool");
    let before = pool.available();
    let cfg = PortConfig {
        queues: 1,
        rx_desc: 256,
        tx_desc: 256,
        rss_hf: consts::RTE_ETH_RSS_IP,
        rx_offloads: 0,
        tx_offloads: 0,
    };
    let mut queues = port.configure(&cfg, &[pool]).expect("configure");
    port.start().expect("start");
    let mac = port.mac().expect("mac");
    assert_eq!(mac.len(), 6);
    let _ = port.link().expect("link");

    // The calling thread can register as an lcore.
    let lcore = std::thread::spawn(move || {
        let id = eal.register_thread().expect("register");
        eal.unregister_thread();
        id
    })
    .join()
    .unwrap();
    assert!(lcore < 1024, "registered lcore id {lcore}");

    let q = &mut queues[0];
    let mut burst = Burst::new();
    let n = q.rx_burst(&mut burst);
    assert!(n > 0, "net_null delivers packets on rx");
    assert_eq!(burst.len(), n);
    for m in burst.drain() {
        assert!(m.data_len() > 0);
    }

    // Build our own packets and send them.
    let mut out = Burst::new();
    for i in 0..8u8 {
        let mut m = pool.alloc().expect("alloc");
        let room = m.room_mut();
        assert!(room.len() >= 64);
        room[..64].fill(i);
        m.set_len(64);
        assert_eq!(m.data(), &[i; 64][..]);
        out.push(m).unwrap();
    }
    // The last one held comes out first, owned (what a load generator reuses for its next
    // frame), and goes back in.
    let last = out.pop().expect("pop");
    assert_eq!((last.data(), out.len()), (&[7u8; 64][..], 7));
    out.push(last).unwrap();
    assert!(Burst::new().pop().is_none());
    let sent = q.tx_burst(&mut out);
    assert_eq!(sent, 8);
    assert!(out.is_empty());

    let stats = port.stats().expect("stats");
    assert_eq!(stats.opackets, 8);
    assert!(stats.ipackets >= n as u64);
    // Every buffer went back to the pool (net_null frees what it transmits).
    assert_eq!(pool.available(), before);
    port.stop().expect("stop");
    port.close().expect("close");
    eal.cleanup().expect("cleanup");
    let _ = std::fs::remove_dir_all(format!(
        "/var/run/dpdk/dpdk-sys-smoke-{}",
        std::process::id()
    ));
}
