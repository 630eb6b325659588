//! `GET /v1/records?domain=&type=&limit=&continue=`: names with records, grouped by owner,
//! in store key order, in pages.
//!
//! Value-id child keys (see [`super::book`]) are folded into their parent
//! name, exactly as single-name reads see them; status keys are skipped. A
//! page holds at most `limit` names (default [`DEFAULT_PAGE`], at most
//! [`MAX_PAGE`]) and reads only its own keys from the store: range reads of
//! `limit + 1` keys (at least [`MIN_READ`]) from the page's start key (etcd: a range request with a
//! limit; redb: a range from the key). When more names follow, the answer
//! carries a `continue` token naming the key the next page starts at; each
//! page is read at its own store revision. Names come in key order (labels
//! from the top down, so a domain's names are together and a name precedes the
//! names below it). A name whose value-id keys lie on both sides of a page
//! boundary (possible only when names exist below it) appears on both pages,
//! each time with the records of its keys on that page.
//!
//! [`list_names`] (the ContainerDNS routes) still reads a whole scope, sorted by name.

use super::body::parse_type;
use super::book::is_value_id;
use super::error::ApiError;
use super::records::{name_json, owner};
use super::schema::{NameRecords, NamesPage, StoreErrors};
use super::ApiState;
use crate::layout::{
    classify_key, is_reverse_name, name_to_key, value_to_records, KeyKind, SkyValue,
};
use crate::store::{range_end, KeyValue};
use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use skylane_dataplane::name::Name;
use skylane_dataplane::record::Record;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

/// Names per page when `limit` is not given.
pub const DEFAULT_PAGE: usize = 1000;
/// Largest `limit`.
pub const MAX_PAGE: usize = 10_000;

/// Query of the list call.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Only names at or below this name (completed like an owner name).
    pub domain: Option<String>,
    /// Only records of this type.
    #[serde(rename = "type")]
    pub rtype: Option<String>,
    /// Names per page (default 1000).
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<usize>,
    /// The `continue` token of the previous page.
    #[serde(rename = "continue")]
    pub cont: Option<String>,
}

/// The opaque `continue` token: the store key the next page starts at, hex-encoded.
fn encode_token(name: &str) -> String {
    name.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_token(token: &str) -> Result<String, ApiError> {
    let bad = || ApiError::field("continue", "not a token from a previous page");
    if !token.len().is_multiple_of(2) || token.len() > 2048 {
        return Err(bad());
    }
    let bytes: Vec<u8> = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(token.get(i..i + 2).unwrap_or("zz"), 16))
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    String::from_utf8(bytes).map_err(|_| bad())
}

/// Every owner under `domain` (all names when `None`) with its records,
/// optionally only of type `rtype`, sorted by name. Returns the store revision too.
pub(crate) async fn list_names(
    state: &ApiState,
    domain: Option<&Name>,
    rtype: Option<u16>,
) -> Result<(Vec<(Name, Vec<Record>)>, i64), ApiError> {
    let scope = match domain {
        Some(d) => name_to_key(&state.prefix, d),
        None => state.prefix.to_string(),
    };
    let (kvs, revision) = state.store.list(&scope).await.map_err(ApiError::store)?;
    let kvs: Vec<KeyValue> = kvs
        .into_iter()
        .filter(|kv| kv.key == scope || kv.key.starts_with(&format!("{scope}/")))
        .collect();
    // Every key that has another key below it.
    let mut parents: HashSet<&str> = HashSet::new();
    for kv in &kvs {
        let mut k = kv.key.as_str();
        while let Some((p, _)) = k.rsplit_once('/') {
            if p.len() <= state.prefix.len() || !parents.insert(p) {
                break;
            }
            k = p;
        }
    }
    let mut owners: BTreeMap<Name, Vec<Record>> = BTreeMap::new();
    for kv in &kvs {
        let Some(name) = key_name(state, kv) else {
            continue;
        };
        let folds = folds_candidate(state, kv, &name) && !parents.contains(kv.key.as_str());
        let owner = if folds { name.parent() } else { None }.unwrap_or(name);
        if let Some(records) = owner_records(state, &owner, kv, rtype) {
            owners.entry(owner).or_default().extend(records);
        }
    }
    let mut out: Vec<(Name, Vec<Record>)> =
        owners.into_iter().filter(|(_, r)| !r.is_empty()).collect();
    out.sort_by_key(|(n, _)| n.to_string().to_ascii_lowercase());
    Ok((out, revision))
}

/// The name a key stands for (`None`: status and other non-name keys).
fn key_name(state: &ApiState, kv: &KeyValue) -> Option<Name> {
    match classify_key(&state.prefix, &state.monitor_prefix, &kv.key) {
        KeyKind::Name(name) => Some(name),
        _ => None,
    }
}

/// True when `kv` (the key of `name`) looks like a value id of its parent: it is one unless
/// a deeper key exists below it.
fn folds_candidate(state: &ApiState, kv: &KeyValue, name: &Name) -> bool {
    kv.key.rsplit_once('/').is_some_and(|(p, label)| {
        p.len() > state.prefix.len() && is_value_id(label, &kv.value, is_reverse_name(name))
    })
}

/// The records `kv` gives `owner` (only of type `rtype` if set); `None` for a bad value.
fn owner_records(
    state: &ApiState,
    owner: &Name,
    kv: &KeyValue,
    rtype: Option<u16>,
) -> Option<Vec<Record>> {
    let ttl = state.zone().default_ttl;
    match SkyValue::from_json(&kv.value).and_then(|v| value_to_records(owner, &v, ttl)) {
        Ok(records) => Some(
            records
                .into_iter()
                .filter(|r| rtype.is_none_or(|t| r.data.rtype() == t))
                .collect(),
        ),
        Err(e) => {
            tracing::debug!(key = %kv.key, error = %e, "api: list skips a bad value");
            None
        }
    }
}

/// `GET /v1/records`.
#[utoipa::path(get, path = "/v1/records", params(ListQuery),
    summary = "List names and their record sets",
    responses((status = 200, description = "Names", body = NamesPage), StoreErrors))]
pub(crate) async fn list_records(
    State(state): State<ApiState>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<NamesPage>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::field("query", e.body_text()))?;
    let domain = match &q.domain {
        Some(d) => Some(owner(&state, d, "domain")?),
        None => None,
    };
    let rtype = match &q.rtype {
        Some(t) => Some(
            parse_type(t)
                .ok_or_else(|| ApiError::field("type", format!("unknown record type {t:?}")))?,
        ),
        None => None,
    };
    let limit = q.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::field(
            "limit",
            format!("must be from 1 to {MAX_PAGE}"),
        ));
    }
    let scope = match &domain {
        Some(d) => name_to_key(&state.prefix, d),
        None => state.prefix.to_string(),
    };
    let reader = KeyReader::new(&state, &scope, q.cont.as_deref(), limit)?;
    let page = read_page(&state, reader, rtype, limit).await?;
    let names: Vec<NameRecords> = page
        .names
        .iter()
        .map(|(n, recs)| name_json(n, recs, None))
        .collect();
    Ok(Json(NamesPage {
        count: names.len(),
        names,
        revision: page.revision,
        next: page.next.map(|next| encode_token(&next)),
    }))
}

/// One page of the list.
struct Page {
    names: Vec<(Name, Vec<Record>)>,
    /// Store revision of the page's first read.
    revision: i64,
    /// The key the next page starts at.
    next: Option<String>,
}

/// Reads owners in key order until `limit` names with records are found; stops at the first
/// key of the name after them (the next page's start). Only the keys of this page (plus one
/// read ahead) are read from the store, in range reads of a bounded size.
async fn read_page(
    state: &ApiState,
    mut keys: KeyReader<'_>,
    rtype: Option<u16>,
    limit: usize,
) -> Result<Page, ApiError> {
    let mut names: Vec<(Name, Vec<Record>)> = Vec::new();
    let mut index: HashMap<Name, usize> = HashMap::new();
    while let Some(kv) = keys.next().await? {
        let Some(name) = key_name(state, &kv) else {
            keys.skip_monitor_tree(&kv.key);
            continue;
        };
        let folds = folds_candidate(state, &kv, &name) && !keys.has_child(&kv.key).await?;
        let owner = if folds { name.parent() } else { None }.unwrap_or(name);
        let Some(records) = owner_records(state, &owner, &kv, rtype) else {
            continue;
        };
        if records.is_empty() {
            continue;
        }
        let slot = match index.get(&owner) {
            Some(&i) => i,
            None if names.len() == limit => {
                return Ok(Page {
                    names,
                    revision: keys.revision,
                    next: Some(kv.key),
                })
            }
            None => {
                index.insert(owner.clone(), names.len());
                names.push((owner, Vec::new()));
                names.len() - 1
            }
        };
        names[slot].1.extend(records);
    }
    Ok(Page {
        names,
        revision: keys.revision,
        next: None,
    })
}

/// Keys of one scope (its own key and every key below it) in key order, from a start key,
/// read from the store in ranges of `limit + 1` keys (at least [`MIN_READ`]).
struct KeyReader<'a> {
    state: &'a ApiState,
    scope: String,
    end: String,
    /// Where the next store read starts.
    from: String,
    buffer: VecDeque<KeyValue>,
    /// The store has keys after the buffer.
    more: bool,
    /// Revision of the first read (0: none yet).
    revision: i64,
    /// Keys per store read.
    chunk: usize,
}

/// Fewest keys per store read of a page.
const MIN_READ: usize = 64;

impl<'a> KeyReader<'a> {
    /// A reader from the scope's first key, or from the key a `continue` token names (which
    /// must lie in the scope: tokens of other filters are refused).
    fn new(
        state: &'a ApiState,
        scope: &str,
        token: Option<&str>,
        limit: usize,
    ) -> Result<Self, ApiError> {
        let end = range_end(&format!("{scope}/"));
        let from = match token {
            None => scope.to_string(),
            Some(t) => {
                let key = decode_token(t)?;
                if key.as_str() < scope || key >= end {
                    return Err(ApiError::field("continue", "not a token of this listing"));
                }
                key
            }
        };
        Ok(KeyReader {
            state,
            scope: scope.to_string(),
            end,
            from,
            buffer: VecDeque::new(),
            more: true,
            revision: 0,
            chunk: (limit + 1).max(MIN_READ),
        })
    }

    /// Reads the next range into the buffer (when the store has more).
    async fn fill(&mut self) -> Result<(), ApiError> {
        if !self.buffer.is_empty() || !self.more {
            return Ok(());
        }
        let page = self
            .state
            .store
            .range(&self.from, &self.end, self.chunk)
            .await
            .map_err(ApiError::store)?;
        if self.revision == 0 {
            self.revision = page.revision;
        }
        self.more = page.more;
        if let Some(last) = page.kvs.last() {
            self.from = format!("{}\0", last.key);
        }
        self.buffer.extend(page.kvs);
        Ok(())
    }

    /// The next key of the scope.
    async fn next(&mut self) -> Result<Option<KeyValue>, ApiError> {
        loop {
            self.fill().await?;
            let Some(kv) = self.buffer.pop_front() else {
                return Ok(None);
            };
            let below = format!("{}/", self.scope);
            if kv.key == self.scope || kv.key.starts_with(&below) {
                return Ok(Some(kv));
            }
            // A sibling such as `<scope>-2` sorts between the scope's key and its children.
            if kv.key < below {
                self.jump(below);
            }
        }
    }

    /// Drops the buffer and reads on from `key` (never backwards).
    fn jump(&mut self, key: String) {
        let next = self.buffer.front().map_or(&self.from, |kv| &kv.key);
        if key > *next {
            self.buffer.clear();
            self.from = key;
            self.more = true;
        }
    }

    /// Skips the rest of the health monitor tree when `key` is in it (status keys are never
    /// names: a page does not read through them one by one).
    fn skip_monitor_tree(&mut self, key: &str) {
        let monitor = format!("{}/", self.state.monitor_prefix.trim_end_matches('/'));
        if key.starts_with(&monitor) {
            self.jump(range_end(&monitor));
        }
    }

    /// True when some key lies below `key` (it is then a name, not a value id).
    async fn has_child(&mut self, key: &str) -> Result<bool, ApiError> {
        self.fill().await?;
        let below = format!("{key}/");
        match self.buffer.front() {
            None => Ok(false),
            Some(n) if n.key.starts_with(&below) => Ok(true),
            // `<key>-x` or `<key>.x` lie between the key and its children: look there.
            Some(n) if n.key.starts_with(key) && n.key < below => {
                let found = self
                    .state
                    .store
                    .range(&below, &range_end(&below), 1)
                    .await
                    .map_err(ApiError::store)?;
                Ok(!found.kvs.is_empty())
            }
            Some(_) => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_round_trip_and_reject_junk() {
        let t = super::encode_token("web.skydns.local.");
        assert_eq!(super::decode_token(&t).unwrap(), "web.skydns.local.");
        assert!(super::decode_token("zz").is_err());
        assert!(super::decode_token("abc").is_err());
    }
}
