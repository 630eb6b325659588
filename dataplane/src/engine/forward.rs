//! The engine's forwarding step: a question outside every served zone, from
//! an allowed client, with RD=1, is answered from the core's cache or handed
//! to the forwarder. Anything else keeps the authoritative behaviour
//! (REFUSED outside our zones). Served zones always win: this runs only
//! when the snapshot has no zone for the name.

use super::{Client, CoreState, ForwardMode, Forwarded, Reply, Verdict};
use crate::cache::{self, replica::Lookup, ForwardRequest, ReplyParams, MAX_NAME};
use crate::snapshot::Snapshot;
use crate::wire::header::{flags, HEADER_LEN};
use crate::wire::{Edns, NameBuf, Question};
use std::net::SocketAddr;

/// What the forwarding step decided.
pub(crate) enum Route {
    /// Not for forwarding: answer authoritatively (REFUSED outside our zones).
    Local,
    /// Answered from the cache, queued for the forwarder, or to be forwarded
    /// by the caller.
    Done(Verdict),
    /// Could not be queued: answer SERVFAIL.
    ServFail,
}

/// The question as parsed by [`super::answer`].
pub(crate) struct Asked<'q> {
    pub question: &'q Question,
    /// Lowercased QNAME.
    pub qname: &'q NameBuf,
    pub edns: Option<Edns>,
    /// Largest reply allowed.
    pub limit: usize,
}

/// `invalid.`: never sent upstream (RFC 6761 §6.4); answered as before.
const INVALID: &[u8] = b"\x07invalid\x00";

pub(crate) fn route(
    snap: &Snapshot,
    buf: &mut [u8],
    asked: &Asked<'_>,
    client: &Client,
    state: &mut CoreState,
) -> Route {
    let policy = match &state.forward {
        ForwardMode::Off => return Route::Local,
        ForwardMode::Core(r) => &r.policy,
        ForwardMode::Deferred(p) => p,
    };
    let query_flags = buf
        .get(2..4)
        .map_or(0, |f| u16::from_be_bytes([f[0], f[1]]));
    if query_flags & flags::RD == 0
        || asked.qname.as_wire().ends_with(INVALID)
        || !policy.allows(client.addr)
        || snap.served_zone(asked.qname.as_wire()).is_some()
    {
        return Route::Local;
    }
    let max_udp = super::advertised_udp(client.transport, state.max_udp, buf.len());
    let replica = match &mut state.forward {
        ForwardMode::Core(r) => r,
        _ => return Route::Done(Verdict::Forward(Forwarded::Needed)),
    };
    let q = asked.question;
    let dnssec_ok = asked.edns.is_some_and(|e| e.dnssec_ok);
    let now = cache::now_secs();
    let id = buf.get(..2).map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
    let hit = match replica.lookup(asked.qname.as_wire(), q.qtype, q.qclass, dnssec_ok, now) {
        Lookup::Hit { entry, prefetch } => {
            let params = ReplyParams {
                id,
                query_flags,
                edns: asked.edns,
                max_udp,
                limit: asked.limit,
                now,
                stale_ttl: None,
            };
            entry
                .write_reply(buf, &params)
                .map(|len| (len, entry.rcode, prefetch))
        }
        Lookup::Miss => None,
    };
    if let Some((len, rcode, prefetch)) = hit {
        let reply = Reply {
            len,
            rcode,
            qtype: q.qtype,
            truncated: buf.get(2).is_some_and(|b| b & 0x02 != 0),
            fail_open: false,
            name_hash: hit_name_hash(buf.get(..len).unwrap_or_default(), rcode, asked.qname),
        };
        if prefetch {
            let mut req = request_for(buf, asked, client, replica.core(), query_flags, id);
            req.prefetch = true;
            // A full channel leaves the entry marked: it is then refreshed
            // by the first miss after it expires.
            let _ = replica.hand_off(req);
        }
        cache::CoreCacheCounters::bump(&replica.counters().hits);
        return Route::Done(Verdict::Reply(reply));
    }
    let req = request_for(buf, asked, client, replica.core(), query_flags, id);
    let counters = replica.counters();
    if replica.hand_off(req) {
        cache::CoreCacheCounters::bump(&counters.misses);
        Route::Done(Verdict::Forward(Forwarded::Queued))
    } else {
        cache::CoreCacheCounters::bump(&counters.overflows);
        Route::ServFail
    }
}

/// What RRL keys a cache hit by: the parsed QNAME, or for NXDOMAIN the zone of the
/// cached negative answer (read from the reply: the cache does not keep it apart).
fn hit_name_hash(reply: &[u8], rcode: u16, qname: &NameBuf) -> u64 {
    if rcode == crate::wire::rcode::NXDOMAIN {
        return crate::rrl::classify::reply_of(reply).name_hash;
    }
    qname.hash()
}

/// The fixed-size hand-off copy of the query in `buf`.
fn request_for(
    buf: &[u8],
    asked: &Asked<'_>,
    client: &Client,
    core: u16,
    query_flags: u16,
    id: u16,
) -> ForwardRequest {
    let name_len = asked.qname.len().min(MAX_NAME);
    let mut qname = [0u8; MAX_NAME];
    // The question is never compressed (offset 12): the name as sent.
    if let (Some(dst), Some(src)) = (
        qname.get_mut(..name_len),
        buf.get(HEADER_LEN..HEADER_LEN + name_len),
    ) {
        dst.copy_from_slice(src);
    }
    ForwardRequest {
        core,
        via: client.via,
        client: SocketAddr::new(client.addr, client.port),
        id,
        flags: query_flags,
        qname,
        qname_len: name_len as u8,
        qtype: asked.question.qtype,
        qclass: asked.question.qclass,
        edns: asked.edns,
        limit: asked.limit.min(usize::from(u16::MAX)) as u16,
        prefetch: false,
    }
}
