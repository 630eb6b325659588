//! Ethernet ports: discovery, configuration (queues, RSS, offloads), start/stop, link
//! status, statistics, and per-queue burst I/O through [`Queue`].

use crate::consts;
use crate::eal::Eal;
use crate::error::{Error, Result};
use crate::mbuf::Burst;
use crate::mempool::MbufPool;
use crate::raw;
use std::ffi::{CStr, CString};

/// An Ethernet port known to the EAL (PCI device or vdev).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Port {
    id: u16,
}

/// What the driver says about a port.
#[derive(Debug, Clone)]
pub struct PortInfo {
    pub driver: String,
    pub max_rx_queues: u16,
    pub max_tx_queues: u16,
    pub rx_offload_capa: u64,
    pub tx_offload_capa: u64,
    /// RSS hash functions the port supports (`consts::RTE_ETH_RSS_*`).
    pub rss_offloads: u64,
    /// NUMA node of the device (-1 when unknown, e.g. vdevs).
    pub socket: i32,
}

/// How to configure a port.
#[derive(Debug, Clone)]
pub struct PortConfig {
    /// RX and TX queue count (one pair per data-plane lcore).
    pub queues: u16,
    pub rx_desc: u16,
    pub tx_desc: u16,
    /// RSS hash functions (0 = no RSS); masked with what the port supports.
    pub rss_hf: u64,
    pub rx_offloads: u64,
    pub tx_offloads: u64,
}

/// Link state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    pub up: bool,
    pub speed_mbps: u32,
    pub full_duplex: bool,
}

/// Port counters from `rte_eth_stats_get`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortStats {
    pub ipackets: u64,
    pub opackets: u64,
    pub ibytes: u64,
    pub obytes: u64,
    /// Dropped by the hardware because RX rings were full.
    pub imissed: u64,
    pub ierrors: u64,
    pub oerrors: u64,
    pub rx_nombuf: u64,
}

impl Port {
    /// Ports available.
    pub fn count(_eal: &Eal) -> u16 {
        // SAFETY: EAL initialised.
        unsafe { raw::rte_eth_dev_count_avail() }
    }

    /// Port `id`, if it exists.
    pub fn new(_eal: &Eal, id: u16) -> Result<Port> {
        // SAFETY: EAL initialised; plain query.
        if unsafe { raw::rte_eth_dev_is_valid_port(id) } == 0 {
            return Err(Error::Invalid(format!(
                "DPDK port {id} does not exist ({} ports available)",
                Port::count(_eal)
            )));
        }
        Ok(Port { id })
    }

    /// The port created for device `name` (e.g. a vdev name like `net_tap0`).
    pub fn by_name(_eal: &Eal, name: &str) -> Result<Port> {
        let c = CString::new(name).map_err(|_| Error::Invalid("port name has NUL".into()))?;
        let mut id = 0u16;
        // SAFETY: valid string and out-pointer.
        let ret = unsafe { raw::rte_eth_dev_get_port_by_name(c.as_ptr(), &mut id) };
        Error::check("rte_eth_dev_get_port_by_name", ret)?;
        Ok(Port { id })
    }

    /// The port id.
    pub fn id(&self) -> u16 {
        self.id
    }

    /// Driver facts and capabilities.
    pub fn info(&self) -> Result<PortInfo> {
        let mut info = raw::rte_eth_dev_info::default();
        // SAFETY: valid port id and out-pointer.
        let ret = unsafe { raw::rte_eth_dev_info_get(self.id, &mut info) };
        Error::check("rte_eth_dev_info_get", ret)?;
        let driver = if info.driver_name.is_null() {
            String::new()
        } else {
            // SAFETY: the driver name is a static NUL-terminated string.
            unsafe { CStr::from_ptr(info.driver_name) }
                .to_string_lossy()
                .into_owned()
        };
        Ok(PortInfo {
            driver,
            max_rx_queues: info.max_rx_queues,
            max_tx_queues: info.max_tx_queues,
            rx_offload_capa: info.rx_offload_capa,
            tx_offload_capa: info.tx_offload_capa,
            rss_offloads: info.flow_type_rss_offloads,
            socket: self.socket(),
        })
    }

    /// NUMA node of the device (-1 when unknown).
    pub fn socket(&self) -> i32 {
        // SAFETY: valid port id.
        unsafe { raw::rte_eth_dev_socket_id(self.id) }
    }

    /// Configure `cfg.queues` RX/TX queue pairs; RX queue `i` takes buffers from
    /// `pools[i]` (or the last pool). Returns one [`Queue`] handle per queue pair; each
    /// must be used by one thread at a time (it is `Send`, not `Sync`/`Clone`).
    pub fn configure(&self, cfg: &PortConfig, pools: &[MbufPool]) -> Result<Vec<Queue>> {
        if cfg.queues == 0 || pools.is_empty() {
            return Err(Error::Invalid("a port needs >= 1 queue and a pool".into()));
        }
        let info = self.info()?;
        if cfg.queues > info.max_rx_queues || cfg.queues > info.max_tx_queues {
            return Err(Error::Invalid(format!(
                "port {} ({}) supports {} RX / {} TX queues, {} requested",
                self.id, info.driver, info.max_rx_queues, info.max_tx_queues, cfg.queues
            )));
        }
        let mut conf = raw::rte_eth_conf::default();
        let rss_hf = cfg.rss_hf & info.rss_offloads;
        if cfg.queues > 1 && rss_hf != 0 {
            conf.rxmode.mq_mode = consts::RTE_ETH_MQ_RX_RSS;
            conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
        }
        conf.rxmode.offloads = cfg.rx_offloads & info.rx_offload_capa;
        conf.txmode.offloads = cfg.tx_offloads & info.tx_offload_capa;
        // SAFETY: valid port id; conf lives across the call (DPDK copies it).
        let ret = unsafe { raw::rte_eth_dev_configure(self.id, cfg.queues, cfg.queues, &conf) };
        Error::check("rte_eth_dev_configure", ret)?;

        let (mut rxd, mut txd) = (cfg.rx_desc, cfg.tx_desc);
        // SAFETY: valid port id and out-pointers.
        let ret = unsafe { raw::rte_eth_dev_adjust_nb_rx_tx_desc(self.id, &mut rxd, &mut txd) };
        Error::check("rte_eth_dev_adjust_nb_rx_tx_desc", ret)?;

        let mut dev_info = raw::rte_eth_dev_info::default();
        // SAFETY: valid port id and out-pointer.
        let ret = unsafe { raw::rte_eth_dev_info_get(self.id, &mut dev_info) };
        Error::check("rte_eth_dev_info_get", ret)?;
        let mut txconf = dev_info.default_txconf;
        txconf.offloads = conf.txmode.offloads;
        let mut rxconf = dev_info.default_rxconf;
        rxconf.offloads = conf.rxmode.offloads;
        let socket = self.socket().max(0) as u32;

        let mut queues = Vec::with_capacity(cfg.queues as usize);
        for q in 0..cfg.queues {
            let pool = pools.get(q as usize).unwrap_or(&pools[pools.len() - 1]);
            // SAFETY: port configured above; conf structs and pool valid during the call.
            let ret = unsafe {
                raw::rte_eth_rx_queue_setup(self.id, q, rxd, socket, &rxconf, pool.as_ptr())
            };
            Error::check("rte_eth_rx_queue_setup", ret)?;
            // SAFETY: as above.
            let ret = unsafe { raw::rte_eth_tx_queue_setup(self.id, q, txd, socket, &txconf) };
            Error::check("rte_eth_tx_queue_setup", ret)?;
            queues.push(Queue {
                port: self.id,
                queue: q,
            });
        }
        Ok(queues)
    }

    /// Start the port.
    pub fn start(&self) -> Result<()> {
        // SAFETY: valid port id.
        Error::check("rte_eth_dev_start", unsafe {
            raw::rte_eth_dev_start(self.id)
        })
        .map(|_| ())
    }

    /// Stop the port (queues stop returning packets).
    pub fn stop(&self) -> Result<()> {
        // SAFETY: valid port id.
        Error::check("rte_eth_dev_stop", unsafe {
            raw::rte_eth_dev_stop(self.id)
        })
        .map(|_| ())
    }

    /// Close the port and release its resources (it must be stopped).
    pub fn close(&self) -> Result<()> {
        // SAFETY: valid port id.
        Error::check("rte_eth_dev_close", unsafe {
            raw::rte_eth_dev_close(self.id)
        })
        .map(|_| ())
    }

    /// Receive every multicast frame (needed for IPv6 neighbour solicitations).
    pub fn enable_allmulticast(&self) -> Result<()> {
        // SAFETY: valid port id.
        Error::check("rte_eth_allmulticast_enable", unsafe {
            raw::rte_eth_allmulticast_enable(self.id)
        })
        .map(|_| ())
    }

    /// Receive every frame.
    pub fn enable_promiscuous(&self) -> Result<()> {
        // SAFETY: valid port id.
        Error::check("rte_eth_promiscuous_enable", unsafe {
            raw::rte_eth_promiscuous_enable(self.id)
        })
        .map(|_| ())
    }

    /// The port's MAC address.
    pub fn mac(&self) -> Result<[u8; 6]> {
        let mut a = raw::rte_ether_addr::default();
        // SAFETY: valid port id and out-pointer.
        let ret = unsafe { raw::rte_eth_macaddr_get(self.id, &mut a) };
        Error::check("rte_eth_macaddr_get", ret)?;
        Ok(a.addr_bytes)
    }

    /// Current link state, without waiting.
    pub fn link(&self) -> Result<Link> {
        let mut l = raw::rte_eth_link::default();
        // SAFETY: valid port id and out-pointer.
        let ret = unsafe { raw::rte_eth_link_get_nowait(self.id, &mut l) };
        Error::check("rte_eth_link_get_nowait", ret)?;
        Ok(Link {
            up: l.link_status() != 0,
            speed_mbps: l.link_speed,
            full_duplex: l.link_duplex() != 0,
        })
    }

    /// Port counters.
    pub fn stats(&self) -> Result<PortStats> {
        let mut s = raw::rte_eth_stats::default();
        // SAFETY: valid port id and out-pointer.
        let ret = unsafe { raw::rte_eth_stats_get(self.id, &mut s) };
        Error::check("rte_eth_stats_get", ret)?;
        Ok(PortStats {
            ipackets: s.ipackets,
            opackets: s.opackets,
            ibytes: s.ibytes,
            obytes: s.obytes,
            imissed: s.imissed,
            ierrors: s.ierrors,
            oerrors: s.oerrors,
            rx_nombuf: s.rx_nombuf,
        })
    }
}

/// One RX/TX queue pair of a configured port. Exactly one handle exists per queue pair
/// (created by [`Port::configure`]); it is `Send` but not `Sync`, so only one thread at a
/// time polls a queue — the discipline DPDK's lock-free fast path requires.
#[derive(Debug)]
pub struct Queue {
    port: u16,
    queue: u16,
}

impl Queue {
    /// Port id.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Queue index.
    pub fn index(&self) -> u16 {
        self.queue
    }

    /// Receive into the free slots of `burst`; returns how many arrived.
    #[inline]
    pub fn rx_burst(&mut self, burst: &mut Burst) -> usize {
        let (ptr, room) = burst.spare_raw();
        if room == 0 {
            return 0;
        }
        // SAFETY: `ptr` points at `room` writable slots; this handle is the only user of
        // (port, queue); DPDK writes at most `room` owned mbuf pointers.
        let n = unsafe { raw::rte_eth_rx_burst(self.port, self.queue, ptr, room as u16) } as usize;
        // SAFETY: the first n spare slots now hold mbufs owned by the caller.
        unsafe { burst.commit(n) };
        n
    }

    /// Transmit the mbufs of `burst` from the front; the driver takes ownership of those
    /// sent, the rest stay in `burst` (in order). Returns how many were sent.
    #[inline]
    pub fn tx_burst(&mut self, burst: &mut Burst) -> usize {
        let (ptr, len) = burst.held_raw();
        if len == 0 {
            return 0;
        }
        // SAFETY: `ptr[..len]` are owned mbufs; this handle is the only user of the queue;
        // the driver owns the first `n` afterwards, which we forget.
        let n = unsafe { raw::rte_eth_tx_burst(self.port, self.queue, ptr, len as u16) } as usize;
        burst.consume_front(n);
        n
    }
}
