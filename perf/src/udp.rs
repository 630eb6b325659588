//! Kernel UDP load mode: each sender thread owns some connected, non-blocking client sockets
//! and runs a poll loop that sends batches with `sendmmsg`, drains answers with `recvmmsg`,
//! matches them by ID and question, and expires timed-out queries.
//!
//! Pacing: a thread may have sent at most `elapsed × its QPS share` queries, and a socket at
//! most its share of the outstanding limit in flight. When a pass finds nothing to do, the
//! thread sleeps in `poll` for at most a millisecond.

use std::io::{IoSlice, IoSliceMut};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::{Duration, Instant};

use anyhow::Context;
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{
    recvmmsg, sendmmsg, MsgFlags, MultiHeaders, SockaddrIn, SockaddrIn6, SockaddrLike,
};
use socket2::{Domain, Protocol, Socket, Type};

use crate::inflight::{match_response, InFlight};
use crate::options::{share, Options, RunLength};
use crate::report::{Report, Stats};
use crate::wire::QueryTemplate;

/// Messages per `sendmmsg` / `recvmmsg` call.
const BATCH: usize = 32;
/// Receive buffer per message (larger answers are counted, truncated by the kernel).
const RECV_BUF_LEN: usize = 4096;
/// Socket buffer sizes requested from the kernel.
const SOCKET_BUF_BYTES: usize = 4 << 20;

/// Opens a non-blocking UDP socket connected to `server`.
pub fn connect_socket(server: SocketAddr) -> anyhow::Result<UdpSocket> {
    let socket = Socket::new(
        Domain::for_address(server),
        Type::DGRAM,
        Some(Protocol::UDP),
    )
    .context("creating UDP socket")?;
    // Larger buffers only reduce drops; failing to get them is not an error.
    let _ = socket.set_recv_buffer_size(SOCKET_BUF_BYTES);
    let _ = socket.set_send_buffer_size(SOCKET_BUF_BYTES);
    socket
        .connect(&server.into())
        .with_context(|| format!("connecting UDP socket to {server}"))?;
    socket
        .set_nonblocking(true)
        .context("making the socket non-blocking")?;
    Ok(socket.into())
}

/// `recvmmsg` headers typed by the address family, so the kernel fills every source address
/// the iterator reads back.
enum RecvHeaders {
    V4(MultiHeaders<SockaddrIn>),
    V6(MultiHeaders<SockaddrIn6>),
}

/// One non-blocking `recvmmsg` into `bufs`; stores lengths, returns the message count.
fn recv_batch<S: SockaddrLike + Copy>(
    fd: RawFd,
    headers: &mut MultiHeaders<S>,
    bufs: &mut [[u8; RECV_BUF_LEN]; BATCH],
    lens: &mut [usize; BATCH],
) -> usize {
    let mut slices: [[IoSliceMut<'_>; 1]; BATCH] = bufs.each_mut().map(|b| [IoSliceMut::new(b)]);
    match recvmmsg(fd, headers, slices.iter_mut(), MsgFlags::MSG_DONTWAIT, None) {
        Ok(results) => {
            let mut count = 0;
            for (len, msg) in lens.iter_mut().zip(results) {
                *len = msg.bytes;
                count += 1;
            }
            count
        }
        // EAGAIN: drained. ECONNREFUSED: a queued ICMP error; nothing to read.
        Err(_) => 0,
    }
}

/// One client socket and its outstanding queries.
struct Client {
    socket: UdpSocket,
    inflight: InFlight,
    max_outstanding: usize,
}

/// Which queries a thread sends and how fast.
struct Plan {
    first_query: usize,
    /// `None`: until the deadline; `Some(n)`: exactly n queries.
    count: Option<u64>,
    qps: Option<u64>,
}

/// The state of one sender thread.
struct Worker<'a> {
    templates: &'a [QueryTemplate],
    clients: Vec<Client>,
    next_query: usize,
    remaining: Option<u64>,
    qps: Option<u64>,
    timeout: Duration,
    stats: Stats,
    send_headers: MultiHeaders<()>,
    recv_headers: RecvHeaders,
    recv_bufs: Box<[[u8; RECV_BUF_LEN]; BATCH]>,
}

impl<'a> Worker<'a> {
    fn new(
        templates: &'a [QueryTemplate],
        clients: Vec<Client>,
        plan: Plan,
        timeout: Duration,
        ipv6: bool,
    ) -> Self {
        let recv_headers = if ipv6 {
            RecvHeaders::V6(MultiHeaders::preallocate(BATCH, None))
        } else {
            RecvHeaders::V4(MultiHeaders::preallocate(BATCH, None))
        };
        Worker {
            templates,
            clients,
            next_query: plan.first_query % templates.len().max(1),
            remaining: plan.count,
            qps: plan.qps,
            timeout,
            stats: Stats::new(),
            send_headers: MultiHeaders::preallocate(BATCH, None),
            recv_headers,
            recv_bufs: Box::new([[0u8; RECV_BUF_LEN]; BATCH]),
        }
    }

    fn outstanding(&self) -> usize {
        self.clients.iter().map(|c| c.inflight.outstanding()).sum()
    }

    /// Queries this thread may still send now under its rate and count limits.
    fn budget(&self, start: Instant, now: Instant) -> usize {
        let mut budget = BATCH as u64;
        if let Some(qps) = self.qps {
            let allowed = (now.duration_since(start).as_secs_f64() * qps as f64) as u64 + 1;
            budget = budget.min(allowed.saturating_sub(self.stats.sent));
        }
        if let Some(remaining) = self.remaining {
            budget = budget.min(remaining);
        }
        budget as usize
    }

    /// Sends up to `budget` queries on client `ci`; returns how many went out.
    fn send_batch(&mut self, ci: usize, now: Instant, budget: usize) -> usize {
        let client = &mut self.clients[ci];
        let room = client
            .max_outstanding
            .saturating_sub(client.inflight.outstanding());
        let wanted = budget.min(room).min(BATCH);
        let mut ids = [[0u8; 2]; BATCH];
        let mut queries = [0usize; BATCH];
        let mut n = 0;
        let mut query = self.next_query;
        while n < wanted {
            let Some(id) = client.inflight.start(query as u32, now) else {
                break;
            };
            ids[n] = id.to_be_bytes();
            queries[n] = query;
            n += 1;
            query = (query + 1) % self.templates.len();
        }
        if n == 0 {
            return 0;
        }
        let templates = self.templates;
        let slices: [[IoSlice<'_>; 2]; BATCH] = std::array::from_fn(|k| {
            [
                IoSlice::new(&ids[k]),
                IoSlice::new(templates[queries[k]].after_id()),
            ]
        });
        let addrs = [None::<()>; BATCH];
        let fd = client.socket.as_raw_fd();
        let sent = match sendmmsg(
            fd,
            &mut self.send_headers,
            slices[..n].iter(),
            &addrs[..n],
            [],
            MsgFlags::MSG_DONTWAIT,
        ) {
            Ok(results) => results.count(),
            Err(Errno::EAGAIN) | Err(Errno::ENOBUFS) => 0,
            Err(_) => {
                self.stats.send_errors += 1;
                0
            }
        };
        for id in &ids[sent..n] {
            client.inflight.cancel(u16::from_be_bytes(*id));
        }
        self.next_query = if sent < n { queries[sent] } else { query };
        self.stats.sent += sent as u64;
        if let Some(remaining) = &mut self.remaining {
            *remaining -= sent as u64;
        }
        sent
    }

    /// Drains client `ci`'s socket; returns how many datagrams arrived.
    fn receive(&mut self, ci: usize) -> usize {
        let mut total = 0;
        loop {
            let mut lens = [0usize; BATCH];
            let fd = self.clients[ci].socket.as_raw_fd();
            let received = match &mut self.recv_headers {
                RecvHeaders::V4(h) => recv_batch(fd, h, &mut self.recv_bufs, &mut lens),
                RecvHeaders::V6(h) => recv_batch(fd, h, &mut self.recv_bufs, &mut lens),
            };
            if received == 0 {
                return total;
            }
            let now = Instant::now();
            let client = &mut self.clients[ci];
            for (buf, &len) in self.recv_bufs.iter().zip(&lens[..received]) {
                let datagram = &buf[..len.min(RECV_BUF_LEN)];
                match_response(
                    &mut client.inflight,
                    &mut self.stats,
                    self.templates,
                    datagram,
                    now,
                );
            }
            total += received;
            if received < BATCH {
                return total;
            }
        }
    }

    /// Sleeps until a socket is readable or a millisecond passed.
    fn wait(&self) {
        let mut fds: Vec<PollFd<'_>> = self
            .clients
            .iter()
            .map(|c| PollFd::new(c.socket.as_fd(), PollFlags::POLLIN))
            .collect();
        // Interrupted or failed polls just end the nap early.
        let _ = poll(&mut fds, PollTimeout::from(1u16));
    }

    /// Runs the loop; returns the statistics and when sending stopped.
    fn run(mut self, start: Instant, deadline: Option<Instant>) -> (Stats, Instant) {
        let mut stopped: Option<Instant> = None;
        loop {
            let now = Instant::now();
            if stopped.is_none()
                && (deadline.is_some_and(|d| now >= d) || self.remaining == Some(0))
            {
                stopped = Some(now);
            }
            if let Some(stop) = stopped {
                if self.outstanding() == 0 || now >= stop + self.timeout {
                    break;
                }
            }
            let mut progressed = false;
            for ci in 0..self.clients.len() {
                if stopped.is_none() {
                    let budget = self.budget(start, now);
                    if budget > 0 {
                        progressed |= self.send_batch(ci, now, budget) > 0;
                    }
                }
                progressed |= self.receive(ci) > 0;
                let expired = self.clients[ci]
                    .inflight
                    .expire(Instant::now(), self.timeout);
                self.stats.lost += expired;
            }
            if !progressed {
                self.wait();
            }
        }
        for client in &mut self.clients {
            self.stats.lost += client.inflight.abandon_all();
        }
        (self.stats, stopped.unwrap_or_else(Instant::now))
    }
}

/// Runs a kernel-UDP load against `options.server` and returns the merged report.
pub fn run(options: &Options, templates: &[QueryTemplate]) -> anyhow::Result<Report> {
    anyhow::ensure!(!templates.is_empty(), "no queries to send");
    let threads = match options.max_qps {
        Some(qps) => options
            .threads
            .min(usize::try_from(qps).unwrap_or(usize::MAX)),
        None => options.threads,
    };
    let mut per_thread: Vec<Vec<Client>> = (0..threads).map(|_| Vec::new()).collect();
    for i in 0..options.clients {
        let max_outstanding = share(options.max_outstanding as u64, options.clients, i) as usize;
        per_thread[i % threads].push(Client {
            socket: connect_socket(options.server)?,
            inflight: InFlight::new((i as u16).wrapping_mul(7919)),
            max_outstanding,
        });
    }
    let total = match options.length {
        RunLength::Passes(p) => Some(templates.len() as u64 * u64::from(p)),
        RunLength::Duration(_) => None,
    };
    let start = Instant::now();
    let deadline = match options.length {
        RunLength::Duration(d) => Some(start + d),
        RunLength::Passes(_) => None,
    };
    let mut first_query = 0u64;
    let results: Vec<(Stats, Instant)> = std::thread::scope(|scope| {
        let handles: Vec<_> = per_thread
            .into_iter()
            .enumerate()
            .map(|(t, clients)| {
                let count = total.map(|n| share(n, threads, t));
                let plan = Plan {
                    first_query: match count {
                        Some(c) => {
                            let first = first_query;
                            first_query += c;
                            (first % templates.len() as u64) as usize
                        }
                        None => t * templates.len() / threads,
                    },
                    count,
                    qps: options.max_qps.map(|q| share(q, threads, t)),
                };
                let timeout = options.timeout;
                let ipv6 = options.server.is_ipv6();
                // MultiHeaders holds raw pointers (not Send): build the worker in its thread.
                scope.spawn(move || {
                    Worker::new(templates, clients, plan, timeout, ipv6).run(start, deadline)
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    anyhow::ensure!(results.len() == threads, "a sender thread panicked");
    let mut stats = Stats::new();
    let mut stopped = start;
    for (s, stop) in &results {
        stats.merge(s);
        stopped = stopped.max(*stop);
    }
    Ok(Report::new(
        "udp",
        options.server.to_string(),
        threads,
        options.clients,
        &stats,
        stopped.duration_since(start),
    ))
}
