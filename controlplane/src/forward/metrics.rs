//! The forwarder's counters and their `/metrics` collector (read at scrape time):
//! requests per upstream and outcome, upstream latency histograms, stale answers,
//! dropped mismatched replies, overflows, and the forward cache's figures.

use super::Forwarder;
use crate::metrics::{bucket_deltas, counter, counters, gauge, Scrape};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use skylane_dataplane::stats::{rcode_bucket, RCODE_LABELS};
use std::collections::BTreeMap;
use std::fmt;
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

/// The forward cache and the forwarder (`skylane_cache_*`, `skylane_forward_*`).
impl Collector for Scrape<Forwarder> {
    fn encode(&self, mut e: DescriptorEncoder) -> fmt::Result {
        let f = &*self.0;
        let (hits, misses, overflows) = f.cache.shared.totals();
        let (entries, bytes) = f.cache.usage();
        let m = &f.metrics;
        let totals: [(&str, &str, u64); 6] = [
            (
                "skylane_cache_hits_total",
                "Forwarded-name queries answered from a core's cache.",
                hits,
            ),
            (
                "skylane_cache_misses_total",
                "Forwarded-name queries handed to the forwarder.",
                misses,
            ),
            (
                "skylane_cache_evictions_total",
                "Entries evicted to keep the cache within cache-size-mb.",
                ForwardMetrics::load(&f.cache.evictions),
            ),
            (
                "skylane_forward_stale_answers_total",
                "Answers served stale (RFC 8767) after every upstream failed.",
                ForwardMetrics::load(&m.stale_answers),
            ),
            (
                "skylane_forward_mismatched_replies_total",
                "Upstream datagrams dropped: wrong ID or question.",
                ForwardMetrics::load(&m.mismatched),
            ),
            (
                "skylane_forward_overflows_total",
                "Queries answered SERVFAIL: hand-off channel full or max-outstanding reached.",
                overflows + ForwardMetrics::load(&m.overflows),
            ),
        ];
        for (name, help, v) in totals {
            counter(&mut e, name, help, v)?;
        }
        gauge(
            &mut e,
            "skylane_cache_entries",
            "Entries in the forward cache.",
            entries as u64,
        )?;
        gauge(
            &mut e,
            "skylane_cache_bytes",
            "Approximate bytes held by the forward cache.",
            bytes as u64,
        )?;
        let requests: Vec<_> = m
            .requests()
            .into_iter()
            .map(|((up, outcome), v)| {
                (
                    [("upstream", up.to_string()), ("rcode", outcome.to_string())],
                    v,
                )
            })
            .collect();
        counters(
            &mut e,
            "skylane_forward_requests_total",
            "Upstream exchanges by upstream and outcome (rcode, timeout, error).",
            &requests,
        )?;
        let mut hist = e.encode_descriptor(
            "skylane_forward_duration_seconds",
            "Upstream exchange time.",
            None,
            MetricType::Histogram,
        )?;
        for (up, d) in m.durations() {
            let buckets = bucket_deltas(&BUCKETS, &d.buckets, d.count);
            hist.encode_family(&[("upstream", up.to_string())])?
                .encode_histogram::<NoLabelSet>(d.sum, d.count, &buckets, None)?;
        }
        Ok(())
    }
}
