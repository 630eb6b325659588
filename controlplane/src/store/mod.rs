//! Record stores: a revisioned key-value space in SkyDNS layout.
//!
//! CONTRACT (shared by sync/, api/, skylanectl — keep these signatures):
//! Both backends (`embedded` = redb file, `etcd` = etcd v3) hold the same keys
//! (see [`crate::layout`]) and give the same list-then-watch contract:
//! `list(prefix)` returns every key/value under the prefix at one revision R;
//! `watch(prefix, R + 1)` streams every later change in revision order.

/// One key and its value at a revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Vec<u8>,
    /// Revision of the last change to this key.
    pub mod_revision: i64,
}

/// A change seen by a watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    Put(KeyValue),
    Delete { key: String, revision: i64 },
    /// The watch cannot continue from the requested revision (compacted):
    /// the consumer must list again.
    Resync,
    /// Progress notification: everything up to `revision` has been seen.
    Progress { revision: i64 },
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
//     pub async fn delete(&self, key: &str) -> Result<bool, StoreError>;
//     /// Events for keys under `prefix` with revision >= from_revision, in order.
//     pub async fn watch(&self, prefix: &str, from_revision: i64)
//         -> Result<tokio::sync::mpsc::Receiver<WatchEvent>, StoreError>;
//     pub fn is_connected(&self) -> bool;
// }
//
// Writes are durable when the call returns (redb commit / etcd quorum).
