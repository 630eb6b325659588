//! The `skylane_dpdk_*` metric families: the DPDK backend's port and per-lcore frame
//! counters, read while the loops run.
//!
//! The control plane does not link DPDK; the binary (built with the `dpdk` feature)
//! builds a [`DpdkSource`] that turns the data plane's lock-free counters into a
//! [`DpdkMetrics`] and hands it to the API's state ([`crate::metrics::DataplaneSources`]);
//! [`DpdkCollector`] encodes the families in a scrape. Nothing is rendered without a
//! source (socket backend) or once it reads nothing.

use crate::metrics::counters;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use std::fmt;
use std::sync::Arc;

/// A port's counters (`rte_eth_stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortCounters {
    pub rx: u64,
    pub tx: u64,
    /// Frames the NIC dropped because the RX rings were full.
    pub imissed: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub rx_nombuf: u64,
}

/// One data-plane lcore's frame counters.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LcoreCounters {
    /// CPU the loop runs on.
    pub core: usize,
    pub rx: u64,
    pub tx: u64,
    pub to_kernel: u64,
    pub from_kernel: u64,
    /// Exception frames over the `[dpdk] exception-pps` token bucket.
    pub policed: u64,
    /// Dropped frames by cause: `tx_full`, `exception`, `unneeded`, `not_for_us`,
    /// `malformed`, `bad_source`, `no_answer`.
    pub dropped: [(&'static str, u64); 7],
    /// Share of the loop's time spent on received frames (0..=1).
    pub busy_ratio: f64,
    /// Polls of the RX queue, and those that returned no frame.
    pub polls: u64,
    pub idle_polls: u64,
    /// Seconds the loop ran, spent handling received bursts, and spent inside `rx_burst`
    /// calls that returned frames (the driver's receive work, not in `busy`).
    pub loop_seconds: f64,
    pub busy_seconds: f64,
    pub rx_seconds: f64,
}

/// What one scrape reads from the DPDK backend.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DpdkMetrics {
    pub port: PortCounters,
    /// The exception-path TAP, when there is one.
    pub tap: Option<PortCounters>,
    pub lcores: Vec<LcoreCounters>,
    /// Mbufs free in the port's pool, and the pool's size (0: not reported).
    pub pool_free: u64,
    pub pool_size: u64,
}

/// Reads the counters now (`None` once the data plane stopped).
pub type DpdkSource = Arc<dyn Fn() -> Option<DpdkMetrics> + Send + Sync>;

/// The `skylane_dpdk_*` families of a source as a `/metrics` collector (nothing once the
/// source reads nothing).
pub struct DpdkCollector(pub DpdkSource);

impl fmt::Debug for DpdkCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DpdkCollector")
    }
}

impl Collector for DpdkCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> fmt::Result {
        match (self.0)() {
            Some(m) => encode_metrics(&mut e, &m),
            None => Ok(()),
        }
    }
}

/// A port family: name, help, label name, and the two labelled values of a port.
type PortFamily = (
    &'static str,
    &'static str,
    &'static str,
    fn(&PortCounters) -> [(&'static str, u64); 2],
);
/// An lcore family: name, help, and the value of an lcore.
type LcoreFamily = (&'static str, &'static str, fn(&LcoreCounters) -> u64);

/// Encode `m`'s families.
pub fn encode_metrics(e: &mut DescriptorEncoder, m: &DpdkMetrics) -> fmt::Result {
    let ports: Vec<(&str, &PortCounters)> = std::iter::once(("port", &m.port))
        .chain(m.tap.as_ref().map(|t| ("tap", t)))
        .collect();
    let port_families: [PortFamily; 3] = [
        (
            "skylane_dpdk_port_packets_total",
            "Frames received and sent by the DPDK port and the exception-path TAP.",
            "direction",
            |p| [("rx", p.rx), ("tx", p.tx)],
        ),
        (
            "skylane_dpdk_port_errors_total",
            "Receive and transmit errors of the port and the TAP.",
            "direction",
            |p| [("rx", p.rx_errors), ("tx", p.tx_errors)],
        ),
        (
            "skylane_dpdk_port_missed_total",
            "Frames dropped by the device: RX rings full (imissed), no mbuf (nombuf).",
            "reason",
            |p| [("imissed", p.imissed), ("nombuf", p.rx_nombuf)],
        ),
    ];
    for (name, help, label, values) in port_families {
        let series: Vec<([(&str, &str); 2], u64)> = ports
            .iter()
            .flat_map(|(device, p)| values(p).map(|(v, n)| ([("device", *device), (label, v)], n)))
            .collect();
        counters(e, name, help, &series)?;
    }
    encode_lcores(e, &m.lcores)?;
    encode_diagnostics(e, m)
}

/// The families that say where an lcore's time goes and whether the pool runs dry.
fn encode_diagnostics(e: &mut DescriptorEncoder, m: &DpdkMetrics) -> fmt::Result {
    let cores: Vec<String> = m.lcores.iter().map(|l| l.core.to_string()).collect();
    let polls: Vec<([(&str, &str); 2], u64)> = m
        .lcores
        .iter()
        .zip(&cores)
        .flat_map(|(l, c)| {
            [
                ("frames", l.polls - l.idle_polls.min(l.polls)),
                ("empty", l.idle_polls),
            ]
            .map(|(r, n)| ([("core", c.as_str()), ("result", r)], n))
        })
        .collect();
    counters(
        e,
        "skylane_dpdk_lcore_polls_total",
        "Polls of a data-plane lcore's RX queue, by result (frames received or empty).",
        &polls,
    )?;
    {
        let mut secs = e.encode_descriptor(
            "skylane_dpdk_lcore_seconds",
            "Seconds a data-plane lcore's loop ran (loop), handled received bursts (busy), and \
             spent inside receive calls that returned frames (rx).",
            None,
            MetricType::Counter,
        )?;
        for (l, c) in m.lcores.iter().zip(&cores) {
            for (state, v) in [
                ("loop", l.loop_seconds),
                ("busy", l.busy_seconds),
                ("rx", l.rx_seconds),
            ] {
                secs.encode_family(&[("core", c.as_str()), ("state", state)])?
                    .encode_counter::<NoLabelSet, _, u64>(&v, None)?;
            }
        }
    }
    if m.pool_size > 0 {
        let mut pool = e.encode_descriptor(
            "skylane_dpdk_pool_mbufs",
            "Mbufs of the port's pool, free or in use (in rings, bursts, the TAP).",
            None,
            MetricType::Gauge,
        )?;
        let free = m.pool_free.min(m.pool_size);
        for (state, v) in [("free", free), ("in_use", m.pool_size - free)] {
            pool.encode_family(&[("state", state)])?
                .encode_gauge(&(v as i64))?;
        }
    }
    Ok(())
}

fn encode_lcores(e: &mut DescriptorEncoder, lcores: &[LcoreCounters]) -> fmt::Result {
    let per_core: [LcoreFamily; 5] = [
        (
            "skylane_dpdk_lcore_rx_packets_total",
            "Frames received by a data-plane lcore.",
            |l| l.rx,
        ),
        (
            "skylane_dpdk_lcore_tx_packets_total",
            "Frames sent by a data-plane lcore (replies and frames from the kernel).",
            |l| l.tx,
        ),
        (
            "skylane_dpdk_lcore_to_kernel_packets_total",
            "Frames handed to the kernel through the exception-path TAP.",
            |l| l.to_kernel,
        ),
        (
            "skylane_dpdk_lcore_from_kernel_packets_total",
            "Frames the kernel sent through the TAP, forwarded out the port.",
            |l| l.from_kernel,
        ),
        (
            "skylane_dpdk_lcore_policed_total",
            "Exception-path frames over the [dpdk] exception-pps token bucket, dropped.",
            |l| l.policed,
        ),
    ];
    let cores: Vec<String> = lcores.iter().map(|l| l.core.to_string()).collect();
    for (name, help, value) in per_core {
        let series: Vec<([(&str, &str); 1], u64)> = lcores
            .iter()
            .zip(&cores)
            .map(|(l, c)| ([("core", c.as_str())], value(l)))
            .collect();
        counters(e, name, help, &series)?;
    }
    let dropped: Vec<([(&str, &str); 2], u64)> = lcores
        .iter()
        .zip(&cores)
        .flat_map(|(l, c)| {
            l.dropped
                .iter()
                .map(move |(cause, n)| ([("core", c.as_str()), ("cause", *cause)], *n))
        })
        .collect();
    counters(
        e,
        "skylane_dpdk_lcore_dropped_total",
        "Frames a data-plane lcore dropped, by cause.",
        &dropped,
    )?;
    let mut busy = e.encode_descriptor(
        "skylane_dpdk_lcore_busy_ratio",
        "Share of a data-plane lcore's time spent on received frames.",
        None,
        MetricType::Gauge,
    )?;
    for (l, c) in lcores.iter().zip(&cores) {
        busy.encode_family(&[("core", c.as_str())])?
            .encode_gauge(&l.busy_ratio)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::registry::Registry;

    fn scrape(source: DpdkSource) -> String {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(DpdkCollector(source)));
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry).unwrap();
        out
    }

    #[test]
    fn renders_port_tap_and_lcore_families() {
        let mut l = LcoreCounters {
            core: 3,
            rx: 10,
            tx: 9,
            to_kernel: 4,
            from_kernel: 2,
            policed: 7,
            busy_ratio: 0.25,
            polls: 20,
            idle_polls: 5,
            loop_seconds: 2.0,
            busy_seconds: 0.5,
            rx_seconds: 0.25,
            ..Default::default()
        };
        l.dropped = [
            ("tx_full", 1),
            ("exception", 2),
            ("unneeded", 3),
            ("not_for_us", 4),
            ("malformed", 5),
            ("bad_source", 6),
            ("no_answer", 8),
        ];
        let m = DpdkMetrics {
            port: PortCounters {
                rx: 100,
                imissed: 11,
                ..Default::default()
            },
            tap: Some(PortCounters {
                tx: 5,
                ..Default::default()
            }),
            lcores: vec![l],
            pool_free: 100,
            pool_size: 8191,
        };
        let out = scrape(Arc::new(move || Some(m.clone())));
        for line in [
            "skylane_dpdk_port_packets_total{device=\"port\",direction=\"rx\"} 100",
            "skylane_dpdk_port_packets_total{device=\"tap\",direction=\"tx\"} 5",
            "skylane_dpdk_port_missed_total{device=\"port\",reason=\"imissed\"} 11",
            "skylane_dpdk_lcore_rx_packets_total{core=\"3\"} 10",
            "skylane_dpdk_lcore_to_kernel_packets_total{core=\"3\"} 4",
            "skylane_dpdk_lcore_from_kernel_packets_total{core=\"3\"} 2",
            "skylane_dpdk_lcore_policed_total{core=\"3\"} 7",
            "skylane_dpdk_lcore_dropped_total{core=\"3\",cause=\"unneeded\"} 3",
            "skylane_dpdk_lcore_dropped_total{core=\"3\",cause=\"no_answer\"} 8",
            "skylane_dpdk_lcore_busy_ratio{core=\"3\"} 0.25",
            "# TYPE skylane_dpdk_lcore_policed counter",
            "skylane_dpdk_lcore_polls_total{core=\"3\",result=\"frames\"} 15",
            "skylane_dpdk_lcore_polls_total{core=\"3\",result=\"empty\"} 5",
            "skylane_dpdk_lcore_seconds_total{core=\"3\",state=\"loop\"} 2.0",
            "skylane_dpdk_lcore_seconds_total{core=\"3\",state=\"rx\"} 0.25",
            "skylane_dpdk_pool_mbufs{state=\"free\"} 100",
            "skylane_dpdk_pool_mbufs{state=\"in_use\"} 8091",
        ] {
            assert!(out.lines().any(|l| l == line), "missing {line}:\n{out}");
        }
        // A source that reads nothing (the data plane torn down) encodes nothing.
        assert!(!scrape(Arc::new(|| None)).contains("skylane_dpdk"));
    }
}
