//! Store → snapshot synchronisation (list-then-watch).
//!
//! [`run_sync`] lists the store at one revision R, builds a full snapshot (static zone-file
//! records merged with the store's records, DOWN set applied) and makes it live; then it
//! watches from R + 1. Bursts of events are coalesced: everything ready is drained and turned
//! into ONE [`Snapshot::apply`] with only the changed names (plus `with_down` when status keys
//! changed). A compaction ([`WatchEvent::Resync`]) triggers a new list and full build; a broken
//! connection is retried with backoff from the last revision seen. The data plane keeps serving
//! the last live snapshot throughout.
//!
//! With a last-known file ([`run_sync_with`]), every synced state (each full list, each applied
//! batch) is also handed to its writer thread, which writes it there at once, and
//! when the first list fails the file is loaded and served (source `last-known` in the log,
//! `/v1/stats` and `skylane_data_source`) until a list succeeds. Before either, the start-up
//! snapshot is marked store-pending: the engine answers SERVFAIL instead of NXDOMAIN/NODATA.
//!
//! When the first list is empty and the live snapshot is the start-up one built from exactly
//! the sync's static records ([`StaticBuild`]), that snapshot is published again with the
//! store-pending mark cleared instead of being built a second time.

mod first_build;
pub mod last_known;
mod metrics;
mod source;
mod state;
mod statics;

pub use first_build::StaticBuild;
pub use last_known::{LastKnown, LAST_KNOWN_FILE};
pub use metrics::{DataSource, SyncMetrics};
pub use source::{
    source_channel, SourceHub, SourceReceiver, SourceSender, SourceUpdate, SyncExtras,
};
pub use state::{BatchOutcome, SyncState};
pub use statics::StaticRecords;

use crate::store::{Store, WatchEvent};
use skylane_dataplane::{SharedSnapshot, Snapshot, ZoneConfig};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// Most events folded into one snapshot update.
const MAX_BATCH: usize = 65_536;
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// The key prefix watched: the deepest path containing both the record and monitor prefixes
/// (`/skydns/` by default), always ending in `/`.
pub fn watch_root(prefix: &str, monitor_prefix: &str) -> String {
    let a: Vec<&str> = prefix.trim_end_matches('/').split('/').collect();
    let b: Vec<&str> = monitor_prefix.trim_end_matches('/').split('/').collect();
    let common: Vec<&str> = a
        .iter()
        .zip(&b)
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| *x)
        .collect();
    let mut root = common.join("/");
    root.push('/');
    root
}

/// Resolves when shutdown is requested (`true` sent). A dropped sender never resolves: the
/// sync then runs until its task is aborted.
async fn shutdown_requested(rx: &mut watch::Receiver<bool>) {
    loop {
        if *rx.borrow_and_update() {
            return;
        }
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Exponential retry delay.
struct Backoff(Duration);

impl Backoff {
    fn reset(&mut self) {
        self.0 = BACKOFF_MIN;
    }

    /// Sleeps; true when shutdown was requested meanwhile.
    async fn sleep(&mut self, shutdown: &mut watch::Receiver<bool>) -> bool {
        let delay = self.0;
        self.0 = (self.0 * 2).min(BACKOFF_MAX);
        tokio::select! {
            _ = tokio::time::sleep(delay) => false,
            _ = shutdown_requested(shutdown) => true,
        }
    }
}

/// How following a watch ended.
enum Follow {
    Shutdown,
    Resync,
    Closed,
}

/// Everything `run_sync` passes around.
struct Sync {
    store: Arc<Store>,
    zone: Arc<ZoneConfig>,
    shared: SharedSnapshot,
    metrics: Arc<SyncMetrics>,
    shutdown: watch::Receiver<bool>,
    state: SyncState,
    backoff: Backoff,
    root: String,
    /// Store revision reflected by the live snapshot.
    revision: i64,
    /// The `<data-dir>/last-known` mirror, when configured.
    last_known: Option<LastKnown>,
    /// The extra record source, when configured.
    source: Option<SourceReceiver>,
    /// What the start-up snapshot was built from; taken by the first successful list.
    first_build: Option<StaticBuild>,
}

/// Keeps `shared` in step with the store until shutdown. See the module docs.
pub async fn run_sync(
    store: Arc<Store>,
    zone: Arc<ZoneConfig>,
    static_records: impl Into<StaticRecords>,
    shared: SharedSnapshot,
    metrics: Arc<SyncMetrics>,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    run_sync_with(store, zone, static_records, shared, metrics, shutdown, None).await
}

/// [`run_sync`] that also keeps `last_known` (a `<data-dir>/last-known` path) current and
/// serves it when the store cannot be listed at start.
pub async fn run_sync_with(
    store: Arc<Store>,
    zone: Arc<ZoneConfig>,
    static_records: impl Into<StaticRecords>,
    shared: SharedSnapshot,
    metrics: Arc<SyncMetrics>,
    shutdown: watch::Receiver<bool>,
    last_known: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    let extras = SyncExtras {
        last_known,
        ..SyncExtras::default()
    };
    run_sync_ext(
        store,
        zone,
        static_records,
        shared,
        metrics,
        shutdown,
        extras,
    )
    .await
}

/// [`run_sync`] with its optional parts: the last-known mirror and an extra record source
/// whose names are merged into the same snapshot.
pub async fn run_sync_ext(
    store: Arc<Store>,
    zone: Arc<ZoneConfig>,
    static_records: impl Into<StaticRecords>,
    shared: SharedSnapshot,
    metrics: Arc<SyncMetrics>,
    shutdown: watch::Receiver<bool>,
    extras: SyncExtras,
) -> anyhow::Result<()> {
    let prefixes = store.prefixes().clone();
    let state = SyncState::new(
        &prefixes.prefix,
        &prefixes.monitor_prefix,
        zone.default_ttl,
        static_records,
    );
    let mut sync = Sync {
        root: watch_root(&prefixes.prefix, &prefixes.monitor_prefix),
        store,
        zone,
        shared,
        metrics,
        shutdown,
        state,
        backoff: Backoff(BACKOFF_MIN),
        revision: 0,
        last_known: extras.last_known.map(LastKnown::start).transpose()?,
        source: extras.source,
        first_build: extras.first_build,
    };
    let result = sync.run().await;
    if let Some(lk) = &sync.last_known {
        lk.flush().await;
    }
    result
}

impl Sync {
    async fn run(&mut self) -> anyhow::Result<()> {
        'list: loop {
            if !self.list_and_build().await? {
                return Ok(());
            }
            loop {
                let opened = tokio::select! {
                    r = self.store.watch(&self.root, self.revision + 1) => r,
                    _ = shutdown_requested(&mut self.shutdown) => return Ok(()),
                };
                let mut rx = match opened {
                    Ok(rx) => rx,
                    Err(e) => {
                        tracing::warn!("store watch from revision {}: {e}", self.revision + 1);
                        self.metrics.set_connected(false);
                        if self.backoff.sleep(&mut self.shutdown).await {
                            return Ok(());
                        }
                        continue;
                    }
                };
                self.metrics.set_connected(true);
                match self.follow(&mut rx).await {
                    Follow::Shutdown => return Ok(()),
                    Follow::Resync => {
                        tracing::warn!("store history compacted: listing again");
                        self.metrics.count_resync();
                        continue 'list;
                    }
                    Follow::Closed => {
                        tracing::warn!(
                            "store watch broken at revision {}: reconnecting",
                            self.revision
                        );
                        self.metrics.set_connected(false);
                        self.metrics.count_reconnect();
                        if self.backoff.sleep(&mut self.shutdown).await {
                            return Ok(());
                        }
                    }
                }
            }
        }
    }

    /// Lists the store and makes a fully rebuilt snapshot live (or the start-up one, when
    /// that is the same: [`Sync::static_snapshot_kept`]), retrying until it works. False when
    /// shutdown was requested.
    async fn list_and_build(&mut self) -> anyhow::Result<bool> {
        loop {
            let started = Instant::now();
            let listed = tokio::select! {
                r = self.store.list(&self.root) => r,
                _ = shutdown_requested(&mut self.shutdown) => return Ok(false),
            };
            let (kvs, revision) = match listed {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!("store list {}: {e}", self.root);
                    self.metrics.set_connected(false);
                    if self.metrics.source() == DataSource::None {
                        self.serve_last_known().await?;
                    }
                    if self.backoff.sleep(&mut self.shutdown).await {
                        return Ok(false);
                    }
                    continue;
                }
            };
            self.metrics.set_connected(true);
            let key_count = kvs.len();
            if let Some(live) = self.static_snapshot_kept(&kvs) {
                if let Some(lk) = &self.last_known {
                    lk.replace_all(kvs, revision);
                }
                self.state.forget_store();
                self.revision = revision;
                self.publish(live.with_store_loaded());
                tracing::info!(
                    "store loaded: empty at revision {revision}, the start-up snapshot made \
                     live without a rebuild in {:?}",
                    started.elapsed()
                );
            } else {
                if !self.build_and_publish(kvs, revision, true).await? {
                    return Ok(false);
                }
                tracing::info!(
                    "store loaded: snapshot built from {key_count} store keys at revision \
                     {revision} in {:?}",
                    started.elapsed()
                );
            }
            self.metrics.set_source(DataSource::Store, now_unix_ms());
            self.metrics.full_build_done(started.elapsed());
            self.backoff.reset();
            return Ok(true);
        }
    }

    /// The live snapshot, when a full build from `kvs` would make the same table: `kvs` is
    /// empty, the extra source has given nothing yet and the live snapshot is the start-up
    /// one, built from exactly the static records and zone this sync builds with. Only the
    /// first successful list can answer yes (the proof is taken).
    fn static_snapshot_kept(&mut self, kvs: &[crate::store::KeyValue]) -> Option<Arc<Snapshot>> {
        let proof = self.first_build.take()?;
        let live = self.shared.load_full();
        let same = kvs.is_empty()
            && !self.state.has_source_records()
            && proof.holds_for(&live, self.state.statics(), &self.zone);
        same.then_some(live)
    }

    /// Builds a full snapshot from `kvs` (static records merged in) and makes it live; with
    /// `mirror`, `kvs` then go to the last-known writer (moved there once parsed, not copied).
    /// False when shutdown was requested meanwhile: the build (a blocking thread, seconds
    /// for a million names) is left to finish on its own and nothing is published.
    async fn build_and_publish(
        &mut self,
        kvs: Vec<crate::store::KeyValue>,
        revision: i64,
        mirror: bool,
    ) -> anyhow::Result<bool> {
        let mut state = std::mem::replace(
            &mut self.state,
            SyncState::new("/", "/", 0, StaticRecords::default()),
        );
        let zone = self.zone.clone();
        let last_known = self.last_known.clone().filter(|_| mirror);
        let build = tokio::task::spawn_blocking(move || {
            let records = state.full_records(&kvs);
            match last_known {
                Some(lk) => lk.replace_all(kvs, revision),
                None => drop(kvs),
            }
            let snapshot = Snapshot::build(zone, records);
            let down = state.down();
            let snapshot = if down.is_empty() {
                snapshot
            } else {
                snapshot.with_down(&down)
            };
            (state, snapshot)
        });
        let (state, snapshot) = tokio::select! {
            built = build => built?,
            _ = shutdown_requested(&mut self.shutdown) => return Ok(false),
        };
        self.state = state;
        self.revision = revision;
        self.publish(snapshot);
        Ok(true)
    }

    /// Loads and serves `<data-dir>/last-known` (if any) while the store cannot be listed.
    async fn serve_last_known(&mut self) -> anyhow::Result<()> {
        let Some(path) = self.last_known.as_ref().map(|lk| lk.path().to_path_buf()) else {
            return Ok(());
        };
        let loaded = match tokio::task::spawn_blocking(move || last_known::load(&path)).await? {
            Ok(Some(l)) => l,
            Ok(None) => return Ok(()),
            Err(e) => {
                tracing::warn!("last-known records unusable: {e:#}");
                return Ok(());
            }
        };
        let started = Instant::now();
        let (keys, revision, written) = (loaded.kvs.len(), loaded.revision, loaded.written_unix_ms);
        if !self.build_and_publish(loaded.kvs, revision, false).await? {
            return Ok(());
        }
        self.metrics.set_source(DataSource::LastKnown, written);
        self.metrics.full_build_done(started.elapsed());
        let age = Duration::from_millis(now_unix_ms().saturating_sub(written));
        tracing::warn!(
            "store unreachable: serving {keys} last-known keys (revision {revision}, \
             written {}s ago) until it can be listed",
            age.as_secs()
        );
        Ok(())
    }

    fn publish(&self, snapshot: Snapshot) {
        self.metrics.set_live(
            snapshot.generation(),
            snapshot.record_count(),
            snapshot.name_count(),
            self.revision,
        );
        self.metrics.set_errors(
            self.state.parse_errors(),
            self.state.bad_key_count(),
            self.state.down().len(),
        );
        crate::reclaim::publish(&self.shared, Arc::new(snapshot));
    }

    /// Applies watch events until the watch ends.
    async fn follow(&mut self, rx: &mut mpsc::Receiver<WatchEvent>) -> Follow {
        let mut batch = Vec::new();
        loop {
            let first = tokio::select! {
                ev = rx.recv() => ev,
                _ = shutdown_requested(&mut self.shutdown) => return Follow::Shutdown,
                update = source::next_update(&mut self.source) => {
                    self.apply_source(update);
                    continue;
                }
            };
            let Some(first) = first else {
                return Follow::Closed;
            };
            let received = Instant::now();
            self.backoff.reset();
            self.metrics.set_connected(true);
            batch.clear();
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(ev) => batch.push(ev),
                    Err(_) => break,
                }
            }
            let mut resync = false;
            let mut changes = 0;
            for ev in &batch {
                match ev {
                    WatchEvent::Put(kv) => {
                        changes += 1;
                        self.revision = self.revision.max(kv.mod_revision);
                    }
                    WatchEvent::Delete { revision, .. } => {
                        changes += 1;
                        self.revision = self.revision.max(*revision);
                    }
                    WatchEvent::Progress { revision } => {
                        self.revision = self.revision.max(*revision);
                    }
                    WatchEvent::Resync => resync = true,
                }
            }
            if resync {
                return Follow::Resync;
            }
            if let Some(lk) = &self.last_known {
                lk.apply(&batch, self.revision);
            }
            if changes == 0 {
                self.metrics.set_revision(self.revision);
                continue;
            }
            let outcome = self.state.apply_events(&batch);
            if outcome.changes.is_empty() && !outcome.down_changed {
                self.metrics.set_revision(self.revision);
                continue;
            }
            let current = self.shared.load_full();
            let mut next = if outcome.changes.is_empty() {
                None
            } else {
                Some(current.apply(&outcome.changes))
            };
            if outcome.down_changed {
                let base: &Snapshot = next.as_ref().unwrap_or(&current);
                next = Some(base.with_down(&self.state.down()));
            }
            if let Some(next) = next {
                self.publish(next);
                self.metrics
                    .observe_propagation(received.elapsed(), changes);
            }
        }
    }
}

impl Sync {
    /// Applies one extra-source update (and every one already queued) to the live snapshot.
    fn apply_source(&mut self, first: SourceUpdate) {
        let received = Instant::now();
        let mut update = first;
        while let Some(rx) = &mut self.source {
            match rx.try_recv() {
                Ok(more) => update.extend(more),
                Err(_) => break,
            }
        }
        let names = update.len();
        let changes = self.state.apply_source(update);
        if changes.is_empty() {
            return;
        }
        let next = self.shared.load_full().apply(&changes);
        self.publish(next);
        self.metrics.observe_propagation(received.elapsed(), names);
    }
}

fn now_unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::watch_root;

    #[test]
    fn watch_root_contains_both_prefixes() {
        assert_eq!(watch_root("/skydns", "/skydns/monitor/status"), "/skydns/");
        assert_eq!(
            watch_root("/skydns/", "/skydns/monitor/status/"),
            "/skydns/"
        );
        assert_eq!(watch_root("/dns/records", "/dns/health"), "/dns/");
        assert_eq!(watch_root("/a", "/b"), "/");
    }
}
