//! Per-core query counters.
//!
//! One [`CoreCounters`] block per data-plane core (plus one shared by all TCP
//! connections). A core slot has exactly one writer, so it counts with plain
//! relaxed load + store (no locked instruction); the shared TCP slot uses
//! `fetch_add`. Readers take a [`CounterSnapshot`] at any time without
//! stopping anyone. The block is aligned to 128 bytes (two cache lines, the
//! adjacent-line prefetch unit) so cores never share a line.

use crate::record::rtype;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Response-code buckets: 0..=15, 16 (BADVERS) and "other".
pub const RCODE_BUCKETS: usize = 18;
/// Bucket index of rcodes above 16.
pub const RCODE_OTHER: usize = 17;
/// Label of each rcode bucket, for rendering.
pub const RCODE_LABELS: [&str; RCODE_BUCKETS] = [
    "NOERROR",
    "FORMERR",
    "SERVFAIL",
    "NXDOMAIN",
    "NOTIMP",
    "REFUSED",
    "YXDOMAIN",
    "YXRRSET",
    "NXRRSET",
    "NOTAUTH",
    "NOTZONE",
    "DSOTYPENI",
    "RCODE12",
    "RCODE13",
    "RCODE14",
    "RCODE15",
    "BADVERS",
    "other",
];

/// Query-type buckets of answered queries.
pub const QTYPE_BUCKETS: usize = 11;
/// Label of each qtype bucket, for rendering.
pub const QTYPE_LABELS: [&str; QTYPE_BUCKETS] = [
    "A", "AAAA", "CNAME", "SRV", "PTR", "TXT", "MX", "NS", "SOA", "ANY", "other",
];

/// The FORMERR response code, counted as "malformed".
const RCODE_FORMERR: u16 = 1;

/// Bucket of a full (12-bit) response code.
pub fn rcode_bucket(rcode: u16) -> usize {
    match rcode {
        0..=16 => rcode as usize,
        _ => RCODE_OTHER,
    }
}

/// Bucket of a query type.
pub fn qtype_bucket(qtype: u16) -> usize {
    match qtype {
        rtype::A => 0,
        rtype::AAAA => 1,
        rtype::CNAME => 2,
        rtype::SRV => 3,
        rtype::PTR => 4,
        rtype::TXT => 5,
        rtype::MX => 6,
        rtype::NS => 7,
        rtype::SOA => 8,
        rtype::ANY => 9,
        _ => 10,
    }
}

/// The live counters of one slot. See the module docs.
#[repr(align(128))]
#[derive(Debug)]
pub struct CoreCounters {
    /// True when only one thread ever writes (a data-plane core).
    exclusive: bool,
    queries: AtomicU64,
    rcode: [AtomicU64; RCODE_BUCKETS],
    qtype: [AtomicU64; QTYPE_BUCKETS],
    truncated: AtomicU64,
    dropped: AtomicU64,
    malformed: AtomicU64,
    send_errors: AtomicU64,
    fail_open: AtomicU64,
    rx_packets: AtomicU64,
    tx_packets: AtomicU64,
    /// Loop iterations (a core's heartbeat: the systemd watchdog is fed while it moves).
    beats: AtomicU64,
}

impl CoreCounters {
    /// Counters written by one thread only (`exclusive`) or by many.
    pub fn new(exclusive: bool) -> CoreCounters {
        CoreCounters {
            exclusive,
            queries: AtomicU64::new(0),
            rcode: std::array::from_fn(|_| AtomicU64::new(0)),
            qtype: std::array::from_fn(|_| AtomicU64::new(0)),
            truncated: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
            send_errors: AtomicU64::new(0),
            fail_open: AtomicU64::new(0),
            rx_packets: AtomicU64::new(0),
            tx_packets: AtomicU64::new(0),
            beats: AtomicU64::new(0),
        }
    }

    #[inline(always)]
    fn add(&self, counter: &AtomicU64, n: u64) {
        if self.exclusive {
            // Single writer: a plain read-modify-write cannot lose updates.
            counter.store(counter.load(Relaxed).wrapping_add(n), Relaxed);
        } else {
            counter.fetch_add(n, Relaxed);
        }
    }

    /// One more loop iteration (called by the core's loop, at least every receive timeout).
    #[inline]
    pub fn beat(&self) {
        self.add(&self.beats, 1);
    }

    /// Loop iterations so far: a core that stops moving this is stuck.
    pub fn beats(&self) -> u64 {
        self.beats.load(Relaxed)
    }

    /// Datagrams / messages received.
    #[inline]
    pub fn add_rx(&self, n: u64) {
        self.add(&self.rx_packets, n);
    }

    /// Datagrams / messages sent.
    #[inline]
    pub fn add_tx(&self, n: u64) {
        self.add(&self.tx_packets, n);
    }

    /// Replies that could not be sent.
    #[inline]
    pub fn add_send_errors(&self, n: u64) {
        self.add(&self.send_errors, n);
    }

    /// A message handed to the engine that produced a reply.
    #[inline]
    pub fn count_reply(&self, rcode: u16, qtype: u16, truncated: bool, fail_open: bool) {
        self.add(&self.queries, 1);
        self.add(&self.rcode[rcode_bucket(rcode)], 1);
        self.add(&self.qtype[qtype_bucket(qtype)], 1);
        if truncated {
            self.add(&self.truncated, 1);
        }
        if fail_open {
            self.add(&self.fail_open, 1);
        }
        if rcode == RCODE_FORMERR {
            self.add(&self.malformed, 1);
        }
    }

    /// A message handed to the engine (or rejected before it) that got no reply.
    #[inline]
    pub fn count_drop(&self) {
        self.add(&self.queries, 1);
        self.add(&self.dropped, 1);
    }

    /// A consistent-enough copy (each counter read once, relaxed).
    pub fn snapshot(&self) -> CounterSnapshot {
        let load = |c: &AtomicU64| c.load(Relaxed);
        CounterSnapshot {
            queries: load(&self.queries),
            rcode: std::array::from_fn(|i| load(&self.rcode[i])),
            qtype: std::array::from_fn(|i| load(&self.qtype[i])),
            truncated: load(&self.truncated),
            dropped: load(&self.dropped),
            malformed: load(&self.malformed),
            send_errors: load(&self.send_errors),
            fail_open: load(&self.fail_open),
            rx_packets: load(&self.rx_packets),
            tx_packets: load(&self.tx_packets),
        }
    }
}

/// Plain copy of a slot's counters (or of their sum).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CounterSnapshot {
    /// Messages handed to the engine (= responses + dropped).
    pub queries: u64,
    /// Responses by rcode bucket (see [`RCODE_LABELS`]).
    pub rcode: [u64; RCODE_BUCKETS],
    /// Responses by qtype bucket (see [`QTYPE_LABELS`]).
    pub qtype: [u64; QTYPE_BUCKETS],
    /// Responses with TC=1.
    pub truncated: u64,
    /// Messages not answered: responses (QR=1), unreadable headers, oversize datagrams.
    pub dropped: u64,
    /// Responses with rcode FORMERR.
    pub malformed: u64,
    /// Responses that could not be sent.
    pub send_errors: u64,
    /// Responses where every address of an RRset was DOWN and all were returned.
    pub fail_open: u64,
    /// Datagrams / TCP messages received.
    pub rx_packets: u64,
    /// Datagrams / TCP messages sent.
    pub tx_packets: u64,
}

impl CounterSnapshot {
    /// Responses produced (all rcodes).
    pub fn responses(&self) -> u64 {
        self.rcode.iter().sum()
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &CounterSnapshot) {
        self.queries += other.queries;
        for (a, b) in self.rcode.iter_mut().zip(other.rcode) {
            *a += b;
        }
        for (a, b) in self.qtype.iter_mut().zip(other.qtype) {
            *a += b;
        }
        self.truncated += other.truncated;
        self.dropped += other.dropped;
        self.malformed += other.malformed;
        self.send_errors += other.send_errors;
        self.fail_open += other.fail_open;
        self.rx_packets += other.rx_packets;
        self.tx_packets += other.tx_packets;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets() {
        assert_eq!(rcode_bucket(0), 0);
        assert_eq!(rcode_bucket(5), 5);
        assert_eq!(rcode_bucket(16), 16);
        assert_eq!(rcode_bucket(17), RCODE_OTHER);
        assert_eq!(rcode_bucket(4095), RCODE_OTHER);
        assert_eq!(QTYPE_LABELS[qtype_bucket(rtype::AAAA)], "AAAA");
        assert_eq!(QTYPE_LABELS[qtype_bucket(rtype::ANY)], "ANY");
        assert_eq!(QTYPE_LABELS[qtype_bucket(99)], "other");
        assert_eq!(RCODE_LABELS[rcode_bucket(3)], "NXDOMAIN");
    }

    #[test]
    fn counting_adds_up() {
        for exclusive in [true, false] {
            let c = CoreCounters::new(exclusive);
            c.add_rx(4);
            c.count_reply(0, rtype::A, false, false);
            c.count_reply(3, rtype::AAAA, true, false);
            c.count_reply(1, 0, false, false);
            c.count_drop();
            c.add_tx(2);
            c.add_send_errors(1);
            let s = c.snapshot();
            assert_eq!(s.queries, 4);
            assert_eq!(s.responses(), 3);
            assert_eq!(s.queries, s.responses() + s.dropped);
            assert_eq!(s.rcode[0], 1);
            assert_eq!(s.rcode[3], 1);
            assert_eq!(s.malformed, 1);
            assert_eq!(s.truncated, 1);
            assert_eq!(s.qtype[qtype_bucket(0)], 1);
            assert_eq!((s.rx_packets, s.tx_packets, s.send_errors), (4, 2, 1));
            let mut total = s;
            total.merge(&s);
            assert_eq!(total.queries, 8);
            assert_eq!(total.rcode[3], 2);
        }
    }

    #[test]
    fn slots_do_not_share_cache_lines() {
        assert_eq!(std::mem::align_of::<CoreCounters>(), 128);
        assert_eq!(std::mem::size_of::<CoreCounters>() % 128, 0);
    }
}
