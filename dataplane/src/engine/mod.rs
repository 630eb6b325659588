//! The answer engine: the one piece of DNS logic every backend calls.
//!
//! [`answer`] takes a query in a buffer and writes the response in place:
//! parse and validate ([`crate::wire::query`]), find the zone (none →
//! REFUSED), then resolve the name in the [`Snapshot`] (see [`resolve`]) and
//! write records with the per-name answer [`policy`] for A/AAAA.
//!
//! It never allocates, never panics on any input and takes no lock: all
//! per-query state is on the stack, per-core state lives in [`EngineState`].

pub mod policy;

use crate::snapshot::Snapshot;
use std::net::IpAddr;

/// How the query arrived; decides the response size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// Who asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    pub addr: IpAddr,
    pub transport: Transport,
}

/// Per-core (or per-connection) mutable state: the PRNG for `random-one`
/// and the rotation counter for `all`.
#[derive(Debug, Clone)]
pub struct EngineState {
    pub(crate) rng: policy::WyRand,
    pub(crate) rotation: u32,
    pub(crate) max_udp: u16,
}

impl EngineState {
    /// `max_udp`: the server's largest UDP payload (config
    /// `dns.max-udp-size`, default 1232). Values below 512 are taken as 512.
    pub fn new(seed: u64, max_udp: u16) -> EngineState {
        EngineState {
            rng: policy::WyRand::new(seed),
            rotation: (seed >> 32) as u32,
            max_udp: max_udp.max(512),
        }
    }
}

/// What to do with a packet.
#[derive(Debug, Clone, Copy)]
pub enum Verdict {
    Reply(Reply),
    Drop(DropReason),
}

/// A response is in `buf[..len]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply {
    /// Response bytes now in `buf[..len]`.
    pub len: usize,
    /// Full 12-bit rcode (BADVERS = 16).
    pub rcode: u16,
    /// 0 if no question could be read.
    pub qtype: u16,
    pub truncated: bool,
    /// Every address of an answered RRset was DOWN: all were returned.
    pub fail_open: bool,
}

/// Why no response is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// QR=1: the packet is a response.
    NotAQuery,
    /// Not even a header could be echoed.
    Malformed,
}

/// Answers the query in `buf[..query_len]` in place (see the module docs and
/// `/notes/engine-api.md`). UDP responses are limited to
/// `min(buf.len(), clamp(client EDNS size or 512, 512, max_udp))`, TCP ones
/// to `min(buf.len(), 65535)`.
pub fn answer(
    _snap: &Snapshot,
    _buf: &mut [u8],
    _query_len: usize,
    _client: &Client,
    _state: &mut EngineState,
) -> Verdict {
    // Being written: see the engine helper's report.
    Verdict::Drop(DropReason::Malformed)
}
