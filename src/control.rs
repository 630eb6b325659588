//! The async control plane of `skylane serve`: TCP DNS, the record store and
//! its sync task, the REST API — all stopped by one watch channel flipped on
//! SIGINT/SIGTERM.

use crate::static_data::StaticData;
use anyhow::Context;
use skylane_controlplane::config::{Backend, Config};
use skylane_controlplane::forward::Forwarding;
use skylane_controlplane::tcp::{self, TcpConfig, TcpForward};
use skylane_dataplane::snapshot::SharedSnapshot;
use skylane_dataplane::stats::Stats;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{error, info};

/// TCP listen addresses: `[tcp] listen`, else the UDP addresses — for the
/// DPDK backend each owned `[dpdk] addresses` entry on port 53 (TCP reaches
/// the kernel through the exception-path TAP, which carries them).
pub fn tcp_listen(cfg: &Config) -> Vec<SocketAddr> {
    if let Some(listen) = &cfg.tcp.listen {
        return listen.clone();
    }
    match cfg.dataplane.backend {
        Backend::Socket => cfg.dataplane.listen.clone(),
        Backend::Dpdk => cfg
            .dpdk
            .addresses
            .iter()
            .map(|(ip, _)| SocketAddr::new(*ip, 53))
            .collect(),
    }
}

/// Runs until a signal arrives (or a task fails), then stops everything.
pub async fn run(
    cfg: Config,
    data: StaticData,
    shared: SharedSnapshot,
    stats: Arc<Stats>,
    forwarding: Option<Forwarding>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    // Signals first: the data plane already answers, so a client (or test)
    // may send SIGTERM while the store is still opening.
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let (stop_tx, stop_rx) = watch::channel(false);
    if let Some(f) = &forwarding {
        f.start(stop.clone()).context("starting the forwarder")?;
    }
    let tcp_forward = forwarding.as_ref().map(|f| TcpForward {
        forwarder: f.forwarder.clone(),
        policy: f.policy(),
    });
    let mut tasks: JoinSet<(&'static str, anyhow::Result<()>)> = JoinSet::new();

    if cfg.tcp.enabled {
        let listen = tcp_listen(&cfg);
        let tcp_cfg = TcpConfig {
            idle_timeout: Duration::from_millis(cfg.tcp.idle_timeout_ms),
            max_connections: cfg.tcp.max_connections,
        };
        let (s, st, rx) = (shared.clone(), stats.clone(), stop_rx.clone());
        tasks.spawn(async move {
            let run = tcp::run_tcp_forwarding(listen, tcp_cfg, s, st, tcp_forward, rx);
            ("tcp", run.await)
        });
    }

    let forwarder = forwarding.as_ref().map(|f| f.forwarder.clone());
    crate::store_wiring::spawn(
        &cfg, &data, &shared, &stats, forwarder, &stop_rx, &mut tasks,
    )
    .await?;
    crate::supervise::inject_fault_from_env();

    let mut first_error = None;
    tokio::select! {
        _ = int.recv() => info!("SIGINT: shutting down"),
        _ = term.recv() => info!("SIGTERM: shutting down"),
        Some(done) = tasks.join_next() => {
            if let Ok((name, res)) = done {
                match res {
                    Ok(()) => error!("{name} stopped unexpectedly"),
                    Err(e) => {
                        error!("{name} failed: {e:#}");
                        first_error = Some(e.context(format!("{name} failed")));
                    }
                }
            }
        }
    }
    stop.store(true, Ordering::SeqCst);
    let _ = stop_tx.send(true);
    let drain = async {
        while let Some(done) = tasks.join_next().await {
            if let Ok((name, Err(e))) = done {
                error!("{name} stopped with an error: {e:#}");
            }
        }
    };
    if tokio::time::timeout(Duration::from_secs(5), drain)
        .await
        .is_err()
    {
        error!("control-plane tasks did not stop within 5 s; exiting anyway");
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
