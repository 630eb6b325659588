//! `skylane scan`: a standalone health agent (no DNS, no API), stopped by SIGINT/SIGTERM.
//! SIGHUP re-reads the config file (and zone files) and restarts the agent with the new
//! `[health]` settings; changed `[store]`/`[etcd]` settings need a restart (logged), and an
//! invalid config is logged and the running one kept.

use crate::cli::ScanArgs;
use crate::generations;
use crate::static_data::parse_static;
use anyhow::Context;
use skylane_controlplane::config::Config;
use skylane_controlplane::health::{run_agent, HealthMetrics};
use skylane_controlplane::store::Store;
use std::sync::Arc;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;
use tracing::{error, info, warn};

/// Runs the agent until a signal arrives.
pub fn run(args: ScanArgs) -> anyhow::Result<()> {
    let cfg = args.resolve()?;
    // One thread: checks are I/O-bound, and a single-threaded runtime saves the cross-thread
    // wake-ups of a work-stealing one (measured in docs/performance.md).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .thread_name("skylane-scan")
        .enable_all()
        .build()
        .context("starting the scanner runtime")?;
    runtime.block_on(scan(args, cfg))
}

/// The zone-file records the agent checks (`[health] zone-files`).
fn statics(cfg: &Config) -> anyhow::Result<Vec<skylane_dataplane::record::Record>> {
    if !cfg.health.zone_files {
        return Ok(Vec::new());
    }
    let mut parsed = parse_static(cfg)?;
    parsed.records.truncate(parsed.zone_records);
    Ok(parsed.records)
}

/// Re-reads the config for a SIGHUP: the new agent inputs, or `None` (logged) when rejected.
fn reread(
    args: &ScanArgs,
    running: &Config,
) -> Option<(Config, Vec<skylane_dataplane::record::Record>)> {
    let loaded = args.resolve().and_then(|cfg| Ok((statics(&cfg)?, cfg)));
    match loaded {
        Ok((records, cfg)) => {
            if cfg.store != running.store || cfg.etcd != running.etcd {
                warn!("reload: [store]/[etcd] changed: restart required (the running values are kept)");
            }
            info!("SIGHUP: configuration reloaded");
            Some((cfg, records))
        }
        Err(e) => {
            error!("reload rejected, the running configuration is kept: {e:#}");
            None
        }
    }
}

async fn scan(args: ScanArgs, cfg: Config) -> anyhow::Result<()> {
    let statics = statics(&cfg)?;
    let store = Store::open(&cfg.store, &cfg.etcd)
        .await
        .with_context(|| format!("opening the {:?} store", cfg.store.backend))?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut hup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    let metrics = Arc::new(HealthMetrics::new());
    let store = Arc::new(store);
    let mut running = cfg.clone();
    let (inputs_tx, inputs_rx) = watch::channel((cfg.health, Arc::<[_]>::from(statics)));
    // Blocking store threads come and go; mimalloc returns what they and the checks freed
    // only when asked (as `skylane serve`'s releaser thread does): ask once a second.
    let releaser = tokio::spawn(async {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            every.tick().await;
            skylane_alloc::release_freed_memory();
        }
    });
    let task = tokio::spawn(generations::run(
        "health",
        inputs_rx,
        stop_rx,
        move |(h, s), stop| {
            let agent = h.agent_name();
            run_agent(h, agent, store.clone(), s.to_vec(), metrics.clone(), stop)
        },
    ));
    tokio::pin!(task);
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => { info!("SIGINT: stopping the agent"); break }
            _ = term.recv() => { info!("SIGTERM: stopping the agent"); break }
            _ = hup.recv() => {
                if let Some((cfg, records)) = reread(&args, &running) {
                    let same = cfg.health == running.health && *inputs_tx.borrow().1 == records[..];
                    if !same {
                        inputs_tx.send_replace((cfg.health.clone(), records.into()));
                        running.health = cfg.health;
                    }
                }
            }
            done = &mut task => return done.context("health agent task")?,
        }
    }
    releaser.abort();
    let _ = stop_tx.send(true);
    match tokio::time::timeout(std::time::Duration::from_secs(5), task).await {
        Ok(done) => done.context("health agent task")?,
        Err(_) => anyhow::bail!("the health agent did not stop within 5 s"),
    }
}
