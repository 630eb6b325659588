//! Bring-up of the DPDK backend: EAL arguments, option checks, the mbuf pool on the
//! port's NUMA node, port configuration (one RX/TX queue pair per data-plane lcore, RSS
//! over IP+UDP when there is more than one, checksum offloads when offered) and the
//! link-status log.

use super::responder::HwChecksum;
use super::{DpdkError, DpdkOptions};
use dpdk_sys::{consts, eal, Eal, MbufPool, Port, PortConfig, Queue};
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// RX descriptors per queue.
pub const RX_DESC: u16 = 1024;
/// TX descriptors per queue.
pub const TX_DESC: u16 = 1024;
/// Per-lcore mempool cache.
pub const POOL_CACHE: u32 = 256;
/// How long to wait for the link to come up before going on anyway.
const LINK_WAIT: Duration = Duration::from_secs(5);

/// The EAL arguments to use: the user's, plus `--lcores=0@(allowed CPUs)` when they do
/// not choose lcores themselves, so that the thread calling `rte_eal_init` (the process's
/// control thread) is not pinned to one CPU. Data-plane threads are plain threads pinned
/// by Skylane and registered with the EAL, so no EAL worker lcores are needed.
pub fn eal_args(user: &[String], cpus: &[usize]) -> Vec<String> {
    let mut args = user.to_vec();
    if !eal::chooses_lcores(user) && !cpus.is_empty() {
        args.push(eal::floating_main_lcore(cpus));
    }
    args
}

/// Reject options that cannot work before touching DPDK.
pub fn validate(opts: &DpdkOptions, cpus: &[usize]) -> Result<(), DpdkError> {
    if opts.cores.is_empty() {
        return Err(DpdkError::Config(
            "[dataplane] cores is empty: the DPDK backend needs at least one core".into(),
        ));
    }
    for (i, c) in opts.cores.iter().enumerate() {
        if !cpus.contains(c) {
            return Err(DpdkError::Config(format!(
                "[dataplane] cores: CPU {c} is not available to this process (allowed: {cpus:?})"
            )));
        }
        if opts.cores[..i].contains(c) {
            return Err(DpdkError::Config(format!(
                "[dataplane] cores: core {c} is listed twice"
            )));
        }
    }
    if opts.addresses.is_empty() {
        return Err(DpdkError::Config(
            "[dpdk] addresses is empty: list the IP addresses the port answers for".into(),
        ));
    }
    for (ip, prefix) in &opts.addresses {
        let max = if ip.is_ipv4() { 32 } else { 128 };
        if *prefix > max || ip.is_unspecified() || ip.is_multicast() {
            return Err(DpdkError::Config(format!(
                "[dpdk] addresses: {ip}/{prefix} is not a usable unicast address/prefix"
            )));
        }
    }
    if opts.cores.len() > usize::from(u16::MAX) {
        return Err(DpdkError::Config("too many cores".into()));
    }
    Ok(())
}

/// The configured data port.
pub struct PortSetup {
    pub port: Port,
    pub queues: Vec<Queue>,
    pub pool: MbufPool,
    /// Mbufs in `pool`.
    pub pool_size: u32,
    pub mac: [u8; 6],
    pub hw: HwChecksum,
}

fn dpdk(context: impl Into<String>) -> impl FnOnce(dpdk_sys::Error) -> DpdkError {
    let context = context.into();
    move |source| DpdkError::Dpdk { context, source }
}

/// Create the pool and configure and start port `opts.port` with one queue pair per core.
pub fn bring_up_port(eal: &Eal, opts: &DpdkOptions, tap: bool) -> Result<PortSetup, DpdkError> {
    let port = Port::new(eal, opts.port).map_err(|e| {
        DpdkError::Config(format!(
            "{e}; add a device with EAL arguments (e.g. --vdev=net_af_xdp0,iface=eth1 or a PCI \
             address bound to vfio-pci)"
        ))
    })?;
    let info = port
        .info()
        .map_err(dpdk(format!("reading port {}", opts.port)))?;
    let queues = opts.cores.len() as u16;
    let socket = port.socket();
    for &core in &opts.cores {
        if let Some(node) = cpu_numa_node(core) {
            if socket >= 0 && node != socket {
                warn!(
                    core,
                    cpu_node = node,
                    port_node = socket,
                    "data-plane core is on another NUMA node than the port: expect lower throughput"
                );
            }
        }
    }
    // Buffers for every RX and TX descriptor of the port (and of the TAP), plus bursts in
    // flight and the per-lcore caches.
    let per_queue = u32::from(RX_DESC) + u32::from(TX_DESC) + 2 * 32 + POOL_CACHE;
    let ports = if tap { 2 } else { 1 };
    let n = (u32::from(queues) * per_queue * ports).max(8192) - 1;
    let pool = MbufPool::create(
        eal,
        &format!("skylane_p{}", opts.port),
        n,
        POOL_CACHE,
        consts::RTE_MBUF_DEFAULT_BUF_SIZE,
        socket,
    )
    .map_err(dpdk(format!(
        "creating a pool of {n} mbufs on NUMA node {socket} (with --no-huge, raise -m)"
    )))?;

    let hw = HwChecksum {
        ipv4: info.tx_offload_capa & consts::RTE_ETH_TX_OFFLOAD_IPV4_CKSUM != 0,
        udp: info.tx_offload_capa & consts::RTE_ETH_TX_OFFLOAD_UDP_CKSUM != 0,
    };
    let mut tx_offloads = 0;
    if hw.ipv4 {
        tx_offloads |= consts::RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
    }
    if hw.udp {
        tx_offloads |= consts::RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
    }
    let rss_hf = consts::RTE_ETH_RSS_IP | consts::RTE_ETH_RSS_UDP;
    if queues > 1 && info.rss_offloads & rss_hf == 0 {
        warn!(
            driver = %info.driver,
            queues,
            "port has no RSS: only queue 0 will receive traffic"
        );
    }
    let cfg = PortConfig {
        queues,
        rx_desc: RX_DESC,
        tx_desc: TX_DESC,
        rss_hf,
        rx_offloads: consts::RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | consts::RTE_ETH_RX_OFFLOAD_UDP_CKSUM,
        tx_offloads,
    };
    let port_queues = port.configure(&cfg, &[pool]).map_err(dpdk(format!(
        "configuring port {} ({})",
        opts.port, info.driver
    )))?;
    port.start()
        .map_err(dpdk(format!("starting port {}", opts.port)))?;
    if let Err(e) = port.enable_allmulticast() {
        // Without it IPv6 neighbour solicitations (multicast) may not arrive.
        warn!(error = %e, "could not enable all-multicast on the port");
    }
    let mac = port
        .mac()
        .map_err(dpdk(format!("reading the MAC of port {}", opts.port)))?;
    log_link(&port, &info.driver);
    info!(
        port = opts.port,
        driver = %info.driver,
        mac = %super::net::ethernet::format_mac(&mac),
        queues,
        numa = socket,
        hw_ipv4_cksum = hw.ipv4,
        hw_udp_cksum = hw.udp,
        "DPDK port started"
    );
    Ok(PortSetup {
        port,
        queues: port_queues,
        pool,
        pool_size: n,
        mac,
        hw,
    })
}

/// Wait (bounded) for the link and log its state.
fn log_link(port: &Port, driver: &str) {
    let started = Instant::now();
    loop {
        match port.link() {
            Ok(l) if l.up => {
                info!(
                    port = port.id(),
                    driver,
                    speed_mbps = l.speed_mbps,
                    full_duplex = l.full_duplex,
                    "link up"
                );
                return;
            }
            Ok(_) if started.elapsed() < LINK_WAIT => {
                std::thread::sleep(Duration::from_millis(100))
            }
            Ok(_) => {
                warn!(port = port.id(), driver, "link is down; polling anyway");
                return;
            }
            Err(e) => {
                warn!(port = port.id(), error = %e, "cannot read link status");
                return;
            }
        }
    }
}

/// NUMA node of a CPU, from sysfs.
fn cpu_numa_node(cpu: usize) -> Option<i32> {
    let dir = std::fs::read_dir(format!("/sys/devices/system/cpu/cpu{cpu}")).ok()?;
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .find_map(|n| n.strip_prefix("node").and_then(|d| d.parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn main_lcore_floats_unless_user_chooses() {
        let a = eal_args(&["--no-huge".into()], &[0, 2, 3]);
        assert_eq!(
            a,
            vec!["--no-huge".to_string(), "--lcores=0@(0,2,3)".into()]
        );
        for user in [["-l", "2"], ["--lcores", "1"], ["-c", "0x3"]] {
            let user: Vec<String> = user.iter().map(|s| s.to_string()).collect();
            assert_eq!(eal_args(&user, &[0, 1]), user);
        }
        assert_eq!(eal_args(&["-l2".into()], &[0, 1]), vec!["-l2".to_string()]);
    }
}
