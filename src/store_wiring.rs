//! Opens the record store and starts its sync task, the REST API and, with
//! `[health] enabled = true`, a health agent.
//!
//! The store is opened before anything is spawned, so a bad path or a bad
//! etcd configuration fails start-up with a clear error. An unreachable etcd
//! is not an error: the sync serves `<data-dir>/last-known` (SERVFAIL for
//! missing names before anything is loaded) and keeps retrying.
//!
//! The sync and the health agent run as [`generations`]: a live reload
//! publishes new inputs through the returned [`LiveHandles`] and they restart with them.

use crate::generations;
use crate::reload::{HealthInputs, LiveHandles};
use crate::static_data::StaticData;
use anyhow::Context;
use skylane_controlplane::api::reload::ReloadSender;
use skylane_controlplane::api::{serve_api, ApiState};
use skylane_controlplane::config::Config;
use skylane_controlplane::forward::Forwarder;
use skylane_controlplane::health::{run_agent, HealthMetrics};
use skylane_controlplane::metrics::DataplaneSources;
use skylane_controlplane::store::Store;
use skylane_controlplane::sync::{
    run_sync_ext, SourceHub, SyncExtras, SyncMetrics, LAST_KNOWN_FILE,
};
use skylane_dataplane::rrl::RrlHandle;
use skylane_dataplane::snapshot::SharedSnapshot;
use skylane_dataplane::stats::Stats;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::info;

/// The tasks a running control plane is made of.
pub type Tasks = JoinSet<(&'static str, anyhow::Result<()>)>;

/// What the control plane shares with the store wiring.
pub struct Shared {
    pub snapshot: SharedSnapshot,
    pub stats: Arc<Stats>,
    pub forwarder: Option<Arc<Forwarder>>,
    pub reload: ReloadSender,
    /// The data plane's rate limiter (for reloads).
    pub rrl: Arc<RrlHandle>,
    /// The data plane's own `/metrics` sources (for the API's state).
    pub dataplane_metrics: DataplaneSources,
}

/// Opens the store, spawns sync, the API (and the health agent) into `tasks`.
pub async fn spawn(
    cfg: &Config,
    data: StaticData,
    shared: Shared,
    stop: &watch::Receiver<bool>,
    tasks: &mut Tasks,
) -> anyhow::Result<LiveHandles> {
    let store = Store::open(&cfg.store, &cfg.etcd)
        .await
        .with_context(|| format!("opening the {:?} store", cfg.store.backend))?;
    info!(backend = store.backend_name(), "record store open");
    let store = Arc::new(store);
    let metrics = Arc::new(SyncMetrics::new());
    let zone = data.zone.clone();
    let data = Arc::new(data);

    let (statics_tx, statics_rx) = watch::channel(data.clone());
    let last_known = Some(cfg.store.data_dir().join(LAST_KNOWN_FILE));
    let source =
        skylane_controlplane::k8s::start(&cfg.kubernetes, cfg.dns.ttl, &store, stop, tasks).await?;
    let hub = source.map(SourceHub::spawn);
    let (st, sh, m) = (store.clone(), shared.snapshot.clone(), metrics.clone());
    let sync = generations::run("sync", statics_rx, stop.clone(), move |data, stop| {
        let (st, sh, m) = (st.clone(), sh.clone(), m.clone());
        let (zone, records) = (data.zone.clone(), data.records.clone());
        let extras = SyncExtras {
            last_known: last_known.clone(),
            source: hub.as_ref().map(SourceHub::subscribe),
            first_build: data.first_build.clone(),
        };
        run_sync_ext(st, zone, records, sh, m, stop, extras)
    });
    tasks.spawn(async move { ("sync", sync.await) });

    let health_metrics = cfg.health.enabled.then(|| Arc::new(HealthMetrics::new()));
    let mut health_tx = None;
    if let Some(hm) = &health_metrics {
        let first = HealthInputs::new(&cfg.health, &data);
        let (tx, rx) = watch::channel(first);
        health_tx = Some(tx);
        let (st, hm) = (store.clone(), hm.clone());
        let agent = generations::run("health", rx, stop.clone(), move |input, stop| {
            let agent = input.cfg.agent_name();
            let statics = input.statics.to_vec();
            run_agent(input.cfg, agent, st.clone(), statics, hm.clone(), stop)
        });
        tasks.spawn(async move { ("health", agent.await) });
    }
    let state = ApiState::new(store, shared.snapshot.clone(), zone, metrics.clone())
        .with_stats(shared.stats.clone())
        .with_health(&cfg.health, health_metrics)
        .with_forwarder(shared.forwarder.clone())
        .with_reload(shared.reload)
        .with_dataplane_metrics(shared.dataplane_metrics);
    let api_zone = state.zone.clone();
    let (api_cfg, data_dir, rx) = (cfg.api.clone(), cfg.store.data_dir(), stop.clone());
    tasks.spawn(async move { ("api", serve_api(api_cfg, data_dir, state, rx).await) });
    Ok(LiveHandles {
        sync_metrics: metrics,
        statics: statics_tx,
        health: health_tx,
        api_zone,
        forwarder: shared.forwarder,
        rrl: Some(shared.rrl),
    })
}
