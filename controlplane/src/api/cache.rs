//! `/v1/cache`: the forward cache.
//!
//! - `GET /v1/cache?name=N`: N's entries (type, DO, rcode, remaining TTL,
//!   stale, approximate hits, bytes).
//! - `DELETE /v1/cache`: purge everything; `DELETE /v1/cache?name=N`: purge
//!   N's entries. Both answer `{"purged": count}`.
//!
//! 404 when forwarding is off.

use super::schema::{AuthErrors, CacheShow, CacheUsage, ErrorBody, Purged};
use super::{ApiError, ApiState};
use crate::forward::Forwarder;
use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use skylane_dataplane::name::Name;
use std::sync::Arc;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct NameQuery {
    /// A name (trailing dot optional); required by GET, optional for DELETE.
    name: Option<String>,
}

fn forwarder(state: &ApiState) -> Result<&Arc<Forwarder>, ApiError> {
    state
        .forwarder
        .as_ref()
        .ok_or_else(|| ApiError::not_found("forwarding is off: there is no cache"))
}

/// The lowercased wire form of `name` (a trailing dot is optional).
fn wire_name(name: &str) -> Result<Vec<u8>, ApiError> {
    let text = if name.ends_with('.') {
        name.to_owned()
    } else {
        format!("{name}.")
    };
    Name::from_ascii(&text)
        .map(|n| n.to_lowercase().as_wire().to_vec())
        .map_err(|e| ApiError::field("name", format!("bad name {name:?}: {e}")))
}

/// `GET /v1/cache?name=N`.
#[utoipa::path(get, path = "/v1/cache", params(NameQuery), summary = "The forward cache's entries of a name",
    responses((status = 200, description = "Entries", body = CacheShow),
        (status = 400, description = "No or a bad name.", body = ErrorBody),
        (status = 404, description = "Forwarding is off.", body = ErrorBody), AuthErrors))]
pub(crate) async fn show(
    State(state): State<ApiState>,
    Query(q): Query<NameQuery>,
) -> Result<Json<CacheShow>, ApiError> {
    let f = forwarder(&state)?;
    let name = q
        .name
        .ok_or_else(|| ApiError::field("name", "the name query parameter is required"))?;
    let entries = f.cache.show(&wire_name(&name)?);
    let (count, bytes) = f.cache.usage();
    Ok(Json(CacheShow {
        name,
        entries,
        cache: CacheUsage {
            entries: count,
            bytes,
        },
    }))
}

/// `DELETE /v1/cache[?name=N]`.
#[utoipa::path(delete, path = "/v1/cache", params(NameQuery),
    summary = "Purge the forward cache (everything, or one name's entries)",
    responses((status = 200, description = "Purged entries", body = Purged),
        (status = 400, description = "A bad name.", body = ErrorBody),
        (status = 404, description = "Forwarding is off.", body = ErrorBody), AuthErrors))]
pub(crate) async fn purge(
    State(state): State<ApiState>,
    Query(q): Query<NameQuery>,
) -> Result<Json<Purged>, ApiError> {
    let f = forwarder(&state)?;
    let purged = match q.name {
        Some(name) => f.cache.purge_name(&wire_name(&name)?),
        None => f.cache.purge_all(),
    };
    Ok(Json(Purged { purged }))
}
