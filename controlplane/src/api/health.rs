//! `/v1/health` and `/v1/health/agents`: what the health scanners see (read from the store:
//! status keys, `<report-prefix>/<ip>` reports and `<heart-prefix>/<agent>` heart keys, so
//! any appliance shows the work of every agent, in-process or `skylane scan`).

use super::error::ApiError;
use super::schema::{AgentList, HealthList, StoreErrors};
use super::ApiState;
use crate::health::StatusDoc;
use crate::layout::{status_key_to_ip, Health};
use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// `GET /v1/health`: each address with a status or a report.
#[utoipa::path(get, path = "/v1/health",
    summary = "Each address's status and last health check (from the scanners' reports)",
    responses((status = 200, description = "Addresses", body = HealthList), StoreErrors))]
pub(crate) async fn health(State(state): State<ApiState>) -> Result<Json<HealthList>, ApiError> {
    let report_prefix = state.health.report_prefix.clone();
    let (reports, _) = state
        .store
        .list(&format!("{report_prefix}/"))
        .await
        .map_err(ApiError::store)?;
    let (statuses, revision) = state
        .store
        .list(&format!("{}/", state.monitor_prefix))
        .await
        .map_err(ApiError::store)?;
    let mut rows: BTreeMap<IpAddr, Value> = BTreeMap::new();
    for kv in &reports {
        let Some(ip) = status_key_to_ip(&report_prefix, &kv.key) else {
            continue;
        };
        let report: Value = serde_json::from_slice(&kv.value).unwrap_or(Value::Null);
        rows.insert(
            ip,
            json!({ "ip": ip.to_string(), "status": "UP", "check": report }),
        );
    }
    for kv in &statuses {
        let Some(ip) = status_key_to_ip(&state.monitor_prefix, &kv.key) else {
            continue;
        };
        let Ok(doc) = serde_json::from_slice::<StatusDoc>(&kv.value) else {
            continue;
        };
        let row = rows
            .entry(ip)
            .or_insert_with(|| json!({ "ip": ip.to_string(), "check": null }));
        row["status"] = json!(if doc.status == Health::Up {
            "UP"
        } else {
            "DOWN"
        });
        row["agent"] = json!(doc.agent);
        row["since"] = json!(doc.since);
        row["reason"] = json!(doc.reason);
        row["manual"] = json!(doc.manual);
    }
    Ok(Json(HealthList {
        addresses: rows.into_values().collect(),
        revision,
    }))
}

/// `GET /v1/health/agents`: the live agents (heart keys) and their address counts.
#[utoipa::path(get, path = "/v1/health/agents", summary = "Live health agents and their address counts",
    responses((status = 200, description = "Agents", body = AgentList), StoreErrors))]
pub(crate) async fn agents(State(state): State<ApiState>) -> Result<Json<AgentList>, ApiError> {
    let prefix = format!("{}/", state.health.heart_prefix);
    let (kvs, revision) = state.store.list(&prefix).await.map_err(ApiError::store)?;
    let agents: Vec<Value> = kvs
        .iter()
        .map(|kv| {
            let name = kv.key.strip_prefix(&prefix).unwrap_or(&kv.key);
            let v: Value = serde_json::from_slice(&kv.value).unwrap_or(Value::Null);
            json!({
                "agent": name,
                "targets": v.get("targets").cloned().unwrap_or(Value::Null),
                "panic": v.get("panic").cloned().unwrap_or(Value::Null),
                "updated": v.get("updated").cloned().unwrap_or(Value::Null),
            })
        })
        .collect();
    Ok(Json(AgentList { agents, revision }))
}
