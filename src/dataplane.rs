//! Starts the configured UDP data plane (socket or DPDK) behind one handle, with the
//! response rate limiter (`[rrl]`) both backends share; [`reload_rrl`] swaps its settings.

use anyhow::Context;
use skylane_controlplane::config::{Backend, Config};
use skylane_dataplane::cache::ReplySink;
use skylane_dataplane::engine::ForwardMode;
use skylane_dataplane::rrl::RrlHandle;
use skylane_dataplane::snapshot::SharedSnapshot;
use skylane_dataplane::socket::{self, SocketConfig, SocketDataPlane};
use skylane_dataplane::stats::Stats;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, RwLock};
use tracing::info;

/// A running data plane.
pub enum DataPlane {
    Socket(SocketDataPlane),
    #[cfg(feature = "dpdk")]
    Dpdk(skylane_dataplane::dpdk::DpdkDataPlane),
}

impl DataPlane {
    /// Where the forwarder sends replies to this backend's clients (`None`:
    /// the backend does not forward).
    pub fn reply_sink(&self) -> Option<Arc<dyn ReplySink>> {
        match self {
            DataPlane::Socket(s) => Some(s.reply_sink()),
            #[cfg(feature = "dpdk")]
            DataPlane::Dpdk(d) => Some(d.reply_sink()),
        }
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

/// The running data plane's rate limiter (reloads swap its settings).
static RRL: RwLock<Option<Arc<RrlHandle>>> = RwLock::new(None);

/// Applies `new`'s `[rrl]` to the running data plane (live: each core picks it up at its
/// next batch) and to `running`; adds "rrl" to `applied` when it changed.
pub fn reload_rrl(running: &mut Config, new: &Config, applied: &mut Vec<String>) {
    if running.rrl == new.rrl {
        return;
    }
    running.rrl = new.rrl.clone();
    if let Some(h) = RRL.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        h.set(new.rrl.settings());
    }
    info!(enabled = new.rrl.enabled, "reload: [rrl] applied");
    applied.push("rrl".to_string());
}

/// The shared limiter for `cfg`'s cores, registered for `/metrics` and reloads.
fn rate_limiter(cfg: &Config) -> Arc<RrlHandle> {
    let rrl = RrlHandle::new(cfg.rrl.settings(), cfg.dataplane.cores.len());
    skylane_controlplane::metrics_rrl::set_source(Some(rrl.clone()));
    *RRL.write().unwrap_or_else(|e| e.into_inner()) = Some(rrl.clone());
    rrl
}

/// Starts the backend named by `[dataplane] backend`; `modes[i]` is core
/// `i`'s forwarding mode (empty: no forwarding).
pub fn start(
    cfg: &Config,
    shared: SharedSnapshot,
    stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
    modes: Vec<ForwardMode>,
) -> anyhow::Result<DataPlane> {
    let rrl = rate_limiter(cfg);
    match cfg.dataplane.backend {
        Backend::Socket => {
            let sc = SocketConfig {
                listen: cfg.dataplane.listen.clone(),
                cores: cfg.dataplane.cores.clone(),
                max_udp: cfg.dns.max_udp_size,
                batch: cfg.dataplane.batch,
            };
            let dp = socket::spawn_limited(sc, shared, stats, stop, modes, rrl)
                .context("starting the socket data plane")?;
            info!(listen = ?dp.local_addrs(), cores = ?cfg.dataplane.cores, "socket data plane running");
            Ok(DataPlane::Socket(dp))
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
                rrl,
            };
            let dp = dpdk::spawn_forwarding(opts, shared, stats, stop, modes)
                .context("starting the DPDK data plane")?;
            crate::dpdk_metrics::register(dp.reporter());
            info!(cores = ?cfg.dataplane.cores, "DPDK data plane running");
            Ok(DataPlane::Dpdk(dp))
        }
        #[cfg(not(feature = "dpdk"))]
        Backend::Dpdk => anyhow::bail!(
            "backend \"dpdk\" needs a build with the dpdk feature: cargo build --release --features dpdk"
        ),
    }
}
