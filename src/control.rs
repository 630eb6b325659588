//! The async control plane of `skylane serve`: TCP DNS, the record store and
//! its sync task, the REST API — all stopped by one watch channel flipped on
//! SIGINT/SIGTERM. SIGHUP and `POST /v1/reload` reload the configuration live
//! ([`crate::reload`]); systemd is told READY=1 once the first snapshot is live
//! and its watchdog is fed while every data-plane core makes progress ([`crate::notify`]).

use crate::cli::ServeArgs;
use crate::notify::Notifier;
use crate::reload::Reloader;
use crate::settings::tcp_listen;
use crate::static_data::StaticData;
use crate::store_wiring::{self, Shared};
use anyhow::Context;
use skylane_controlplane::config::Config;
use skylane_controlplane::forward::Forwarding;
use skylane_controlplane::metrics::DataplaneSources;
use skylane_controlplane::sync::SyncMetrics;
use skylane_controlplane::tcp::{self, TcpConfig, TcpForward};
use skylane_dataplane::rrl::RrlHandle;
use skylane_dataplane::snapshot::SharedSnapshot;
use skylane_dataplane::stats::Stats;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tracing::{error, info, warn};

/// What `serve` hands the control plane.
pub struct Parts {
    pub cfg: Config,
    /// The flags the config was resolved with (a reload resolves them again).
    pub args: ServeArgs,
    pub data: StaticData,
    pub shared: SharedSnapshot,
    pub stats: Arc<Stats>,
    pub forwarding: Option<Forwarding>,
    /// The data plane's rate limiter (a reload swaps its settings).
    pub rrl: Arc<RrlHandle>,
    /// The data plane's own `/metrics` sources.
    pub dataplane_metrics: DataplaneSources,
    pub stop: Arc<AtomicBool>,
    pub notifier: Arc<Notifier>,
}

/// Runs until a signal arrives (or a task fails), then stops everything.
pub async fn run(parts: Parts) -> anyhow::Result<()> {
    let (cfg, shared, stats) = (parts.cfg, parts.shared, parts.stats);
    let (forwarding, stop, notifier) = (parts.forwarding, parts.stop, parts.notifier);
    // Signals first: the data plane already answers, so a client (or test)
    // may send SIGTERM while the store is still opening.
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut hup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    let (stop_tx, stop_rx) = watch::channel(false);
    if let Some(f) = &forwarding {
        f.start(stop.clone()).context("starting the forwarder")?;
    }
    let mut tasks: JoinSet<(&'static str, anyhow::Result<()>)> = JoinSet::new();
    if cfg.tcp.enabled {
        spawn_tcp(
            &cfg,
            &shared,
            &stats,
            forwarding.as_ref(),
            &stop_rx,
            &mut tasks,
        );
    }

    let (reload_tx, mut reload_rx) = mpsc::channel(4);
    let wired = Shared {
        snapshot: shared.clone(),
        stats: stats.clone(),
        forwarder: forwarding.as_ref().map(|f| f.forwarder.clone()),
        reload: reload_tx,
        rrl: parts.rrl,
        dataplane_metrics: parts.dataplane_metrics,
    };
    notifier.status("opening the record store");
    let live = store_wiring::spawn(&cfg, parts.data, wired, &stop_rx, &mut tasks).await?;
    tokio::spawn(notify_ready(
        notifier.clone(),
        live.sync_metrics.clone(),
        stop_rx.clone(),
    ));
    if let Some(every) = Notifier::watchdog_interval() {
        tokio::spawn(feed_watchdog(
            notifier.clone(),
            stats.clone(),
            every,
            stop_rx.clone(),
        ));
    }
    let mut reloader = Reloader::new(parts.args, cfg, live, notifier.clone());
    crate::supervise::inject_fault_from_env();

    let mut first_error = None;
    loop {
        tokio::select! {
            _ = int.recv() => { info!("SIGINT: shutting down"); break }
            _ = term.recv() => { info!("SIGTERM: shutting down"); break }
            _ = hup.recv() => { reloader.reload("SIGHUP").await; }
            Some(reply) = reload_rx.recv() => {
                let _ = reply.send(reloader.reload("POST /v1/reload").await);
            }
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
                break;
            }
        }
    }
    notifier.send("STOPPING=1\nSTATUS=shutting down");
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

/// TCP DNS (RFC 7766) on `[tcp] listen`.
fn spawn_tcp(
    cfg: &Config,
    shared: &SharedSnapshot,
    stats: &Arc<Stats>,
    forwarding: Option<&Forwarding>,
    stop: &watch::Receiver<bool>,
    tasks: &mut store_wiring::Tasks,
) {
    let tcp_forward = forwarding.map(|f| TcpForward {
        forwarder: f.forwarder.clone(),
        policy: f.policy(),
    });
    let listen = tcp_listen(cfg);
    let tcp_cfg = TcpConfig {
        idle_timeout: Duration::from_millis(cfg.tcp.idle_timeout_ms),
        max_connections: cfg.tcp.max_connections,
        max_udp: cfg.dns.max_udp_size,
    };
    let (s, st, rx) = (shared.clone(), stats.clone(), stop.clone());
    tasks.spawn(async move {
        let run = tcp::run_tcp_forwarding(listen, tcp_cfg, s, st, tcp_forward, rx);
        ("tcp", run.await)
    });
}

/// Tells systemd READY=1 once the first snapshot from the store (or last-known) is live.
async fn notify_ready(
    notifier: Arc<Notifier>,
    metrics: Arc<SyncMetrics>,
    mut stop: watch::Receiver<bool>,
) {
    notifier.status("waiting for the first snapshot from the store");
    let ready = async {
        while !metrics.is_ready() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::select! {
        _ = ready => {}
        _ = crate::generations::stopped(&mut stop) => return,
    }
    info!("first snapshot live: ready");
    notifier.send("READY=1\nSTATUS=serving");
}

/// Per data-plane core: loop iterations so far.
fn core_beats(stats: &Stats) -> Vec<u64> {
    (0..stats.core_count())
        .filter_map(|i| stats.core_slot(i))
        .map(|slot| stats.slot(slot).counters().beats())
        .collect()
}

/// The cores whose loop count did not move between two rounds.
fn stuck_cores(last: &[u64], now: &[u64]) -> Vec<usize> {
    (0..now.len())
        .filter(|&i| last.get(i) == Some(&now[i]))
        .collect()
}

/// Sends WATCHDOG=1 every `every`, but only while every data-plane core made progress
/// since the last round: a stuck core lets systemd's watchdog fire (and restart us).
async fn feed_watchdog(
    notifier: Arc<Notifier>,
    stats: Arc<Stats>,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    info!(
        every_ms = every.as_millis() as u64,
        "feeding the systemd watchdog"
    );
    let mut last = core_beats(&stats);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = crate::generations::stopped(&mut stop) => return,
        }
        let now = core_beats(&stats);
        let stuck = stuck_cores(&last, &now);
        if stuck.is_empty() {
            notifier.send("WATCHDOG=1");
        } else {
            warn!(cores = ?stuck, "data-plane core(s) made no progress: not feeding the watchdog");
        }
        last = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skylane_dataplane::stats::Backend;

    #[test]
    fn a_core_whose_loop_stops_is_stuck() {
        let stats = Stats::new(Backend::Socket, &[0, 1]);
        let before = core_beats(&stats);
        assert_eq!(before, vec![0, 0]);
        let core0 = stats.core_slot(0).unwrap();
        stats.slot(core0).counters().beat();
        let after = core_beats(&stats);
        assert_eq!(stuck_cores(&before, &after), vec![1]);
        let core1 = stats.core_slot(1).unwrap();
        stats.slot(core1).counters().beat();
        stats.slot(core0).counters().beat();
        assert!(stuck_cores(&after, &core_beats(&stats)).is_empty());
    }
}
