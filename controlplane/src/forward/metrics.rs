//! The forwarder's counters, rendered into /metrics by
//! [`crate::metrics`]: requests per upstream and outcome, upstream latency
//! histograms, stale answers, dropped mismatched replies, overflows.

use skylane_dataplane::stats::{rcode_bucket, RCODE_LABELS};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Histogram bucket bounds (seconds) for `skylane_forward_duration_seconds`.
pub const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// One upstream's latency histogram.
#[derive(Debug, Clone, Default)]
pub struct Durations {
    pub buckets: [u64; BUCKETS.len()],
    pub count: u64,
    pub sum: f64,
}

/// Forwarder counters (cold path: a mutex is fine).
#[derive(Debug, Default)]
pub struct ForwardMetrics {
    requests: Mutex<BTreeMap<(SocketAddr, &'static str), u64>>,
    durations: Mutex<BTreeMap<SocketAddr, Durations>>,
    pub stale_answers: AtomicU64,
    pub mismatched: AtomicU64,
    /// Queries answered SERVFAIL because `max-outstanding` was reached.
    pub overflows: AtomicU64,
    /// Replies the backend could not send.
    pub send_errors: AtomicU64,
}

/// The `rcode` label of an upstream outcome: the same names as the data plane's
/// `skylane_dns_responses_total` buckets.
pub fn rcode_label(rcode: u16) -> &'static str {
    RCODE_LABELS[rcode_bucket(rcode)]
}

impl ForwardMetrics {
    /// Counts one upstream exchange: `outcome` is an rcode label,
    /// `timeout` or `error`.
    pub fn exchange(&self, upstream: SocketAddr, outcome: &'static str, took: Duration) {
        *self
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((upstream, outcome))
            .or_default() += 1;
        let secs = took.as_secs_f64();
        let mut d = self
            .durations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let h = d.entry(upstream).or_default();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.buckets[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    /// `((upstream, outcome), count)` in a stable order.
    pub fn requests(&self) -> Vec<((SocketAddr, &'static str), u64)> {
        let r = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        r.iter().map(|(k, v)| (*k, *v)).collect()
    }

    pub fn durations(&self) -> Vec<(SocketAddr, Durations)> {
        let d = self
            .durations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        d.iter().map(|(k, v)| (*k, v.clone())).collect()
    }

    pub fn load(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}
