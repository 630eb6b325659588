//! Hands the DPDK data plane's counters to `/metrics`: converts a
//! [`DpdkReporter`]'s report into the control plane's [`DpdkMetrics`], as the
//! [`DpdkSource`] the API's state reads on every scrape (`skylane_dpdk_*` families).

use skylane_controlplane::metrics_dpdk::{DpdkMetrics, DpdkSource, LcoreCounters, PortCounters};
use skylane_dataplane::dpdk::{DpdkReporter, PortStats};
use std::sync::Arc;

fn port(p: &PortStats) -> PortCounters {
    PortCounters {
        rx: p.ipackets,
        tx: p.opackets,
        imissed: p.imissed,
        rx_errors: p.ierrors,
        tx_errors: p.oerrors,
        rx_nombuf: p.rx_nombuf,
    }
}

/// The metrics of one report.
pub fn metrics(reporter: &DpdkReporter) -> Option<DpdkMetrics> {
    let r = reporter.report()?;
    let secs = |cycles: u64| cycles as f64 / reporter.tsc_hz().max(1) as f64;
    let lcores = r
        .lcores
        .iter()
        .map(|l| LcoreCounters {
            core: l.core,
            rx: l.rx,
            tx: l.tx,
            to_kernel: l.to_kernel,
            from_kernel: l.from_kernel,
            policed: l.policed,
            dropped: [
                ("tx_full", l.tx_dropped),
                ("exception", l.exception_dropped),
                ("unneeded", l.unneeded),
                ("not_for_us", l.not_for_us),
                ("malformed", l.malformed),
                ("bad_source", l.bad_source),
                ("no_answer", l.dns_no_answer),
            ],
            busy_ratio: l.busy_ratio(),
            polls: l.polls,
            idle_polls: l.idle_polls,
            loop_seconds: secs(l.cycles),
            busy_seconds: secs(l.busy_cycles),
            rx_seconds: secs(l.rx_cycles),
        })
        .collect();
    Some(DpdkMetrics {
        port: port(&r.port),
        tap: r.tap.as_ref().map(port),
        lcores,
        pool_free: u64::from(r.pool_free),
        pool_size: u64::from(r.pool_size),
    })
}

/// The source that reads `reporter` on every scrape.
pub fn source(reporter: DpdkReporter) -> DpdkSource {
    Arc::new(move || metrics(&reporter))
}
