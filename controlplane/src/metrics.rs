//! Prometheus text exposition (`/metrics`) of data-plane, snapshot, sync and store figures.
//!
//! Rendered on demand from [`Stats`] (per-core counters, sampled processing
//! times), the live [`Snapshot`] and [`SyncMetrics`]; nothing here touches
//! the per-packet path. Processing times are SAMPLED (one query in
//! `skylane_dns_request_duration_sample_every`): the histogram's count is the
//! number of samples, not of queries.

use crate::forward::metrics::{ForwardMetrics, BUCKETS as FORWARD_BUCKETS};
use crate::forward::Forwarder;
use crate::sync::SyncMetrics;
use hdrhistogram::Histogram;
use skylane_dataplane::snapshot::Snapshot;
use skylane_dataplane::stats::{CounterSnapshot, Stats, QTYPE_LABELS, RCODE_LABELS};
use std::fmt::Write as _;

/// Upper bounds (seconds) of the processing-time buckets.
pub const DURATION_BUCKETS: [f64; 14] = [
    1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3, 1e-2, 0.1, 1.0,
];
/// Upper bounds (seconds) of the store → snapshot propagation buckets.
pub const PROPAGATION_BUCKETS: [f64; 12] = [
    1e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.5, 1.0, 10.0,
];

/// What one scrape renders.
pub struct MetricsInputs<'a> {
    pub stats: Option<&'a Stats>,
    pub snapshot: &'a Snapshot,
    pub sync: &'a SyncMetrics,
    /// "embedded" or "etcd".
    pub store_backend: &'a str,
    pub store_connected: bool,
    /// The forwarder and its cache; `None` when forwarding is off.
    pub forwarder: Option<&'a Forwarder>,
}

/// Writes metric families in the text format (version 0.0.4).
struct Writer {
    out: String,
}

impl Writer {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }

    /// A histogram family from an hdrhistogram whose unit is `unit_seconds`.
    fn histogram(
        &mut self,
        name: &str,
        help: &str,
        h: &Histogram<u64>,
        unit_seconds: f64,
        bounds: &[f64],
    ) {
        self.family(name, "histogram", help);
        let bucket = format!("{name}_bucket");
        for le in bounds {
            let max_units = (le / unit_seconds).floor() as u64;
            let count = if h.is_empty() {
                0
            } else {
                h.count_between(0, max_units)
            };
            self.sample(&bucket, &[("le", &format_float(*le))], count);
        }
        self.sample(&bucket, &[("le", "+Inf")], h.len());
        let sum = if h.is_empty() {
            0.0
        } else {
            h.mean() * h.len() as f64 * unit_seconds
        };
        self.sample(&format!("{name}_sum"), &[], format_float(sum));
        self.sample(&format!("{name}_count"), &[], h.len());
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn format_float(v: f64) -> String {
    let s = format!("{v}");
    if s.contains('e') || s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

/// Upper bounds (seconds) of the health-check duration buckets.
pub const HEALTH_CHECK_BUCKETS: [f64; 10] =
    [1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 5e-2, 0.1, 0.5, 1.0, 5.0];

/// The health scanner's families (appended to `/metrics` when an agent runs in-process).
pub fn render_health(h: &crate::health::HealthMetrics) -> String {
    let mut w = Writer { out: String::new() };
    w.family(
        "skylane_health_checks_total",
        "counter",
        "Health probes by kind (tcp, http, icmp) and result (success, failure).",
    );
    for (kind, result, n) in h.checks() {
        w.sample(
            "skylane_health_checks_total",
            &[("kind", kind), ("result", result)],
            n,
        );
    }
    w.histogram(
        "skylane_health_check_duration_seconds",
        "Duration of one address's whole check.",
        &h.duration_histogram(),
        1e-6,
        &HEALTH_CHECK_BUCKETS,
    );
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
        w.family(name, "gauge", help);
        w.sample(name, &[], v);
    }
    w.out
}

/// Per-slot labels: backend and core ("tcp" for the shared TCP slot).
fn slot_labels(backend: &str, core: Option<usize>) -> (String, String) {
    (
        backend.to_string(),
        core.map_or_else(|| "tcp".to_string(), |c| c.to_string()),
    )
}

fn counter_families(w: &mut Writer, slots: &[(String, String, CounterSnapshot)]) {
    type Get = fn(&CounterSnapshot) -> u64;
    let simple: [(&str, &str, Get); 8] = [
        (
            "skylane_dns_requests_total",
            "DNS messages handed to the answer engine.",
            |c| c.queries,
        ),
        (
            "skylane_dns_dropped_total",
            "Messages not answered (responses, unreadable headers, oversize).",
            |c| c.dropped,
        ),
        (
            "skylane_dns_parse_errors_total",
            "Malformed queries (answered FORMERR).",
            |c| c.malformed,
        ),
        (
            "skylane_dns_truncated_total",
            "Responses sent with TC=1.",
            |c| c.truncated,
        ),
        (
            "skylane_dns_fail_open_total",
            "Answers where every address was DOWN and all were returned.",
            |c| c.fail_open,
        ),
        (
            "skylane_dns_send_errors_total",
            "Responses that could not be sent.",
            |c| c.send_errors,
        ),
        (
            "skylane_dns_rx_packets_total",
            "Datagrams / TCP messages received.",
            |c| c.rx_packets,
        ),
        (
            "skylane_dns_tx_packets_total",
            "Datagrams / TCP messages sent.",
            |c| c.tx_packets,
        ),
    ];
    for (name, help, get) in simple {
        w.family(name, "counter", help);
        for (backend, core, c) in slots {
            w.sample(name, &[("backend", backend), ("core", core)], get(c));
        }
    }
    let name = "skylane_dns_responses_total";
    w.family(name, "counter", "Responses by response code.");
    for (backend, core, c) in slots {
        for (i, n) in c.rcode.iter().enumerate() {
            if *n > 0 || i == 0 {
                let labels = [
                    ("rcode", RCODE_LABELS[i]),
                    ("backend", backend),
                    ("core", core),
                ];
                w.sample(name, &labels, n);
            }
        }
    }
    let name = "skylane_dns_requests_by_qtype_total";
    w.family(name, "counter", "Answered queries by query type.");
    for (backend, core, c) in slots {
        for (i, n) in c.qtype.iter().enumerate() {
            if *n > 0 || i == 0 {
                let labels = [
                    ("qtype", QTYPE_LABELS[i]),
                    ("backend", backend),
                    ("core", core),
                ];
                w.sample(name, &labels, n);
            }
        }
    }
}

/// `skylane_data_source{source}` and `skylane_data_age_seconds`: where the live records come
/// from (store, last-known, none) and how old they are.
fn data_source_families(w: &mut Writer, sync: &crate::sync::SyncMetrics) {
    w.family(
        "skylane_data_source",
        "gauge",
        "1 for the source of the live records: store, last-known or none.",
    );
    let live = sync.source().as_str();
    for source in ["store", "last-known", "none"] {
        w.sample(
            "skylane_data_source",
            &[("source", source)],
            i64::from(source == live),
        );
    }
    w.family(
        "skylane_data_age_seconds",
        "gauge",
        "Age of the live records (0 while the store is followed).",
    );
    let age = sync.data_age().map_or(-1, |d| d.as_secs() as i64);
    w.sample("skylane_data_age_seconds", &[], age);
}

/// The whole `/metrics` page.
pub fn render(inputs: &MetricsInputs<'_>) -> String {
    let mut w = Writer {
        out: String::with_capacity(8 << 10),
    };
    if let Some(f) = inputs.forwarder {
        forward_families(&mut w, f);
    }
    if let Some(stats) = inputs.stats {
        let report = stats.report();
        let slots: Vec<(String, String, CounterSnapshot)> = report
            .slots
            .iter()
            .map(|s| {
                let (b, c) = slot_labels(s.backend, s.core);
                (b, c, s.counters)
            })
            .collect();
        counter_families(&mut w, &slots);
        w.histogram(
            "skylane_dns_request_duration_seconds",
            "Sampled processing time of one query in the answer engine.",
            &stats.latency_histogram(),
            1e-9,
            &DURATION_BUCKETS,
        );
        w.family(
            "skylane_dns_request_duration_sample_every",
            "gauge",
            "One query in this many is timed.",
        );
        w.sample(
            "skylane_dns_request_duration_sample_every",
            &[],
            stats.sample_every(),
        );
    }
    let snap = inputs.snapshot;
    let gauges: [(&str, &str, u64); 3] = [
        (
            "skylane_snapshot_records",
            "Records in the live snapshot.",
            snap.record_count() as u64,
        ),
        (
            "skylane_snapshot_names",
            "Names in the live snapshot.",
            snap.name_count() as u64,
        ),
        (
            "skylane_snapshot_generation",
            "Generation of the live snapshot.",
            snap.generation(),
        ),
    ];
    for (name, help, v) in gauges {
        w.family(name, "gauge", help);
        w.sample(name, &[], v);
    }
    let sync = inputs.sync;
    w.family(
        "skylane_snapshot_build_seconds",
        "gauge",
        "Duration of the last full list + snapshot build.",
    );
    w.sample(
        "skylane_snapshot_build_seconds",
        &[],
        format_float(sync.last_build().as_secs_f64()),
    );
    w.family(
        "skylane_snapshot_last_build_timestamp_seconds",
        "gauge",
        "Unix time of the last full snapshot build (0 = never).",
    );
    w.sample(
        "skylane_snapshot_last_build_timestamp_seconds",
        &[],
        format_float(sync.last_build_unix_ms() as f64 / 1000.0),
    );
    w.histogram(
        "skylane_sync_propagation_seconds",
        "Delay from a store change seen by the watch to the snapshot serving it.",
        &sync.propagation_histogram(),
        1e-6,
        &PROPAGATION_BUCKETS,
    );
    let counters: [(&str, &str, u64); 4] = [
        (
            "skylane_sync_parse_errors_total",
            "Store values skipped because they could not be parsed.",
            sync.parse_errors(),
        ),
        (
            "skylane_sync_events_total",
            "Watch events processed.",
            sync.events(),
        ),
        (
            "skylane_sync_resyncs_total",
            "Full re-lists after a compaction or lagging watch.",
            sync.resyncs(),
        ),
        (
            "skylane_sync_reconnects_total",
            "Watches re-opened after a broken connection.",
            sync.reconnects(),
        ),
    ];
    for (name, help, v) in counters {
        w.family(name, "counter", help);
        w.sample(name, &[], v);
    }
    let gauges: [(&str, &str, i64); 4] = [
        (
            "skylane_sync_bad_keys",
            "Keys whose current value is skipped.",
            sync.bad_keys() as i64,
        ),
        (
            "skylane_down_addresses",
            "Addresses marked DOWN.",
            sync.down_addresses() as i64,
        ),
        (
            "skylane_store_revision",
            "Store revision the live snapshot reflects.",
            sync.revision(),
        ),
        (
            "skylane_ready",
            "1 once the first snapshot from the store is live.",
            i64::from(sync.is_ready()),
        ),
    ];
    for (name, help, v) in gauges {
        w.family(name, "gauge", help);
        w.sample(name, &[], v);
    }
    data_source_families(&mut w, sync);
    w.family(
        "skylane_store_connected",
        "gauge",
        "1 when the record store is reachable.",
    );
    w.sample(
        "skylane_store_connected",
        &[("backend", inputs.store_backend)],
        u8::from(inputs.store_connected && sync.store_connected()),
    );
    crate::metrics_dpdk::render(&mut w.out);
    w.out
}

/// The cache and forwarder families (`skylane_cache_*`, `skylane_forward_*`).
fn forward_families(w: &mut Writer, f: &Forwarder) {
    let (hits, misses, overflows) = f.cache.shared.totals();
    let (entries, bytes) = f.cache.usage();
    let m = &f.metrics;
    let counters: [(&str, &str, u64); 6] = [
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
    for (name, help, v) in counters {
        w.family(name, "counter", help);
        w.sample(name, &[], v);
    }
    w.family(
        "skylane_cache_entries",
        "gauge",
        "Entries in the forward cache.",
    );
    w.sample("skylane_cache_entries", &[], entries);
    w.family(
        "skylane_cache_bytes",
        "gauge",
        "Approximate bytes held by the forward cache.",
    );
    w.sample("skylane_cache_bytes", &[], bytes);
    let name = "skylane_forward_requests_total";
    w.family(
        name,
        "counter",
        "Upstream exchanges by upstream and outcome (rcode, timeout, error).",
    );
    for ((up, outcome), v) in m.requests() {
        w.sample(
            name,
            &[("upstream", &up.to_string()), ("rcode", outcome)],
            v,
        );
    }
    let name = "skylane_forward_duration_seconds";
    w.family(name, "histogram", "Upstream exchange time.");
    for (up, d) in m.durations() {
        let up = up.to_string();
        for (le, count) in FORWARD_BUCKETS.iter().zip(d.buckets) {
            let le = format_float(*le);
            w.sample(
                &format!("{name}_bucket"),
                &[("upstream", &up), ("le", &le)],
                count,
            );
        }
        w.sample(
            &format!("{name}_bucket"),
            &[("upstream", &up), ("le", "+Inf")],
            d.count,
        );
        w.sample(
            &format!("{name}_sum"),
            &[("upstream", &up)],
            format_float(d.sum),
        );
        w.sample(&format!("{name}_count"), &[("upstream", &up)], d.count);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skylane_dataplane::stats::Backend;
    use skylane_dataplane::ZoneConfig;
    use std::sync::Arc;

    #[test]
    fn renders_counters_and_histograms() {
        let stats = Stats::with_sampling(Backend::Socket, &[0, 1], 1);
        let c = stats.slot(stats.core_slot(1).unwrap()).counters();
        c.count_reply(3, 1, false, false);
        c.count_reply(0, 28, false, true);
        let snap = Snapshot::empty(Arc::new(ZoneConfig::default()));
        let sync = SyncMetrics::new();
        let text = render(&MetricsInputs {
            stats: Some(&stats),
            snapshot: &snap,
            sync: &sync,
            store_backend: "embedded",
            store_connected: true,
            forwarder: None,
        });
        assert!(text.contains(
            "skylane_dns_responses_total{rcode=\"NXDOMAIN\",backend=\"socket\",core=\"1\"} 1\n"
        ));
        assert!(text.contains(
            "skylane_dns_requests_by_qtype_total{qtype=\"AAAA\",backend=\"socket\",core=\"1\"} 1\n"
        ));
        assert!(text.contains("skylane_dns_fail_open_total{backend=\"socket\",core=\"1\"} 1\n"));
        assert!(text.contains("skylane_dns_requests_total{backend=\"tcp\",core=\"tcp\"} 0\n"));
        assert!(text.contains("skylane_dns_request_duration_seconds_bucket{le=\"+Inf\"} 0\n"));
        assert!(text.contains("# TYPE skylane_sync_propagation_seconds histogram\n"));
        assert!(text.contains("skylane_store_connected{backend=\"embedded\"} 0\n"));
        // Every sample line is `name{labels} value` or `name value`.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 2).unwrap();
        for ns in [500u64, 3_000, 20_000, 2_000_000] {
            h.record(ns).unwrap();
        }
        let mut w = Writer { out: String::new() };
        w.histogram("x_seconds", "test", &h, 1e-9, &DURATION_BUCKETS);
        let bucket = |le: &str| -> u64 {
            let prefix = format!("x_seconds_bucket{{le=\"{le}\"}} ");
            let line = w.out.lines().find(|l| l.starts_with(&prefix)).unwrap();
            line[prefix.len()..].parse().unwrap()
        };
        assert_eq!(bucket("0.000001"), 1);
        assert_eq!(bucket("0.000005"), 2);
        assert_eq!(bucket("0.000025"), 3);
        assert_eq!(bucket("0.001"), 3);
        assert_eq!(bucket("0.005"), 4);
        assert_eq!(bucket("+Inf"), 4);
    }
}
