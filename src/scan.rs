//! `skylane scan`: a standalone health agent (no DNS, no API), stopped by SIGINT/SIGTERM.

use crate::static_data::load_static;
use anyhow::Context;
use skylane_controlplane::config::Config;
use skylane_controlplane::health::{run_agent, HealthMetrics};
use skylane_controlplane::store::Store;
use std::sync::Arc;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;
use tracing::info;

/// Runs the agent until a signal arrives.
pub fn run(cfg: Config) -> anyhow::Result<()> {
    // One thread: checks are I/O-bound, and a single-threaded runtime saves the cross-thread
    // wake-ups of a work-stealing one (measured in docs/performance.md).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .thread_name("skylane-scan")
        .enable_all()
        .build()
        .context("starting the scanner runtime")?;
    runtime.block_on(scan(cfg))
}

async fn scan(cfg: Config) -> anyhow::Result<()> {
    let statics = if cfg.health.zone_files {
        let mut data = load_static(&cfg)?;
        data.records.truncate(data.zone_records);
        data.records
    } else {
        Vec::new()
    };
    let store = Store::open(&cfg.store, &cfg.etcd)
        .await
        .with_context(|| format!("opening the {:?} store", cfg.store.backend))?;
    let agent = cfg.health.agent_name();
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let metrics = Arc::new(HealthMetrics::new());
    let task = tokio::spawn(run_agent(
        cfg.health.clone(),
        agent,
        Arc::new(store),
        statics,
        metrics,
        stop_rx,
    ));
    tokio::pin!(task);
    tokio::select! {
        _ = tokio::signal::ctrl_c() => info!("SIGINT: stopping the agent"),
        _ = term.recv() => info!("SIGTERM: stopping the agent"),
        done = &mut task => return done.context("health agent task")?,
    }
    let _ = stop_tx.send(true);
    match tokio::time::timeout(std::time::Duration::from_secs(5), task).await {
        Ok(done) => done.context("health agent task")?,
        Err(_) => anyhow::bail!("the health agent did not stop within 5 s"),
    }
}
