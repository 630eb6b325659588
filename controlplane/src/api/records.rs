//! `/v1/records/{name}`: read, replace, add and delete one name's record sets.
//!
//! Also the building blocks the import and ContainerDNS routes share: load a
//! name's own values, check which types may live together, merge and remove
//! values. Every change is read, planned and written under a revision guard,
//! retried on conflict (see [`super::cas`]).

use super::body::{self, RecordSet};
use super::book::{self, Plan};
use super::cas::{self, Written};
use super::error::ApiError;
use super::names;
use super::schema::{
    Deleted, ErrorBody, NamePath, NameRecords, RecordSets, StoreErrors, TypeQuery,
};
use super::ApiState;
use crate::layout::{name_to_key, value_to_records, SkyValue};
use crate::store::{Guard, KeyValue};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use skylane_dataplane::name::Name;
use skylane_dataplane::record::{rtype, RData, Record};

/// A name's own stored values, and the revisions the read saw.
pub(crate) struct Owned {
    pub name: Name,
    pub own: Vec<KeyValue>,
    /// Holds while the exact key, the own values and everything below the name are unchanged.
    pub guard: Guard,
}

/// Resolves the owner name of a path segment (errors name `field`).
pub(crate) fn owner(state: &ApiState, text: &str, field: &str) -> Result<Name, ApiError> {
    names::owner_name(text, &state.zone(), field)
}

/// Loads `name`'s own values: the exact key and value-id children.
pub(crate) async fn load_own(state: &ApiState, name: &Name) -> Result<Owned, ApiError> {
    let key = name_to_key(&state.prefix, name);
    let exact = state.store.get(&key).await.map_err(ApiError::store)?;
    let below_prefix = format!("{key}/");
    let (below, revision) = state
        .store
        .list(&below_prefix)
        .await
        .map_err(ApiError::store)?;
    let mut guard = Guard {
        keys: vec![(key.clone(), exact.as_ref().map_or(0, |kv| kv.mod_revision))],
        unchanged_since: vec![(below_prefix, revision)],
    };
    let own = book::own_values(exact, &key, below, crate::layout::is_reverse_name(name));
    guard.keys.extend(
        own.iter()
            .filter(|kv| kv.key != key)
            .map(|kv| (kv.key.clone(), kv.mod_revision)),
    );
    Ok(Owned {
        name: name.clone(),
        own,
        guard,
    })
}

impl Owned {
    pub fn records(&self, default_ttl: u32) -> Vec<Record> {
        book::own_records(&self.name, &self.own, default_ttl)
    }

    /// The stored values that parse.
    pub fn values(&self) -> Vec<SkyValue> {
        self.own
            .iter()
            .filter_map(|kv| SkyValue::from_json(&kv.value).ok())
            .collect()
    }
}

/// Checks the record types that would live at `name` together.
pub(crate) fn check_types(
    name: &Name,
    types: impl IntoIterator<Item = u16>,
    field: &str,
) -> Result<(), ApiError> {
    let types: Vec<u16> = types.into_iter().collect();
    let cnames = types.iter().filter(|t| **t == rtype::CNAME).count();
    if cnames > 1 {
        return Err(ApiError::conflict(
            field,
            format!("{name} can have only one CNAME"),
        ));
    }
    if cnames == 1 && types.len() > 1 {
        return Err(ApiError::conflict(
            field,
            format!("{name} cannot have a CNAME together with other records"),
        ));
    }
    let arpa = names::is_arpa(name);
    for t in types {
        if t == rtype::PTR && !arpa {
            return Err(ApiError::field(
                field,
                format!("PTR records live under in-addr.arpa. or ip6.arpa., not at {name}"),
            ));
        }
        if arpa && t != rtype::PTR && t != rtype::TXT {
            return Err(ApiError::field(
                field,
                format!(
                    "under in-addr.arpa. and ip6.arpa. only PTR and TXT records are stored ({} at {name})",
                    body::type_name(t)
                ),
            ));
        }
    }
    Ok(())
}

/// `existing` plus `added`; an added value replaces an existing one that differs only in TTL.
pub(crate) fn merge_values(existing: Vec<SkyValue>, added: Vec<SkyValue>) -> Vec<SkyValue> {
    let identity = |v: &SkyValue| SkyValue {
        ttl: 0,
        ..v.clone()
    };
    let mut out: Vec<SkyValue> = existing
        .into_iter()
        .filter(|e| !added.iter().any(|a| identity(a) == identity(e)))
        .collect();
    for a in added {
        if !out.contains(&a) {
            out.push(a);
        }
    }
    out
}

/// The own values of `owned` whose records are all in `remove`.
pub(crate) fn matching_keys(owned: &Owned, remove: &[RData], default_ttl: u32) -> Vec<String> {
    owned
        .own
        .iter()
        .filter(|kv| {
            let recs = book::own_records(&owned.name, std::slice::from_ref(kv), default_ttl);
            !recs.is_empty() && recs.iter().all(|r| remove.contains(&r.data))
        })
        .map(|kv| kv.key.clone())
        .collect()
}

/// The records `values` stand for at `name`.
pub(crate) fn values_records(name: &Name, values: &[SkyValue], default_ttl: u32) -> Vec<Record> {
    values
        .iter()
        .filter_map(|v| value_to_records(name, v, default_ttl).ok())
        .flatten()
        .collect()
}

/// The JSON answer of a read or write of one name.
pub(crate) fn name_json(name: &Name, records: &[Record], revision: Option<i64>) -> NameRecords {
    NameRecords {
        name: name.to_string(),
        records: body::sets_json(records),
        revision,
    }
}

/// Replaces (`add` = false) or extends the own values of `name` with `sets`.
pub(crate) async fn store_sets(
    state: &ApiState,
    name: &Name,
    sets: &[RecordSet],
    add: bool,
) -> Result<(Vec<Record>, Option<i64>), ApiError> {
    // The requested types first: a PTR outside arpa would read back as a CNAME.
    check_types(name, sets.iter().map(|s| s.rtype), "type")?;
    let new_values: Vec<SkyValue> = sets.iter().flat_map(book::set_to_values).collect();
    let ttl = state.zone().default_ttl;
    for attempt in 0..cas::WRITE_ATTEMPTS {
        let owned = load_own(state, name).await?;
        let desired = if add {
            merge_values(owned.values(), new_values.clone())
        } else {
            new_values.clone()
        };
        let records = values_records(name, &desired, ttl);
        check_types(name, records.iter().map(|r| r.data.rtype()), "type")?;
        let plan = book::plan(&state.prefix, name, &owned.own, &desired);
        match cas::write(state, plan, &owned.guard).await? {
            Written::Done(rev) => return Ok((records, rev)),
            Written::Conflict => cas::backoff(attempt).await,
        }
    }
    Err(cas::contended())
}

/// `GET /v1/records/{name}`.
#[utoipa::path(get, path = "/v1/records/{name}", params(NamePath),
    summary = "The name's own record sets",
    responses((status = 200, description = "The name's records.", body = NameRecords),
        (status = 404, description = "No records at this name.", body = ErrorBody), StoreErrors))]
pub(crate) async fn get_name(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Json<NameRecords>, ApiError> {
    let name = owner(&state, &name, "name")?;
    let owned = load_own(&state, &name).await?;
    let records = owned.records(state.zone().default_ttl);
    if records.is_empty() {
        return Err(ApiError::not_found(format!("no records at {name}")));
    }
    Ok(Json(name_json(&name, &records, None)))
}

/// `PUT /v1/records/{name}`: the body's sets become all of the name's records.
#[utoipa::path(put, path = "/v1/records/{name}", params(NamePath), request_body = RecordSets,
    summary = "Replace all of the name's own records",
    responses((status = 200, description = "The name's records after the call.", body = NameRecords),
        (status = 409, description = "A CNAME cannot share its name.", body = ErrorBody), StoreErrors))]
pub(crate) async fn put_name(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    bytes: Bytes,
) -> Result<Json<NameRecords>, ApiError> {
    let name = owner(&state, &name, "name")?;
    let sets = body::parse_body(&bytes)?;
    let (records, rev) = store_sets(&state, &name, &sets, false).await?;
    Ok(Json(name_json(&name, &records, rev)))
}

/// `POST /v1/records/{name}`: the body's values are added to the name's records.
#[utoipa::path(post, path = "/v1/records/{name}", params(NamePath), request_body = RecordSets,
    summary = "Add values to the name's records",
    responses((status = 200, description = "The name's records after the call.", body = NameRecords),
        (status = 409, description = "A CNAME cannot share its name.", body = ErrorBody), StoreErrors))]
pub(crate) async fn post_name(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    bytes: Bytes,
) -> Result<Json<NameRecords>, ApiError> {
    let name = owner(&state, &name, "name")?;
    let sets = body::parse_body(&bytes)?;
    let (records, rev) = store_sets(&state, &name, &sets, true).await?;
    Ok(Json(name_json(&name, &records, rev)))
}

/// `?type=` of a DELETE.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeleteQuery {
    #[serde(rename = "type")]
    rtype: Option<String>,
}

/// Removes from `name` every own value (`which` = None), the values of one
/// type, or the listed values. Returns the keys deleted.
pub(crate) async fn remove(
    state: &ApiState,
    name: &Name,
    which: Removal,
) -> Result<(usize, Option<i64>), ApiError> {
    let ttl = state.zone().default_ttl;
    for attempt in 0..cas::WRITE_ATTEMPTS {
        let owned = load_own(state, name).await?;
        let keys = removed_keys(&owned, &which, ttl);
        if keys.is_empty() {
            return Err(ApiError::not_found(format!("nothing to delete at {name}")));
        }
        let n = keys.len();
        let plan = Plan {
            puts: Vec::new(),
            deletes: keys,
        };
        match cas::write(state, plan, &owned.guard).await? {
            Written::Done(rev) => return Ok((n, rev)),
            Written::Conflict => cas::backoff(attempt).await,
        }
    }
    Err(cas::contended())
}

/// The keys of `owned` that `which` removes.
fn removed_keys(owned: &Owned, which: &Removal, ttl: u32) -> Vec<String> {
    let name = &owned.name;
    match which {
        Removal::All => owned.own.iter().map(|kv| kv.key.clone()).collect(),
        Removal::Type(t) => owned
            .own
            .iter()
            .filter(|kv| {
                let recs = book::own_records(name, std::slice::from_ref(kv), ttl);
                recs.iter().any(|r| r.data.rtype() == *t)
            })
            .map(|kv| kv.key.clone())
            .collect(),
        Removal::Values(data) => matching_keys(owned, data, ttl),
    }
}

/// What a delete removes.
pub(crate) enum Removal {
    All,
    Type(u16),
    Values(Vec<RData>),
}

/// `DELETE /v1/records/{name}[?type=T]` with an optional body listing values.
#[utoipa::path(delete, path = "/v1/records/{name}", params(NamePath, TypeQuery),
    summary = "Delete the name's own values (never names below it)",
    request_body(content = Option<RecordSets>, description = "Optional: only these values."),
    responses((status = 200, description = "Deleted", body = Deleted),
        (status = 404, description = "Nothing to delete.", body = ErrorBody), StoreErrors))]
pub(crate) async fn delete_name(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    query: Result<Query<DeleteQuery>, axum::extract::rejection::QueryRejection>,
    bytes: Bytes,
) -> Result<Json<Deleted>, ApiError> {
    let name = owner(&state, &name, "name")?;
    let Query(query) = query.map_err(|e| ApiError::field("query", e.body_text()))?;
    let has_body = !bytes.iter().all(u8::is_ascii_whitespace);
    let which = match (query.rtype, has_body) {
        (Some(_), true) => {
            return Err(ApiError::field(
                "type",
                "give either ?type= or a body listing values, not both",
            ))
        }
        (Some(t), false) => Removal::Type(
            body::parse_type(&t)
                .ok_or_else(|| ApiError::field("type", format!("unknown record type {t:?}")))?,
        ),
        (None, true) => Removal::Values(
            body::parse_body(&bytes)?
                .into_iter()
                .flat_map(|s| s.data)
                .collect(),
        ),
        (None, false) => Removal::All,
    };
    let (deleted, rev) = remove(&state, &name, which).await?;
    Ok(Json(Deleted {
        name: name.to_string(),
        deleted,
        revision: rev,
    }))
}
