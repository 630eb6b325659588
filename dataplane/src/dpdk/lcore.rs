//! The per-lcore run-to-completion loop (modelled on DPDK's examples/l3fwd):
//! `rx_burst(32)` → warm the snapshot for the whole burst ([`super::stage`]: hash every
//! question name, then load every name's index slot and entry) → prefetch ahead →
//! [`Responder::handle`] each frame in place (DNS answers
//! through the engine, then the lcore's response rate [`Limiter`]) →
//! buffered `tx_burst`; frames for the kernel go to the TAP queue of the same index, and
//! the TAP queue is polled every [`TAP_POLL_MICROS`] for frames the kernel sends out.
//! Full TX rings are retried a bounded number of times, then the rest is dropped and
//! counted: the loop never spins on a stuck ring.
//!
//! The exception path is policed: a frame for the kernel passes the lcore's token bucket
//! ([`Policer`], `[dpdk] exception-pps`), at most one TAP burst ([`Burst`] capacity) is
//! queued per received burst, and the TAP is written once per received burst with no
//! retry (the TAP's file descriptor is non-blocking): what does not fit is dropped and
//! counted, so a flood of frames we do not answer cannot stall the DNS loop.

use super::counters::LcoreCounters;
use super::forward::{Returned, Stash};
use super::policer::Policer;
use super::responder::{Action, DropCause, ReplyKind, Responder};
use crate::engine::{self, Client, EngineState, Transport, Verdict};
use crate::rrl::Limiter;
use crate::snapshot::SharedSnapshot;
use crate::stats::{CoreCounters, QueryRecorder, SlotId, Stats};
use crossbeam::queue::ArrayQueue;
use dpdk_sys::{consts, eal, Burst, Mbuf, MbufPool, Queue};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

/// Frames prefetched ahead of the one being processed.
const PREFETCH_AHEAD: usize = 3;
/// How often the TAP (a system call per poll) is read.
pub const TAP_POLL_MICROS: u64 = 100;
/// Consecutive `tx_burst` calls that send nothing before the rest is dropped.
const TX_RETRIES: u32 = 4;
/// The same for the TAP: one attempt, the kernel side must never stall the loop.
const TAP_TX_RETRIES: u32 = 1;
/// Polls between publications of the busy-time counters (a power of two).
const POLL_PUBLISH: u64 = 1 << 12;
/// Empty polls between publications of buffered latency samples.
const IDLE_FLUSH_POLLS: u64 = 1 << 16;

/// A TX burst that remembers which of its frames are DNS replies, so replies the ring
/// refused are counted as send errors in the query statistics.
struct TxBuffer {
    burst: Burst,
    /// Bit i set: frame i of `burst` is a DNS reply.
    dns: u32,
}

impl TxBuffer {
    fn new() -> TxBuffer {
        TxBuffer {
            burst: Burst::new(),
            dns: 0,
        }
    }
}

/// Outcome of one flush.
#[derive(Default)]
struct Flushed {
    sent: u64,
    dns_sent: u64,
    dropped: u64,
    dns_dropped: u64,
}

/// Send everything in `tx` on `queue`, trying at most `retries` times in a row without
/// progress; what is left is freed.
#[inline]
fn flush(queue: &mut Queue, tx: &mut TxBuffer, retries: u32) -> Flushed {
    let mut out = Flushed::default();
    let mut stalls = 0;
    while !tx.burst.is_empty() {
        let n = queue.tx_burst(&mut tx.burst);
        if n == 0 {
            stalls += 1;
            if stalls >= retries {
                out.dropped = tx.burst.len() as u64;
                out.dns_dropped = u64::from(tx.dns.count_ones());
                tx.burst.clear();
                tx.dns = 0;
                break;
            }
            continue;
        }
        stalls = 0;
        let mask = if n >= 32 { u32::MAX } else { (1u32 << n) - 1 };
        out.sent += n as u64;
        out.dns_sent += u64::from((tx.dns & mask).count_ones());
        tx.dns = tx.dns.checked_shr(n as u32).unwrap_or(0);
    }
    out
}

/// Everything one lcore owns.
pub(crate) struct LcoreLoop {
    pub queue: Queue,
    pub tap: Option<Queue>,
    pub responder: Arc<Responder>,
    pub snapshot: SharedSnapshot,
    pub recorder: QueryRecorder,
    /// The same slot the recorder writes, for counting sends outside of a query.
    pub stats: Arc<Stats>,
    pub slot: SlotId,
    pub state: EngineState,
    /// The response rate limiter of this lcore.
    pub limiter: Limiter,
    pub counters: Arc<LcoreCounters>,
    /// The token bucket in front of the TAP.
    pub policer: Policer,
    pub shutdown: Arc<AtomicBool>,
    pub tsc_hz: u64,
    /// Where forwarded replies are built (a fresh mbuf each).
    pub pool: MbufPool,
    /// Forwarded replies for this lcore (`None`: no forwarding).
    pub returns: Option<Arc<ArrayQueue<Returned>>>,
}

/// Empty polls between applications of pending cache changes (a power of two).
const IDLE_MAINTAIN_POLLS: u64 = 1 << 10;

/// Forwarded replies sent per drain (bounds the pause between bursts).
const RETURN_BUDGET: usize = 64;

/// The port side of a loop: its queue and counters.
struct Port<'a> {
    queue: &'a mut Queue,
    counters: &'a LcoreCounters,
    queries: &'a CoreCounters,
}

impl Port<'_> {
    /// Queue `m`, flushing first when the buffer is full.
    #[inline]
    fn push(&mut self, tx: &mut TxBuffer, m: Mbuf, is_dns: bool) {
        if tx.burst.is_full() {
            self.flush(tx);
        }
        let slot = tx.burst.len();
        match tx.burst.push(m) {
            Ok(()) => {
                if is_dns {
                    tx.dns |= 1 << slot;
                }
            }
            Err(m) => {
                // Unreachable after the flush above (it always empties the buffer).
                LcoreCounters::add(&self.counters.tx_dropped, 1);
                if is_dns {
                    self.queries.add_send_errors(1);
                }
                drop(m);
            }
        }
    }

    #[inline]
    fn flush(&mut self, tx: &mut TxBuffer) {
        if tx.burst.is_empty() {
            return;
        }
        let f = flush(self.queue, tx, TX_RETRIES);
        LcoreCounters::add(&self.counters.tx, f.sent);
        if f.dns_sent > 0 {
            self.queries.add_tx(f.dns_sent);
        }
        if f.dropped > 0 {
            LcoreCounters::add(&self.counters.tx_dropped, f.dropped);
            self.queries.add_send_errors(f.dns_dropped);
        }
    }
}

/// Queue `m` for the kernel if the exception path exists, the token bucket admits it,
/// and this burst's TAP budget (one TAP burst) is not spent; otherwise free it, counted.
#[inline]
fn to_kernel(
    tap: &Option<Queue>,
    to_tap: &mut TxBuffer,
    policer: &mut Policer,
    counters: &LcoreCounters,
    m: Mbuf,
) {
    if tap.is_none() {
        LcoreCounters::add(&counters.exception_dropped, 1);
    } else if !policer.admit() {
        LcoreCounters::add(&counters.policed, 1);
    } else if to_tap.burst.push(m).is_err() {
        LcoreCounters::add(&counters.exception_dropped, 1);
    } else {
        LcoreCounters::add(&counters.to_kernel, 1);
    }
}

/// Send the exception frames to the kernel.
#[inline]
fn flush_tap(tap: &mut Option<Queue>, to_tap: &mut TxBuffer, counters: &LcoreCounters) {
    let Some(tap) = tap.as_mut() else {
        LcoreCounters::add(&counters.exception_dropped, to_tap.burst.len() as u64);
        to_tap.burst.clear();
        return;
    };
    if to_tap.burst.is_empty() {
        return;
    }
    let f = flush(tap, to_tap, TAP_TX_RETRIES);
    if f.dropped > 0 {
        LcoreCounters::add(&counters.exception_dropped, f.dropped);
    }
}

impl LcoreLoop {
    /// Poll until the shutdown flag is set.
    pub fn run(self) {
        let LcoreLoop {
            mut queue,
            mut tap,
            responder,
            snapshot,
            mut recorder,
            stats,
            slot,
            mut state,
            mut limiter,
            counters,
            mut policer,
            shutdown,
            tsc_hz,
            pool,
            returns,
        } = self;
        let mut stash = Stash::default();
        let queries = stats.slot(slot).counters();
        let counters = &*counters;
        let mut port = Port {
            queue: &mut queue,
            counters,
            queries,
        };
        let mut rx = Burst::new();
        let mut tx = TxBuffer::new();
        let mut to_tap = TxBuffer::new();
        let mut from_tap = Burst::new();
        let tap_interval = (tsc_hz / 1_000_000).max(1) * TAP_POLL_MICROS;
        let mut last_tap_poll = eal::rdtsc();
        // Busy time is measured per received burst and published every POLL_PUBLISH polls.
        let started = eal::rdtsc();
        let mut time = LoopTime::default();
        while !shutdown.load(Relaxed) {
            time.polls += 1;
            if time.polls & (POLL_PUBLISH - 1) == 0 {
                time.publish(counters, started);
                queries.beat();
            }
            let poll_start = eal::rdtsc();
            let n = port.queue.rx_burst(&mut rx);
            if n > 0 {
                let burst_start = eal::rdtsc();
                time.rx = time.rx.wrapping_add(burst_start.wrapping_sub(poll_start));
                policer.refill(burst_start);
                LcoreCounters::add(&counters.rx, n as u64);
                let snap = snapshot.load();
                state.maintain();
                limiter.tick();
                let mut dns = |payload: &mut [u8],
                               query_len: usize,
                               peer: std::net::SocketAddr,
                               headers: &[u8]| {
                    queries.add_rx(1);
                    let sample = recorder.start(&payload[..query_len.min(payload.len())]);
                    let client = Client {
                        addr: peer.ip(),
                        port: peer.port(),
                        transport: Transport::Udp,
                        via: stash.next_token(),
                    };
                    let verdict = engine::answer(&snap, payload, query_len, &client, &mut state);
                    // Counted as it leaves: rate-limited as dropped, a slip as sent.
                    let verdict = limiter.limit(payload, verdict, &client);
                    recorder.record(&verdict, sample);
                    match verdict {
                        Verdict::Reply(r) => Some(r.len),
                        Verdict::Forward(_) => {
                            // Kept for the reply; the forwarder has not seen it yet
                            // (this lcore drains its replies later).
                            stash.save(peer, headers);
                            None
                        }
                        Verdict::Drop(_) => None,
                    }
                };
                super::stage::warm(&snap, &rx);
                let mut frames = rx.drain();
                for i in 0..PREFETCH_AHEAD {
                    frames.prefetch(i);
                }
                while let Some(mut m) = frames.next() {
                    frames.prefetch(PREFETCH_AHEAD - 1);
                    let action = classify_and_answer(&responder, &mut m, &mut dns);
                    match action {
                        Action::Reply { len, kind, offload } => {
                            m.set_len(len);
                            m.set_ol_flags(offload.flags);
                            if offload.flags != 0 {
                                m.set_tx_lens(offload.l2_len, offload.l3_len, 0);
                            }
                            let c = match kind {
                                ReplyKind::Dns => &counters.dns_replies,
                                ReplyKind::Arp => &counters.arp_replies,
                                ReplyKind::NeighborAdvert => &counters.nd_replies,
                                ReplyKind::EchoV4 | ReplyKind::EchoV6 => &counters.echo_replies,
                            };
                            LcoreCounters::add(c, 1);
                            port.push(&mut tx, m, kind == ReplyKind::Dns);
                        }
                        Action::Exception => {
                            to_kernel(&tap, &mut to_tap, &mut policer, counters, m);
                        }
                        Action::Drop(cause) => {
                            let c = match cause {
                                DropCause::NotForUs => &counters.not_for_us,
                                DropCause::Malformed => &counters.malformed,
                                DropCause::BadSource => &counters.bad_source,
                                DropCause::NoAnswer => &counters.dns_no_answer,
                                DropCause::Unneeded => &counters.unneeded,
                            };
                            LcoreCounters::add(c, 1);
                        }
                    }
                }
                drop(frames);
                port.flush(&mut tx);
                flush_tap(&mut tap, &mut to_tap, counters);
                time.busy += eal::rdtsc().wrapping_sub(burst_start);
            } else {
                time.idle_polls += 1;
                if time.idle_polls & (IDLE_FLUSH_POLLS - 1) == 0 {
                    recorder.flush();
                }
                if time.idle_polls & (IDLE_MAINTAIN_POLLS - 1) == 0 {
                    state.maintain();
                }
                core::hint::spin_loop();
            }
            if let Some(ring) = returns.as_deref().filter(|r| !r.is_empty()) {
                for r in std::iter::from_fn(|| ring.pop()).take(RETURN_BUDGET) {
                    match returned_frame(&responder, &pool, &stash, &r) {
                        Some(m) => {
                            LcoreCounters::add(&counters.dns_replies, 1);
                            port.push(&mut tx, m, true);
                        }
                        None => LcoreCounters::add(&counters.tx_dropped, 1),
                    }
                }
                port.flush(&mut tx);
            }
            if let Some(tap_queue) = tap.as_mut() {
                let now = eal::rdtsc();
                if now.wrapping_sub(last_tap_poll) >= tap_interval {
                    last_tap_poll = now;
                    // Forward what the kernel sent on the TAP out the port.
                    let n = tap_queue.rx_burst(&mut from_tap);
                    if n > 0 {
                        LcoreCounters::add(&counters.from_kernel, n as u64);
                        for mut m in from_tap.drain() {
                            m.set_ol_flags(0);
                            port.push(&mut tx, m, false);
                        }
                        port.flush(&mut tx);
                    }
                }
            }
        }
        port.flush(&mut tx);
        flush_tap(&mut tap, &mut to_tap, counters);
        recorder.flush();
        time.publish(counters, started);
    }
}

/// Where a loop's time goes, kept in locals and published every [`POLL_PUBLISH`] polls.
#[derive(Default)]
struct LoopTime {
    polls: u64,
    idle_polls: u64,
    /// TSC cycles handling received bursts.
    busy: u64,
    /// TSC cycles inside `rx_burst` calls that returned frames.
    rx: u64,
}

impl LoopTime {
    fn publish(&self, counters: &LcoreCounters, started: u64) {
        counters
            .cycles
            .store(eal::rdtsc().wrapping_sub(started), Relaxed);
        counters.busy_cycles.store(self.busy, Relaxed);
        counters.rx_cycles.store(self.rx, Relaxed);
        counters.polls.store(self.polls, Relaxed);
        counters.idle_polls.store(self.idle_polls, Relaxed);
    }
}

/// The frame carrying forwarded reply `r`, from the headers its query left in the
/// stash; `None` when they are gone (slot reused) or no mbuf is free.
fn returned_frame(
    responder: &Responder,
    pool: &MbufPool,
    stash: &Stash,
    r: &Returned,
) -> Option<Mbuf> {
    let headers = stash.headers(r.via, r.client)?;
    let mut m = pool.alloc()?;
    let room = m.room_mut();
    let end = headers.len() + r.msg.len();
    room.get_mut(..headers.len())?.copy_from_slice(headers);
    room.get_mut(headers.len()..end)?.copy_from_slice(&r.msg);
    match responder.finish_forwarded(room, headers.len(), r.msg.len()) {
        Action::Reply { len, offload, .. } => {
            m.set_len(len);
            m.set_ol_flags(offload.flags);
            if offload.flags != 0 {
                m.set_tx_lens(offload.l2_len, offload.l3_len, 0);
            }
            Some(m)
        }
        _ => None,
    }
}

/// The action for one received mbuf: frames the driver flagged with a bad checksum are
/// dropped, multi-segment frames go to the kernel, the rest to the [`Responder`].
#[inline]
fn classify_and_answer<F>(responder: &Responder, m: &mut Mbuf, dns: &mut F) -> Action
where
    F: FnMut(&mut [u8], usize, std::net::SocketAddr, &[u8]) -> Option<usize>,
{
    let flags = m.ol_flags();
    if m.nb_segs() != 1 {
        // Jumbo / scattered frames are not ours to parse; the kernel handles them.
        Action::Exception
    } else if flags & consts::RTE_MBUF_F_RX_IP_CKSUM_MASK == consts::RTE_MBUF_F_RX_IP_CKSUM_BAD
        || flags & consts::RTE_MBUF_F_RX_L4_CKSUM_MASK == consts::RTE_MBUF_F_RX_L4_CKSUM_BAD
    {
        Action::Drop(DropCause::Malformed)
    } else {
        let len = m.data_len();
        responder.handle(m.room_mut(), len, dns)
    }
}
