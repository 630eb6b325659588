//! Per-lcore packet counters of the DPDK backend and the report that gathers them with
//! the port's own statistics. Query counters (rcodes, qtypes, latency) live in the shared
//! [`crate::stats::Stats`] under the "dpdk" label; these count frames.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// Frame counters of one data-plane lcore. One writer (its loop), any number of readers.
#[repr(align(128))]
#[derive(Debug, Default)]
pub struct LcoreCounters {
    pub rx: AtomicU64,
    pub tx: AtomicU64,
    /// Frames (replies or kernel frames) dropped because the TX ring stayed full.
    pub tx_dropped: AtomicU64,
    pub arp_replies: AtomicU64,
    pub nd_replies: AtomicU64,
    pub echo_replies: AtomicU64,
    pub dns_replies: AtomicU64,
    /// DNS queries the engine did not answer (responses, unreadable headers).
    pub dns_no_answer: AtomicU64,
    /// Frames handed to the kernel through the TAP.
    pub to_kernel: AtomicU64,
    /// Frames the kernel sent through the TAP, forwarded out the port.
    pub from_kernel: AtomicU64,
    /// Exception frames dropped (no exception path, the per-burst TAP budget spent, or
    /// the TAP ring full).
    pub exception_dropped: AtomicU64,
    /// Exception frames over the `[dpdk] exception-pps` token bucket, dropped.
    pub policed: AtomicU64,
    /// Multicast and broadcast frames that are not ARP/ND for us, dropped first.
    pub unneeded: AtomicU64,
    /// Unicast frames for another MAC.
    pub not_for_us: AtomicU64,
    /// Truncated or inconsistent headers, bad checksums, multi-segment frames.
    pub malformed: AtomicU64,
    /// Queries from addresses we must not answer.
    pub bad_source: AtomicU64,
    /// TSC cycles since the loop started, and those spent handling received bursts:
    /// `busy_cycles / cycles` is how busy the loop is (near 1: saturated).
    pub cycles: AtomicU64,
    pub busy_cycles: AtomicU64,
    /// TSC cycles spent inside `rx_burst` calls that returned frames (the PMD's receive
    /// work: for memif, copying the frames out of the shared ring; not in `busy_cycles`).
    pub rx_cycles: AtomicU64,
    /// Polls of the port's RX queue, and those that returned no frame.
    pub polls: AtomicU64,
    pub idle_polls: AtomicU64,
}

impl LcoreCounters {
    /// Add `n` to `c` (single writer: no locked instruction).
    #[inline(always)]
    pub fn add(c: &AtomicU64, n: u64) {
        c.store(c.load(Relaxed).wrapping_add(n), Relaxed);
    }

    /// A copy of every counter.
    pub fn snapshot(&self) -> LcoreReport {
        let l = |c: &AtomicU64| c.load(Relaxed);
        LcoreReport {
            core: 0,
            lcore_id: 0,
            rx: l(&self.rx),
            tx: l(&self.tx),
            tx_dropped: l(&self.tx_dropped),
            arp_replies: l(&self.arp_replies),
            nd_replies: l(&self.nd_replies),
            echo_replies: l(&self.echo_replies),
            dns_replies: l(&self.dns_replies),
            dns_no_answer: l(&self.dns_no_answer),
            to_kernel: l(&self.to_kernel),
            from_kernel: l(&self.from_kernel),
            exception_dropped: l(&self.exception_dropped),
            policed: l(&self.policed),
            unneeded: l(&self.unneeded),
            not_for_us: l(&self.not_for_us),
            malformed: l(&self.malformed),
            bad_source: l(&self.bad_source),
            cycles: l(&self.cycles),
            busy_cycles: l(&self.busy_cycles),
            rx_cycles: l(&self.rx_cycles),
            polls: l(&self.polls),
            idle_polls: l(&self.idle_polls),
        }
    }
}

/// Counters of one lcore, as reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LcoreReport {
    /// CPU the loop is pinned to.
    pub core: usize,
    /// DPDK lcore id of the loop's thread.
    pub lcore_id: u32,
    pub rx: u64,
    pub tx: u64,
    pub tx_dropped: u64,
    pub arp_replies: u64,
    pub nd_replies: u64,
    pub echo_replies: u64,
    pub dns_replies: u64,
    pub dns_no_answer: u64,
    pub to_kernel: u64,
    pub from_kernel: u64,
    pub exception_dropped: u64,
    pub policed: u64,
    pub unneeded: u64,
    pub not_for_us: u64,
    pub malformed: u64,
    pub bad_source: u64,
    pub cycles: u64,
    pub busy_cycles: u64,
    pub rx_cycles: u64,
    pub polls: u64,
    pub idle_polls: u64,
}

impl LcoreReport {
    /// Average processing time of a received frame (busy time / frames received), in
    /// nanoseconds, given the TSC frequency: 10⁹ / this is the lcore's capacity.
    pub fn busy_ns_per_frame(&self, tsc_hz: u64) -> f64 {
        if self.rx == 0 || tsc_hz == 0 {
            0.0
        } else {
            self.busy_cycles as f64 * 1e9 / tsc_hz as f64 / self.rx as f64
        }
    }

    /// Share of the loop's time spent on received frames (0..=1).
    pub fn busy_ratio(&self) -> f64 {
        share(self.busy_cycles, self.cycles)
    }

    /// Share of the loop's time spent inside `rx_burst` calls that returned frames.
    pub fn rx_ratio(&self) -> f64 {
        share(self.rx_cycles, self.cycles)
    }
}

fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Statistics of the DPDK backend: the port's counters (including `imissed`, frames the
/// NIC dropped because the loops did not keep up), the TAP's, every lcore's, and the
/// mbuf pool's fill.
#[derive(Debug, Clone, Default)]
pub struct DpdkReport {
    pub port: dpdk_sys::PortStats,
    pub tap: Option<dpdk_sys::PortStats>,
    pub lcores: Vec<LcoreReport>,
    /// Mbufs free in the pool (its ring and the lcores' caches) and its size: a pool
    /// running dry starves receive (memif does not count that in `rx_nombuf`).
    pub pool_free: u32,
    pub pool_size: u32,
}

impl DpdkReport {
    /// Sum over the lcores.
    pub fn total(&self) -> LcoreReport {
        let mut t = LcoreReport::default();
        for l in &self.lcores {
            t.rx += l.rx;
            t.tx += l.tx;
            t.tx_dropped += l.tx_dropped;
            t.arp_replies += l.arp_replies;
            t.nd_replies += l.nd_replies;
            t.echo_replies += l.echo_replies;
            t.dns_replies += l.dns_replies;
            t.dns_no_answer += l.dns_no_answer;
            t.to_kernel += l.to_kernel;
            t.from_kernel += l.from_kernel;
            t.exception_dropped += l.exception_dropped;
            t.policed += l.policed;
            t.unneeded += l.unneeded;
            t.not_for_us += l.not_for_us;
            t.malformed += l.malformed;
            t.bad_source += l.bad_source;
            t.cycles += l.cycles;
            t.busy_cycles += l.busy_cycles;
            t.rx_cycles += l.rx_cycles;
            t.polls += l.polls;
            t.idle_polls += l.idle_polls;
        }
        t
    }
}

/// One running loop's identity and counters.
#[derive(Debug, Clone)]
pub(crate) struct LcoreHandle {
    pub core: usize,
    pub lcore_id: u32,
    pub counters: Arc<LcoreCounters>,
}

/// A cheap, cloneable handle that reads the port's, the TAP's and every lcore's counters
/// while the loops run (for `/metrics`): the lcore counters are the loops' own relaxed
/// atomics, the port counters come from `rte_eth_stats_get`. After the data plane is
/// torn down it reads nothing.
#[derive(Debug, Clone)]
pub struct DpdkReporter {
    pub(crate) port: dpdk_sys::Port,
    pub(crate) tap: Option<dpdk_sys::Port>,
    pub(crate) lcores: Vec<LcoreHandle>,
    /// Cleared before the ports are stopped.
    pub(crate) alive: Arc<AtomicBool>,
    pub(crate) tsc_hz: u64,
    pub(crate) pool: dpdk_sys::MbufPool,
    pub(crate) pool_size: u32,
}

impl DpdkReporter {
    /// The counters now; `None` once the data plane stopped.
    pub fn report(&self) -> Option<DpdkReport> {
        if !self.alive.load(Relaxed) {
            return None;
        }
        Some(DpdkReport {
            port: self.port.stats().unwrap_or_default(),
            tap: self.tap.as_ref().and_then(|t| t.stats().ok()),
            lcores: self
                .lcores
                .iter()
                .map(|l| LcoreReport {
                    core: l.core,
                    lcore_id: l.lcore_id,
                    ..l.counters.snapshot()
                })
                .collect(),
            pool_free: self.pool.available(),
            pool_size: self.pool_size,
        })
    }

    /// TSC cycles per second of the loops' clock.
    pub fn tsc_hz(&self) -> u64 {
        self.tsc_hz
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loop_time_counters_are_reported_and_summed() {
        let c = LcoreCounters::default();
        for (counter, v) in [
            (&c.rx, 64),
            (&c.cycles, 1000),
            (&c.busy_cycles, 500),
            (&c.rx_cycles, 100),
            (&c.polls, 40),
            (&c.idle_polls, 38),
        ] {
            LcoreCounters::add(counter, v);
        }
        let one = c.snapshot();
        assert_eq!((one.polls, one.idle_polls, one.rx_cycles), (40, 38, 100));
        assert_eq!(one.rx_ratio(), 0.1);
        assert_eq!(one.busy_ratio(), 0.5);
        let report = DpdkReport {
            lcores: vec![one, one],
            ..Default::default()
        };
        let t = report.total();
        assert_eq!(
            (t.polls, t.idle_polls, t.rx_cycles, t.cycles),
            (80, 76, 200, 2000)
        );
        assert_eq!(LcoreReport::default().rx_ratio(), 0.0);
    }
}
