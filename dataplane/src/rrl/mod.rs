//! Response rate limiting (RRL) for UDP answers, with BIND's and Knot's semantics.
//!
//! Every UDP path (the socket backend's batches and the DPDK lcore loop) passes the
//! engine's verdict through [`Limiter::limit`] after [`crate::engine::answer`], before it
//! is counted and sent: one implementation, one [`Limiter`] per core. Answers a core
//! gives from its forward-cache replica are verdicts like any other. The forwarder's
//! replies (after an upstream round trip, sent off-core) go through a [`LimitedSink`]
//! with its own limiter. TCP answers never pass through either, so TCP is never limited.
//!
//! - **Accounts** ([`table`]): a fixed-size, preallocated, set-associative table per core
//!   ([`TABLE_ENTRIES`] entries, [`table::WAYS`]-way); a new account takes a free way or
//!   evicts the least recently used one of its set. An account is keyed, as BIND keys
//!   them, by the client's prefix (`ipv4-prefix-length`, `ipv6-prefix-length`), the
//!   response class and a name hash ([`classify`]): *responses* (NOERROR) by qname and
//!   qtype, *nxdomains* by the zone (the owner of the SOA in the authority section), and
//!   *errors* (every other rcode) by the client prefix alone. The engine hashes the name
//!   while it has it parsed ([`crate::engine::Reply::name_hash`]): the limiter never
//!   reads the response.
//! - **Credit and debt**: an account starts with one second of credit (the class's rate)
//!   and gains the rate every second, capped at the rate; each response costs one. At or
//!   below zero the response is limited; debt is bounded at `window` seconds of credit,
//!   so a client flooding for longer than `window` seconds keeps being limited until it
//!   has been quiet long enough to pay the debt off, and an account idle for more than
//!   `window` seconds starts afresh (BIND's `window`).
//! - **Slip**: of the limited responses of an account, the first and then every `slip`-th
//!   goes out truncated ([`classify::truncate`]: TC=1, header and question only) so a
//!   real client retries over TCP; the others are dropped. `slip = 0` never slips,
//!   `slip = 1` always does.
//! - **Exempt**: clients in an `exempt` CIDR are never limited.
//!
//! The configuration lives in a shared [`RrlHandle`]; a reload swaps it
//! ([`RrlHandle::set`]) and each core picks it up at its next batch ([`Limiter::tick`]),
//! starting with an empty table. Per packet nothing allocates, locks or panics; the
//! clock is read once per batch. Dropped and slipped responses are counted per core
//! ([`RrlHandle::dropped`], [`RrlHandle::slipped`] sum them). A dropped response becomes
//! [`DropReason::RateLimited`], so the query statistics count it as dropped, never under
//! its rcode; a slipped one is counted as the truncated response that was sent.

pub mod classify;
mod sink;
pub mod table;

pub use sink::LimitedSink;

use crate::engine::{Client, DropReason, Reply, Transport, Verdict};
use arc_swap::ArcSwap;
use crossbeam::utils::CachePadded;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;
use table::{Debit, Table};

/// Accounts per core.
pub const TABLE_ENTRIES: usize = 1 << 16;

/// The `[rrl]` settings, as the data plane uses them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RrlSettings {
    pub enabled: bool,
    /// Per second, per account; 0 = this class is not limited.
    pub responses_per_second: u32,
    pub nxdomains_per_second: u32,
    pub errors_per_second: u32,
    /// Seconds of debt (and of idleness before an account starts afresh).
    pub window: u32,
    /// Every `slip`-th limited response goes out truncated; 0 never, 1 always.
    pub slip: u32,
    pub ipv4_prefix_length: u8,
    pub ipv6_prefix_length: u8,
    /// Clients never limited: `(network, prefix length)`.
    pub exempt: Vec<(IpAddr, u8)>,
}

impl Default for RrlSettings {
    fn default() -> Self {
        RrlSettings {
            enabled: false,
            responses_per_second: 20,
            nxdomains_per_second: 20,
            errors_per_second: 20,
            window: 15,
            slip: 2,
            ipv4_prefix_length: 24,
            ipv6_prefix_length: 56,
            exempt: Vec::new(),
        }
    }
}

/// One core's counters.
#[derive(Debug, Default)]
struct CoreCounters {
    dropped: AtomicU64,
    slipped: AtomicU64,
}

/// The settings shared by every core's [`Limiter`] (swapped on reload) and their
/// counters.
#[derive(Debug)]
pub struct RrlHandle {
    settings: ArcSwap<RrlSettings>,
    generation: AtomicU64,
    cores: Box<[CachePadded<CoreCounters>]>,
}

impl RrlHandle {
    /// A handle for `cores` data-plane cores (and one more counter slot, for the
    /// forwarder's [`LimitedSink`]).
    pub fn new(settings: RrlSettings, cores: usize) -> Arc<RrlHandle> {
        Arc::new(RrlHandle {
            settings: ArcSwap::from_pointee(settings),
            generation: AtomicU64::new(0),
            cores: (0..cores + 1).map(|_| CachePadded::default()).collect(),
        })
    }

    /// Limiting off, for `cores` cores.
    pub fn disabled(cores: usize) -> Arc<RrlHandle> {
        RrlHandle::new(RrlSettings::default(), cores)
    }

    /// The settings in force.
    pub fn settings(&self) -> Arc<RrlSettings> {
        self.settings.load_full()
    }

    /// Replaces the settings; every core applies them (with an empty table) at its next
    /// batch. Returns whether they differed.
    pub fn set(&self, settings: RrlSettings) -> bool {
        if *self.settings.load_full() == settings {
            return false;
        }
        self.settings.store(Arc::new(settings));
        self.generation.fetch_add(1, Relaxed);
        true
    }

    /// Responses dropped, all cores.
    pub fn dropped(&self) -> u64 {
        self.cores.iter().map(|c| c.dropped.load(Relaxed)).sum()
    }

    /// Responses sent truncated instead of dropped, all cores.
    pub fn slipped(&self) -> u64 {
        self.cores.iter().map(|c| c.slipped.load(Relaxed)).sum()
    }

    /// A limiter for core slot `core` (slots past the handle's count share the last).
    pub fn limiter(self: &Arc<Self>, core: usize) -> Limiter {
        Limiter::new(self.clone(), core, TABLE_ENTRIES)
    }

    /// The limiter of the forwarder's replies: the last counter slot.
    pub fn off_core_limiter(self: &Arc<Self>) -> Limiter {
        self.limiter(self.cores.len() - 1)
    }
}

/// What happens to one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Sent as written.
    Send,
    /// Sent truncated (TC=1, no records).
    Slip,
    /// Not sent.
    Drop,
}

/// One core's limiter: its table and its view of the settings.
#[derive(Debug)]
pub struct Limiter {
    handle: Arc<RrlHandle>,
    core: usize,
    generation: u64,
    settings: Arc<RrlSettings>,
    table: Table,
    epoch: Instant,
    /// Seconds since `epoch`, read by [`Limiter::tick`].
    now: u32,
    /// Keys the name hashes (per process) so clients cannot aim at one account.
    seed: u64,
}

impl Limiter {
    /// A limiter with `entries` accounts (rounded up to whole sets).
    pub fn new(handle: Arc<RrlHandle>, core: usize, entries: usize) -> Limiter {
        let settings = handle.settings();
        let generation = handle.generation.load(Relaxed);
        let epoch = Instant::now();
        let seed = classify::seed(&epoch, core);
        Limiter {
            core: core.min(handle.cores.len() - 1),
            handle,
            generation,
            settings,
            table: Table::new(entries),
            epoch,
            now: 0,
            seed,
        }
    }

    /// Once per batch: reads the clock and applies new settings (clearing the table).
    #[inline]
    pub fn tick(&mut self) {
        let generation = self.handle.generation.load(Relaxed);
        if generation != self.generation {
            self.reconfigure(generation);
        }
        if self.settings.enabled {
            self.now = u32::try_from(self.epoch.elapsed().as_secs()).unwrap_or(u32::MAX);
        }
    }

    #[cold]
    fn reconfigure(&mut self, generation: u64) {
        self.generation = generation;
        self.settings = self.handle.settings();
        self.table.clear();
    }

    /// Sets the clock (tests; the loops use [`Limiter::tick`]).
    pub fn set_now(&mut self, seconds: u32) {
        self.now = seconds;
    }

    /// Applies the limit to the engine's `verdict` for `client` (its response in `buf`);
    /// returns what leaves the box: the reply as written, the reply truncated in place
    /// (slipped: shorter, `truncated`), or [`DropReason::RateLimited`]. Verdicts other
    /// than a UDP reply pass unchanged.
    #[inline]
    pub fn limit(&mut self, buf: &mut [u8], verdict: Verdict, client: &Client) -> Verdict {
        let mut reply = match verdict {
            Verdict::Reply(r) if self.settings.enabled && client.transport == Transport::Udp => r,
            other => return other,
        };
        let outcome = self.judge(&reply, client.addr);
        self.count(outcome);
        match outcome {
            Outcome::Send => {}
            Outcome::Slip => {
                reply.len = classify::truncate(buf, reply.len);
                reply.truncated = true;
            }
            Outcome::Drop => return Verdict::Drop(DropReason::RateLimited),
        }
        Verdict::Reply(reply)
    }

    /// Counts a limited `outcome` in this limiter's slot.
    #[inline]
    fn count(&self, outcome: Outcome) {
        let counters = &self.handle.cores[self.core];
        match outcome {
            Outcome::Send => {}
            Outcome::Slip => {
                counters.slipped.fetch_add(1, Relaxed);
            }
            Outcome::Drop => {
                counters.dropped.fetch_add(1, Relaxed);
            }
        }
    }

    /// The outcome for `reply` (its rcode, QTYPE and name hash) to `addr`, accounted.
    pub fn judge(&mut self, reply: &Reply, addr: IpAddr) -> Outcome {
        let s = &*self.settings;
        let class = classify::Class::of(reply.rcode);
        let rate = match class {
            classify::Class::Response => s.responses_per_second,
            classify::Class::Nxdomain => s.nxdomains_per_second,
            classify::Class::Error => s.errors_per_second,
        };
        if rate == 0 || (!s.exempt.is_empty() && classify::exempt(&s.exempt, addr)) {
            return Outcome::Send;
        }
        let prefix = classify::prefix(addr, s.ipv4_prefix_length, s.ipv6_prefix_length);
        let key = classify::key(self.seed, prefix, class, reply.name_hash, reply.qtype);
        match self.table.debit(key, self.now, rate, s.window) {
            Debit::Ok => Outcome::Send,
            Debit::Limited { count } => {
                if s.slip != 0 && count % s.slip == 0 {
                    Outcome::Slip
                } else {
                    Outcome::Drop
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
