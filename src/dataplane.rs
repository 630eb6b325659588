//! Starts the configured UDP data plane (socket or DPDK) behind one handle, with the
//! response rate limiter (`[rrl]`) both backends share. The live handles travel as
//! values: [`Started`] carries the limiter (a reload swaps its settings through
//! [`reload_rrl`]) and the `/metrics` sources the API's state is built with.

use anyhow::Context;
use skylane_controlplane::config::{Backend, Config};
use skylane_controlplane::metrics::DataplaneSources;
use skylane_dataplane::cache::ReplySink;
use skylane_dataplane::engine::ForwardMode;
use skylane_dataplane::rrl::{LimitedSink, RrlHandle};
use skylane_dataplane::snapshot::SharedSnapshot;
use skylane_dataplane::socket::{self, SocketConfig, SocketDataPlane};
use skylane_dataplane::stats::Stats;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use tracing::info;

/// A running data plane.
pub enum DataPlane {
    Socket(SocketDataPlane),
    #[cfg(feature = "dpdk")]
    Dpdk(skylane_dataplane::dpdk::DpdkDataPlane),
}

impl DataPlane {
    /// Where the forwarder sends replies to this backend's clients, through `rrl`.
    pub fn reply_sink(&self, rrl: &Arc<RrlHandle>) -> Arc<dyn ReplySink> {
        let backend: Arc<dyn ReplySink> = match self {
            DataPlane::Socket(s) => s.reply_sink(),
            #[cfg(feature = "dpdk")]
            DataPlane::Dpdk(d) => d.reply_sink(),
        };
        Arc::new(LimitedSink::new(backend, rrl))
    }

    /// Waits for the loops to exit (after the stop flag is set).
    pub fn join(self) {
        match self {
            DataPlane::Socket(s) => s.join(),
            #[cfg(feature = "dpdk")]
            DataPlane::Dpdk(d) => d.join(),
        }
    }
}

/// A started data plane and the live handles the control plane takes from it.
pub struct Started {
    pub dataplane: DataPlane,
    /// The rate limiter every core (and the forwarder's replies) share.
    pub rrl: Arc<RrlHandle>,
    /// Its `/metrics` sources (RRL, and DPDK's counters on that backend).
    pub metrics: DataplaneSources,
}

/// Applies `new`'s `[rrl]` to the running data plane's limiter `rrl` (live: each core
/// picks it up at its next batch) and to `running`; adds "rrl" to `applied` when it
/// changed.
pub fn reload_rrl(
    rrl: Option<&RrlHandle>,
    running: &mut Config,
    new: &Config,
    applied: &mut Vec<String>,
) {
    if running.rrl == new.rrl {
        return;
    }
    running.rrl = new.rrl.clone();
    if let Some(h) = rrl {
        h.set(new.rrl.settings());
    }
    info!(enabled = new.rrl.enabled, "reload: [rrl] applied");
    applied.push("rrl".to_string());
}

/// Starts the backend named by `[dataplane] backend`; `modes[i]` is core
/// `i`'s forwarding mode (empty: no forwarding).
pub fn start(
    cfg: &Config,
    shared: SharedSnapshot,
    stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
    modes: Vec<ForwardMode>,
) -> anyhow::Result<Started> {
    let rrl = RrlHandle::new(cfg.rrl.settings(), cfg.dataplane.cores.len());
    #[cfg_attr(not(feature = "dpdk"), allow(unused_mut))]
    let mut metrics = DataplaneSources {
        rrl: Some(rrl.clone()),
        dpdk: None,
    };
    let dataplane = match cfg.dataplane.backend {
        Backend::Socket => {
            let sc = SocketConfig {
                listen: cfg.dataplane.listen.clone(),
                cores: cfg.dataplane.cores.clone(),
                max_udp: cfg.dns.max_udp_size,
                batch: cfg.dataplane.batch,
            };
            let dp = socket::spawn_limited(sc, shared, stats, stop, modes, rrl.clone())
                .context("starting the socket data plane")?;
            info!(listen = ?dp.local_addrs(), cores = ?cfg.dataplane.cores, "socket data plane running");
            DataPlane::Socket(dp)
        }
        #[cfg(feature = "dpdk")]
        Backend::Dpdk => {
            use skylane_controlplane::config::ExceptionPathKind;
            use skylane_dataplane::dpdk::{self, DpdkOptions, ExceptionPath};
            let opts = DpdkOptions {
                eal_args: cfg.dpdk.eal_args.clone(),
                port: cfg.dpdk.port,
                addresses: cfg.dpdk.addresses.clone(),
                exception_path: match cfg.dpdk.exception_path {
                    ExceptionPathKind::Tap => ExceptionPath::Tap,
                    ExceptionPathKind::None => ExceptionPath::None,
                },
                cores: cfg.dataplane.cores.clone(),
                max_udp: cfg.dns.max_udp_size,
                exception_pps: cfg.dpdk.exception_pps,
                rrl: rrl.clone(),
            };
            let dp = dpdk::spawn_forwarding(opts, shared, stats, stop, modes)
                .context("starting the DPDK data plane")?;
            metrics.dpdk = Some(crate::dpdk_metrics::source(dp.reporter()));
            info!(cores = ?cfg.dataplane.cores, "DPDK data plane running");
            DataPlane::Dpdk(dp)
        }
        #[cfg(not(feature = "dpdk"))]
        Backend::Dpdk => anyhow::bail!(
            "backend \"dpdk\" needs a build with the dpdk feature: cargo build --release --features dpdk"
        ),
    };
    Ok(Started {
        dataplane,
        rrl,
        metrics,
    })
}
