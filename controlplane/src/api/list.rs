//! `GET /v1/records?domain=&type=&limit=&continue=`: names with records, grouped by owner,
//! sorted, in pages.
//!
//! Value-id child keys (see [`super::book`]) are folded into their parent
//! name, exactly as single-name reads see them; status keys are skipped. A
//! page holds at most `limit` names (default [`DEFAULT_PAGE`], at most
//! [`MAX_PAGE`]); when more follow, the answer carries a `continue` token to
//! pass back for the next page (names after the last one returned; each page
//! is read at its own store revision).

use super::body::{self, parse_type};
use super::book::is_value_id;
use super::error::ApiError;
use super::records::owner;
use super::ApiState;
use crate::layout::{
    classify_key, is_reverse_name, name_to_key, value_to_records, KeyKind, SkyValue,
};
use crate::store::KeyValue;
use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use skylane_dataplane::name::Name;
use skylane_dataplane::record::Record;
use std::collections::{BTreeMap, HashSet};

/// Names per page when `limit` is not given.
pub const DEFAULT_PAGE: usize = 1000;
/// Largest `limit`.
pub const MAX_PAGE: usize = 10_000;

/// Query of the list call.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// Only names at or below this name (completed like an owner name).
    pub domain: Option<String>,
    /// Only records of this type.
    #[serde(rename = "type")]
    pub rtype: Option<String>,
    /// Names per page.
    pub limit: Option<usize>,
    /// The `continue` token of the previous page.
    #[serde(rename = "continue")]
    pub cont: Option<String>,
}

/// The opaque `continue` token: the last name of a page, hex-encoded.
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
    let ttl = state.zone().default_ttl;
    let mut owners: BTreeMap<Name, Vec<Record>> = BTreeMap::new();
    for kv in &kvs {
        let KeyKind::Name(name) = classify_key(&state.prefix, &state.monitor_prefix, &kv.key)
        else {
            continue;
        };
        let folded = kv
            .key
            .rsplit_once('/')
            .filter(|(p, label)| {
                is_value_id(label, &kv.value, is_reverse_name(&name))
                    && !parents.contains(kv.key.as_str())
                    && p.len() > state.prefix.len()
            })
            .and_then(|_| name.parent());
        let owner = folded.unwrap_or(name);
        let records =
            match SkyValue::from_json(&kv.value).and_then(|v| value_to_records(&owner, &v, ttl)) {
                Ok(r) => r,
                Err(e) => {
                    tracing::debug!(key = %kv.key, error = %e, "api: list skips a bad value");
                    continue;
                }
            };
        let entry = owners.entry(owner).or_default();
        entry.extend(
            records
                .into_iter()
                .filter(|r| rtype.is_none_or(|t| r.data.rtype() == t)),
        );
    }
    let mut out: Vec<(Name, Vec<Record>)> =
        owners.into_iter().filter(|(_, r)| !r.is_empty()).collect();
    out.sort_by_key(|(n, _)| n.to_string().to_ascii_lowercase());
    Ok((out, revision))
}

/// `GET /v1/records`.
pub(crate) async fn list_records(
    State(state): State<ApiState>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
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
    let after = q.cont.as_deref().map(decode_token).transpose()?;
    let (names, revision) = list_names(&state, domain.as_ref(), rtype).await?;
    let mut page = names
        .iter()
        .map(|(n, recs)| (n.to_string().to_ascii_lowercase(), n, recs))
        .filter(|(key, _, _)| after.as_ref().is_none_or(|a| key > a));
    let list: Vec<Value> = page
        .by_ref()
        .take(limit)
        .map(|(_, n, recs)| json!({ "name": n.to_string(), "records": body::sets_json(recs) }))
        .collect();
    let more = page.next().is_some();
    let mut v = json!({ "count": list.len(), "names": list, "revision": revision });
    if more {
        let last = v["names"][limit - 1]["name"].as_str().unwrap_or_default();
        v["continue"] = json!(encode_token(&last.to_ascii_lowercase()));
    }
    Ok(Json(v))
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
