//! ContainerDNS-compatible record calls under `/skydns/api/`.
//!
//! - `POST /skydns/api/{name}` `{"type":"A","ips":[...]}` adds values (any
//!   `/v1` record-set body works); `{"type":"cname","alias":"tv1"}` makes
//!   `tv1` (completed with the default domain) a CNAME to `{name}`.
//! - `PUT /skydns/api/{name}` `{"type":"A","update":{"old-ip":"new-ip"}}`
//!   swaps addresses; any other `/v1` body replaces the name's records.
//! - `DELETE /skydns/api/{name}` with `{"type":"A","ips":[...]}` removes those
//!   values, with `{"type":"cname","alias":"tv1"}` the alias, with no body
//!   every value of the name itself (never the names below it).
//! - `GET /skydns/api/` lists every name; `GET /skydns/api/{name}` one name.
//!
//! Answers are the text `OK`, or `ERR, <reason>` with a 4xx/5xx status.
//! The token may come from `?token=` or the bearer header (401 / 403).

use super::body::{self, parse_json};
use super::cas;
use super::error::{ApiError, TextError};
use super::list::list_names;
use super::names;
use super::records::{self, load_own, owner, remove, store_sets, Removal};
use super::schema::{CompatErrors, NamePath, RecordSet, TokenQuery};
use super::ApiState;
use crate::layout::SkyValue;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::{Map, Value};
use skylane_dataplane::name::Name;
use skylane_dataplane::record::{rtype, RData};
use std::net::IpAddr;

type TextResult<T> = Result<T, TextError>;

const OK: &str = "OK";

/// `{"type":"cname","alias":"..."}` → the alias owner, if the body has that shape.
/// A relative alias (`tv1`) lives in the target's domain: `tv1` for
/// `cctv2.skydns.local` is `tv1.skydns.local.`.
fn alias_of(state: &ApiState, target: &Name, v: &Value) -> Result<Option<Name>, ApiError> {
    let Some(obj) = v.as_object() else {
        return Ok(None);
    };
    let is_cname = obj
        .get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.eq_ignore_ascii_case("cname"));
    if !is_cname || !obj.contains_key("alias") {
        return Ok(None);
    }
    if let Some(k) = obj
        .keys()
        .find(|k| !["type", "alias", "ttl"].contains(&k.as_str()))
    {
        return Err(ApiError::field(
            k.as_str(),
            "unknown field (expected type, alias, ttl)",
        ));
    }
    match obj.get("alias") {
        Some(Value::String(s)) => {
            let s = s.trim();
            let relative = !s.ends_with('.')
                && Name::from_ascii(s).is_ok_and(|n| names::domain_of(&n, &state.zone()).is_none());
            let text = match (relative, names::domain_of(target, &state.zone())) {
                (true, Some(domain)) => format!("{s}.{domain}"),
                _ => s.to_string(),
            };
            Ok(Some(owner(state, &text, "alias")?))
        }
        _ => Err(ApiError::field("alias", "must be a string")),
    }
}

fn cname_set(target: &Name, v: &Value) -> Result<body::RecordSet, ApiError> {
    let ttl = match v.get("ttl") {
        None | Some(Value::Null) => None,
        Some(t) => Some(body::parse_ttl(t).map_err(|m| ApiError::field("ttl", m))?),
    };
    Ok(body::RecordSet {
        rtype: rtype::CNAME,
        ttl,
        data: vec![RData::Cname(target.clone())],
    })
}

/// `POST /skydns/api/{name}`.
#[utoipa::path(post, path = "/skydns/api/{name}", params(NamePath, TokenQuery),
    summary = "ContainerDNS: add values, or `{\"type\":\"cname\",\"alias\":A}` to make A a CNAME to {name}",
    request_body(content = Object, content_type = "application/json"),
    responses((status = 200, description = "`OK`", body = String, content_type = "text/plain"), CompatErrors))]
pub(crate) async fn post(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    bytes: Bytes,
) -> TextResult<&'static str> {
    let target = owner(&state, &name, "name")?;
    let v = parse_json(&bytes)?;
    match alias_of(&state, &target, &v)? {
        Some(alias) => {
            let set = cname_set(&target, &v)?;
            store_sets(&state, &alias, &[set], false).await?;
        }
        None => {
            let set = body::parse_set(&v, "", &[])?;
            store_sets(&state, &target, &[set], true).await?;
        }
    }
    Ok(OK)
}

/// Parses `{"old-ip": "new-ip", ...}` for an A/AAAA update.
fn parse_update(t: u16, update: &Map<String, Value>) -> Result<Vec<(RData, RData)>, ApiError> {
    if update.is_empty() {
        return Err(ApiError::field("update", "must not be empty"));
    }
    let ip = |s: &str, f: String| -> Result<RData, ApiError> {
        match (t, s.trim().parse::<IpAddr>()) {
            (rtype::A, Ok(IpAddr::V4(a))) => Ok(RData::A(a)),
            (rtype::AAAA, Ok(IpAddr::V6(a))) => Ok(RData::Aaaa(a)),
            _ => Err(ApiError::field(
                f,
                format!(
                    "{s:?} is not an {} address",
                    if t == rtype::A { "IPv4" } else { "IPv6" }
                ),
            )),
        }
    };
    update
        .iter()
        .map(|(old, new)| {
            let f = format!("update.{old}");
            let new = new
                .as_str()
                .ok_or_else(|| ApiError::field(&f, "must be a string"))?;
            Ok((ip(old, f.clone())?, ip(new, f)?))
        })
        .collect()
}

/// `PUT /skydns/api/{name}`.
#[utoipa::path(put, path = "/skydns/api/{name}", params(NamePath, TokenQuery),
    summary = "ContainerDNS: `{\"type\":\"A\",\"update\":{\"old\":\"new\"}}` swaps addresses; other bodies replace",
    request_body(content = Object, content_type = "application/json"),
    responses((status = 200, description = "`OK`", body = String, content_type = "text/plain"), CompatErrors))]
pub(crate) async fn put(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    bytes: Bytes,
) -> TextResult<&'static str> {
    let name = owner(&state, &name, "name")?;
    let v = parse_json(&bytes)?;
    let Some(update) = v.get("update") else {
        let sets = body::parse_body(&bytes)?;
        store_sets(&state, &name, &sets, false).await?;
        return Ok(OK);
    };
    let obj = v.as_object().expect("has a key, so an object");
    if let Some(k) = obj.keys().find(|k| *k != "type" && *k != "update") {
        return Err(ApiError::field(k.as_str(), "unknown field (expected type, update)").into());
    }
    let t = match obj
        .get("type")
        .and_then(Value::as_str)
        .and_then(body::parse_type)
    {
        Some(t @ (rtype::A | rtype::AAAA)) => t,
        _ => return Err(ApiError::field("type", "update works on A and AAAA records").into()),
    };
    let update = update
        .as_object()
        .ok_or_else(|| ApiError::field("update", "must be an object {\"old-ip\": \"new-ip\"}"))?;
    let swaps = parse_update(t, update)?;
    let ttl = state.zone().default_ttl;
    for attempt in 0..cas::WRITE_ATTEMPTS {
        let owned = load_own(&state, &name).await?;
        let mut values: Vec<SkyValue> = owned.values();
        for (old, new) in &swaps {
            let (old_text, new_text) = (ip_text(old), ip_text(new));
            let Some(v) = values
                .iter_mut()
                .find(|v| v.host == old_text && v.port == 0 && !v.mail)
            else {
                let err = ApiError::not_found(format!("{name} has no address {old_text}"));
                return Err(err.into());
            };
            v.host = new_text;
        }
        let records = records::values_records(&name, &values, ttl);
        records::check_types(&name, records.iter().map(|r| r.data.rtype()), "type")?;
        let plan = super::book::plan(&state.prefix, &name, &owned.own, &values);
        match cas::write(&state, plan, &owned.guard).await? {
            cas::Written::Done(_) => return Ok(OK),
            cas::Written::Conflict => cas::backoff(attempt).await,
        }
    }
    Err(cas::contended().into())
}

fn ip_text(d: &RData) -> String {
    match d {
        RData::A(a) => a.to_string(),
        RData::Aaaa(a) => a.to_string(),
        _ => String::new(),
    }
}

/// `DELETE /skydns/api/{name}`.
#[utoipa::path(delete, path = "/skydns/api/{name}", params(NamePath, TokenQuery),
    summary = "ContainerDNS: remove listed values, an alias, or (no body) every value of the name",
    request_body(content = Option<Object>, content_type = "application/json"),
    responses((status = 200, description = "`OK`", body = String, content_type = "text/plain"), CompatErrors))]
pub(crate) async fn delete(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    bytes: Bytes,
) -> TextResult<&'static str> {
    let name = owner(&state, &name, "name")?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        remove(&state, &name, Removal::All).await?;
        return Ok(OK);
    }
    let v = parse_json(&bytes)?;
    if let Some(alias) = alias_of(&state, &name, &v)? {
        remove(&state, &alias, Removal::Values(vec![RData::Cname(name)])).await?;
        return Ok(OK);
    }
    let set = body::parse_set(&v, "", &[])?;
    remove(&state, &name, Removal::Values(set.data)).await?;
    Ok(OK)
}

/// `GET /skydns/api/`: `{"<name>": [record sets], ...}`.
#[utoipa::path(get, path = "/skydns/api/", params(TokenQuery),
    summary = "ContainerDNS: every name with its record sets",
    responses((status = 200, description = "Name → record sets", body = BTreeMap<String, Vec<RecordSet>>), CompatErrors))]
pub(crate) async fn list(State(state): State<ApiState>) -> TextResult<Json<Value>> {
    let (all, _) = list_names(&state, None, None).await?;
    let map: Map<String, Value> = all
        .iter()
        .map(|(n, recs)| (n.to_string(), Value::Array(body::sets_json(recs))))
        .collect();
    Ok(Json(Value::Object(map)))
}

/// `GET /skydns/api/{name}`.
#[utoipa::path(get, path = "/skydns/api/{name}", params(NamePath, TokenQuery),
    summary = "ContainerDNS: one name",
    responses((status = 200, description = "Name → record sets", body = BTreeMap<String, Vec<RecordSet>>), CompatErrors))]
pub(crate) async fn show(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> TextResult<Json<Value>> {
    let name = names::owner_name(&name, &state.zone(), "name")?;
    let recs = load_own(&state, &name)
        .await?
        .records(state.zone().default_ttl);
    if recs.is_empty() {
        return Err(ApiError::not_found(format!("no records at {name}")).into());
    }
    let mut map = Map::new();
    map.insert(name.to_string(), Value::Array(body::sets_json(&recs)));
    Ok(Json(Value::Object(map)))
}
