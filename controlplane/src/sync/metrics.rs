//! Sync health and timing, read by `/ready`, `/metrics` and tests.

use hdrhistogram::Histogram;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Counters and gauges of the store → snapshot sync. All methods are cheap and thread-safe.
pub struct SyncMetrics {
    ready: tokio::sync::watch::Sender<bool>,
    /// Watch event received → snapshot live, in microseconds.
    propagation_us: Mutex<Histogram<u64>>,
    snapshot_records: AtomicU64,
    snapshot_names: AtomicU64,
    generation: AtomicU64,
    revision: AtomicI64,
    last_build_us: AtomicU64,
    last_build_unix_ms: AtomicU64,
    store_connected: AtomicBool,
    parse_errors: AtomicU64,
    bad_keys: AtomicU64,
    down_addresses: AtomicU64,
    events: AtomicU64,
    resyncs: AtomicU64,
    reconnects: AtomicU64,
    /// Where the live records come from: [`DataSource`] as u8.
    source: AtomicU8,
    /// When the live data was known current (ms since the Unix epoch, 0 = never).
    data_unix_ms: AtomicU64,
}

/// Where the live store records come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum DataSource {
    /// Nothing loaded yet: negative answers are SERVFAIL.
    None = 0,
    /// `<data-dir>/last-known`, while the store cannot be listed.
    LastKnown = 1,
    /// The store itself (listed and watched).
    Store = 2,
}

impl DataSource {
    pub fn as_str(self) -> &'static str {
        match self {
            DataSource::None => "none",
            DataSource::LastKnown => "last-known",
            DataSource::Store => "store",
        }
    }
}

fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Default for SyncMetrics {
    fn default() -> Self {
        SyncMetrics::new()
    }
}

impl SyncMetrics {
    pub fn new() -> SyncMetrics {
        SyncMetrics {
            ready: tokio::sync::watch::Sender::new(false),
            // 1 µs .. 1 h, 3 significant digits.
            propagation_us: Mutex::new(
                Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds"),
            ),
            snapshot_records: AtomicU64::new(0),
            snapshot_names: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            revision: AtomicI64::new(0),
            last_build_us: AtomicU64::new(0),
            last_build_unix_ms: AtomicU64::new(0),
            store_connected: AtomicBool::new(false),
            parse_errors: AtomicU64::new(0),
            bad_keys: AtomicU64::new(0),
            down_addresses: AtomicU64::new(0),
            events: AtomicU64::new(0),
            resyncs: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            source: AtomicU8::new(DataSource::None as u8),
            data_unix_ms: AtomicU64::new(0),
        }
    }

    /// Where the live records come from.
    pub fn source(&self) -> DataSource {
        match self.source.load(Ordering::Relaxed) {
            1 => DataSource::LastKnown,
            2 => DataSource::Store,
            _ => DataSource::None,
        }
    }

    /// How old the live data is: 0 while the store is followed; for last-known, the time since
    /// the file was written; `None` before anything is loaded.
    pub fn data_age(&self) -> Option<Duration> {
        match self.source() {
            DataSource::None => None,
            DataSource::Store if self.store_connected() => Some(Duration::ZERO),
            _ => {
                let at = self.data_unix_ms.load(Ordering::Relaxed);
                Some(Duration::from_millis(now_unix_ms().saturating_sub(at)))
            }
        }
    }

    /// Records the source of the live data and when it was current.
    pub(crate) fn set_source(&self, source: DataSource, data_unix_ms: u64) {
        self.source.store(source as u8, Ordering::Relaxed);
        self.data_unix_ms.store(data_unix_ms, Ordering::Relaxed);
    }

    /// True once the first snapshot from the store is live (`/ready` is 503 before).
    pub fn is_ready(&self) -> bool {
        *self.ready.borrow()
    }

    /// Resolves once the first snapshot is live.
    pub async fn wait_ready(&self) {
        let mut rx = self.ready.subscribe();
        // The sender lives in `self`, so this cannot fail.
        let _ = rx.wait_for(|r| *r).await;
    }

    /// A copy of the propagation histogram (microseconds).
    pub fn propagation_histogram(&self) -> Histogram<u64> {
        self.propagation_us
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Propagation delay at quantile `q` (0..=1), `None` before any change.
    pub fn propagation_quantile(&self, q: f64) -> Option<Duration> {
        let h = self
            .propagation_us
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        (!h.is_empty()).then(|| Duration::from_micros(h.value_at_quantile(q)))
    }

    pub fn snapshot_records(&self) -> u64 {
        self.snapshot_records.load(Ordering::Relaxed)
    }
    pub fn snapshot_names(&self) -> u64 {
        self.snapshot_names.load(Ordering::Relaxed)
    }
    /// Generation of the live snapshot.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }
    /// Store revision the live snapshot reflects.
    pub fn revision(&self) -> i64 {
        self.revision.load(Ordering::Relaxed)
    }
    /// Duration of the last full list + build.
    pub fn last_build(&self) -> Duration {
        Duration::from_micros(self.last_build_us.load(Ordering::Relaxed))
    }
    /// Wall-clock time of the last full build (ms since the Unix epoch, 0 = never).
    pub fn last_build_unix_ms(&self) -> u64 {
        self.last_build_unix_ms.load(Ordering::Relaxed)
    }
    pub fn store_connected(&self) -> bool {
        self.store_connected.load(Ordering::Relaxed)
    }
    /// Store values skipped because they could not be parsed (every occurrence).
    pub fn parse_errors(&self) -> u64 {
        self.parse_errors.load(Ordering::Relaxed)
    }
    /// Keys whose current value is skipped.
    pub fn bad_keys(&self) -> u64 {
        self.bad_keys.load(Ordering::Relaxed)
    }
    pub fn down_addresses(&self) -> u64 {
        self.down_addresses.load(Ordering::Relaxed)
    }
    /// Watch events processed.
    pub fn events(&self) -> u64 {
        self.events.load(Ordering::Relaxed)
    }
    /// Full re-lists after a compaction / lagging watch.
    pub fn resyncs(&self) -> u64 {
        self.resyncs.load(Ordering::Relaxed)
    }
    /// Watches re-opened after a broken connection.
    pub fn reconnects(&self) -> u64 {
        self.reconnects.load(Ordering::Relaxed)
    }

    pub(crate) fn set_connected(&self, connected: bool) {
        let was = self.store_connected.swap(connected, Ordering::Relaxed);
        // Leaving the store: the data is as old as this moment.
        if was && !connected && self.source() == DataSource::Store {
            self.data_unix_ms.store(now_unix_ms(), Ordering::Relaxed);
        }
    }

    pub(crate) fn set_live(&self, generation: u64, records: usize, names: usize, revision: i64) {
        self.generation.store(generation, Ordering::Relaxed);
        self.snapshot_records
            .store(records as u64, Ordering::Relaxed);
        self.snapshot_names.store(names as u64, Ordering::Relaxed);
        self.revision.store(revision, Ordering::Relaxed);
    }

    pub(crate) fn set_revision(&self, revision: i64) {
        self.revision.store(revision, Ordering::Relaxed);
    }

    pub(crate) fn set_errors(&self, parse_errors: u64, bad_keys: usize, down: usize) {
        self.parse_errors.store(parse_errors, Ordering::Relaxed);
        self.bad_keys.store(bad_keys as u64, Ordering::Relaxed);
        self.down_addresses.store(down as u64, Ordering::Relaxed);
    }

    pub(crate) fn full_build_done(&self, took: Duration) {
        self.last_build_us
            .store(took.as_micros() as u64, Ordering::Relaxed);
        self.last_build_unix_ms
            .store(now_unix_ms(), Ordering::Relaxed);
        self.ready.send_replace(true);
    }

    pub(crate) fn observe_propagation(&self, delay: Duration, events: usize) {
        self.events.fetch_add(events as u64, Ordering::Relaxed);
        let us = (delay.as_micros() as u64).max(1);
        let mut h = self
            .propagation_us
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let high = h.high();
        let _ = h.record(us.min(high));
    }

    pub(crate) fn count_resync(&self) {
        self.resyncs.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_reconnect(&self) {
        self.reconnects.fetch_add(1, Ordering::Relaxed);
    }
}
