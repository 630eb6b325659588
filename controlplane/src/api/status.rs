//! `/v1/status[/{ip}]`: UP/DOWN health status of backend addresses.
//!
//! Status keys live at `<monitor-prefix>/<ip>` as `{"status":"UP"|"DOWN"}` (health scanners
//! add `agent`, `since`, `reason`; `"manual": true` marks an operator's pin);
//! an address without a key is UP. DOWN addresses are left out of A/AAAA
//! answers (unless every address of a name is DOWN: fail-open).

use super::body::parse_json;
use super::error::ApiError;
use super::fields::{typed, StatusIn};
use super::schema::{
    ErrorBody, HealthWord, IpPath, StatusBody, StatusList, StatusOut, StoreErrors,
};
use super::ApiState;
use crate::health::StatusDoc;
use crate::layout::{status_key, status_key_to_ip, Health, StatusValue};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::Json;
use std::net::IpAddr;

fn parse_ip(text: &str) -> Result<IpAddr, ApiError> {
    text.trim()
        .parse()
        .map_err(|_| ApiError::field("ip", format!("{text:?} is not an IP address")))
}

/// Parses `{"status":"UP"|"DOWN", "manual": true|false}` (`manual` optional).
pub(crate) fn parse_status_request(bytes: &[u8]) -> Result<(Health, bool), ApiError> {
    let body: StatusIn = typed(&parse_json(bytes)?, "")?;
    Ok((body.status.0, body.manual))
}

/// `GET /v1/status`: every address with a status key.
#[utoipa::path(get, path = "/v1/status", summary = "Every address with a stored status",
    responses((status = 200, description = "Statuses", body = StatusList), StoreErrors))]
pub(crate) async fn list_status(
    State(state): State<ApiState>,
) -> Result<Json<StatusList>, ApiError> {
    let (kvs, revision) = state
        .store
        .list(&format!("{}/", state.monitor_prefix))
        .await
        .map_err(ApiError::store)?;
    let mut entries: Vec<(IpAddr, Health)> = kvs
        .iter()
        .filter_map(|kv| {
            let ip = status_key_to_ip(&state.monitor_prefix, &kv.key)?;
            let v = StatusValue::from_json(&kv.value).ok()?;
            Some((ip, v.status))
        })
        .collect();
    entries.sort_by_key(|(ip, _)| *ip);
    let statuses = entries
        .into_iter()
        .map(|(ip, s)| StatusOut {
            ip: ip.to_string(),
            status: s.into(),
            explicit: None,
            manual: None,
            revision: None,
        })
        .collect();
    Ok(Json(StatusList { statuses, revision }))
}

/// `GET /v1/status/{ip}`: `explicit` is false when no key exists (UP by default).
#[utoipa::path(get, path = "/v1/status/{ip}", params(IpPath),
    summary = "Status of an address (UP when none is stored)",
    responses((status = 200, description = "Status", body = StatusOut), StoreErrors))]
pub(crate) async fn get_status(
    State(state): State<ApiState>,
    Path(ip): Path<String>,
) -> Result<Json<StatusOut>, ApiError> {
    let ip = parse_ip(&ip)?;
    let key = status_key(&state.monitor_prefix, &ip);
    let kv = state.store.get(&key).await.map_err(ApiError::store)?;
    let (status, explicit, manual) = match kv {
        Some(kv) => match serde_json::from_slice::<StatusDoc>(&kv.value) {
            Ok(v) => (v.status, true, v.manual),
            Err(e) => {
                return Err(ApiError::new(
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    format!("stored status of {ip} is invalid: {e}"),
                ))
            }
        },
        None => (Health::Up, false, false),
    };
    Ok(Json(StatusOut {
        ip: ip.to_string(),
        status: status.into(),
        explicit: Some(explicit),
        manual: Some(manual),
        revision: None,
    }))
}

/// Writes one status (used by PUT and the import).
pub(crate) fn status_put(state: &ApiState, ip: &IpAddr, status: Health) -> (String, Vec<u8>) {
    (
        status_key(&state.monitor_prefix, ip),
        StatusValue { status }.to_json(),
    )
}

/// `PUT /v1/status/{ip}` with `{"status":"UP"|"DOWN"}`; `"manual": true` pins it (health
/// scanners never overwrite a manual status until an operator clears it).
#[utoipa::path(put, path = "/v1/status/{ip}", params(IpPath), request_body = StatusBody,
    summary = "Mark an address UP or DOWN (manual: health scanners never overwrite it)",
    responses((status = 200, description = "Stored", body = StatusOut), StoreErrors))]
pub(crate) async fn put_status(
    State(state): State<ApiState>,
    Path(ip): Path<String>,
    bytes: Bytes,
) -> Result<Json<StatusOut>, ApiError> {
    let ip = parse_ip(&ip)?;
    let (status, manual) = parse_status_request(&bytes)?;
    let (key, mut value) = status_put(&state, &ip, status);
    if manual {
        value = StatusDoc {
            status,
            agent: None,
            since: Some(humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()),
            reason: Some("set by an operator".into()),
            manual: true,
            ports: Vec::new(),
        }
        .to_json();
    }
    let rev = state
        .store
        .put(&key, value)
        .await
        .map_err(ApiError::store)?;
    Ok(Json(StatusOut {
        ip: ip.to_string(),
        status: status.into(),
        explicit: None,
        manual: Some(manual),
        revision: Some(rev),
    }))
}

/// `DELETE /v1/status/{ip}`: forget the status (the address counts as UP).
#[utoipa::path(delete, path = "/v1/status/{ip}", params(IpPath),
    summary = "Forget the stored status (the address counts as UP)",
    responses((status = 200, description = "Removed", body = StatusOut),
        (status = 404, description = "No status stored.", body = ErrorBody), StoreErrors))]
pub(crate) async fn delete_status(
    State(state): State<ApiState>,
    Path(ip): Path<String>,
) -> Result<Json<StatusOut>, ApiError> {
    let ip = parse_ip(&ip)?;
    let key = status_key(&state.monitor_prefix, &ip);
    if !state.store.delete(&key).await.map_err(ApiError::store)? {
        return Err(ApiError::not_found(format!("no status stored for {ip}")));
    }
    Ok(Json(StatusOut {
        ip: ip.to_string(),
        status: HealthWord::Up,
        explicit: Some(false),
        manual: None,
        revision: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_status_body(bytes: &[u8]) -> Result<Health, ApiError> {
        parse_status_request(bytes).map(|(h, _)| h)
    }

    #[test]
    fn status_bodies() {
        assert_eq!(
            parse_status_body(br#"{"status":"DOWN"}"#).unwrap(),
            Health::Down
        );
        assert_eq!(
            parse_status_body(br#"{"status":"up"}"#).unwrap(),
            Health::Up
        );
        let field = |b: &[u8]| parse_status_body(b).unwrap_err().field.unwrap();
        assert_eq!(field(br#"{"status":"SIDEWAYS"}"#), "status");
        assert_eq!(field(br#"{"status":1}"#), "status");
        assert_eq!(field(br#"{}"#), "status");
        assert_eq!(field(br#"{"status":"UP","ports":[80]}"#), "ports");
        assert_eq!(field(br#"{"status":"UP","manual":1}"#), "manual");
        assert_eq!(
            parse_status_request(br#"{"status":"DOWN","manual":true}"#).unwrap(),
            (Health::Down, true)
        );
        assert_eq!(field(b"{"), "body");
    }
}
