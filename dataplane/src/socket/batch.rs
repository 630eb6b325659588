//! One batch of datagrams: receive with `recvmmsg`, answer in place, reply
//! with `sendmmsg`.
//!
//! All memory is allocated once per core: [`BUF_SIZE`]-byte packet buffers
//! (the query is answered in the buffer it arrived in), peer addresses and
//! the `mmsghdr` arrays. The I/O vectors handed to the kernel are rebuilt on
//! the stack for every call.
//!
//! A batch is answered in stages, like the DPDK loop's bursts: every question
//! name is hashed and its shard loaded, then every name's index slot and entry
//! ([`crate::engine::warm`]), then each
//! query is answered, so the lookups' cache misses overlap.

use crate::engine::{answer, warm, Client, EngineState, Transport, Verdict};
use crate::rrl::Limiter;
use crate::snapshot::Snapshot;
use crate::stats::{CoreCounters, QueryRecorder};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags};
use nix::sys::socket::{
    recvmmsg, sendmmsg, ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage,
};
use std::io::{IoSlice, IoSliceMut};
use std::net::{IpAddr, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};

/// Bytes per packet buffer (queries and responses).
pub const BUF_SIZE: usize = 4096;
/// Largest batch.
pub const MAX_BATCH: usize = 64;
/// How many times a send waits for socket space (10 ms each) before the rest
/// of the batch is dropped.
const SEND_WAITS: usize = 3;
const SEND_WAIT_MS: u16 = 10;

/// Buffers and headers for one core's batches.
pub struct Batch {
    size: usize,
    bufs: Box<[u8]>,
    /// Received length per buffer; 0 = unusable (truncated datagram).
    lens: [usize; MAX_BATCH],
    peers: [Option<SockaddrStorage>; MAX_BATCH],
    /// Replies to send: buffer index and length, and destination.
    out: [(usize, usize); MAX_BATCH],
    out_peers: [Option<SockaddrStorage>; MAX_BATCH],
    /// One set per socket: the kernel shrinks each header's address length
    /// to the family's, so an IPv4 socket's headers would truncate IPv6 peers.
    recv_hdrs: Vec<MultiHeaders<SockaddrStorage>>,
    send_hdrs: MultiHeaders<SockaddrStorage>,
}

/// The client address and port of a datagram's source.
fn peer_ip(peer: &SockaddrStorage) -> Option<(IpAddr, u16)> {
    if let Some(v4) = peer.as_sockaddr_in() {
        Some((IpAddr::V4(v4.ip()), v4.port()))
    } else {
        peer.as_sockaddr_in6()
            .map(|v6| (IpAddr::V6(v6.ip()), v6.port()))
    }
}

impl Batch {
    /// Buffers for batches of `size` datagrams (clamped to 1..=[`MAX_BATCH`])
    /// received from `sockets` sockets.
    pub fn new(size: usize, sockets: usize) -> Box<Batch> {
        let size = size.clamp(1, MAX_BATCH);
        Box::new(Batch {
            size,
            bufs: vec![0u8; size * BUF_SIZE].into_boxed_slice(),
            lens: [0; MAX_BATCH],
            peers: [None; MAX_BATCH],
            out: [(0, 0); MAX_BATCH],
            out_peers: [None; MAX_BATCH],
            recv_hdrs: (0..sockets)
                .map(|_| MultiHeaders::preallocate(size, None))
                .collect(),
            send_hdrs: MultiHeaders::preallocate(size, None),
        })
    }

    /// Receives up to a batch of datagrams from the `index`-th socket;
    /// returns how many.
    pub fn receive(
        &mut self,
        index: usize,
        socket: &UdpSocket,
        flags: MsgFlags,
    ) -> nix::Result<usize> {
        let Some(hdrs) = self.recv_hdrs.get_mut(index) else {
            return Err(Errno::EBADF);
        };
        let mut chunks = self.bufs.chunks_exact_mut(BUF_SIZE);
        let mut iovs: [[IoSliceMut<'_>; 1]; MAX_BATCH] =
            std::array::from_fn(|_| [IoSliceMut::new(chunks.next().unwrap_or_default())]);
        let results = recvmmsg(
            socket.as_raw_fd(),
            hdrs,
            iovs[..self.size].iter_mut(),
            flags,
            None,
        )?;
        let mut n = 0;
        for (i, msg) in results.enumerate().take(MAX_BATCH) {
            let truncated = msg.flags.contains(MsgFlags::MSG_TRUNC);
            self.lens[i] = if truncated { 0 } else { msg.bytes };
            self.peers[i] = msg.address;
            n = i + 1;
        }
        Ok(n)
    }

    /// Answers the `n` datagrams received on the `via`-th socket, each
    /// response passed through the core's rate `limiter`; returns how many
    /// replies to send.
    pub fn answer_all(
        &mut self,
        via: usize,
        n: usize,
        snap: &Snapshot,
        state: &mut EngineState,
        recorder: &mut QueryRecorder,
        limiter: &mut Limiter,
    ) -> usize {
        self.warm(n, snap);
        let mut out = 0;
        let bufs = self.bufs.chunks_exact_mut(BUF_SIZE);
        let received = bufs.zip(&self.lens).zip(&self.peers).take(n);
        for (i, ((buf, &len), peer)) in received.enumerate() {
            let Some((peer, (addr, port))) = peer.and_then(|p| Some((p, peer_ip(&p)?))) else {
                recorder.record_drop();
                continue;
            };
            let Some(query) = buf.get(..len).filter(|q| !q.is_empty()) else {
                recorder.record_drop();
                continue;
            };
            let sample = recorder.start(query);
            let client = Client {
                addr,
                port,
                transport: Transport::Udp,
                via: via as u16,
            };
            let verdict = answer(snap, buf, len, &client, state);
            // Counted as it leaves: a rate-limited response as dropped, a slip as sent.
            let verdict = limiter.limit(buf, verdict, &client);
            recorder.record(&verdict, sample);
            if let Verdict::Reply(reply) = verdict {
                self.out[out] = (i * BUF_SIZE, reply.len.min(BUF_SIZE));
                self.out_peers[out] = Some(peer);
                out += 1;
            }
        }
        out
    }

    /// The first two stages for the `n` received queries (see the module
    /// docs); a query whose name cannot be read is left to the engine.
    #[inline]
    fn warm(&self, n: usize, snap: &Snapshot) {
        let queries = self.bufs.chunks_exact(BUF_SIZE).zip(&self.lens).take(n);
        warm::<MAX_BATCH>(snap, queries.filter_map(|(buf, &len)| buf.get(..len)));
    }

    /// Sends the first `out` replies; counts sent datagrams and failures.
    pub fn send(&mut self, socket: &UdpSocket, out: usize, counters: &CoreCounters) {
        let mut start = 0;
        let mut waits = 0;
        while start < out {
            let bufs = &self.bufs;
            let pending = &self.out[start..out];
            let iovs: [[IoSlice<'_>; 1]; MAX_BATCH] = std::array::from_fn(|k| {
                let bytes = pending
                    .get(k)
                    .and_then(|&(offset, len)| bufs.get(offset..offset + len));
                [IoSlice::new(bytes.unwrap_or_default())]
            });
            let no_cmsgs: [ControlMessage<'_>; 0] = [];
            let sent = sendmmsg(
                socket.as_raw_fd(),
                &mut self.send_hdrs,
                iovs[..pending.len()].iter(),
                &self.out_peers[start..out],
                no_cmsgs,
                MsgFlags::MSG_DONTWAIT,
            )
            .map(|results| results.count());
            match sent {
                Ok(0) => break,
                Ok(k) => {
                    counters.add_tx(k as u64);
                    start += k;
                }
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) if waits < SEND_WAITS => {
                    waits += 1;
                    let mut fds = [PollFd::new(socket.as_fd(), PollFlags::POLLOUT)];
                    let _ = poll(&mut fds, SEND_WAIT_MS);
                }
                Err(Errno::EAGAIN) => break,
                Err(_) => {
                    // The first datagram of the rest was refused (e.g. bad
                    // destination): skip it, send the others.
                    counters.add_send_errors(1);
                    start += 1;
                }
            }
        }
        if start < out {
            counters.add_send_errors((out - start) as u64);
        }
    }
}
