//! The `/metrics` exposition (OpenMetrics text, `prometheus-client`) of data-plane, snapshot,
//! sync, store, forwarder and health-scanner figures.
//!
//! Every part is a custom [`Collector`] that reads its source at scrape time: the data
//! plane keeps its own lock-free per-core counters ([`Stats`]) and the collector only
//! loads them, so nothing here touches the per-packet path. Processing times are SAMPLED
//! (one query in `skylane_dns_request_duration_sample_every`): the histogram's count is the
//! number of samples, not of queries. Metric names, labels and types are pinned by
//! `controlplane/tests/api_metrics.rs`.

use crate::forward::Forwarder;
use crate::health::HealthMetrics;
use crate::sync::SyncMetrics;
use hdrhistogram::Histogram;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeGaugeValue, EncodeLabelSet, NoLabelSet,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use skylane_dataplane::snapshot::Snapshot;
use skylane_dataplane::stats::{CounterSnapshot, Stats, QTYPE_LABELS, RCODE_LABELS};
use std::fmt;
use std::sync::Arc;

/// The Content-Type of `/metrics`.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds (seconds) of the processing-time buckets.
pub const DURATION_BUCKETS: [f64; 14] = [
    1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3, 1e-2, 0.1, 1.0,
];
/// Upper bounds (seconds) of the store → snapshot propagation buckets.
pub const PROPAGATION_BUCKETS: [f64; 12] = [
    1e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.5, 1.0, 10.0,
];
/// Upper bounds (seconds) of the health-check duration buckets.
pub const HEALTH_CHECK_BUCKETS: [f64; 10] =
    [1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 5e-2, 0.1, 0.5, 1.0, 5.0];

/// What one scrape reads: shared handles, loaded by the collectors at scrape time.
#[derive(Clone)]
pub struct MetricsSources {
    pub stats: Option<Arc<Stats>>,
    pub snapshot: Arc<Snapshot>,
    pub sync: Arc<SyncMetrics>,
    /// "embedded" or "etcd".
    pub store_backend: &'static str,
    pub store_connected: bool,
    /// The forwarder and its cache; `None` when forwarding is off.
    pub forwarder: Option<Arc<Forwarder>>,
    /// An in-process health agent's metrics.
    pub health: Option<Arc<HealthMetrics>>,
    /// The running data plane's own families (RRL, DPDK).
    pub dataplane: DataplaneSources,
}

/// The running data plane's live counter sources, handed over once at start-up (the
/// binary builds them with the data plane and passes them to the API's state); a `None`
/// renders nothing (no data plane in this process, or the socket backend for DPDK).
#[derive(Clone, Default)]
pub struct DataplaneSources {
    /// `skylane_rrl_*`: the response rate limiter's counters.
    pub rrl: Option<Arc<skylane_dataplane::rrl::RrlHandle>>,
    /// `skylane_dpdk_*`: the DPDK backend's port and lcore counters.
    pub dpdk: Option<crate::metrics_dpdk::DpdkSource>,
}

/// The whole `/metrics` page (OpenMetrics text, ending in `# EOF`).
pub fn render(sources: MetricsSources) -> String {
    let mut registry = Registry::default();
    if let Some(f) = sources.forwarder.clone() {
        registry.register_collector(Box::new(Scrape(f)));
    }
    if let Some(stats) = sources.stats.clone() {
        registry.register_collector(Box::new(Scrape(stats)));
    }
    if let Some(h) = sources.health.clone() {
        registry.register_collector(Box::new(Scrape(h)));
    }
    let dataplane = sources.dataplane.clone();
    registry.register_collector(Box::new(Scrape(Arc::new(sources))));
    if let Some(d) = dataplane.dpdk {
        registry.register_collector(Box::new(crate::metrics_dpdk::DpdkCollector(d)));
    }
    if let Some(r) = dataplane.rrl {
        registry.register_collector(Box::new(crate::metrics_rrl::RrlCollector(r)));
    }
    let mut out = String::with_capacity(16 << 10);
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &registry) {
        tracing::warn!(error = %e, "encoding /metrics failed");
    }
    out
}

/// A family name as prometheus-client wants it: counters without their `_total`
/// suffix (the encoder appends it to the samples).
fn family_name(name: &str, kind: MetricType) -> &str {
    match kind {
        MetricType::Counter => name.strip_suffix("_total").unwrap_or(name),
        _ => name,
    }
}

/// One unlabelled counter.
pub(crate) fn counter(e: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> fmt::Result {
    let kind = MetricType::Counter;
    e.encode_descriptor(family_name(name, kind), help, None, kind)?
        .encode_counter::<NoLabelSet, _, u64>(&v, None)
}

/// One unlabelled gauge.
pub(crate) fn gauge<V: EncodeGaugeValue>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    v: V,
) -> fmt::Result {
    e.encode_descriptor(name, help, None, MetricType::Gauge)?
        .encode_gauge(&v)
}

/// A labelled counter family.
pub(crate) fn counters<L: EncodeLabelSet>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: &[(L, u64)],
) -> fmt::Result {
    let kind = MetricType::Counter;
    let mut m = e.encode_descriptor(family_name(name, kind), help, None, kind)?;
    for (labels, v) in series {
        m.encode_family(labels)?
            .encode_counter::<NoLabelSet, _, u64>(v, None)?;
    }
    Ok(())
}

/// Per-bucket counts (prometheus-client accumulates them) from cumulative ones, with
/// `+Inf` (`f64::MAX`) holding what is above the last bound.
pub(crate) fn bucket_deltas(bounds: &[f64], cumulative: &[u64], count: u64) -> Vec<(f64, u64)> {
    let mut out = Vec::with_capacity(bounds.len() + 1);
    let mut prev = 0;
    for (le, c) in bounds.iter().zip(cumulative) {
        out.push((*le, c.saturating_sub(prev)));
        prev = (*c).max(prev);
    }
    out.push((f64::MAX, count.saturating_sub(prev)));
    out
}

/// A histogram family from an hdrhistogram whose unit is `unit_seconds`.
pub(crate) fn hdr_histogram(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    h: &Histogram<u64>,
    unit_seconds: f64,
    bounds: &[f64],
) -> fmt::Result {
    let cumulative: Vec<u64> = bounds
        .iter()
        .map(|le| {
            let max_units = (le / unit_seconds).floor() as u64;
            if h.is_empty() {
                0
            } else {
                h.count_between(0, max_units)
            }
        })
        .collect();
    let sum = if h.is_empty() {
        0.0
    } else {
        h.mean() * h.len() as f64 * unit_seconds
    };
    e.encode_descriptor(name, help, None, MetricType::Histogram)?
        .encode_histogram::<NoLabelSet>(
            sum,
            h.len(),
            &bucket_deltas(bounds, &cumulative, h.len()),
            None,
        )
}

/// A collector over one shared source, read at scrape time (`Scrape<Stats>`: the data
/// plane's per-core counters; `Scrape<Forwarder>`, `Scrape<HealthMetrics>`,
/// `Scrape<MetricsSources>`: snapshot, sync and store).
pub(crate) struct Scrape<T>(pub(crate) Arc<T>);

impl<T> fmt::Debug for Scrape<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scrape<{}>", std::any::type_name::<T>())
    }
}

/// Per-slot labels: backend and core ("tcp" for the shared TCP slot).
fn slot_labels(backend: &str, core: Option<usize>) -> (String, String) {
    (
        backend.to_string(),
        core.map_or_else(|| "tcp".to_string(), |c| c.to_string()),
    )
}

type Slot = (String, String, CounterSnapshot);

fn counter_families(e: &mut DescriptorEncoder, slots: &[Slot]) -> fmt::Result {
    type Get = fn(&CounterSnapshot) -> u64;
    let simple: [(&str, &str, Get); 8] = [
        (
            "skylane_dns_requests_total",
            "DNS messages handed to the answer engine.",
            |c| c.queries,
        ),
        (
            "skylane_dns_dropped_total",
            "Messages not answered (responses, unreadable headers, oversize, rate-limited by [rrl]).",
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
        let series: Vec<_> = slots
            .iter()
            .map(|(b, c, s)| ([("backend", b.as_str()), ("core", c.as_str())], get(s)))
            .collect();
        counters(e, name, help, &series)?;
    }
    let by_label = |labels: &'static [&'static str],
                    key: &'static str,
                    pick: fn(&CounterSnapshot) -> &[u64]| {
        let mut series = Vec::new();
        for (b, c, s) in slots {
            for (i, n) in pick(s).iter().enumerate() {
                if *n > 0 || i == 0 {
                    series.push((
                        [
                            (key, labels[i]),
                            ("backend", b.as_str()),
                            ("core", c.as_str()),
                        ],
                        *n,
                    ));
                }
            }
        }
        series
    };
    counters(
        e,
        "skylane_dns_responses_total",
        "Responses by response code.",
        &by_label(&RCODE_LABELS, "rcode", |s| &s.rcode[..]),
    )?;
    counters(
        e,
        "skylane_dns_requests_by_qtype_total",
        "Answered queries by query type.",
        &by_label(&QTYPE_LABELS, "qtype", |s| &s.qtype[..]),
    )
}

/// The data plane's per-core counters and sampled processing times.
impl Collector for Scrape<Stats> {
    fn encode(&self, mut e: DescriptorEncoder) -> fmt::Result {
        let stats = &self.0;
        let report = stats.report();
        let slots: Vec<Slot> = report
            .slots
            .iter()
            .map(|s| {
                let (b, c) = slot_labels(s.backend, s.core);
                (b, c, s.counters)
            })
            .collect();
        counter_families(&mut e, &slots)?;
        hdr_histogram(
            &mut e,
            "skylane_dns_request_duration_seconds",
            "Sampled processing time of one query in the answer engine.",
            &stats.latency_histogram(),
            1e-9,
            &DURATION_BUCKETS,
        )?;
        gauge(
            &mut e,
            "skylane_dns_request_duration_sample_every",
            "One query in this many is timed.",
            stats.sample_every() as u64,
        )
    }
}

/// The live snapshot, the store → snapshot sync and the store connection.
impl Collector for Scrape<MetricsSources> {
    fn encode(&self, mut e: DescriptorEncoder) -> fmt::Result {
        let (snap, sync) = (&self.0.snapshot, &*self.0.sync);
        gauge(
            &mut e,
            "skylane_snapshot_build_seconds",
            "Duration of the last full list + snapshot build.",
            sync.last_build().as_secs_f64(),
        )?;
        gauge(
            &mut e,
            "skylane_snapshot_last_build_timestamp_seconds",
            "Unix time of the last full snapshot build (0 = never).",
            sync.last_build_unix_ms() as f64 / 1000.0,
        )?;
        hdr_histogram(
            &mut e,
            "skylane_sync_propagation_seconds",
            "Delay from a store change seen by the watch to the snapshot serving it.",
            &sync.propagation_histogram(),
            1e-6,
            &PROPAGATION_BUCKETS,
        )?;
        sync_counters(&mut e, snap, sync)?;
        self.store_families(&mut e)
    }
}

/// Snapshot and sync gauges (name, help), in the order of their values in `sync_counters`.
const SYNC_GAUGES: [(&str, &str); 7] = [
    ("skylane_snapshot_records", "Records in the live snapshot."),
    ("skylane_snapshot_names", "Names in the live snapshot."),
    (
        "skylane_snapshot_generation",
        "Generation of the live snapshot.",
    ),
    (
        "skylane_sync_bad_keys",
        "Keys whose current value is skipped.",
    ),
    ("skylane_down_addresses", "Addresses marked DOWN."),
    (
        "skylane_store_revision",
        "Store revision the live snapshot reflects.",
    ),
    (
        "skylane_ready",
        "1 once the first snapshot from the store is live.",
    ),
];

fn sync_counters(e: &mut DescriptorEncoder, snap: &Snapshot, sync: &SyncMetrics) -> fmt::Result {
    let totals: [(&str, &str, u64); 4] = [
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
    for (name, help, v) in totals {
        counter(e, name, help, v)?;
    }
    let values = [
        snap.record_count() as i64,
        snap.name_count() as i64,
        snap.generation() as i64,
        sync.bad_keys() as i64,
        sync.down_addresses() as i64,
        sync.revision(),
        i64::from(sync.is_ready()),
    ];
    for ((name, help), v) in SYNC_GAUGES.iter().zip(values) {
        gauge(e, name, help, v)?;
    }
    Ok(())
}

impl Scrape<MetricsSources> {
    /// `skylane_data_source{source}`, `skylane_data_age_seconds`, `skylane_store_connected`.
    fn store_families(&self, e: &mut DescriptorEncoder) -> fmt::Result {
        let sync = &*self.0.sync;
        let live = sync.source().as_str();
        let mut m = e.encode_descriptor(
            "skylane_data_source",
            "1 for the source of the live records: store, last-known or none.",
            None,
            MetricType::Gauge,
        )?;
        for source in ["store", "last-known", "none"] {
            m.encode_family(&[("source", source)])?
                .encode_gauge(&i64::from(source == live))?;
        }
        gauge(
            e,
            "skylane_data_age_seconds",
            "Age of the live records (0 while the store is followed).",
            sync.data_age().map_or(-1, |d| d.as_secs() as i64),
        )?;
        let connected = self.0.store_connected && sync.store_connected();
        e.encode_descriptor(
            "skylane_store_connected",
            "1 when the record store is reachable.",
            None,
            MetricType::Gauge,
        )?
        .encode_family(&[("backend", self.0.store_backend)])?
        .encode_gauge(&i64::from(connected))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skylane_dataplane::stats::Backend;
    use skylane_dataplane::ZoneConfig;

    fn sources(stats: Option<Arc<Stats>>) -> MetricsSources {
        MetricsSources {
            stats,
            snapshot: Arc::new(Snapshot::empty(Arc::new(ZoneConfig::default()))),
            sync: Arc::new(SyncMetrics::new()),
            store_backend: "embedded",
            store_connected: true,
            forwarder: None,
            health: Some(Arc::new(HealthMetrics::new())),
            dataplane: DataplaneSources::default(),
        }
    }

    #[test]
    fn renders_counters_and_histograms() {
        let stats = Arc::new(Stats::with_sampling(Backend::Socket, &[0, 1], 1));
        let c = stats.slot(stats.core_slot(1).unwrap()).counters();
        c.count_reply(3, 1, false, false);
        c.count_reply(0, 28, false, true);
        let text = render(sources(Some(stats)));
        for needle in [
            "skylane_dns_responses_total{rcode=\"NXDOMAIN\",backend=\"socket\",core=\"1\"} 1\n",
            "skylane_dns_requests_by_qtype_total{qtype=\"AAAA\",backend=\"socket\",core=\"1\"} 1\n",
            "skylane_dns_fail_open_total{backend=\"socket\",core=\"1\"} 1\n",
            "skylane_dns_requests_total{backend=\"tcp\",core=\"tcp\"} 0\n",
            "skylane_dns_request_duration_seconds_bucket{le=\"+Inf\"} 0\n",
            "# TYPE skylane_sync_propagation_seconds histogram\n",
            "# TYPE skylane_dns_requests counter\n",
            "skylane_store_connected{backend=\"embedded\"} 0\n",
            "skylane_health_checks_total{kind=\"tcp\",result=\"success\"} 0\n",
        ] {
            assert!(text.contains(needle), "{needle} not in:\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
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
        let mut out = String::new();
        let mut registry = Registry::default();
        #[derive(Debug)]
        struct One(Histogram<u64>);
        impl Collector for One {
            fn encode(&self, mut e: DescriptorEncoder) -> fmt::Result {
                hdr_histogram(
                    &mut e,
                    "x_seconds",
                    "test",
                    &self.0,
                    1e-9,
                    &DURATION_BUCKETS,
                )
            }
        }
        registry.register_collector(Box::new(One(h)));
        prometheus_client::encoding::text::encode(&mut out, &registry).unwrap();
        let bucket = |le: f64| -> u64 {
            let line = out
                .lines()
                .filter_map(|l| l.strip_prefix("x_seconds_bucket{le=\""))
                .find(|l| {
                    let (bound, _) = l.split_once('"').unwrap();
                    bound.parse::<f64>().ok() == Some(le) || (bound == "+Inf" && le.is_infinite())
                })
                .unwrap_or_else(|| panic!("no bucket {le} in {out}"));
            line.rsplit_once(' ').unwrap().1.parse().unwrap()
        };
        assert_eq!(bucket(0.000001), 1);
        assert_eq!(bucket(0.000005), 2);
        assert_eq!(bucket(0.000025), 3);
        assert_eq!(bucket(0.001), 3);
        assert_eq!(bucket(0.005), 4);
        assert_eq!(bucket(f64::INFINITY), 4);
        assert!(out.contains("x_seconds_count 4\n"), "{out}");
    }

    #[test]
    fn deltas_from_cumulative_buckets() {
        assert_eq!(
            bucket_deltas(&[1.0, 2.0], &[2, 5], 6),
            vec![(1.0, 2), (2.0, 3), (f64::MAX, 1)]
        );
    }
}
