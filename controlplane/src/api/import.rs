//! `POST /v1/import`: many names (and statuses) in as few store transactions as the store
//! allows (one for the embedded store; chunks of `[etcd] max-txn-ops` for etcd), each
//! comparing the revisions it read and retried on a conflict; the answer counts `chunks`.
//!
//! Body: `{"mode": "replace"|"add", "records": [{"name": "web", "type": "A",
//! "ips": [...]}, ...], "statuses": [{"ip": "10.0.0.1", "status": "DOWN"}]}`
//! (or just the `records` list). Entries of the same name are merged. With
//! `replace` (default) each named name's own records become exactly the
//! entries given; with `add` they are added. Any bad entry rejects the whole
//! import, naming it (`records[41].ips[0]`); nothing is written.
//!
//! Imports run one at a time (a second one gets 409 while one runs) on a
//! blocking thread, so parsing and planning up to 200 000 names never holds
//! the async workers that also serve TCP DNS.

use super::body::{self, parse_json, RecordSet};
use super::book::{self, Plan};
use super::cas::{self, Written};
use super::error::ApiError;
use super::fields::{typed, StatusEntryIn};
use super::records::{check_types, load_own, merge_values, owner, values_records};
use super::schema::{ErrorBody, ImportBody, Imported, StoreErrors};
use super::status::status_put;
use super::ApiState;
use crate::layout::{Health, SkyValue};
use crate::store::Guard;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::Value;
use skylane_dataplane::name::Name;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Most record entries one import may carry.
pub const MAX_IMPORT_ENTRIES: usize = 200_000;

/// A validated import.
struct Import {
    add: bool,
    /// Owner → (index of its first entry, its record sets).
    names: BTreeMap<Name, (usize, Vec<RecordSet>)>,
    statuses: Vec<(IpAddr, Health)>,
}

fn parse_import(state: &ApiState, bytes: &[u8]) -> Result<Import, ApiError> {
    let v = parse_json(bytes)?;
    let (mode, records, statuses) = match &v {
        Value::Array(_) => (None, Some(&v), None),
        Value::Object(obj) => {
            if let Some(k) = obj
                .keys()
                .find(|k| !["mode", "records", "statuses"].contains(&k.as_str()))
            {
                return Err(ApiError::field(
                    k.as_str(),
                    "unknown field (expected mode, records, statuses)",
                ));
            }
            (obj.get("mode"), obj.get("records"), obj.get("statuses"))
        }
        _ => {
            return Err(ApiError::field(
                "body",
                "expected an object or a list of records",
            ))
        }
    };
    let add = match mode.map(|m| m.as_str()) {
        None => false,
        Some(Some("replace")) => false,
        Some(Some("add")) => true,
        Some(_) => return Err(ApiError::field("mode", "must be \"replace\" or \"add\"")),
    };
    let records = match records {
        None => &[][..],
        Some(Value::Array(a)) => a.as_slice(),
        Some(_) => return Err(ApiError::field("records", "must be a list")),
    };
    if records.len() > MAX_IMPORT_ENTRIES {
        return Err(ApiError::field(
            "records",
            format!("more than {MAX_IMPORT_ENTRIES} entries: split the import"),
        ));
    }
    let mut names: BTreeMap<Name, (usize, Vec<RecordSet>)> = BTreeMap::new();
    for (i, entry) in records.iter().enumerate() {
        let prefix = format!("records[{i}]");
        let set = body::parse_set(entry, &prefix, &["name"])?;
        let name_field = format!("{prefix}.name");
        let name = match entry.get("name") {
            Some(Value::String(s)) => owner(state, s, &name_field)?,
            Some(_) => return Err(ApiError::field(name_field, "must be a string")),
            None => return Err(ApiError::field(name_field, "missing")),
        };
        names
            .entry(name)
            .or_insert_with(|| (i, Vec::new()))
            .1
            .push(set);
    }
    let statuses = match statuses {
        None => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, s)| parse_status_entry(s, &format!("statuses[{i}]")))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(ApiError::field("statuses", "must be a list")),
    };
    if names.is_empty() && statuses.is_empty() {
        return Err(ApiError::field("records", "nothing to import"));
    }
    Ok(Import {
        add,
        names,
        statuses,
    })
}

fn parse_status_entry(v: &Value, prefix: &str) -> Result<(IpAddr, Health), ApiError> {
    let entry: StatusEntryIn = typed(v, prefix)?;
    Ok((entry.ip.0, entry.status.0))
}

/// `POST /v1/import`: one at a time, off the async workers.
#[utoipa::path(post, path = "/v1/import", request_body = ImportBody,
    summary = "Many names and statuses in one atomic store batch",
    responses((status = 200, description = "Imported", body = Imported),
        (status = 409, description = "A CNAME cannot share its name, or another import is running.", body = ErrorBody),
        (status = 413, description = "Body over 64 MiB, or more operations than the store takes in one transaction.", body = ErrorBody),
        StoreErrors))]
pub(crate) async fn import(
    State(state): State<ApiState>,
    bytes: Bytes,
) -> Result<Json<Imported>, ApiError> {
    let Ok(permit) = state.import_slot.clone().try_acquire_owned() else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "another import is running; retry when it has finished",
        ));
    };
    let handle = tokio::runtime::Handle::current();
    // The permit lives as long as the import, even if the client goes away meanwhile.
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        handle.block_on(run_import(&state, &bytes))
    })
    .await
    .map_err(|e| ApiError::internal(StatusCode::INTERNAL_SERVER_ERROR, "import failed", e))?
}

/// One unit of an import: a name's record sets or an address's status.
enum Item<'a> {
    Name(&'a Name, usize, &'a [RecordSet]),
    Status(&'a IpAddr, Health),
}

/// An item read and planned: its writes, the revisions the read saw and its value count.
struct Planned {
    plan: Plan,
    guard: Guard,
    values: usize,
}

impl Planned {
    fn ops(&self) -> usize {
        self.plan.puts.len() + self.plan.deletes.len()
    }
}

/// Reads one item's current state and plans its writes.
async fn plan_item(state: &ApiState, add: bool, item: &Item<'_>) -> Result<Planned, ApiError> {
    let ttl = state.zone().default_ttl;
    match item {
        Item::Name(name, index, sets) => {
            let field = format!("records[{index}].type");
            check_types(name, sets.iter().map(|s| s.rtype), &field)?;
            let owned = load_own(state, name).await?;
            let new: Vec<SkyValue> = sets.iter().flat_map(book::set_to_values).collect();
            let desired = if add {
                merge_values(owned.values(), new)
            } else {
                new
            };
            let records = values_records(name, &desired, ttl);
            check_types(name, records.iter().map(|r| r.data.rtype()), &field)?;
            Ok(Planned {
                plan: book::plan(&state.prefix, name, &owned.own, &desired),
                guard: owned.guard,
                values: desired.len(),
            })
        }
        Item::Status(ip, status) => {
            let (key, value) = status_put(state, ip, *status);
            let current = state.store.get(&key).await.map_err(ApiError::store)?;
            let mut plan = Plan::default();
            let revision = current.as_ref().map_or(0, |kv| kv.mod_revision);
            if current.is_none_or(|kv| kv.value != value) {
                plan.puts.push((key.clone(), value));
            }
            Ok(Planned {
                plan,
                guard: Guard {
                    keys: vec![(key, revision)],
                    unchanged_since: Vec::new(),
                },
                values: 0,
            })
        }
    }
}

/// Running totals of an import.
#[derive(Default)]
struct Totals {
    values: usize,
    puts: usize,
    deletes: usize,
    chunks: usize,
    revision: Option<i64>,
}

/// Reads and plans items from the front of `items` while they fit one transaction of
/// `max` operations and `max` compares; returns how many were taken and their sum.
async fn next_chunk(
    state: &ApiState,
    add: bool,
    items: &[Item<'_>],
    max: usize,
) -> Result<(usize, Planned), ApiError> {
    let mut chunk = Planned {
        plan: Plan::default(),
        guard: Guard::default(),
        values: 0,
    };
    let mut taken = 0;
    for item in items {
        let p = plan_item(state, add, item).await?;
        if p.ops() > max || p.guard.len() > max {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "one name needs {} operations and {} compares, over the store's \
                     {max} per transaction (etcd --max-txn-ops)",
                    p.ops(),
                    p.guard.len()
                ),
            ));
        }
        if taken > 0 && (chunk.ops() + p.ops() > max || chunk.guard.len() + p.guard.len() > max) {
            break;
        }
        chunk.plan.extend(p.plan);
        chunk.guard.extend(p.guard);
        chunk.values += p.values;
        taken += 1;
    }
    Ok((taken, chunk))
}

/// Validates, plans and applies one import (runs on a blocking thread): transactions of at
/// most the store's `max_txn_ops`, each guarded by the revisions it read and retried on a
/// conflict.
async fn run_import(state: &ApiState, bytes: &[u8]) -> Result<Json<Imported>, ApiError> {
    let import = parse_import(state, bytes)?;
    // Every entry's own types first, so a bad one fails before any chunk is written.
    for (name, (index, sets)) in &import.names {
        let field = format!("records[{index}].type");
        check_types(name, sets.iter().map(|s| s.rtype), &field)?;
    }
    let mut items: Vec<Item> = import
        .names
        .iter()
        .map(|(name, (index, sets))| Item::Name(name, *index, sets))
        .collect();
    items.extend(import.statuses.iter().map(|(ip, h)| Item::Status(ip, *h)));
    let max = state.store.max_txn_ops();
    let mut totals = Totals::default();
    let mut rest: &[Item] = &items;
    while !rest.is_empty() {
        let committed = totals.chunks;
        let step = import_chunk(state, import.add, rest, max, &mut totals)
            .await
            .map_err(|mut e| {
                if committed > 0 {
                    e.message = format!(
                        "{} ({committed} earlier transaction(s) of this import committed)",
                        e.message
                    );
                }
                e
            })?;
        rest = &rest[step..];
    }
    Ok(Json(Imported {
        names: import.names.len(),
        values: totals.values,
        statuses: import.statuses.len(),
        puts: totals.puts,
        deletes: totals.deletes,
        chunks: totals.chunks,
        revision: totals.revision,
    }))
}

/// Commits the next chunk of `items` (retrying on conflicts); returns how many it covered.
async fn import_chunk(
    state: &ApiState,
    add: bool,
    items: &[Item<'_>],
    max: usize,
    totals: &mut Totals,
) -> Result<usize, ApiError> {
    for attempt in 0..cas::WRITE_ATTEMPTS {
        let (taken, chunk) = next_chunk(state, add, items, max).await?;
        let (puts, deletes) = (chunk.plan.puts.len(), chunk.plan.deletes.len());
        match cas::write(state, chunk.plan, &chunk.guard).await? {
            Written::Done(revision) => {
                totals.values += chunk.values;
                totals.puts += puts;
                totals.deletes += deletes;
                if revision.is_some() {
                    totals.chunks += 1;
                    totals.revision = revision;
                }
                return Ok(taken);
            }
            Written::Conflict => cas::backoff(attempt).await,
        }
    }
    Err(cas::contended())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{EtcdConfig, Store, StoreConfig};
    use crate::sync::SyncMetrics;
    use arc_swap::ArcSwap;
    use skylane_dataplane::snapshot::{Snapshot, ZoneConfig};
    use std::sync::Arc;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_import_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = StoreConfig {
            path: Some(dir.path().join("s.redb")),
            ..StoreConfig::default()
        };
        let store = Arc::new(Store::open(&cfg, &EtcdConfig::default()).await.unwrap());
        let zone = Arc::new(ZoneConfig {
            domains: vec![Name::from_ascii("skydns.local.").unwrap()],
            ..ZoneConfig::default()
        });
        let snap = Arc::new(ArcSwap::from_pointee(Snapshot::empty(zone.clone())));
        let state = ApiState::new(store, snap, zone, Arc::new(SyncMetrics::new()));
        let body = Bytes::from_static(br#"[{"name":"web","type":"A","ips":["10.0.0.1"]}]"#);
        // While one import holds the slot, another gets 409 and writes nothing.
        let held = state.import_slot.clone().try_acquire_owned().unwrap();
        let err = import(State(state.clone()), body.clone())
            .await
            .unwrap_err();
        assert_eq!(err.status, StatusCode::CONFLICT);
        assert!(state.store.list("/").await.unwrap().0.is_empty());
        drop(held);
        let Json(v) = import(State(state.clone()), body).await.unwrap();
        assert_eq!(v.names, 1, "{v:?}");
        assert_eq!(state.import_slot.available_permits(), 1, "slot released");
    }
}
