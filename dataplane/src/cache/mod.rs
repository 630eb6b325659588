//! The forward cache as the data plane sees it, and the hand-off of misses.
//!
//! Names outside the served zones are answered from a cache filled by the
//! control plane's forwarder (`skylane_controlplane::forward`). The design
//! (see docs/forwarding.md):
//!
//! - [`Entry`]: one cached upstream answer, immutable once built
//!   ([`entry`]): the sections after the question with the OPT record
//!   removed, the offsets of every TTL field, and the time it was stored.
//!   Writing a client's reply from it ([`Entry::write_reply`]) is the only
//!   code that turns cached bytes into an answer, for every path.
//! - [`Replica`]: each data-plane core's own index of the entries
//!   ([`replica`]), a hash map only that core touches, so the hit path takes
//!   no lock shared between cores and allocates nothing. The control plane
//!   owns the master index and sends every insert, removal and purge to each
//!   core's bounded command ring ([`Command`]); the core applies them
//!   between batches. Entries themselves are shared (`Arc`) and read-only.
//! - [`ForwardRequest`]: a miss, copied into a fixed-size value and handed
//!   to the forwarder with `try_send` on a bounded channel; a full channel
//!   means SERVFAIL, counted.
//! - [`ForwardPolicy`]: who may use forwarding (`[forward] allow`).

pub mod entry;
pub mod replica;

pub use entry::{Entry, EntryError, ReplyParams, TtlLimits};
pub use replica::{Command, Replica};

use crate::wire::Edns;
use std::hash::Hasher;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// What an entry is cached under: lowercased name, type, class and DO.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    /// Lowercased wire-format name.
    pub name: Box<[u8]>,
    pub qtype: u16,
    pub qclass: u16,
    pub dnssec_ok: bool,
}

impl Key {
    /// The 64-bit hash both the master and the per-core indexes use.
    pub fn hash64(&self) -> u64 {
        key_hash(&self.name, self.qtype, self.qclass, self.dnssec_ok)
    }
}

/// The hash of a key from its parts (`name` lowercased wire form).
#[inline]
pub fn key_hash(name: &[u8], qtype: u16, qclass: u16, dnssec_ok: bool) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    h.write(name);
    h.write_u16(qtype);
    h.write_u16(qclass);
    h.write_u8(u8::from(dnssec_ok));
    // Fx mixes the low bits poorly for hashbrown's top-7 tags: finish with a
    // multiply-xorshift.
    let x = h.finish().wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^ (x >> 29)
}

/// Seconds since the process started: the cache's clock.
#[inline]
pub fn now_secs() -> u32 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_secs() as u32
}

/// Who may have names outside our zones resolved (`[forward] allow`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardPolicy {
    /// Client prefixes `(network, prefix length)`.
    pub allow: Vec<(IpAddr, u8)>,
    /// `[forward] serve-stale`: answer expired entries when upstreams fail.
    pub serve_stale: bool,
    /// `[forward] prefetch`: refresh popular entries before they expire.
    pub prefetch: bool,
}

impl ForwardPolicy {
    /// Whether `ip` is inside one of the allowed prefixes (IPv4-mapped IPv6
    /// addresses count as IPv4).
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.allow
            .iter()
            .any(|&(net, len)| prefix_contains(net, len, ip))
    }
}

/// Whether `ip` is in `net/len` (different families never match).
pub fn prefix_contains(net: IpAddr, len: u8, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let len = u32::from(len.min(32));
            let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let len = u32::from(len.min(128));
            let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

/// Longest name in wire form.
pub const MAX_NAME: usize = 255;

/// A query handed from a core to the forwarder: fixed size, no heap.
#[derive(Debug, Clone, Copy)]
pub struct ForwardRequest {
    /// Index of the core (stats slot order) whose backend sends the reply.
    pub core: u16,
    /// Which of that core's listeners the query came in on.
    pub via: u16,
    pub client: SocketAddr,
    pub id: u16,
    /// The query's header flags (RD, CD are used).
    pub flags: u16,
    /// QNAME as the client sent it (case kept), wire form.
    pub qname: [u8; MAX_NAME],
    pub qname_len: u8,
    pub qtype: u16,
    pub qclass: u16,
    pub edns: Option<Edns>,
    /// The largest reply the client takes (its transport and EDNS size).
    pub limit: u16,
    /// A refresh of an entry about to expire: no client waits.
    pub prefetch: bool,
}

impl ForwardRequest {
    /// The QNAME as sent.
    pub fn qname(&self) -> &[u8] {
        self.qname
            .get(..usize::from(self.qname_len))
            .unwrap_or_default()
    }

    /// Whether the client set DO.
    pub fn dnssec_ok(&self) -> bool {
        self.edns.is_some_and(|e| e.dnssec_ok)
    }

    /// The cache key (lowercases the name: allocates, control plane only).
    pub fn key(&self) -> Key {
        Key {
            name: self.qname().to_ascii_lowercase().into_boxed_slice(),
            qtype: self.qtype,
            qclass: self.qclass,
            dnssec_ok: self.dnssec_ok(),
        }
    }
}

/// Where cores hand misses (a bounded crossbeam channel: `try_send` never
/// blocks or allocates).
pub type ForwardSender = crossbeam::channel::Sender<ForwardRequest>;

/// Counters of one core's cache use (each core writes only its own).
#[derive(Debug, Default)]
#[repr(align(64))]
pub struct CoreCacheCounters {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    /// Misses that found the hand-off channel full (answered SERVFAIL).
    pub overflows: AtomicU64,
}

impl CoreCacheCounters {
    #[inline]
    pub(crate) fn bump(c: &AtomicU64) {
        c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }
}

/// What the master and every replica share: the purge generation (bumped to
/// make every core drop its whole index, e.g. when a command ring was full)
/// and the per-core counters.
#[derive(Debug)]
pub struct CacheShared {
    pub generation: AtomicU64,
    pub cores: Box<[CoreCacheCounters]>,
}

impl CacheShared {
    pub fn new(cores: usize) -> Arc<CacheShared> {
        Arc::new(CacheShared {
            generation: AtomicU64::new(0),
            cores: (0..cores).map(|_| CoreCacheCounters::default()).collect(),
        })
    }

    /// Sum of every core's (hits, misses, overflows).
    pub fn totals(&self) -> (u64, u64, u64) {
        self.cores.iter().fold((0, 0, 0), |(h, m, o), c| {
            (
                h + c.hits.load(Ordering::Relaxed),
                m + c.misses.load(Ordering::Relaxed),
                o + c.overflows.load(Ordering::Relaxed),
            )
        })
    }
}

#[cfg(test)]
mod tests;

/// How the forwarder sends a reply out through the backend that received
/// the query (socket: the core's own socket; DPDK: the core's TX path).
pub trait ReplySink: Send + Sync {
    /// Sends `msg` to `to` through listener `via` of core index `core`;
    /// `false` if it could not be sent.
    fn send(&self, core: u16, via: u16, to: SocketAddr, msg: &[u8]) -> bool;
}

impl ForwardRequest {
    /// The request for the query in `msg` (TCP: the engine answered
    /// [`crate::engine::Forwarded::Needed`]); `None` if it is not a valid
    /// query.
    pub fn from_query(msg: &[u8], client: SocketAddr, limit: usize) -> Option<ForwardRequest> {
        let mut lower = crate::wire::NameBuf::new();
        let parsed = crate::wire::parse_query(msg, &mut lower).ok()?;
        let name_len = lower.len().min(MAX_NAME);
        let mut qname = [0u8; MAX_NAME];
        qname
            .get_mut(..name_len)?
            .copy_from_slice(msg.get(12..12 + name_len)?);
        let hdr = crate::wire::Header::new_checked(msg).ok()?;
        Some(ForwardRequest {
            core: 0,
            via: 0,
            client,
            id: hdr.id(),
            flags: hdr.flags(),
            qname,
            qname_len: name_len as u8,
            qtype: parsed.question.qtype,
            qclass: parsed.question.qclass,
            edns: parsed.edns,
            limit: limit.min(usize::from(u16::MAX)) as u16,
            prefetch: false,
        })
    }

    /// Writes this query's header and question into `buf` (before
    /// [`Entry::write_reply`]); returns the question's end.
    pub fn write_question(&self, buf: &mut [u8]) -> Option<usize> {
        let name = self.qname();
        let end = 12 + name.len() + 4;
        let out = buf.get_mut(..end)?;
        out[..12].fill(0);
        out[12..12 + name.len()].copy_from_slice(name);
        out[end - 4..end - 2].copy_from_slice(&self.qtype.to_be_bytes());
        out[end - 2..end].copy_from_slice(&self.qclass.to_be_bytes());
        Some(end)
    }
}
