//! The embedded store: a revisioned key-value space in one redb file.
//!
//! Every write transaction that changes something bumps the store revision; each key keeps the
//! revision of its last change (`mod_revision`). Commits use redb's immediate durability, so a
//! write is on disk when the call returns. Watchers are fed from an in-process broadcast of
//! committed batches plus a bounded log of recent batches (so `watch(prefix, R + 1)` after a
//! `list` at R misses nothing); a watch from before the log, or a watcher that falls too far
//! behind, gets [`WatchEvent::Resync`].

use super::{Guard, KeyPrefixes, KeyValue, RangePage, StoreError, WatchEvent};
use redb::{Database, ReadableTable, TableDefinition};
use std::collections::VecDeque;
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

/// key → (mod_revision, value)
const KV: TableDefinition<&str, (i64, &[u8])> = TableDefinition::new("kv");
/// "revision" → current store revision
const META: TableDefinition<&str, i64> = TableDefinition::new("meta");
const REVISION_KEY: &str = "revision";

/// Events kept for late watchers (replay after a list).
const LOG_EVENTS: usize = 65_536;
/// Committed batches buffered per watcher before it is told to resync.
const BROADCAST_BATCHES: usize = 4096;
/// Events buffered in each watch channel.
const WATCH_CHANNEL: usize = 4096;
/// Idle watchers get a progress notification this often.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(1);

/// One committed write transaction.
#[derive(Debug)]
struct Batch {
    revision: i64,
    events: Vec<WatchEvent>,
}

/// Recent batches; a watcher from revision > `base` can be served from here.
struct EventLog {
    base: i64,
    batches: VecDeque<Arc<Batch>>,
    events: usize,
}

struct Shared {
    /// Serialises commit + publish so batches reach the log/broadcast in revision order.
    writer: Mutex<()>,
    revision: AtomicI64,
    /// Keys returned by `list`/`range`.
    keys_read: AtomicU64,
    log: Mutex<EventLog>,
    tx: broadcast::Sender<Arc<Batch>>,
}

/// A redb-backed store. Cheap to clone.
#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    shared: Arc<Shared>,
    prefixes: KeyPrefixes,
}

fn db_err(context: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Embedded(format!("{context}: {e}"))
}

/// True when every key of `guard` has its expected mod_revision (0 = absent) and no key under
/// its prefixes changed after their revisions — read inside the write transaction.
fn guard_holds(table: &redb::Table<&str, (i64, &[u8])>, guard: &Guard) -> Result<bool, StoreError> {
    for (key, expected) in &guard.keys {
        let found = table
            .get(key.as_str())
            .map_err(|e| db_err("guard get", e))?
            .map_or(0, |g| g.value().0);
        if found != *expected {
            return Ok(false);
        }
    }
    for (prefix, since) in &guard.unchanged_since {
        for entry in table
            .range(prefix.as_str()..)
            .map_err(|e| db_err("guard range", e))?
        {
            let (k, v) = entry.map_err(|e| db_err("guard range", e))?;
            if !k.value().starts_with(prefix.as_str()) {
                break;
            }
            if v.value().0 > *since {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

impl EmbeddedStore {
    /// Sets the key prefixes the sync and API use (default `/skydns`, `/skydns/monitor/status`).
    pub fn with_prefixes(mut self, prefixes: KeyPrefixes) -> Self {
        self.prefixes = prefixes;
        self
    }

    pub fn prefixes(&self) -> &KeyPrefixes {
        &self.prefixes
    }

    /// Opens (or creates) the store file; creates missing parent directories.
    pub fn open(path: &Path) -> Result<EmbeddedStore, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| db_err(&format!("creating {}", dir.display()), e))?;
        }
        let db = Database::create(path)
            .map_err(|e| db_err(&format!("opening {}", path.display()), e))?;
        let txn = db.begin_write().map_err(|e| db_err("begin write", e))?;
        let revision = {
            txn.open_table(KV).map_err(|e| db_err("open kv table", e))?;
            let meta = txn
                .open_table(META)
                .map_err(|e| db_err("open meta table", e))?;
            let rev = meta
                .get(REVISION_KEY)
                .map_err(|e| db_err("read revision", e))?;
            rev.map(|g| g.value()).unwrap_or(0)
        };
        txn.commit().map_err(|e| db_err("commit", e))?;
        let (tx, _) = broadcast::channel(BROADCAST_BATCHES);
        Ok(EmbeddedStore {
            db: Arc::new(db),
            prefixes: KeyPrefixes::default(),
            shared: Arc::new(Shared {
                writer: Mutex::new(()),
                revision: AtomicI64::new(revision),
                keys_read: AtomicU64::new(0),
                log: Mutex::new(EventLog {
                    base: revision,
                    batches: VecDeque::new(),
                    events: 0,
                }),
                tx,
            }),
        })
    }

    /// The current store revision.
    pub fn revision(&self) -> i64 {
        self.shared.revision.load(Ordering::Acquire)
    }

    pub async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        let this = self.clone();
        let key = key.to_string();
        blocking(move || {
            let txn = this.db.begin_read().map_err(|e| db_err("begin read", e))?;
            let table = txn.open_table(KV).map_err(|e| db_err("open kv table", e))?;
            let found = table.get(key.as_str()).map_err(|e| db_err("get", e))?;
            Ok(found.map(|g| {
                let (mod_revision, value) = g.value();
                KeyValue {
                    key: key.clone(),
                    value: value.to_vec(),
                    mod_revision,
                }
            }))
        })
        .await
    }

    /// Every key under `prefix` (in key order) and the revision they were read at.
    pub async fn list(&self, prefix: &str) -> Result<(Vec<KeyValue>, i64), StoreError> {
        let page = self
            .range(prefix..&super::range_end(prefix), usize::MAX)
            .await?;
        Ok((page.kvs, page.revision))
    }

    /// Up to `limit` keys in `[start, end)` in key order, read in one transaction.
    pub async fn range(&self, span: Range<&str>, limit: usize) -> Result<RangePage, StoreError> {
        let this = self.clone();
        let (start, end) = (span.start.to_string(), span.end.to_string());
        blocking(move || {
            let txn = this.db.begin_read().map_err(|e| db_err("begin read", e))?;
            let meta = txn
                .open_table(META)
                .map_err(|e| db_err("open meta table", e))?;
            let revision = meta
                .get(REVISION_KEY)
                .map_err(|e| db_err("read revision", e))?
                .map(|g| g.value())
                .unwrap_or(0);
            let table = txn.open_table(KV).map_err(|e| db_err("open kv table", e))?;
            let mut kvs = Vec::new();
            let mut more = false;
            if start < end {
                for entry in table
                    .range(start.as_str()..end.as_str())
                    .map_err(|e| db_err("range", e))?
                {
                    if kvs.len() == limit {
                        more = true;
                        break;
                    }
                    let (k, v) = entry.map_err(|e| db_err("range", e))?;
                    let (mod_revision, value) = v.value();
                    kvs.push(KeyValue {
                        key: k.value().to_string(),
                        value: value.to_vec(),
                        mod_revision,
                    });
                }
            }
            this.shared
                .keys_read
                .fetch_add(kvs.len() as u64, Ordering::Relaxed);
            Ok(RangePage {
                kvs,
                revision,
                more,
            })
        })
        .await
    }

    /// Keys returned by `list` and `range` so far (tests check that a page reads one page).
    pub fn keys_read(&self) -> u64 {
        self.shared.keys_read.load(Ordering::Relaxed)
    }

    /// Applies puts then deletes in one durable transaction; returns the store revision after
    /// it (unchanged when nothing changed, e.g. only deletes of missing keys).
    pub async fn apply_batch(
        &self,
        puts: Vec<(String, Vec<u8>)>,
        deletes: Vec<String>,
    ) -> Result<(i64, usize), StoreError> {
        let this = self.clone();
        let done = blocking(move || this.commit(None, puts, deletes)).await?;
        Ok(done.expect("an unguarded batch cannot conflict"))
    }

    /// [`EmbeddedStore::apply_batch`] if `guard` still holds inside the write transaction
    /// (the same check-and-commit etcd's compare gives); `None` on a conflict, nothing written.
    pub async fn apply_batch_if(
        &self,
        guard: &Guard,
        puts: Vec<(String, Vec<u8>)>,
        deletes: Vec<String>,
    ) -> Result<Option<i64>, StoreError> {
        let (this, guard) = (self.clone(), guard.clone());
        let done = blocking(move || this.commit(Some(&guard), puts, deletes)).await?;
        Ok(done.map(|(revision, _)| revision))
    }

    pub async fn put(&self, key: &str, value: Vec<u8>) -> Result<i64, StoreError> {
        Ok(self
            .apply_batch(vec![(key.to_string(), value)], Vec::new())
            .await?
            .0)
    }

    pub async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self.apply_batch(Vec::new(), vec![key.to_string()]).await?.1 > 0)
    }

    /// Returns (revision, number of keys deleted); `None` when `guard` failed.
    fn commit(
        &self,
        guard: Option<&Guard>,
        puts: Vec<(String, Vec<u8>)>,
        deletes: Vec<String>,
    ) -> Result<Option<(i64, usize)>, StoreError> {
        let _writer = self.shared.writer.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.shared.revision.load(Ordering::Acquire);
        let revision = current + 1;
        let mut events = Vec::with_capacity(puts.len() + deletes.len());
        let mut deleted = 0;
        let txn = self
            .db
            .begin_write()
            .map_err(|e| db_err("begin write", e))?;
        {
            let mut table = txn.open_table(KV).map_err(|e| db_err("open kv table", e))?;
            if let Some(guard) = guard {
                if !guard_holds(&table, guard)? {
                    drop(table);
                    txn.abort().map_err(|e| db_err("abort", e))?;
                    return Ok(None);
                }
            }
            for (key, value) in puts {
                table
                    .insert(key.as_str(), (revision, value.as_slice()))
                    .map_err(|e| db_err("insert", e))?;
                events.push(WatchEvent::Put(KeyValue {
                    key,
                    value,
                    mod_revision: revision,
                }));
            }
            for key in deletes {
                if table
                    .remove(key.as_str())
                    .map_err(|e| db_err("remove", e))?
                    .is_some()
                {
                    deleted += 1;
                    events.push(WatchEvent::Delete { key, revision });
                }
            }
        }
        if events.is_empty() {
            txn.abort().map_err(|e| db_err("abort", e))?;
            return Ok(Some((current, 0)));
        }
        {
            let mut meta = txn
                .open_table(META)
                .map_err(|e| db_err("open meta table", e))?;
            meta.insert(REVISION_KEY, revision)
                .map_err(|e| db_err("write revision", e))?;
        }
        txn.commit().map_err(|e| db_err("commit", e))?;
        self.publish(Arc::new(Batch { revision, events }));
        Ok(Some((revision, deleted)))
    }

    /// Appends a committed batch to the log and wakes watchers (writer lock held).
    fn publish(&self, batch: Arc<Batch>) {
        let mut log = self.shared.log.lock().unwrap_or_else(|p| p.into_inner());
        log.events += batch.events.len();
        log.batches.push_back(batch.clone());
        while log.events > LOG_EVENTS && log.batches.len() > 1 {
            if let Some(old) = log.batches.pop_front() {
                log.events -= old.events.len();
                log.base = old.revision;
            }
        }
        self.shared
            .revision
            .store(batch.revision, Ordering::Release);
        // No receivers is fine.
        let _ = self.shared.tx.send(batch);
    }

    /// Events under `prefix` with revision >= `from_revision`, in order, then live ones.
    pub async fn watch(
        &self,
        prefix: &str,
        from_revision: i64,
    ) -> Result<mpsc::Receiver<WatchEvent>, StoreError> {
        let (tx, rx) = mpsc::channel(WATCH_CHANNEL);
        let prefix = prefix.to_string();
        let start = {
            let log = self.shared.log.lock().unwrap_or_else(|p| p.into_inner());
            if from_revision <= log.base {
                None
            } else {
                let sub = self.shared.tx.subscribe();
                let current = self.shared.revision.load(Ordering::Acquire);
                let replay: Vec<Arc<Batch>> = log
                    .batches
                    .iter()
                    .filter(|b| b.revision >= from_revision)
                    .cloned()
                    .collect();
                Some((replay, sub, current))
            }
        };
        let Some((replay, mut sub, mut seen)) = start else {
            let _ = tx.try_send(WatchEvent::Resync);
            return Ok(rx);
        };
        tokio::spawn(async move {
            for batch in &replay {
                if !send_batch(&tx, batch, &prefix).await {
                    return;
                }
            }
            let mut tick = tokio::time::interval(PROGRESS_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tokio::select! {
                    got = sub.recv() => match got {
                        Ok(batch) => {
                            seen = seen.max(batch.revision);
                            if batch.revision >= from_revision
                                && !send_batch(&tx, &batch, &prefix).await
                            {
                                return;
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            let _ = tx.send(WatchEvent::Resync).await;
                            return;
                        }
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                    _ = tick.tick() => {
                        if tx.send(WatchEvent::Progress { revision: seen }).await.is_err() {
                            return;
                        }
                    }
                    _ = tx.closed() => return,
                }
            }
        });
        Ok(rx)
    }
}

/// Sends a batch's events under `prefix`; false when the receiver is gone.
async fn send_batch(tx: &mpsc::Sender<WatchEvent>, batch: &Batch, prefix: &str) -> bool {
    for event in &batch.events {
        let key = match event {
            WatchEvent::Put(kv) => kv.key.as_str(),
            WatchEvent::Delete { key, .. } => key.as_str(),
            _ => continue,
        };
        if key.starts_with(prefix) && tx.send(event.clone()).await.is_err() {
            return false;
        }
    }
    true
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| db_err("store task", e))?
}
