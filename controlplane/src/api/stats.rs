//! `/v1/stats` (JSON per-core figures and top names) and `/metrics` (Prometheus).

use super::error::ApiError;
use super::schema::StoreErrors;
use super::ApiState;
use crate::metrics::{self, MetricsSources};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use skylane_dataplane::stats::{CounterSnapshot, QTYPE_LABELS, RCODE_LABELS};

/// Default and largest number of top names returned.
const DEFAULT_TOP: usize = 10;
const MAX_TOP: usize = 1000;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct StatsQuery {
    /// Top names to show (default 10).
    #[param(minimum = 0, maximum = 1000)]
    top: Option<usize>,
}

fn counters_json(c: &CounterSnapshot) -> Value {
    let labelled = |labels: &[&str], values: &[u64]| -> Value {
        let map: Map<String, Value> = labels
            .iter()
            .zip(values)
            .filter(|(_, n)| **n > 0)
            .map(|(l, n)| (l.to_string(), json!(n)))
            .collect();
        Value::Object(map)
    };
    json!({
        "queries": c.queries,
        "responses": c.responses(),
        "rcodes": labelled(&RCODE_LABELS, &c.rcode),
        "qtypes": labelled(&QTYPE_LABELS, &c.qtype),
        "truncated": c.truncated,
        "dropped": c.dropped,
        "malformed": c.malformed,
        "fail_open": c.fail_open,
        "send_errors": c.send_errors,
        "rx_packets": c.rx_packets,
        "tx_packets": c.tx_packets,
    })
}

/// `GET /v1/stats[?top=N]`.
#[utoipa::path(get, path = "/v1/stats", params(StatsQuery),
    summary = "Per-core counters, latency, top names, snapshot and sync figures",
    responses((status = 200, description = "Statistics", body = Object), StoreErrors))]
pub(crate) async fn stats(
    State(state): State<ApiState>,
    query: Result<Query<StatsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::field("query", e.body_text()))?;
    let top = q.top.unwrap_or(DEFAULT_TOP);
    if top > MAX_TOP {
        return Err(ApiError::field("top", format!("at most {MAX_TOP}")));
    }
    let snap = state.snapshot.load();
    let sync = &state.sync;
    let mut out = json!({
        "snapshot": {
            "records": snap.record_count(),
            "names": snap.name_count(),
            "generation": snap.generation(),
            "store_revision": sync.revision(),
            "last_build_ms": sync.last_build().as_secs_f64() * 1000.0,
        },
        "sync": {
            "ready": sync.is_ready(),
            "source": sync.source().as_str(),
            "data_age_seconds": sync.data_age().map(|d| d.as_secs_f64()),
            "events": sync.events(),
            "resyncs": sync.resyncs(),
            "reconnects": sync.reconnects(),
            "parse_errors": sync.parse_errors(),
            "bad_keys": sync.bad_keys(),
            "down_addresses": sync.down_addresses(),
            "propagation_p50_ms": sync.propagation_quantile(0.5).map(|d| d.as_secs_f64() * 1000.0),
            "propagation_p99_ms": sync.propagation_quantile(0.99).map(|d| d.as_secs_f64() * 1000.0),
        },
        "store": {
            "backend": state.store.backend_name(),
            "connected": state.store.is_connected(),
        },
    });
    if let Some(stats) = &state.stats {
        let report = stats.report();
        let cores: Vec<Value> = report
            .slots
            .iter()
            .map(|s| {
                let mut v = counters_json(&s.counters);
                v["backend"] = json!(s.backend);
                v["core"] = json!(s.core);
                v
            })
            .collect();
        let l = report.latency;
        let top_names: Vec<Value> = stats
            .top_names(top)
            .into_iter()
            .map(|t| json!({ "name": t.name, "sampled": t.sampled, "estimated": t.estimated }))
            .collect();
        out["total"] = counters_json(&report.total);
        out["cores"] = json!(cores);
        out["latency_ns"] = json!({
            "samples": l.samples, "mean": l.mean_ns, "p50": l.p50_ns, "p90": l.p90_ns,
            "p99": l.p99_ns, "p999": l.p999_ns, "max": l.max_ns,
        });
        out["sample_every"] = json!(report.sample_every);
        out["top_names"] = json!(top_names);
    }
    Ok(Json(out))
}

/// `GET /metrics`: OpenMetrics text (Prometheus scrapes it), rendered by the collectors.
#[utoipa::path(get, path = "/metrics", security(()), summary = "Prometheus metrics",
    responses((status = 200, description = "OpenMetrics 1.0 text (docs/api.md lists the metrics)",
        body = String, content_type = metrics::CONTENT_TYPE)))]
pub(crate) async fn prometheus(State(state): State<ApiState>) -> impl IntoResponse {
    let text = metrics::render(MetricsSources {
        stats: state.stats.clone(),
        snapshot: state.snapshot.load_full(),
        sync: state.sync.clone(),
        store_backend: state.store.backend_name(),
        store_connected: state.store.is_connected(),
        forwarder: state.forwarder.clone(),
        health: state.health.metrics.clone(),
        dataplane: state.dataplane.clone(),
    });
    ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text)
}
