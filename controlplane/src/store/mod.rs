//! Record stores: a revisioned key-value space in SkyDNS layout.
//!
//! CONTRACT (shared by sync/, api/, skylanectl — keep these signatures):
//! Both backends (`embedded` = redb file, `etcd` = etcd v3) hold the same keys
//! (see [`crate::layout`]) and give the same list-then-watch contract:
//! `list(prefix)` returns every key/value under the prefix at one revision R;
//! `watch(prefix, R + 1)` streams every later change in revision order.

pub mod config;
pub mod embedded;
pub mod etcd;

pub use config::{default_data_dir, Backend, EtcdConfig, KeyPrefixes, StoreConfig};

/// One key and its value at a revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Vec<u8>,
    /// Revision of the last change to this key.
    pub mod_revision: i64,
}

/// One page of a key range ([`Store::range`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangePage {
    /// Keys in key order.
    pub kvs: Vec<KeyValue>,
    /// Store revision the page was read at.
    pub revision: i64,
    /// More keys follow in the range (read on from after the last key).
    pub more: bool,
}

/// The first key after every key starting with `prefix` (the end of its `[prefix, end)`
/// range; etcd's `with_prefix`). The empty prefix ends at `char::MAX`.
pub fn range_end(prefix: &str) -> String {
    let mut end: Vec<char> = prefix.chars().collect();
    while let Some(last) = end.pop() {
        let next = match last {
            '\u{D7FF}' => Some('\u{E000}'),
            c => char::from_u32(c as u32 + 1),
        };
        if let Some(next) = next {
            end.push(next);
            return end.into_iter().collect();
        }
    }
    char::MAX.to_string()
}

/// What a read-modify-write saw: a conditional batch ([`Store::apply_batch_if`]) commits only
/// while all of it still holds (etcd transaction compares; the same check inside the embedded
/// store's write transaction).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Guard {
    /// Each key still has this mod_revision (0: the key is still absent).
    pub keys: Vec<(String, i64)>,
    /// No key under each prefix was written (or created) after this revision.
    pub unchanged_since: Vec<(String, i64)>,
}

impl Guard {
    /// Adds another read's conditions.
    pub fn extend(&mut self, other: Guard) {
        self.keys.extend(other.keys);
        self.unchanged_since.extend(other.unchanged_since);
    }

    /// Number of compares (etcd counts them against `--max-txn-ops`).
    pub fn len(&self) -> usize {
        self.keys.len() + self.unchanged_since.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A change seen by a watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    Put(KeyValue),
    Delete {
        key: String,
        revision: i64,
    },
    /// The watch cannot continue from the requested revision (compacted):
    /// the consumer must list again.
    Resync,
    /// Progress notification: everything up to `revision` has been seen.
    Progress {
        revision: i64,
    },
}

// The `Store` itself (implemented by the store helper in embedded.rs / etcd.rs) is an enum over
// the two backends with these async methods — the API and sync code against exactly these:
//
// pub enum Store { Embedded(embedded::EmbeddedStore), Etcd(etcd::EtcdStore) }
// impl Store {
//     pub async fn open(cfg: &StoreConfig, etcd: &EtcdConfig) -> Result<Store, StoreError>;
//     pub fn backend_name(&self) -> &'static str;                 // "embedded" | "etcd"
//     pub async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError>;
//     pub async fn list(&self, prefix: &str) -> Result<(Vec<KeyValue>, i64), StoreError>;
//     pub async fn put(&self, key: &str, value: Vec<u8>) -> Result<i64, StoreError>;
//     /// Atomic: all or nothing (one etcd txn / one redb write transaction).
//     pub async fn apply_batch(&self, puts: Vec<(String, Vec<u8>)>, deletes: Vec<String>)
//         -> Result<i64, StoreError>;
//     /// Atomic and conditional (compare the revisions a read saw); Ok(None) = conflict.
//     pub async fn apply_batch_if(&self, guard: &Guard, puts, deletes)
//         -> Result<Option<i64>, StoreError>;
//     pub fn max_txn_ops(&self) -> usize;
//     pub async fn delete(&self, key: &str) -> Result<bool, StoreError>;
//     /// Events for keys under `prefix` with revision >= from_revision, in order.
//     pub async fn watch(&self, prefix: &str, from_revision: i64)
//         -> Result<tokio::sync::mpsc::Receiver<WatchEvent>, StoreError>;
//     pub fn is_connected(&self) -> bool;
//     pub fn prefixes(&self) -> &KeyPrefixes;    // [store] prefix / monitor-prefix (added)
// }
//
// Writes are durable when the call returns (redb commit / etcd quorum).

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store configuration: {0}")]
    Config(String),
    #[error("embedded store: {0}")]
    Embedded(String),
    #[error("etcd: {0}")]
    Etcd(String),
}

/// A record store: one of the two backends, same list-then-watch contract.
pub enum Store {
    Embedded(embedded::EmbeddedStore),
    Etcd(etcd::EtcdStore),
}

impl Store {
    /// Opens the configured backend (the embedded file, or a lazy etcd connection).
    pub async fn open(cfg: &StoreConfig, etcd: &EtcdConfig) -> Result<Store, StoreError> {
        cfg.validate().map_err(StoreError::Config)?;
        match cfg.backend {
            Backend::Embedded => {
                let path = cfg.embedded_path();
                let store =
                    tokio::task::spawn_blocking(move || embedded::EmbeddedStore::open(&path))
                        .await
                        .map_err(|e| StoreError::Embedded(format!("open task: {e}")))??;
                Ok(Store::Embedded(store.with_prefixes(cfg.into())))
            }
            Backend::Etcd => Ok(Store::Etcd(
                etcd::EtcdStore::connect(etcd)
                    .await?
                    .with_prefixes(cfg.into()),
            )),
        }
    }

    /// The record and monitor prefixes from the configuration.
    pub fn prefixes(&self) -> &KeyPrefixes {
        match self {
            Store::Embedded(s) => s.prefixes(),
            Store::Etcd(s) => s.prefixes(),
        }
    }

    /// `"embedded"` or `"etcd"`.
    pub fn backend_name(&self) -> &'static str {
        match self {
            Store::Embedded(_) => "embedded",
            Store::Etcd(_) => "etcd",
        }
    }

    pub async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        match self {
            Store::Embedded(s) => s.get(key).await,
            Store::Etcd(s) => s.get(key).await,
        }
    }

    /// Every key/value under `prefix` at one revision R, and R.
    pub async fn list(&self, prefix: &str) -> Result<(Vec<KeyValue>, i64), StoreError> {
        match self {
            Store::Embedded(s) => s.list(prefix).await,
            Store::Etcd(s) => s.list(prefix).await,
        }
    }

    /// Up to `limit` keys in `[start, end)` in key order, at one revision — one etcd range
    /// request with a limit / one redb range read, never a listing of everything after `start`.
    pub async fn range(
        &self,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<RangePage, StoreError> {
        match self {
            Store::Embedded(s) => s.range(start..end, limit).await,
            Store::Etcd(s) => s.range(start..end, limit).await,
        }
    }

    /// Keys returned by `list` and `range` since the store was opened (tests use it to check
    /// that a page reads a page, not the whole store).
    pub fn keys_read(&self) -> u64 {
        match self {
            Store::Embedded(s) => s.keys_read(),
            Store::Etcd(s) => s.keys_read(),
        }
    }

    /// Returns the revision of the write.
    pub async fn put(&self, key: &str, value: Vec<u8>) -> Result<i64, StoreError> {
        match self {
            Store::Embedded(s) => s.put(key, value).await,
            Store::Etcd(s) => s.put(key, value).await,
        }
    }

    /// Atomic: all or nothing (one etcd txn / one redb write transaction).
    pub async fn apply_batch(
        &self,
        puts: Vec<(String, Vec<u8>)>,
        deletes: Vec<String>,
    ) -> Result<i64, StoreError> {
        match self {
            Store::Embedded(s) => Ok(s.apply_batch(puts, deletes).await?.0),
            Store::Etcd(s) => s.apply_batch(puts, deletes).await,
        }
    }

    /// Atomic and conditional: commits only if `guard` still holds; `Ok(None)` on a conflict
    /// (nothing written: read again, plan again, retry).
    pub async fn apply_batch_if(
        &self,
        guard: &Guard,
        puts: Vec<(String, Vec<u8>)>,
        deletes: Vec<String>,
    ) -> Result<Option<i64>, StoreError> {
        match self {
            Store::Embedded(s) => s.apply_batch_if(guard, puts, deletes).await,
            Store::Etcd(s) => s.apply_batch_if(guard, puts, deletes).await,
        }
    }

    /// Operations (and compares) one transaction may hold: etcd's `--max-txn-ops`
    /// (`[etcd] max-txn-ops`); unlimited for the embedded store.
    pub fn max_txn_ops(&self) -> usize {
        match self {
            Store::Embedded(_) => usize::MAX,
            Store::Etcd(s) => s.max_txn_ops(),
        }
    }

    /// True when the key existed.
    pub async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        match self {
            Store::Embedded(s) => s.delete(key).await,
            Store::Etcd(s) => s.delete(key).await,
        }
    }

    /// Events for keys under `prefix` with revision >= from_revision, in order. The channel
    /// closes when the connection breaks (watch again from the last revision seen); a
    /// [`WatchEvent::Resync`] means the history is gone and the consumer must list again.
    pub async fn watch(
        &self,
        prefix: &str,
        from_revision: i64,
    ) -> Result<tokio::sync::mpsc::Receiver<WatchEvent>, StoreError> {
        match self {
            Store::Embedded(s) => s.watch(prefix, from_revision).await,
            Store::Etcd(s) => s.watch(prefix, from_revision).await,
        }
    }

    /// Last request / watch to the backend succeeded (always true for the embedded store).
    pub fn is_connected(&self) -> bool {
        match self {
            Store::Embedded(_) => true,
            Store::Etcd(s) => s.is_connected(),
        }
    }
}
