//! The per-core loop: pin, then receive → answer → send until shutdown.
//!
//! With one listen address the core blocks in `recvmmsg(MSG_WAITFORONE)`
//! (bounded by the socket's receive timeout, so shutdown is seen within
//! ~100 ms). With several, it drains each socket without blocking and waits
//! in `poll` when all are empty. The snapshot is loaded once per batch.

use super::batch::Batch;
use super::bind::RECV_TIMEOUT;
use crate::engine::EngineState;
use crate::rrl::Limiter;
use crate::snapshot::SharedSnapshot;
use crate::stats::QueryRecorder;
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::MsgFlags;
use std::net::UdpSocket;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Everything one core's loop owns.
pub struct Worker {
    pub core: usize,
    pub sockets: Vec<UdpSocket>,
    pub snapshot: SharedSnapshot,
    pub recorder: QueryRecorder,
    pub state: EngineState,
    /// The core's response rate limiter.
    pub limiter: Limiter,
    pub batch: Box<Batch>,
    pub shutdown: Arc<AtomicBool>,
}

/// Pins the current thread to `core`; warns and runs unpinned if impossible.
fn pin(core: usize) {
    let found = core_affinity::get_core_ids()
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.id == core);
    match found {
        Some(id) if core_affinity::set_for_current(id) => {
            tracing::debug!(core, "socket data-plane thread pinned");
        }
        Some(_) => tracing::warn!(
            core,
            "could not pin socket data-plane thread; running unpinned"
        ),
        None => tracing::warn!(
            core,
            "no such CPU core; socket data-plane thread runs unpinned"
        ),
    }
}

/// Logs unexpected receive errors at most once per second.
struct ErrorLog {
    last: Option<Instant>,
}

impl ErrorLog {
    #[cold]
    fn report(&mut self, core: usize, err: Errno) {
        if self
            .last
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
        {
            tracing::warn!(core, error = %err, "recvmmsg failed");
            self.last = Some(Instant::now());
        }
        // Do not spin on a persistent error.
        std::thread::sleep(Duration::from_millis(1));
    }
}

impl Worker {
    /// Runs until `shutdown` is set.
    pub fn run(mut self) {
        pin(self.core);
        let sockets = std::mem::take(&mut self.sockets);
        let mut errors = ErrorLog { last: None };
        if let [socket] = sockets.as_slice() {
            while !self.shutdown.load(Ordering::Relaxed) {
                self.recorder.counters().beat();
                // Blocks for the first datagram (up to RECV_TIMEOUT), then takes
                // whatever else is queued.
                match self.batch.receive(0, socket, MsgFlags::MSG_WAITFORONE) {
                    Ok(n) => self.serve(0, socket, n),
                    Err(Errno::EAGAIN | Errno::EINTR) => self.recorder.flush(),
                    Err(e) => errors.report(self.core, e),
                }
            }
        } else {
            let mut fds: Vec<PollFd<'_>> = sockets
                .iter()
                .map(|s| PollFd::new(s.as_fd(), PollFlags::POLLIN))
                .collect();
            let wait = PollTimeout::try_from(RECV_TIMEOUT).unwrap_or(PollTimeout::NONE);
            while !self.shutdown.load(Ordering::Relaxed) {
                self.recorder.counters().beat();
                let mut received = 0;
                for (index, socket) in sockets.iter().enumerate() {
                    match self.batch.receive(index, socket, MsgFlags::MSG_DONTWAIT) {
                        Ok(n) => {
                            received += n;
                            self.serve(index, socket, n);
                        }
                        Err(Errno::EAGAIN | Errno::EINTR) => {}
                        Err(e) => errors.report(self.core, e),
                    }
                }
                if received == 0 {
                    self.recorder.flush();
                    // Readiness is re-checked by the receives above; errors
                    // (EINTR) just mean another round.
                    let _ = poll(&mut fds, wait);
                }
            }
        }
        tracing::debug!(core = self.core, "socket data-plane thread stopped");
    }

    /// Answers and replies to the `n` datagrams just received on `socket`.
    #[inline]
    fn serve(&mut self, index: usize, socket: &UdpSocket, n: usize) {
        self.recorder.counters().add_rx(n as u64);
        self.state.maintain();
        self.limiter.tick();
        let snap = self.snapshot.load();
        let out = self.batch.answer_all(
            index,
            n,
            &snap,
            &mut self.state,
            &mut self.recorder,
            &mut self.limiter,
        );
        drop(snap);
        self.batch.send(socket, out, self.recorder.counters());
    }
}
