//! The scanner's metrics (read into `/metrics` at scrape time by the health collector in
//! [`crate::metrics`]).

use super::check::{CheckKind, Outcome};
use crate::metrics::{counters, gauge, hdr_histogram, Scrape, HEALTH_CHECK_BUCKETS};
use hdrhistogram::Histogram;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

const KINDS: [CheckKind; 3] = [CheckKind::Tcp, CheckKind::Http, CheckKind::Icmp];

/// Counters and gauges of one agent. Thread-safe and cheap.
pub struct HealthMetrics {
    /// [kind][0 = success, 1 = failure]
    checks: [[AtomicU64; 2]; 3],
    /// Whole-check durations, microseconds.
    duration_us: Mutex<Histogram<u64>>,
    targets: AtomicU64,
    agents_live: AtomicU64,
    panic: AtomicBool,
}

impl Default for HealthMetrics {
    fn default() -> Self {
        HealthMetrics::new()
    }
}

impl HealthMetrics {
    pub fn new() -> HealthMetrics {
        HealthMetrics {
            checks: Default::default(),
            duration_us: Mutex::new(
                Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds"),
            ),
            targets: AtomicU64::new(0),
            agents_live: AtomicU64::new(0),
            panic: AtomicBool::new(false),
        }
    }

    /// Counts one check's probes and its duration.
    pub fn record(&self, outcome: &Outcome) {
        for p in &outcome.probes {
            let k = KINDS.iter().position(|&k| k == p.kind).unwrap_or(0);
            self.checks[k][usize::from(!p.ok)].fetch_add(1, Ordering::Relaxed);
        }
        let us = (outcome.latency.as_micros() as u64).clamp(1, 3_600_000_000);
        let mut h = self.duration_us.lock().unwrap_or_else(|p| p.into_inner());
        let _ = h.record(us);
    }

    pub fn set_targets(&self, n: usize) {
        self.targets.store(n as u64, Ordering::Relaxed);
    }
    pub fn set_agents_live(&self, n: usize) {
        self.agents_live.store(n as u64, Ordering::Relaxed);
    }
    pub fn set_panic(&self, on: bool) {
        self.panic.store(on, Ordering::Relaxed);
    }

    pub fn targets(&self) -> u64 {
        self.targets.load(Ordering::Relaxed)
    }
    pub fn agents_live(&self) -> u64 {
        self.agents_live.load(Ordering::Relaxed)
    }
    pub fn panic(&self) -> bool {
        self.panic.load(Ordering::Relaxed)
    }

    /// `(kind, result, count)` for every counter.
    pub fn checks(&self) -> Vec<(&'static str, &'static str, u64)> {
        let mut out = Vec::new();
        for (i, kind) in KINDS.iter().enumerate() {
            for (j, result) in ["success", "failure"].iter().enumerate() {
                out.push((
                    kind.as_str(),
                    *result,
                    self.checks[i][j].load(Ordering::Relaxed),
                ));
            }
        }
        out
    }

    /// A copy of the duration histogram (microseconds).
    pub fn duration_histogram(&self) -> Histogram<u64> {
        self.duration_us
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// An in-process health agent's checks and gauges.
impl Collector for Scrape<HealthMetrics> {
    fn encode(&self, mut e: DescriptorEncoder) -> fmt::Result {
        let h = &*self.0;
        let checks: Vec<_> = h
            .checks()
            .into_iter()
            .map(|(kind, result, n)| ([("kind", kind), ("result", result)], n))
            .collect();
        counters(
            &mut e,
            "skylane_health_checks_total",
            "Health probes by kind (tcp, http, icmp) and result (success, failure).",
            &checks,
        )?;
        hdr_histogram(
            &mut e,
            "skylane_health_check_duration_seconds",
            "Duration of one address's whole check.",
            &h.duration_histogram(),
            1e-6,
            &HEALTH_CHECK_BUCKETS,
        )?;
        let gauges: [(&str, &str, u64); 3] = [
            (
                "skylane_health_targets",
                "Addresses this agent checks.",
                h.targets(),
            ),
            (
                "skylane_health_agents_live",
                "Live health agents (heart keys).",
                h.agents_live(),
            ),
            (
                "skylane_health_panic",
                "1 while the partition guard holds DOWN writes.",
                u64::from(h.panic()),
            ),
        ];
        for (name, help, v) in gauges {
            gauge(&mut e, name, help, v)?;
        }
        Ok(())
    }
}
