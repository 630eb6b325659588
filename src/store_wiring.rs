//! Opens the record store and starts its sync task, the REST API and, with
//! `[health] enabled = true`, a health agent.
//!
//! The store is opened before anything is spawned, so a bad path or a bad
//! etcd configuration fails start-up with a clear error. An unreachable etcd
//! is not an error: the sync serves `<data-dir>/last-known` (SERVFAIL for
//! missing names before anything is loaded) and keeps retrying.

use crate::static_data::StaticData;
use anyhow::Context;
use skylane_controlplane::api::{serve_api, ApiState};
use skylane_controlplane::config::Config;
use skylane_controlplane::forward::Forwarder;
use skylane_controlplane::health::{run_agent, HealthMetrics};
use skylane_controlplane::store::Store;
use skylane_controlplane::sync::{run_sync_ext, SyncExtras, SyncMetrics, LAST_KNOWN_FILE};
use skylane_dataplane::snapshot::SharedSnapshot;
use skylane_dataplane::stats::Stats;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::info;

/// The tasks a running control plane is made of.
pub type Tasks = JoinSet<(&'static str, anyhow::Result<()>)>;

/// Opens the store, spawns sync, the API (and the health agent) into `tasks`.
pub async fn spawn(
    cfg: &Config,
    data: &StaticData,
    shared: &SharedSnapshot,
    stats: &Arc<Stats>,
    forwarder: Option<Arc<Forwarder>>,
    stop: &watch::Receiver<bool>,
    tasks: &mut Tasks,
) -> anyhow::Result<()> {
    let store = Store::open(&cfg.store, &cfg.etcd)
        .await
        .with_context(|| format!("opening the {:?} store", cfg.store.backend))?;
    info!(backend = store.backend_name(), "record store open");
    let store = Arc::new(store);
    let metrics = Arc::new(SyncMetrics::new());

    let (st, zone, recs, sh, m, rx) = (
        store.clone(),
        data.zone.clone(),
        data.records.clone(),
        shared.clone(),
        metrics.clone(),
        stop.clone(),
    );
    let source =
        skylane_controlplane::k8s::start(&cfg.kubernetes, cfg.dns.ttl, &store, stop, tasks).await?;
    let extras = SyncExtras {
        last_known: Some(cfg.store.data_dir().join(LAST_KNOWN_FILE)),
        source,
    };
    tasks.spawn(async move {
        let done = run_sync_ext(st, zone, recs, sh, m, rx, extras).await;
        ("sync", done)
    });

    let health_metrics = cfg.health.enabled.then(|| Arc::new(HealthMetrics::new()));
    if let Some(hm) = &health_metrics {
        let (hcfg, st, recs, hm, rx) = (
            cfg.health.clone(),
            store.clone(),
            data.records[..data.zone_records].to_vec(),
            hm.clone(),
            stop.clone(),
        );
        let agent = hcfg.agent_name();
        tasks.spawn(async move { ("health", run_agent(hcfg, agent, st, recs, hm, rx).await) });
    }
    let state = ApiState::new(store, shared.clone(), data.zone.clone(), metrics)
        .with_stats(stats.clone())
        .with_health(&cfg.health, health_metrics)
        .with_forwarder(forwarder);
    let (api_cfg, data_dir, rx) = (cfg.api.clone(), cfg.store.data_dir(), stop.clone());
    tasks.spawn(async move { ("api", serve_api(api_cfg, data_dir, state, rx).await) });
    Ok(())
}
