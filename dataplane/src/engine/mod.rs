//! The answer engine: the one piece of DNS logic every backend calls.
//!
//! [`answer`] takes a query in a buffer and writes the response in place:
//! parse and validate ([`crate::wire::query`]), find the zone (none →
//! REFUSED), then resolve the name in the [`Snapshot`] (see [`resolve`]) and
//! write records with the per-name answer [`policy`] for A/AAAA.
//!
//! It never allocates, never panics on any input and takes no lock: all
//! per-query state is on the stack, per-core state lives in [`EngineState`].

mod forward;
pub mod pattern;
pub mod policy;
mod prefetch;
pub mod resolve;

pub use pattern::{MAX_PATTERN_NODES, MAX_WILDCARD_LABELS};
pub use prefetch::{prefetch, prefetch_hash, warm};
pub use resolve::{
    MAX_CHILDREN, MAX_CNAME_HOPS, MAX_GLUE_TARGETS, MAX_QUERY_LOOKUPS, MAX_SRV_TARGETS,
};

use crate::cache::{ForwardPolicy, Replica};
use crate::record::rtype;
use crate::snapshot::Snapshot;
use crate::wire::header::{flags, HEADER_LEN};
use crate::wire::{class, parse_query, qtype, rcode, Edns, NameBuf, QueryError, Response};
use resolve::Ctx;
use std::net::IpAddr;
use std::sync::Arc;

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
    /// Source port (where a forwarded reply is sent).
    pub port: u16,
    pub transport: Transport,
    /// Which of the loop's listeners received it (the forwarder replies
    /// through the same one); 0 where there is only one.
    pub via: u16,
}

impl Client {
    /// A client with no forwarding return path (port and listener 0).
    pub fn new(addr: IpAddr, transport: Transport) -> Client {
        Client {
            addr,
            port: 0,
            transport,
            via: 0,
        }
    }
}

/// Whether (and how) this engine state forwards names outside our zones.
#[derive(Debug)]
pub enum ForwardMode {
    /// Names outside our zones are REFUSED.
    Off,
    /// A data-plane core: answers from its cache replica, hands misses off.
    Core(Box<Replica>),
    /// TCP: the caller forwards ([`Forwarded::Needed`]) and awaits the answer.
    Deferred(Arc<ForwardPolicy>),
}

/// Per-core (or per-connection) mutable state: the PRNG for `random-one`,
/// the rotation counter for `all`, the forwarding mode (with a core's
/// cache replica) and the question name's buffer.
#[derive(Debug)]
pub struct EngineState {
    core: CoreState,
    /// The question name of the query being answered: one buffer per state, reused, so that
    /// no query pays for zeroing 255 bytes ([`NameBuf::clear`] empties it).
    qname: NameBuf,
}

/// The part of [`EngineState`] that resolving and forwarding use.
#[derive(Debug)]
pub(crate) struct CoreState {
    pub(crate) rng: policy::WyRand,
    pub(crate) rotation: u32,
    pub(crate) max_udp: u16,
    pub(crate) forward: ForwardMode,
    /// Lookups done so far (see [`EngineState::lookups`]).
    lookups: u64,
}

impl EngineState {
    /// `max_udp`: the server's largest UDP payload (config
    /// `dns.max-udp-size`, default 1232). Values below 512 are taken as 512.
    pub fn new(seed: u64, max_udp: u16) -> EngineState {
        EngineState {
            core: CoreState {
                rng: policy::WyRand::new(seed),
                rotation: (seed >> 32) as u32,
                max_udp: max_udp.max(MIN_UDP),
                forward: ForwardMode::Off,
                lookups: 0,
            },
            qname: NameBuf::new(),
        }
    }

    /// Names looked up in the snapshot and union members visited by every
    /// query answered with this state: one query adds at most
    /// [`MAX_QUERY_LOOKUPS`].
    pub fn lookups(&self) -> u64 {
        self.core.lookups
    }

    /// The same state with forwarding in `mode`.
    pub fn with_forward(mut self, mode: ForwardMode) -> EngineState {
        self.core.forward = mode;
        self
    }

    /// Applies the control plane's pending cache changes (call between
    /// batches, never per packet).
    pub fn maintain(&mut self) {
        if let ForwardMode::Core(r) = &mut self.core.forward {
            r.maintain();
        }
    }
}

/// What to do with a packet.
#[derive(Debug, Clone, Copy)]
pub enum Verdict {
    Reply(Reply),
    Drop(DropReason),
    /// A name outside our zones, to be resolved by the forwarder.
    Forward(Forwarded),
}

/// How a forwarded query goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forwarded {
    /// Handed to the forwarder, which replies through the backend: send
    /// nothing now.
    Queued,
    /// The caller forwards the query still in the buffer (TCP).
    Needed,
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
    /// What response rate limiting keys this response by
    /// ([`crate::rrl::classify::name_hash`] of a lowercased name, hashed while the
    /// engine has it parsed): for NXDOMAIN the zone of the negative answer (the owner of
    /// its SOA), otherwise the QNAME; 0 when no question could be read.
    pub name_hash: u64,
}

/// Why no response is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// QR=1: the packet is a response.
    NotAQuery,
    /// Not even a header could be echoed.
    Malformed,
    /// A UDP response withheld by response rate limiting ([`crate::rrl::Limiter::limit`]);
    /// the engine itself never returns it.
    RateLimited,
}

/// Answers the query in `buf[..query_len]` in place (see the module docs and
/// the engine API notes). UDP responses are limited to
/// `min(buf.len(), clamp(client EDNS size or 512, 512, max_udp))`, TCP ones
/// to `min(buf.len(), 65535)`.
///
/// Besides the message rules of [`crate::wire::query`]:
/// - EDNS version > 0 → BADVERS (extended rcode 16) with an OPT of version 0;
/// - QCLASS other than IN → REFUSED;
/// - QTYPE OPT → FORMERR; AXFR/IXFR → REFUSED (no zone transfers, like an
///   ACL refusal); MAILA/MAILB → NOTIMP;
/// - a name outside every served zone → REFUSED without AA;
/// - the header keeps ID, opcode, RD and CD (as BIND, Knot and NSD do);
/// - the responder's OPT advertises [`advertised_udp`], echoes DO, echoes no option
///   but carries NSID (RFC 5001, `ZoneConfig::nsid`) when the query asked
///   for it and one is configured, and is present iff the query had one that
///   could be parsed (FORMERR and NOTIMP answers included).
pub fn answer(
    snap: &Snapshot,
    buf: &mut [u8],
    query_len: usize,
    client: &Client,
    state: &mut EngineState,
) -> Verdict {
    let query_len = query_len.min(buf.len());
    let EngineState { core: state, qname } = state;
    qname.clear();
    let parsed = parse_query(buf.get(..query_len).unwrap_or(&[]), qname);
    let (question, edns, early_rcode) = match parsed {
        Err(QueryError::Runt) => return Verdict::Drop(DropReason::Malformed),
        Err(QueryError::NotAQuery) => return Verdict::Drop(DropReason::NotAQuery),
        Err(QueryError::Reject {
            rcode,
            question,
            edns,
        }) => (question, edns, Some(rcode)),
        Ok(p) => (Some(p.question), p.edns, None),
    };
    let limit = response_limit(client.transport, edns, state.max_udp, buf.len());
    let keep = question.map_or(HEADER_LEN, |q| q.end);
    let qt = question.map_or(0, |q| q.qtype);
    let mut early_rcode = early_rcode.or_else(|| {
        let q = question?;
        if edns.is_some_and(|e| e.version > 0) {
            Some(rcode::BADVERS)
        } else if q.qclass != class::IN {
            Some(rcode::REFUSED)
        } else {
            match q.qtype {
                rtype::OPT => Some(rcode::FORMERR),
                qtype::AXFR | qtype::IXFR => Some(rcode::REFUSED),
                qtype::MAILA | qtype::MAILB => Some(rcode::NOTIMP),
                _ => None,
            }
        }
    });
    if let (None, Some(q)) = (early_rcode, question.as_ref()) {
        let asked = forward::Asked {
            question: q,
            qname,
            edns,
            limit,
        };
        match forward::route(snap, buf, &asked, client, state) {
            forward::Route::Local => {}
            forward::Route::Done(v) => return v,
            forward::Route::ServFail => early_rcode = Some(rcode::SERVFAIL),
        }
    }
    let advertised = advertised_udp(client.transport, state.max_udp, buf.len());
    let Some(mut resp) = Response::start(buf, keep, limit) else {
        return Verdict::Drop(DropReason::Malformed);
    };
    let with_opt = edns.is_some() && resp.reserve_opt();
    // RFC 5001: the identifier goes to clients that ask, when it fits.
    let nsid = match (edns, &snap.config().nsid) {
        (Some(e), Some(id)) if e.nsid && with_opt && resp.reserve_nsid(id.len()) => &id[..],
        _ => &[],
    };
    let (rc, truncated, fail_open, zone_hash) = match early_rcode {
        Some(rc) => (rc, false, false, None),
        None => {
            let mut ctx = Ctx::new(snap, &mut resp, client.addr, state);
            let rc = ctx.resolve(qname, qt);
            let zone_hash = (rc == rcode::NXDOMAIN)
                .then(|| ctx.negative_zone_hash(qname))
                .flatten();
            let done = (rc, ctx.truncated, ctx.fail_open, zone_hash);
            let cost = ctx.cost;
            state.lookups += u64::from(cost);
            done
        }
    };
    let name_hash = match (zone_hash, question) {
        (Some(h), _) => h,
        (None, Some(_)) => qname.hash(),
        (None, None) => 0,
    };
    resp.set_rcode(rc);
    resp.set_flag(flags::TC, truncated);
    let opt = edns.filter(|_| with_opt).map(|e| (advertised, e.dnssec_ok));
    let len = resp.finish_with_nsid(opt, nsid);
    Verdict::Reply(Reply {
        len,
        rcode: rc,
        qtype: qt,
        truncated,
        fail_open,
        name_hash,
    })
}

/// Largest response allowed for this transport and query.
pub fn response_limit(
    transport: Transport,
    edns: Option<Edns>,
    max_udp: u16,
    buf_len: usize,
) -> usize {
    let limit = match transport {
        Transport::Tcp => usize::from(u16::MAX),
        Transport::Udp => {
            let max_udp = max_udp.max(MIN_UDP);
            usize::from(edns.map_or(MIN_UDP, |e| e.udp_size.max(MIN_UDP).min(max_udp)))
        }
    };
    limit.min(buf_len)
}

/// The UDP payload size our OPT advertises: what this path can carry. Over
/// UDP the configured `max_udp` capped by the response room the backend gives
/// (`buf_len`: the socket backend's 4096-byte buffers, the DPDK port's MTU
/// less the IP and UDP headers: 1472 bytes over IPv4, 1452 over IPv6 at MTU
/// 1500), never below 512; over TCP, where the size means nothing for this
/// connection, the configured `max_udp` (a later UDP query may use it).
pub fn advertised_udp(transport: Transport, max_udp: u16, buf_len: usize) -> u16 {
    let max_udp = max_udp.max(MIN_UDP);
    match transport {
        Transport::Tcp => max_udp,
        Transport::Udp => max_udp
            .min(u16::try_from(buf_len).unwrap_or(u16::MAX))
            .max(MIN_UDP),
    }
}

/// The UDP payload every client can take (RFC 1035 §4.2.1).
pub const MIN_UDP: u16 = 512;
