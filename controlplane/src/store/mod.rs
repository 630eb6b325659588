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
