//! The DPDK kernel-bypass backend (cargo feature `dpdk`).
//!
//! [`spawn`] initialises the EAL, configures one port with an RX/TX queue pair per
//! data-plane core (RSS over IP+UDP when there are several), optionally creates the TAP
//! exception path, and starts one pinned, EAL-registered thread per core running
//! `lcore`'s poll loop. Each loop answers, in place in the received mbuf:
//! ARP requests and IPv6 neighbour solicitations for our addresses, ICMP/ICMPv6 echo
//! requests, and UDP DNS queries to port 53 (through [`crate::engine::answer`] on the
//! shared snapshot, each response passed through the lcore's [`crate::rrl::Limiter`]).
//! Everything else goes to the kernel through the TAP
//! (`exception`) or is dropped when there is no exception path.
//!
//! - [`net`]: typed views over Ethernet/ARP/IPv4/IPv6/UDP/ICMP headers and checksums.
//! - [`responder`]: the per-frame decision and in-place rewrite (no DPDK calls).
//! - [`counters`]: per-lcore frame counters and [`DpdkReport`].
//! - `setup`, `exception`, `lcore`: bring-up, TAP, and the loop.

pub mod counters;
mod exception;
pub mod forward;
mod lcore;
pub mod net;
pub mod policer;
pub mod responder;
mod setup;
mod stage;

use counters::LcoreHandle;
pub use counters::{DpdkReport, DpdkReporter, LcoreCounters, LcoreReport};
pub use dpdk_sys::PortStats;
pub use responder::{Action, DropCause, HwChecksum, ReplyKind, Responder, TxOffload};

use crate::engine::{EngineState, ForwardMode};
use crate::snapshot::SharedSnapshot;
use crate::stats::{QueryRecorder, Stats};
use dpdk_sys::{eal, Eal, Port};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use tracing::{info, warn};

/// What happens to frames the loop does not answer itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExceptionPath {
    /// A kernel TAP interface `skylane<port>` with the port's MAC and our addresses.
    #[default]
    Tap,
    /// Drop them (no TCP, no SSH over this port).
    None,
}

/// Options of the DPDK backend (composed by the binary from `[dpdk]` and `[dataplane]`).
#[derive(Debug, Clone)]
pub struct DpdkOptions {
    /// EAL arguments (`--vdev=…`, `-a 0000:03:00.0`, `--file-prefix=…`, `--no-huge`, …).
    pub eal_args: Vec<String>,
    /// DPDK port id of the data port.
    pub port: u16,
    /// Addresses the port answers for, with their prefix length (for the TAP).
    pub addresses: Vec<(IpAddr, u8)>,
    pub exception_path: ExceptionPath,
    /// CPUs of the data-plane loops, one RX/TX queue pair each.
    pub cores: Vec<usize>,
    /// Largest UDP DNS payload (`dns.max-udp-size`).
    pub max_udp: u16,
    /// Frames per second each lcore hands to the exception path at most
    /// (`[dpdk] exception-pps`); the rest is dropped and counted as policed.
    pub exception_pps: u32,
    /// Response rate limiting (`[rrl]`): lcore `i` limits with `rrl.limiter(i)`.
    pub rrl: Arc<crate::rrl::RrlHandle>,
}

/// Why the DPDK backend could not start.
#[derive(Debug, thiserror::Error)]
pub enum DpdkError {
    #[error("invalid DPDK options: {0}")]
    Config(String),
    #[error("{context}: {source}")]
    Dpdk {
        context: String,
        #[source]
        source: dpdk_sys::Error,
    },
    #[error("exception path: {0}")]
    Exception(String),
    #[error("data-plane thread for core {core}: {reason}")]
    Thread { core: usize, reason: String },
}

/// The running DPDK data plane. Set the shutdown flag given to [`spawn`], then [`join`].
///
/// [`join`]: DpdkDataPlane::join
pub struct DpdkDataPlane {
    eal: Eal,
    port: Port,
    tap: Option<exception::Tap>,
    mac: [u8; 6],
    lcores: Vec<LcoreHandle>,
    threads: Vec<JoinHandle<()>>,
    tsc_hz: u64,
    pool: dpdk_sys::MbufPool,
    pool_size: u32,
    replies: Arc<forward::DpdkReplies>,
    /// Cleared at teardown, so [`DpdkReporter`]s stop reading the ports.
    alive: Arc<AtomicBool>,
}

/// Start the DPDK backend. See the module docs. Fails without side effects on bad
/// options; a failure after the EAL started leaves the EAL initialised (DPDK cannot
/// initialise it twice in one process), and a failure after loops started sets
/// `shutdown` to stop them (the process is expected to exit).
pub fn spawn(
    opts: DpdkOptions,
    snapshot: SharedSnapshot,
    stats: Arc<Stats>,
    shutdown: Arc<AtomicBool>,
) -> Result<DpdkDataPlane, DpdkError> {
    spawn_forwarding(opts, snapshot, stats, shutdown, Vec::new())
}

/// [`spawn`] with forwarding: `modes[i]` is lcore `i`'s forwarding mode (a cache
/// replica); replies come back through [`DpdkDataPlane::reply_sink`].
pub fn spawn_forwarding(
    opts: DpdkOptions,
    snapshot: SharedSnapshot,
    stats: Arc<Stats>,
    shutdown: Arc<AtomicBool>,
    modes: Vec<ForwardMode>,
) -> Result<DpdkDataPlane, DpdkError> {
    let forwarding = !modes.is_empty();
    let mut modes = modes.into_iter();
    let cpus = eal::allowed_cpus();
    setup::validate(&opts, &cpus)?;
    if stats.core_count() < opts.cores.len() {
        return Err(DpdkError::Config(format!(
            "the statistics have {} core slots for {} cores",
            stats.core_count(),
            opts.cores.len()
        )));
    }
    let args = setup::eal_args(&opts.eal_args, &cpus);
    info!(args = ?args, "initialising the DPDK EAL");
    let eal = eal::init(&args).map_err(|source| DpdkError::Dpdk {
        context: format!("rte_eal_init({})", args.join(" ")),
        source,
    })?;
    let with_tap = opts.exception_path == ExceptionPath::Tap;
    let port = setup::bring_up_port(&eal, &opts, with_tap)?;
    let (tap, tap_queues) = if with_tap {
        match exception::create(
            &eal,
            opts.port,
            &port.mac,
            opts.cores.len() as u16,
            port.pool,
            &opts.addresses,
        ) {
            Ok((t, q)) => (Some(t), q.into_iter().map(Some).collect()),
            Err(e) => {
                stop_port(&port.port);
                return Err(e);
            }
        }
    } else {
        (
            None,
            (0..opts.cores.len()).map(|_| None).collect::<Vec<_>>(),
        )
    };
    let addresses: Vec<IpAddr> = opts.addresses.iter().map(|(a, _)| *a).collect();
    let responder = Arc::new(Responder::new(port.mac, &addresses, port.hw));
    let tsc_hz = eal.tsc_hz();

    let mut dp = DpdkDataPlane {
        eal,
        port: port.port,
        tap,
        mac: port.mac,
        lcores: Vec::new(),
        threads: Vec::new(),
        tsc_hz,
        pool: port.pool,
        pool_size: port.pool_size,
        replies: Arc::new(forward::DpdkReplies::new(opts.cores.len())),
        alive: Arc::new(AtomicBool::new(true)),
    };
    let (ready_tx, ready_rx) = mpsc::channel::<Result<(u32, i32), String>>();
    let mut lcore_tids = Vec::with_capacity(opts.cores.len());
    for (i, (queue, tap_queue)) in port.queues.into_iter().zip(tap_queues).enumerate() {
        let core = opts.cores[i];
        let Some(slot) = stats.core_slot(i) else {
            return Err(dp.abort(DpdkError::Config("missing stats slot".into()), &shutdown));
        };
        let counters = Arc::new(LcoreCounters::default());
        let seed = seed_for(i);
        let lp = lcore::LcoreLoop {
            queue,
            tap: tap_queue,
            responder: responder.clone(),
            snapshot: snapshot.clone(),
            recorder: QueryRecorder::new(stats.clone(), slot),
            stats: stats.clone(),
            slot,
            state: EngineState::new(seed, opts.max_udp)
                .with_forward(modes.next().unwrap_or(ForwardMode::Off)),
            limiter: opts.rrl.limiter(i),
            counters: counters.clone(),
            policer: policer::Policer::new(opts.exception_pps, tsc_hz, eal::rdtsc()),
            shutdown: shutdown.clone(),
            tsc_hz,
            pool: port.pool,
            returns: dp.replies.ring(i).filter(|_| forwarding),
        };
        let eal = dp.eal;
        let ready = ready_tx.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("skylane-dpdk-{core}"))
            .spawn(move || {
                if !core_affinity::set_for_current(core_affinity::CoreId { id: core }) {
                    let _ = ready.send(Err(format!("cannot pin the thread to CPU {core}")));
                    return;
                }
                match eal.register_thread() {
                    Ok(id) => {
                        let _ = ready.send(Ok((id, eal::current_tid())));
                    }
                    Err(e) => {
                        let _ = ready.send(Err(format!("registering with the EAL: {e}")));
                        return;
                    }
                }
                drop(ready);
                lp.run();
                eal.unregister_thread();
            });
        let handle = match spawned {
            Ok(h) => h,
            Err(e) => {
                let err = DpdkError::Thread {
                    core,
                    reason: e.to_string(),
                };
                return Err(dp.abort(err, &shutdown));
            }
        };
        dp.threads.push(handle);
        match ready_rx.recv() {
            Ok(Ok((lcore_id, tid))) => {
                lcore_tids.push(tid);
                info!(core, lcore_id, queue = i, "DPDK lcore loop running");
                dp.lcores.push(LcoreHandle {
                    core,
                    lcore_id,
                    counters,
                });
            }
            Ok(Err(reason)) => return Err(dp.abort(DpdkError::Thread { core, reason }, &shutdown)),
            Err(_) => {
                let err = DpdkError::Thread {
                    core,
                    reason: "thread exited during start-up".into(),
                };
                return Err(dp.abort(err, &shutdown));
            }
        }
    }
    keep_other_threads_off(&opts.cores, &lcore_tids);
    Ok(dp)
}

/// Restrict every thread of the process but the lcore loops (control plane, EAL's own) to
/// the allowed CPUs that run no loop, when there are any: a control thread waking on an
/// lcore's CPU preempts the loop, and frames queue up meanwhile. Threads started later
/// inherit the affinity of the thread that starts them.
fn keep_other_threads_off(cores: &[usize], lcore_tids: &[i32]) {
    let rest: Vec<usize> = eal::allowed_cpus()
        .into_iter()
        .filter(|c| !cores.contains(c))
        .collect();
    if rest.is_empty() {
        return;
    }
    let tids = std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|t| !lcore_tids.contains(t));
    let (mut moved, mut failed) = (0, 0);
    for tid in tids {
        // A thread may have exited meanwhile; nothing else can fail for our own threads.
        match eal::set_thread_affinity(tid, &rest) {
            Ok(()) => moved += 1,
            Err(_) => failed += 1,
        }
    }
    info!(cpus = ?rest, moved, failed, "threads other than the lcore loops kept off their CPUs");
}

/// A per-lcore PRNG seed: different per core and per start.
fn seed_for(i: usize) -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    t ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ u64::from(std::process::id())
}

fn stop_port(port: &Port) {
    if let Err(e) = port.stop() {
        warn!(port = port.id(), error = %e, "stopping the port");
    }
    if let Err(e) = port.close() {
        warn!(port = port.id(), error = %e, "closing the port");
    }
}

impl DpdkDataPlane {
    /// Where the forwarder sends replies to this data plane's clients (each
    /// lcore's return ring).
    pub fn reply_sink(&self) -> Arc<forward::DpdkReplies> {
        self.replies.clone()
    }

    /// The port's MAC address (also the TAP's).
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// Kernel name of the exception-path TAP, if there is one.
    pub fn tap_iface(&self) -> Option<&str> {
        self.tap.as_ref().map(|t| t.iface.as_str())
    }

    /// A handle reading the port, TAP and per-lcore counters while the loops run.
    pub fn reporter(&self) -> DpdkReporter {
        DpdkReporter {
            port: self.port,
            tap: self.tap.as_ref().map(|t| t.port),
            lcores: self.lcores.clone(),
            alive: self.alive.clone(),
            tsc_hz: self.tsc_hz,
            pool: self.pool,
            pool_size: self.pool_size,
        }
    }

    /// Port, TAP and per-lcore counters, read without stopping the loops.
    pub fn report(&self) -> DpdkReport {
        self.reporter().report().unwrap_or_default()
    }

    /// Wait for the loops to stop (after the shutdown flag was set), log the final
    /// counters, then stop and close the port and the TAP and release the EAL.
    pub fn join(mut self) {
        for t in self.threads.drain(..) {
            if t.join().is_err() {
                warn!("a DPDK lcore thread panicked");
            }
        }
        let r = self.report();
        let t = r.total();
        info!(
            rx = t.rx,
            tx = t.tx,
            tx_dropped = t.tx_dropped,
            dns = t.dns_replies,
            arp = t.arp_replies,
            nd = t.nd_replies,
            echo = t.echo_replies,
            to_kernel = t.to_kernel,
            from_kernel = t.from_kernel,
            policed = t.policed,
            unneeded = t.unneeded,
            exception_dropped = t.exception_dropped,
            imissed = r.port.imissed,
            rx_nombuf = r.port.rx_nombuf,
            ierrors = r.port.ierrors,
            oerrors = r.port.oerrors,
            polls = t.polls,
            idle_polls = t.idle_polls,
            busy = format!("{:.3}", t.busy_ratio()),
            rx_share = format!("{:.3}", t.rx_ratio()),
            busy_ns_per_frame = format!("{:.0}", t.busy_ns_per_frame(self.tsc_hz)),
            "DPDK data plane stopped"
        );
        self.teardown();
    }

    fn teardown(&mut self) {
        self.alive.store(false, Ordering::SeqCst);
        stop_port(&self.port);
        if let Some(tap) = self.tap.take() {
            tap.destroy(&self.eal);
        }
        if let Err(e) = self.eal.cleanup() {
            warn!(error = %e, "rte_eal_cleanup");
        }
    }

    /// Stop what was started after a start-up failure and return `err`.
    fn abort(mut self, err: DpdkError, shutdown: &AtomicBool) -> DpdkError {
        shutdown.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        self.teardown();
        err
    }
}
