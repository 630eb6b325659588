//! What a response is accounted as: its class, the client prefix and the name hash
//! the engine passed ([`crate::engine::Reply::name_hash`]) mixed into the account key;
//! the same read from a whole message for replies that did not come from the engine
//! ([`reply_of`]); and the truncated form a slipped response takes.

use crate::engine::Reply;
use crate::wire::header::{flags, HEADER_LEN};
use crate::wire::name::read_name;
use crate::wire::{rcode, NameBuf};
use rustc_hash::FxHasher;
use std::hash::Hasher;
use std::net::IpAddr;
use std::time::Instant;

/// Header count offsets (RFC 1035 §4.1.1).
pub(crate) const QDCOUNT: usize = 4;
const ANCOUNT: usize = 6;
const NSCOUNT: usize = 8;

/// The RRL response classes (BIND's, without the ones Skylane does not produce).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// NOERROR (answers, NODATA, referrals): keyed by qname and qtype.
    Response,
    /// NXDOMAIN: keyed by the zone (the authority SOA's owner).
    Nxdomain,
    /// Any other rcode: keyed by the client prefix alone.
    Error,
}

impl Class {
    /// The class of a response with `rc` (the full 12-bit rcode).
    pub fn of(rc: u16) -> Class {
        match rc {
            rcode::NOERROR => Class::Response,
            rcode::NXDOMAIN => Class::Nxdomain,
            _ => Class::Error,
        }
    }

    fn tag(self) -> u8 {
        match self {
            Class::Response => 1,
            Class::Nxdomain => 2,
            Class::Error => 3,
        }
    }
}

/// `addr` masked to its family's prefix length, as 16 bytes (IPv4 in the first four)
/// plus the family.
pub fn prefix(addr: IpAddr, v4_len: u8, v6_len: u8) -> (u8, u128) {
    match addr {
        IpAddr::V4(a) => (4, u128::from(u32::from(a) & mask32(v4_len))),
        IpAddr::V6(a) => (6, u128::from(a) & mask128(v6_len)),
    }
}

fn mask32(len: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(len.min(32)))
        .unwrap_or(0)
}

fn mask128(len: u8) -> u128 {
    u128::MAX
        .checked_shl(128 - u32::from(len.min(128)))
        .unwrap_or(0)
}

/// Whether `addr` is in one of the `exempt` networks.
pub fn exempt(exempt: &[(IpAddr, u8)], addr: IpAddr) -> bool {
    exempt
        .iter()
        .any(|&(net, len)| crate::cache::prefix_contains(net, len, addr))
}

/// A per-process, per-core hash seed.
pub fn seed(epoch: &Instant, core: usize) -> u64 {
    let mut h = FxHasher::default();
    h.write_usize(core);
    h.write_usize(epoch as *const Instant as usize);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    h.write_u64(nanos);
    h.finish()
}

/// The hash RRL keys a name by: `lname` is a lowercased wire name (the engine's parsed
/// QNAME, or a zone apex). The engine hashes while it still has the name, so the limiter
/// never reads the response again. It is the snapshot's key hash
/// ([`crate::wire::name::key_hash`]), which the engine already has for the QNAME (read
/// with it) and for each zone apex (made with the snapshot).
#[inline]
pub fn name_hash(lname: &[u8]) -> u64 {
    crate::wire::name::key_hash(lname)
}

/// The account key of a response in `class` to a client in `prefix`; `name` is the
/// engine's [`crate::engine::Reply::name_hash`] (QNAME, or the zone for NXDOMAIN).
#[inline]
pub fn key(seed: u64, prefix: (u8, u128), class: Class, name: u64, qtype: u16) -> u64 {
    let mut h = FxHasher::default();
    h.write_u64(seed);
    h.write_u8(class.tag());
    h.write_u8(prefix.0);
    h.write_u128(prefix.1);
    match class {
        Class::Response => {
            h.write_u64(name);
            h.write_u16(qtype);
        }
        Class::Nxdomain => h.write_u64(name),
        Class::Error => {}
    }
    // Spread the bits: the table picks a set from the high half.
    let k = h.finish();
    (k ^ (k >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9)
}

/// The [`Reply`] of a whole response message that did not come from the engine (the
/// forwarder's replies, off-core): rcode and QTYPE from the message, the name hash read
/// from it (the zone of an NXDOMAIN: the owner of its authority SOA, else the QNAME).
pub fn reply_of(msg: &[u8]) -> Reply {
    let mut name = NameBuf::new();
    let rc = msg.get(3).map_or(0, |b| u16::from(b & 0x0f));
    let qtype_at = question(msg, &mut name);
    let qtype = qtype_at.map_or(0, |at| u16_at(msg, at) as u16);
    let qname = qtype_at.map_or(0, |_| name_hash(name.as_wire()));
    let name_hash = match Class::of(rc) {
        Class::Nxdomain => zone(msg, &mut name).map_or(qname, |()| name_hash(name.as_wire())),
        _ => qname,
    };
    Reply {
        len: msg.len(),
        rcode: rc,
        qtype,
        truncated: msg.get(2).is_some_and(|b| b & 0x02 != 0),
        fail_open: false,
        name_hash,
    }
}

fn u16_at(msg: &[u8], at: usize) -> usize {
    msg.get(at..at + 2)
        .map_or(0, |b| usize::from(u16::from_be_bytes([b[0], b[1]])))
}

/// Reads the (first) question's name; returns the offset of its QTYPE.
fn question(msg: &[u8], name: &mut NameBuf) -> Option<usize> {
    if u16_at(msg, QDCOUNT) == 0 {
        return None;
    }
    read_name(msg, HEADER_LEN, HEADER_LEN, name).ok()
}

/// Reads the owner of the first SOA in the authority section (the zone of a negative
/// answer), skipping the question and answer records.
fn zone(msg: &[u8], name: &mut NameBuf) -> Option<()> {
    let mut at = question(msg, name)? + 4;
    let answers = u16_at(msg, ANCOUNT);
    let authority = u16_at(msg, NSCOUNT);
    // Bounded: each record advances `at`, and the counts are at most 65535 each.
    for i in 0..answers + authority {
        let start = at;
        at = read_name(msg, at, HEADER_LEN, name).ok()?;
        let rtype = u16_at(msg, at);
        let rdlen = u16_at(msg, at + 8);
        if i >= answers && rtype == usize::from(crate::record::rtype::SOA) {
            read_name(msg, start, HEADER_LEN, name).ok()?;
            return Some(());
        }
        at += 10 + rdlen;
        if at > msg.len() {
            return None;
        }
    }
    None
}

/// Rewrites the response in `buf[..len]` into its slipped form: the header with TC=1
/// and the question, no records. Returns the new length.
pub fn truncate(buf: &mut [u8], len: usize) -> usize {
    let len = len.min(buf.len());
    if len < HEADER_LEN {
        return len;
    }
    let mut name = NameBuf::new();
    let end = match question(&buf[..len], &mut name) {
        Some(qtype_at) if qtype_at + 4 <= len => qtype_at + 4,
        _ => HEADER_LEN,
    };
    let qdcount: u16 = if end > HEADER_LEN { 1 } else { 0 };
    let f = u16::from_be_bytes([buf[2], buf[3]]) | flags::TC;
    buf[2..4].copy_from_slice(&f.to_be_bytes());
    buf[QDCOUNT..QDCOUNT + 2].copy_from_slice(&qdcount.to_be_bytes());
    buf[ANCOUNT..HEADER_LEN].fill(0);
    end
}
