//! Writes of the scanner: status transitions (guarded), per-address reports, stale reports.

use super::targets::{parse_stored, StatusDoc, Stored};
use crate::layout::Health;
use crate::store::etcd::PutGuard;
use crate::store::{Store, StoreError};
use std::net::IpAddr;

/// Report writes per store transaction (etcd's default `--max-txn-ops` is 128).
const REPORT_CHUNK: usize = 100;

/// How a status write ended.
#[derive(Debug)]
pub enum WriteResult {
    /// Written at this revision.
    Written(i64),
    /// The key changed under us (or our lease is gone): here is what is stored now.
    Conflict(Stored),
}

/// Writes `doc` at `key` if the key is still at `stored.mod_revision` and, with etcd, while
/// `heart_key` is on `lease`.
pub async fn write_status(
    store: &Store,
    key: &str,
    stored: &Stored,
    doc: &StatusDoc,
    lease: Option<(&str, i64)>,
) -> Result<WriteResult, StoreError> {
    let value = doc.to_json();
    match (store, lease) {
        (Store::Etcd(etcd), Some((heart_key, lease))) => {
            let guard = PutGuard {
                lease_key: heart_key.to_string(),
                lease,
                key: key.to_string(),
                mod_revision: stored.mod_revision,
            };
            match etcd.put_guarded(&guard, value).await? {
                Some(rev) => Ok(WriteResult::Written(rev)),
                None => Ok(WriteResult::Conflict(reread(store, key).await?)),
            }
        }
        (Store::Etcd(_), None) => Ok(WriteResult::Conflict(reread(store, key).await?)),
        (Store::Embedded(_), _) => {
            // One agent, no lease: re-read, then write (the window is this process's own).
            let now = reread(store, key).await?;
            if now.mod_revision != stored.mod_revision {
                return Ok(WriteResult::Conflict(now));
            }
            Ok(WriteResult::Written(store.put(key, value).await?))
        }
    }
}

async fn reread(store: &Store, key: &str) -> Result<Stored, StoreError> {
    Ok(store
        .get(key)
        .await?
        .map(|kv| parse_stored(&kv))
        .unwrap_or_default())
}

/// The document of a transition by `agent`, keeping the seed's `ports`.
pub fn transition_doc(
    stored: &Stored,
    status: Health,
    agent: &str,
    reason: Option<String>,
) -> StatusDoc {
    StatusDoc {
        status,
        agent: Some(agent.to_string()),
        since: Some(super::time::now_rfc3339()),
        reason,
        manual: false,
        ports: stored
            .doc
            .as_ref()
            .map(|d| d.ports.clone())
            .unwrap_or_default(),
    }
}

/// Writes report values in chunks; on etcd attached to the agent's lease (they vanish with it).
/// False when the puts were not written: on etcd without a lease.
pub async fn write_reports(
    store: &Store,
    puts: Vec<(String, Vec<u8>)>,
    deletes: Vec<String>,
    lease: Option<i64>,
) -> Result<bool, StoreError> {
    for chunk in deletes.chunks(REPORT_CHUNK) {
        store.apply_batch(Vec::new(), chunk.to_vec()).await?;
    }
    let mut puts = puts;
    while !puts.is_empty() {
        let rest = puts.split_off(puts.len().min(REPORT_CHUNK));
        match (store, lease) {
            (Store::Etcd(etcd), Some(lease)) => {
                etcd.put_with_lease(puts, lease).await?;
            }
            (Store::Etcd(_), None) => return Ok(false),
            (Store::Embedded(_), _) => {
                store.apply_batch(puts, Vec::new()).await?;
            }
        }
        puts = rest;
    }
    Ok(true)
}

/// `<report-prefix>/<ip>`.
pub fn report_key(report_prefix: &str, ip: &IpAddr) -> String {
    format!("{report_prefix}/{ip}")
}
