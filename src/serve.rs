//! `skylane serve`: assembles the appliance from a resolved [`Config`](skylane_controlplane::config::Config).
//!
//! Start-up order: zone files and example records are loaded (static
//! records), the first snapshot is built and published, the data plane
//! starts (socket or DPDK loops, pinned per core), then the tokio control
//! plane runs TCP, the record store with its sync task, and the REST API.
//! SIGINT/SIGTERM flips one shutdown signal that every part watches; `run`
//! returns when all have stopped. SIGHUP reloads (see [`crate::reload`]).
//!
//! Layering (no module cycle): `serve` → `control` → `store_wiring` → `reload` →
//! `settings`/`static_data`; `check` and `reload` use `settings`, never `serve`.

use crate::cli::ServeArgs;
use crate::control::Parts;
use crate::notify::Notifier;
use crate::settings::forward_settings;
use crate::static_data::parse_static;
use anyhow::Context;
use arc_swap::ArcSwap;
use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
use nix::unistd::Pid;
use skylane_controlplane::config::Backend;
use skylane_controlplane::forward::Forwarding;
use skylane_dataplane::snapshot::SharedSnapshot;
use skylane_dataplane::stats::{self, Stats};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

/// Runs the appliance (`args` resolved to a config) until SIGINT/SIGTERM.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let cfg = args.resolve()?;
    let notifier = Arc::new(Notifier::from_env());
    notifier.status("loading zone files");
    let parsed = parse_static(&cfg)?;
    let started = std::time::Instant::now();
    // Until the store (or its last-known copy) is loaded, missing names get SERVFAIL. The
    // parsed records move into the build (`data` keeps them compactly for the sync, with the
    // proof of what `first` was built from: an empty store then needs no second build).
    let (data, first) = parsed.build_first();
    info!(
        records = first.record_count(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        table_bytes = first.table_bytes(),
        static_bytes = data.records.heap_bytes(),
        domains = ?data.zone.domains.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
        "static snapshot built"
    );
    let shared: SharedSnapshot = Arc::new(ArcSwap::new(first));
    let backend = match cfg.dataplane.backend {
        Backend::Socket => stats::Backend::Socket,
        Backend::Dpdk => stats::Backend::Dpdk,
    };
    let stats = Arc::new(Stats::new(backend, &cfg.dataplane.cores));
    let stop = Arc::new(AtomicBool::new(false));

    let settings = forward_settings(&cfg)?;
    match &settings {
        Some(s) => info!(upstreams = ?s.upstreams, stubs = s.stubs.len(), "forwarding on"),
        None => info!("forwarding off: names outside the served zones are REFUSED"),
    }
    let mut forwarding = settings.map(|s| Forwarding::new(s, cfg.dataplane.cores.len()));
    let modes = forwarding
        .as_mut()
        .map(|f| std::mem::take(&mut f.core_modes))
        .unwrap_or_default();
    let started =
        crate::dataplane::start(&cfg, shared.clone(), stats.clone(), stop.clone(), modes)?;
    if let Some(f) = &forwarding {
        f.forwarder
            .set_sink(started.dataplane.reply_sink(&started.rrl));
    }

    let control_cpus = control_plane_cpus(&cfg.dataplane.cores);
    if let Some(cpus) = &control_cpus {
        info!(cpus = ?cpus, "control plane kept off the data-plane cores");
        // This thread runs the control plane's root future (`block_on` below) and starts
        // threads of its own (the forwarder's intake): they inherit this CPU set.
        keep_on(cpus);
    }
    // Memory freed by snapshot builds goes back to the system (docs/performance.md, "Memory"),
    // from a thread kept off the data-plane cores like the runtime's.
    let releaser_cpus = control_cpus.clone();
    let keep_releaser = move || {
        if let Some(cpus) = &releaser_cpus {
            keep_on(cpus);
        }
    };
    if let Err(e) =
        skylane_alloc::spawn_releaser(Duration::from_secs(1), stop.clone(), keep_releaser)
    {
        warn!("cannot start the memory releaser thread: {e}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("skylane-ctl")
        .on_thread_start(move || {
            if let Some(cpus) = &control_cpus {
                keep_on(cpus);
            }
        })
        .enable_all()
        .build()
        .context("starting the control-plane runtime")?;
    let result = runtime.block_on(crate::control::run(Parts {
        cfg,
        args,
        data,
        shared,
        stats,
        forwarding,
        rrl: started.rrl,
        dataplane_metrics: started.metrics,
        stop: stop.clone(),
        notifier,
    }));
    stop.store(true, Ordering::SeqCst);
    started.dataplane.join();
    runtime.shutdown_timeout(Duration::from_secs(2));
    if let Err(e) = &result {
        warn!("control plane stopped with an error: {e:#}");
    }
    info!("skylane stopped");
    result
}

/// The CPUs the control plane may use: every allowed CPU that is not a
/// data-plane core. `None` when that leaves nothing (then it floats).
fn control_plane_cpus(dataplane: &[usize]) -> Option<Vec<usize>> {
    let allowed = sched_getaffinity(Pid::from_raw(0)).ok()?;
    let cpus: Vec<usize> = (0..CpuSet::count())
        .filter(|&c| allowed.is_set(c).unwrap_or(false) && !dataplane.contains(&c))
        .collect();
    (!cpus.is_empty()).then_some(cpus)
}

/// Restricts the calling thread to `cpus` (best effort: a failure is logged).
fn keep_on(cpus: &[usize]) {
    let mut set = CpuSet::new();
    for &c in cpus {
        let _ = set.set(c);
    }
    if let Err(e) = sched_setaffinity(Pid::from_raw(0), &set) {
        warn!("cannot set control-plane CPU affinity: {e}");
    }
}
