//! `<data-dir>/last-known`: the store's keys as last synced, so Skylane can start (or
//! restart) while the store is unreachable.
//!
//! The sync keeps a mirror of every key under its watch root; after a full list, and after
//! applied watch batches (at most once a second, and at shutdown), the mirror is written
//! atomically (temporary file, fsync, rename). At start, when the store cannot be listed, the
//! file is loaded and served until a list succeeds. Format: JSON,
//! `{"version": 1, "revision": R, "written_unix_ms": T, "kvs": [[key, value], ...]}`.

use crate::store::{KeyValue, WatchEvent};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// File name inside the data directory.
pub const LAST_KNOWN_FILE: &str = "last-known";
const VERSION: u32 = 1;
/// Least time between two writes while changes stream in.
const MIN_WRITE_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Serialize, Deserialize)]
struct FileV1 {
    version: u32,
    revision: i64,
    written_unix_ms: u64,
    kvs: Vec<(String, String)>,
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

/// The sync's mirror of the store and its writer.
pub struct LastKnown {
    path: PathBuf,
    mirror: BTreeMap<String, Vec<u8>>,
    revision: i64,
    dirty: bool,
    last_write: Option<Instant>,
}

impl LastKnown {
    pub fn new(path: PathBuf) -> LastKnown {
        LastKnown {
            path,
            mirror: BTreeMap::new(),
            revision: 0,
            dirty: false,
            last_write: None,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The store's full contents at `revision`.
    pub fn replace_all(&mut self, kvs: &[KeyValue], revision: i64) {
        self.mirror = kvs
            .iter()
            .map(|kv| (kv.key.clone(), kv.value.clone()))
            .collect();
        self.revision = revision;
        self.dirty = true;
    }

    /// Watch events, in order, up to `revision`.
    pub fn apply(&mut self, events: &[WatchEvent], revision: i64) {
        for ev in events {
            match ev {
                WatchEvent::Put(kv) => {
                    self.mirror.insert(kv.key.clone(), kv.value.clone());
                }
                WatchEvent::Delete { key, .. } => {
                    self.mirror.remove(key);
                }
                WatchEvent::Resync | WatchEvent::Progress { .. } => {}
            }
        }
        self.dirty |= events
            .iter()
            .any(|e| matches!(e, WatchEvent::Put(_) | WatchEvent::Delete { .. }));
        self.revision = revision;
    }

    /// Writes the mirror when it changed — at once when `force`, else at most once a second.
    /// Failures are logged (serving goes on).
    pub async fn flush(&mut self, force: bool) {
        let due = self
            .last_write
            .is_none_or(|t| t.elapsed() >= MIN_WRITE_INTERVAL);
        if !self.dirty || !(force || due) {
            return;
        }
        let file = FileV1 {
            version: VERSION,
            revision: self.revision,
            written_unix_ms: now_ms(),
            kvs: self
                .mirror
                .iter()
                .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned()))
                .collect(),
        };
        let path = self.path.clone();
        let written = tokio::task::spawn_blocking(move || {
            let bytes = serde_json::to_vec(&file).map_err(std::io::Error::other)?;
            write_atomic(&path, &bytes)
        })
        .await;
        self.last_write = Some(Instant::now());
        match written {
            Ok(Ok(())) => self.dirty = false,
            Ok(Err(e)) => {
                tracing::warn!(path = %self.path.display(), "cannot write last-known records: {e}")
            }
            Err(e) => tracing::warn!("last-known writer task: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trip_and_events() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data").join(LAST_KNOWN_FILE);
        assert!(load(&path).unwrap().is_none());
        let mut lk = LastKnown::new(path.clone());
        let kv = |k: &str, v: &str| KeyValue {
            key: k.into(),
            value: v.as_bytes().to_vec(),
            mod_revision: 1,
        };
        lk.replace_all(&[kv("/skydns/a", "1"), kv("/skydns/b", "2")], 5);
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
        lk.flush(true).await;
        let got = load(&path).unwrap().unwrap();
        assert_eq!(got.revision, 7);
        let keys: Vec<&str> = got.kvs.iter().map(|k| k.key.as_str()).collect();
        assert_eq!(keys, ["/skydns/b", "/skydns/c"]);
        std::fs::write(&path, b"{\"version\": 99}").unwrap();
        assert!(load(&path).is_err());
    }
}
