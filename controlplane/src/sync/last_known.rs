//! `<data-dir>/last-known`: the store's keys as last synced, so Skylane can start (or
//! restart) while the store is unreachable.
//!
//! A writer thread keeps a mirror of every key under the sync's watch root; after a full list
//! and after every applied watch batch the mirror is written atomically (temporary file,
//! fsync, rename). Batches that arrive while a write is under way are folded into the next
//! write, so the file is at most one write behind, and current once the writer is idle. At start, when the store cannot be listed, the
//! file is loaded and served until a list succeeds. Format: JSON,
//! `{"version": 1, "revision": R, "written_unix_ms": T, "kvs": [[key, value], ...]}`.

use crate::store::{KeyValue, WatchEvent};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// File name inside the data directory.
pub const LAST_KNOWN_FILE: &str = "last-known";
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct FileV1 {
    version: u32,
    revision: i64,
    written_unix_ms: u64,
    kvs: Vec<(String, String)>,
}

/// [`FileV1`] borrowing the mirror (written without copying it).
#[derive(Serialize)]
struct FileRef<'a> {
    version: u32,
    revision: i64,
    written_unix_ms: u64,
    kvs: Vec<(&'a str, Cow<'a, str>)>,
}

/// What a last-known file held.
pub struct Loaded {
    pub kvs: Vec<KeyValue>,
    pub revision: i64,
    /// When it was written (ms since the Unix epoch).
    pub written_unix_ms: u64,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Reads a last-known file; `Ok(None)` when there is none.
pub fn load(path: &Path) -> anyhow::Result<Option<Loaded>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(anyhow::Error::new(e).context(format!("reading {}", path.display()))),
    };
    let file: FileV1 = serde_json::from_slice(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: not a last-known file: {e}", path.display()))?;
    if file.version != VERSION {
        anyhow::bail!("{}: unsupported version {}", path.display(), file.version);
    }
    let kvs = file
        .kvs
        .into_iter()
        .map(|(key, value)| KeyValue {
            key,
            value: value.into_bytes(),
            mod_revision: file.revision,
        })
        .collect();
    Ok(Some(Loaded {
        kvs,
        revision: file.revision,
        written_unix_ms: file.written_unix_ms,
    }))
}

/// Writes `bytes` to `path` atomically (temporary file, fsync, rename, fsync of the directory).
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

/// What the sync hands the writer.
enum Msg {
    /// The store's full contents at a revision.
    Replace(Vec<KeyValue>, i64),
    /// Watch events, in order, up to a revision.
    Apply(Vec<WatchEvent>, i64),
    /// Answered once everything sent before it is on disk (or failed to be written).
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// The sync's handle on the last-known writer: a thread that owns the mirror of the store,
/// folds in every message waiting, then writes the file — so each applied batch leads to a
/// write, batches that arrive during a write are coalesced into the next one, and once the
/// writer is idle the file holds the latest state. Clones share the writer.
#[derive(Clone)]
pub struct LastKnown {
    path: PathBuf,
    tx: std::sync::mpsc::Sender<Msg>,
    written: Arc<AtomicI64>,
}

impl LastKnown {
    /// Starts the writer thread for `path`.
    pub fn start(path: PathBuf) -> anyhow::Result<LastKnown> {
        let (tx, rx) = std::sync::mpsc::channel();
        let written = Arc::new(AtomicI64::new(0));
        let mut writer = Writer {
            path: path.clone(),
            mirror: BTreeMap::new(),
            revision: 0,
            dirty: false,
            written: written.clone(),
        };
        std::thread::Builder::new()
            .name("last-known".into())
            .spawn(move || writer.run(&rx))
            .context("starting the last-known writer thread")?;
        Ok(LastKnown { path, tx, written })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Revision of the state last written to the file (0: none yet).
    pub fn written_revision(&self) -> i64 {
        self.written.load(Ordering::Acquire)
    }

    /// The store's full contents at `revision`; written at once.
    pub fn replace_all(&self, kvs: Vec<KeyValue>, revision: i64) {
        self.send(Msg::Replace(kvs, revision));
    }

    /// Watch events, in order, up to `revision`; written at once when any is a change.
    pub fn apply(&self, events: &[WatchEvent], revision: i64) {
        let changes: Vec<WatchEvent> = events
            .iter()
            .filter(|e| matches!(e, WatchEvent::Put(_) | WatchEvent::Delete { .. }))
            .cloned()
            .collect();
        if !changes.is_empty() {
            self.send(Msg::Apply(changes, revision));
        }
    }

    /// Waits until everything sent so far has been written (or failed: logged).
    pub async fn flush(&self) {
        let (done, wait) = tokio::sync::oneshot::channel();
        self.send(Msg::Flush(done));
        let _ = wait.await;
    }

    fn send(&self, msg: Msg) {
        if self.tx.send(msg).is_err() {
            tracing::warn!(
                "last-known writer thread is gone: {} not updated",
                self.path.display()
            );
        }
    }
}

/// The writer thread's state.
struct Writer {
    path: PathBuf,
    mirror: BTreeMap<String, Vec<u8>>,
    revision: i64,
    dirty: bool,
    written: Arc<AtomicI64>,
}

impl Writer {
    fn run(&mut self, rx: &std::sync::mpsc::Receiver<Msg>) {
        let mut waiters = Vec::new();
        while let Ok(first) = rx.recv() {
            let mut next = Some(first);
            while let Some(msg) = next {
                match msg {
                    Msg::Replace(kvs, revision) => {
                        self.mirror = kvs.into_iter().map(|kv| (kv.key, kv.value)).collect();
                        self.revision = revision;
                        self.dirty = true;
                    }
                    Msg::Apply(events, revision) => {
                        self.fold(events);
                        self.revision = revision;
                        self.dirty = true;
                    }
                    Msg::Flush(done) => waiters.push(done),
                }
                next = rx.try_recv().ok();
            }
            if self.dirty {
                self.write();
            }
            for done in waiters.drain(..) {
                let _ = done.send(());
            }
        }
    }

    fn fold(&mut self, events: Vec<WatchEvent>) {
        for ev in events {
            match ev {
                WatchEvent::Put(kv) => {
                    self.mirror.insert(kv.key, kv.value);
                }
                WatchEvent::Delete { key, .. } => {
                    self.mirror.remove(&key);
                }
                WatchEvent::Resync | WatchEvent::Progress { .. } => {}
            }
        }
    }

    /// Writes the mirror; a failure is logged and the write retried with the next change.
    fn write(&mut self) {
        let file = FileRef {
            version: VERSION,
            revision: self.revision,
            written_unix_ms: now_ms(),
            kvs: self
                .mirror
                .iter()
                .map(|(k, v)| (k.as_str(), String::from_utf8_lossy(v)))
                .collect(),
        };
        let written = serde_json::to_vec(&file)
            .map_err(std::io::Error::other)
            .and_then(|bytes| write_atomic(&self.path, &bytes));
        match written {
            Ok(()) => {
                self.dirty = false;
                self.written.store(self.revision, Ordering::Release);
            }
            Err(e) => {
                tracing::warn!(path = %self.path.display(), "cannot write last-known records: {e}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(k: &str, v: &str) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: v.as_bytes().to_vec(),
            mod_revision: 1,
        }
    }

    #[tokio::test]
    async fn round_trip_and_events() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data").join(LAST_KNOWN_FILE);
        assert!(load(&path).unwrap().is_none());
        let lk = LastKnown::start(path.clone()).unwrap();
        lk.replace_all(vec![kv("/skydns/a", "1"), kv("/skydns/b", "2")], 5);
        lk.apply(
            &[
                WatchEvent::Put(kv("/skydns/c", "3")),
                WatchEvent::Delete {
                    key: "/skydns/a".into(),
                    revision: 7,
                },
            ],
            7,
        );
        lk.flush().await;
        assert_eq!(lk.written_revision(), 7);
        let got = load(&path).unwrap().unwrap();
        assert_eq!(got.revision, 7);
        let keys: Vec<&str> = got.kvs.iter().map(|k| k.key.as_str()).collect();
        assert_eq!(keys, ["/skydns/b", "/skydns/c"]);
        std::fs::write(&path, b"{\"version\": 99}").unwrap();
        assert!(load(&path).is_err());
    }

    /// Every applied batch is written without a flush or a timer: the writer thread picks it
    /// up at once; a burst ends with the file holding the last state.
    #[test]
    fn every_batch_is_written_without_a_flush() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LAST_KNOWN_FILE);
        let lk = LastKnown::start(path.clone()).unwrap();
        lk.replace_all(vec![kv("/skydns/a", "1")], 1);
        for rev in 2..=50 {
            let key = format!("/skydns/k{rev}");
            lk.apply(&[WatchEvent::Put(kv(&key, "x"))], rev);
        }
        // Progress alone is no change: nothing more to write.
        lk.apply(&[WatchEvent::Progress { revision: 60 }], 60);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while lk.written_revision() != 50 {
            assert!(
                std::time::Instant::now() < deadline,
                "batch 50 never written"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let got = load(&path).unwrap().unwrap();
        assert_eq!((got.revision, got.kvs.len()), (50, 50));
    }
}
