//! The kernel-socket data plane (Skylane's default backend).
//!
//! One thread per configured core, pinned to it, each with its own
//! `SO_REUSEPORT` UDP socket per listen address (`bind`). Each thread runs
//! a run-to-completion loop (`worker`): `recvmmsg` a batch, prefetch the
//! snapshot entries of all its question names, answer every datagram in place with [`crate::engine::answer`] against the snapshot
//! loaded once per batch, pass each reply through the core's response rate
//! limiter ([`crate::rrl`]), `sendmmsg` the replies (`batch`). Counters go
//! to the core's [`crate::stats`] slot. Setting the shutdown flag stops every
//! thread within ~100 ms; [`SocketDataPlane::join`] waits for them.

mod batch;
mod bind;
mod worker;

pub use batch::{BUF_SIZE, MAX_BATCH};
pub use bind::{bind_tcp, RECV_TIMEOUT};

use crate::cache::ReplySink;
use crate::engine::{EngineState, ForwardMode};
use crate::rrl::RrlHandle;
use crate::snapshot::SharedSnapshot;
use crate::stats::{QueryRecorder, Stats};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

/// What the socket backend serves and with how many cores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketConfig {
    /// UDP addresses to listen on (port 0 = pick one, shared by all cores).
    pub listen: Vec<SocketAddr>,
    /// CPU cores to run a loop on (one thread each).
    pub cores: Vec<usize>,
    /// Largest UDP response payload (dns.max-udp-size).
    pub max_udp: u16,
    /// Datagrams per recvmmsg/sendmmsg (clamped to 1..=[`MAX_BATCH`]).
    pub batch: usize,
}

/// Why the socket data plane could not start or stopped badly.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error("no listen address configured for the socket data plane")]
    NoListenAddress,
    #[error("no core configured for the socket data plane")]
    NoCore,
    #[error("stats have {slots} core slots but {cores} cores are configured")]
    StatsMismatch { slots: usize, cores: usize },
    #[error("cannot bind {} {addr}: {source}", if *tcp { "TCP" } else { "UDP" })]
    Bind {
        tcp: bool,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot set up socket for {addr}: {source}")]
    Setup {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start data-plane thread for core {core}: {source}")]
    Spawn { core: usize, source: std::io::Error },
    #[error("data-plane thread for core {core} panicked")]
    Panicked { core: usize },
}

/// The running socket data plane.
#[derive(Debug)]
pub struct SocketDataPlane {
    threads: Vec<(usize, JoinHandle<()>)>,
    local_addrs: Vec<SocketAddr>,
    /// A clone of every core's sockets, for the forwarder's replies.
    replies: Arc<SocketReplies>,
}

/// Sends forwarded replies from the socket the query came in on (a clone of
/// the core's socket: same address and port, so clients accept it).
#[derive(Debug, Default)]
pub struct SocketReplies {
    sockets: Vec<Vec<UdpSocket>>,
}

impl ReplySink for SocketReplies {
    fn send(&self, core: u16, via: u16, to: SocketAddr, msg: &[u8]) -> bool {
        self.sockets
            .get(usize::from(core))
            .and_then(|s| s.get(usize::from(via)))
            .is_some_and(|s| s.send_to(msg, to).is_ok())
    }
}

impl SocketDataPlane {
    /// The bound addresses, in `listen` order (port 0 resolved).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// Where the forwarder sends replies to this data plane's clients.
    pub fn reply_sink(&self) -> Arc<SocketReplies> {
        self.replies.clone()
    }

    /// Waits for every thread to exit (set the shutdown flag first); a
    /// thread that panicked is logged.
    pub fn join(self) {
        if let Err(e) = self.try_join() {
            tracing::error!(error = %e, "socket data plane stopped badly");
        }
    }

    /// Like [`SocketDataPlane::join`], reporting the first thread that panicked.
    pub fn try_join(self) -> Result<(), SocketError> {
        let mut result = Ok(());
        for (core, thread) in self.threads {
            if thread.join().is_err() && result.is_ok() {
                result = Err(SocketError::Panicked { core });
            }
        }
        result
    }
}

/// Binds every socket, then starts one pinned thread per core. `stats` must
/// have been made for `cfg.cores` (slot `i` counts core `cfg.cores[i]`).
pub fn spawn(
    cfg: SocketConfig,
    snapshot: SharedSnapshot,
    stats: Arc<Stats>,
    shutdown: Arc<AtomicBool>,
) -> Result<SocketDataPlane, SocketError> {
    spawn_forwarding(cfg, snapshot, stats, shutdown, Vec::new())
}

/// [`spawn`] with forwarding: `modes[i]` is core `i`'s forwarding mode (a
/// cache replica); missing entries mean off.
pub fn spawn_forwarding(
    cfg: SocketConfig,
    snapshot: SharedSnapshot,
    stats: Arc<Stats>,
    shutdown: Arc<AtomicBool>,
    modes: Vec<ForwardMode>,
) -> Result<SocketDataPlane, SocketError> {
    let rrl = RrlHandle::disabled(cfg.cores.len());
    spawn_limited(cfg, snapshot, stats, shutdown, modes, rrl)
}

/// [`spawn_forwarding`] with response rate limiting: core `i` limits with
/// `rrl.limiter(i)`.
pub fn spawn_limited(
    cfg: SocketConfig,
    snapshot: SharedSnapshot,
    stats: Arc<Stats>,
    shutdown: Arc<AtomicBool>,
    modes: Vec<ForwardMode>,
    rrl: Arc<RrlHandle>,
) -> Result<SocketDataPlane, SocketError> {
    if cfg.listen.is_empty() {
        return Err(SocketError::NoListenAddress);
    }
    if cfg.cores.is_empty() {
        return Err(SocketError::NoCore);
    }
    if stats.core_count() != cfg.cores.len() {
        return Err(SocketError::StatsMismatch {
            slots: stats.core_count(),
            cores: cfg.cores.len(),
        });
    }
    let (sockets, local_addrs) = bind::bind_all(&cfg.listen, cfg.cores.len())?;
    let clones = sockets
        .iter()
        .map(|core| core.iter().map(UdpSocket::try_clone).collect())
        .collect::<std::io::Result<Vec<Vec<UdpSocket>>>>()
        .map_err(|source| SocketError::Setup {
            addr: cfg.listen[0],
            source,
        })?;
    let mut modes = modes.into_iter();
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut plane = SocketDataPlane {
        threads: Vec::with_capacity(cfg.cores.len()),
        local_addrs,
        replies: Arc::new(SocketReplies { sockets: clones }),
    };
    for (i, (&core, sockets)) in cfg.cores.iter().zip(sockets).enumerate() {
        let Some(slot) = stats.core_slot(i) else {
            break;
        };
        let (snapshot, shutdown_flag) = (snapshot.clone(), shutdown.clone());
        let recorder = QueryRecorder::new(stats.clone(), slot);
        let state = EngineState::new(
            seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            cfg.max_udp,
        )
        .with_forward(modes.next().unwrap_or(ForwardMode::Off));
        let limiter = rrl.limiter(i);
        let batch_size = cfg.batch;
        let spawned = std::thread::Builder::new()
            .name(format!("skylane-udp-{core}"))
            .spawn(move || {
                // The mmsghdr arrays hold raw pointers (not Send): made here.
                let batch = batch::Batch::new(batch_size, sockets.len());
                worker::Worker {
                    core,
                    sockets,
                    snapshot,
                    recorder,
                    state,
                    limiter,
                    batch,
                    shutdown: shutdown_flag,
                }
                .run()
            });
        match spawned {
            Ok(thread) => plane.threads.push((core, thread)),
            Err(source) => {
                // Stop the threads already started before reporting.
                shutdown.store(true, std::sync::atomic::Ordering::Relaxed);
                let _ = plane.try_join();
                return Err(SocketError::Spawn { core, source });
            }
        }
    }
    Ok(plane)
}

#[cfg(test)]
mod tests;
