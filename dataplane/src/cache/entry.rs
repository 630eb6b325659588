//! One cached upstream answer ([`Entry`]): built from the upstream's
//! response on the control plane, written into a client's reply by whoever
//! answers (a data-plane core on a hit, the forwarder for waiting clients).
//!
//! The upstream's sections after the question are kept byte for byte
//! (compression pointers stay valid because a reply repeats the same
//! 12-byte header and a question of the same length), minus the upstream's
//! OPT record and anything after it. Every TTL field's offset is kept so a
//! reply carries the remaining TTLs; DNSSEC records pass through untouched.

use super::{Key, MAX_NAME};
use crate::record::rtype;
use crate::wire::header::{flags, HEADER_LEN};
use crate::wire::name::read_name;
use crate::wire::{edns::write_opt, rcode, read_u16, read_u32, Edns, NameBuf, Question};
use std::sync::atomic::{AtomicBool, AtomicU64};

/// How TTLs are bounded (`[forward]` cache keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TtlLimits {
    pub min_ttl: u32,
    pub max_ttl: u32,
    pub negative_max_ttl: u32,
    /// How long a failure (SERVFAIL, every upstream timed out) is cached.
    pub failure_ttl: u32,
    /// How long after expiry an entry may still be served stale (0: never).
    pub stale_max_age: u32,
}

/// Why an upstream response cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("malformed response")]
    Malformed,
    #[error("the response's question is not the one asked")]
    QuestionMismatch,
    #[error("not a response")]
    NotAResponse,
}

/// One cached answer. Read-only once built except the bookkeeping atomics.
#[derive(Debug)]
pub struct Entry {
    pub key: Key,
    pub hash: u64,
    pub rcode: u16,
    /// The upstream set AD (passed through; we do not validate).
    ad: bool,
    /// Answer, authority, additional counts (OPT excluded).
    counts: [u16; 3],
    /// Length of the question section (name + type + class).
    qlen: u16,
    body: Box<[u8]>,
    /// `(offset in body, clamped TTL)` of every record.
    ttls: Box<[(u16, u32)]>,
    /// [`super::now_secs`] when stored.
    pub stored: u32,
    /// Lifetime in seconds from `stored`.
    pub ttl: u32,
    /// Seconds after expiry it may be served stale (0: never).
    pub stale_age: u32,
    /// Set by cores on a hit, cleared by the control plane's CLOCK sweep.
    pub referenced: AtomicBool,
    /// A prefetch was requested for this entry.
    pub prefetching: AtomicBool,
    /// Approximate hits (cores add their local counts in steps).
    pub hits: AtomicU64,
    /// Purged or replaced: cores treat it as absent.
    pub dead: AtomicBool,
}

/// What a reply needs to know about the client's query.
#[derive(Debug, Clone, Copy)]
pub struct ReplyParams {
    pub id: u16,
    /// The query's header flags (RD and CD are echoed).
    pub query_flags: u16,
    pub edns: Option<Edns>,
    /// Our advertised UDP size (in the OPT).
    pub max_udp: u16,
    /// Largest reply allowed.
    pub limit: usize,
    pub now: u32,
    /// Serving stale: every TTL is this.
    pub stale_ttl: Option<u32>,
}

struct Walk {
    counts: [u16; 3],
    body_end: usize,
    ttls: Vec<(u16, u32)>,
    min_answer_ttl: Option<u32>,
    negative_ttl: Option<u32>,
}

impl Entry {
    /// Builds an entry from the upstream response `msg` to the question of
    /// `key`. TC=1 responses are the caller's business (retry over TCP).
    pub fn from_response(
        key: Key,
        msg: &[u8],
        limits: &TtlLimits,
        now: u32,
    ) -> Result<Entry, EntryError> {
        let hdr = crate::wire::Header::new_checked(msg).map_err(|_| EntryError::Malformed)?;
        if !hdr.qr() {
            return Err(EntryError::NotAResponse);
        }
        if hdr.qdcount() != 1 {
            return Err(EntryError::QuestionMismatch);
        }
        let mut qname = NameBuf::new();
        let q = Question::parse(msg, HEADER_LEN, HEADER_LEN, &mut qname)
            .map_err(|_| EntryError::Malformed)?;
        if qname.as_wire() != &key.name[..] || q.qtype != key.qtype || q.qclass != key.qclass {
            return Err(EntryError::QuestionMismatch);
        }
        let counts = [hdr.ancount(), hdr.nscount(), hdr.arcount()];
        let walk = walk_records(msg, q.end, counts).ok_or(EntryError::Malformed)?;
        let rc = u16::from(hdr.rcode());
        let ttl = match rc {
            rcode::NOERROR if walk.counts[0] > 0 => walk
                .min_answer_ttl
                .unwrap_or(0)
                .clamp(limits.min_ttl, limits.max_ttl.max(limits.min_ttl)),
            rcode::NOERROR | rcode::NXDOMAIN => walk
                .negative_ttl
                .map_or(0, |t| t.max(limits.min_ttl).min(limits.negative_max_ttl)),
            _ => limits.failure_ttl,
        };
        let stale_age = match rc {
            rcode::NOERROR | rcode::NXDOMAIN => limits.stale_max_age,
            _ => 0,
        };
        let clamp = |t: u32| t.clamp(limits.min_ttl, limits.max_ttl.max(limits.min_ttl));
        let hash = key.hash64();
        Ok(Entry {
            key,
            hash,
            rcode: rc,
            ad: hdr.flags() & flags::AD != 0,
            counts: walk.counts,
            qlen: (q.end - HEADER_LEN) as u16,
            body: msg[q.end..walk.body_end].into(),
            ttls: walk.ttls.into_iter().map(|(o, t)| (o, clamp(t))).collect(),
            stored: now,
            ttl,
            stale_age,
            referenced: AtomicBool::new(false),
            prefetching: AtomicBool::new(false),
            hits: AtomicU64::new(0),
            dead: AtomicBool::new(false),
        })
    }

    /// An empty answer with `rc` (e.g. SERVFAIL after every upstream failed),
    /// kept for `ttl` seconds and never served stale.
    pub fn failure(key: Key, rc: u16, ttl: u32, now: u32) -> Entry {
        let qlen = (key.name.len().min(MAX_NAME) + 4) as u16;
        let hash = key.hash64();
        Entry {
            key,
            hash,
            rcode: rc,
            ad: false,
            counts: [0; 3],
            qlen,
            body: Box::new([]),
            ttls: Box::new([]),
            stored: now,
            ttl,
            stale_age: 0,
            referenced: AtomicBool::new(false),
            prefetching: AtomicBool::new(false),
            hits: AtomicU64::new(0),
            dead: AtomicBool::new(false),
        }
    }

    /// Seconds of life left, `None` once expired.
    #[inline]
    pub fn remaining(&self, now: u32) -> Option<u32> {
        let end = self.stored.saturating_add(self.ttl);
        (now < end).then(|| end - now)
    }

    /// Whether an expired entry may still be served stale at `now`.
    pub fn stale_usable(&self, now: u32) -> bool {
        self.stale_age > 0
            && now
                < self
                    .stored
                    .saturating_add(self.ttl)
                    .saturating_add(self.stale_age)
    }

    /// Whether nothing may ever serve it again (not even stale).
    pub fn gone(&self, now: u32) -> bool {
        self.remaining(now).is_none() && !self.stale_usable(now)
    }

    /// Approximate memory held by this entry, in bytes.
    pub fn size(&self) -> usize {
        std::mem::size_of::<Entry>()
            + self.key.name.len()
            + self.body.len()
            + self.ttls.len() * std::mem::size_of::<(u16, u32)>()
    }

    /// Writes the reply to the query whose header and question are in
    /// `buf[..12 + question length]` (the question must be this entry's, as
    /// the client sent it). Returns the reply length; `None` if the
    /// question length differs or `buf` cannot even hold a truncated reply.
    /// A reply over `p.limit` is sent empty with TC=1.
    pub fn write_reply(&self, buf: &mut [u8], p: &ReplyParams) -> Option<usize> {
        let qend = HEADER_LEN + usize::from(self.qlen);
        let opt_len = if p.edns.is_some() { 11 } else { 0 };
        let limit = p.limit.min(buf.len());
        if qend + opt_len > limit {
            return None;
        }
        let fits = qend + self.body.len() + opt_len <= limit;
        let mut f = flags::QR | flags::RA | (p.query_flags & (flags::RD | flags::CD));
        f |= self.rcode & flags::RCODE_MASK;
        if self.ad {
            f |= flags::AD;
        }
        let (counts, mut pos) = if fits {
            let end = qend + self.body.len();
            buf.get_mut(qend..end)?.copy_from_slice(&self.body);
            self.patch_ttls(&mut buf[qend..end], p);
            (self.counts, end)
        } else {
            f |= flags::TC;
            ([0; 3], qend)
        };
        let head = buf.get_mut(..HEADER_LEN)?;
        head[0..2].copy_from_slice(&p.id.to_be_bytes());
        head[2..4].copy_from_slice(&f.to_be_bytes());
        head[4..6].copy_from_slice(&1u16.to_be_bytes());
        head[6..8].copy_from_slice(&counts[0].to_be_bytes());
        head[8..10].copy_from_slice(&counts[1].to_be_bytes());
        let ar = counts[2] + u16::from(p.edns.is_some());
        head[10..12].copy_from_slice(&ar.to_be_bytes());
        if let Some(e) = p.edns {
            pos += write_opt(buf.get_mut(pos..)?, p.max_udp, self.rcode, e.dnssec_ok)?;
        }
        Some(pos)
    }

    fn patch_ttls(&self, body: &mut [u8], p: &ReplyParams) {
        let elapsed = p.now.saturating_sub(self.stored);
        for &(off, ttl) in self.ttls.iter() {
            let out = match p.stale_ttl {
                Some(s) => s,
                None => ttl.min(self.ttl).saturating_sub(elapsed),
            };
            let off = usize::from(off);
            if let Some(field) = body.get_mut(off..off + 4) {
                field.copy_from_slice(&out.to_be_bytes());
            }
        }
    }

    /// The records' TTLs as a reply at `now` would carry them (API display).
    pub fn ttls_at(&self, now: u32) -> impl Iterator<Item = u32> + '_ {
        let elapsed = now.saturating_sub(self.stored);
        self.ttls
            .iter()
            .map(move |&(_, t)| t.min(self.ttl).saturating_sub(elapsed))
    }
}

/// Walks every record after the question; stops at the OPT record.
fn walk_records(msg: &[u8], start: usize, counts: [u16; 3]) -> Option<Walk> {
    let mut w = Walk {
        counts,
        body_end: msg.len(),
        ttls: Vec::new(),
        min_answer_ttl: None,
        negative_ttl: None,
    };
    let (an, ns) = (usize::from(counts[0]), usize::from(counts[1]));
    let total = an + ns + usize::from(counts[2]);
    let mut pos = start;
    let mut scratch = NameBuf::new();
    for i in 0..total {
        let after = read_name(msg, pos, HEADER_LEN, &mut scratch).ok()?;
        let ty = read_u16(msg, after)?;
        let ttl = read_u32(msg, after + 4)?;
        let rdlen = usize::from(read_u16(msg, after + 8)?);
        let rdata = msg.get(after + 10..after + 10 + rdlen)?;
        if ty == rtype::OPT {
            if i < an + ns {
                return None;
            }
            // The OPT and whatever follows it are dropped.
            w.counts[2] = (i - an - ns) as u16;
            w.body_end = pos;
            return Some(w);
        }
        // Keep the TTL's offset relative to the body (starts at `start`).
        w.ttls.push((u16::try_from(after + 4 - start).ok()?, ttl));
        if i < an {
            w.min_answer_ttl = Some(w.min_answer_ttl.map_or(ttl, |m| m.min(ttl)));
        } else if i < an + ns && ty == rtype::SOA && rdlen >= 4 {
            let minimum = read_u32(rdata, rdlen - 4)?;
            w.negative_ttl = Some(ttl.min(minimum));
        }
        pos = after + 10 + rdlen;
    }
    w.body_end = pos;
    Some(w)
}
