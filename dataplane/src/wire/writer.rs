//! The response, built in place over the query's buffer.
//!
//! A [`Response`] keeps the header and question already in the buffer
//! (QNAME case preserved, as RFC 5452 / "0x20" clients expect), rewrites the
//! header flags and appends records section by section. Owner names are
//! written as compression pointers to a known position when there is one;
//! names inside CNAME/NS/PTR/MX/SOA RDATA go through a small
//! [`Compressor`]; SRV targets are written uncompressed (RFC 2782). A record
//! with a pointer owner and no name in its RDATA (A, AAAA, SRV, TXT, ...) is
//! written as one rendered 12-byte head and the RDATA, after one size check.
//!
//! Size limit: every record must fit below `limit` minus the space reserved
//! for the final OPT. [`Response::push`] never leaves a partial record; the
//! engine uses [`Response::mark`]/[`Response::rollback`] to drop partial
//! RRsets and sets TC itself (answer/authority) or simply omits the record
//! (additional).

use super::compress::{pointer, Compressor, MAX_POINTER};
use super::edns::{write_opt_nsid, OPTION_HEADER_LEN, OPT_LEN};
use super::header::{flags, HEADER_LEN};
use super::{class, Header};
use crate::record::rtype;

/// Where an owner name can be found or how it reads.
#[derive(Debug, Clone, Copy)]
pub struct Owner<'n> {
    /// Uncompressed wire name (any case).
    pub name: &'n [u8],
    /// Offset in the message where this name is already written, if any.
    pub at: Option<usize>,
}

/// Message sections records are appended to, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    Answer = 0,
    Authority = 1,
    Additional = 2,
}

/// Why a record was not written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// The record does not fit under the size limit.
    #[error("no space left under the response size limit")]
    NoSpace,
    /// The section count would overflow 16 bits.
    #[error("too many records")]
    TooMany,
}

/// A snapshot of the writer's progress, to undo partial RRsets.
#[derive(Debug, Clone, Copy)]
pub struct Mark {
    len: usize,
    counts: [u16; 3],
    names: usize,
}

/// A response being written into a buffer that holds the query.
pub struct Response<'a> {
    buf: &'a mut [u8],
    len: usize,
    /// Largest message size allowed (OPT included).
    limit: usize,
    /// Bytes kept free at the end for the OPT record.
    reserved: usize,
    counts: [u16; 3],
    rcode: u16,
    names: Compressor,
    qname_remembered: bool,
}

impl<'a> Response<'a> {
    /// Starts a response over `buf`, keeping `buf[..keep]` (the header and,
    /// when `keep > 12`, the single question). Sets QR, keeps ID, opcode, RD
    /// and CD (copied as BIND, Knot and NSD do), clears every other flag, the
    /// rcode and the counts.
    ///
    /// Returns `None` when `buf` cannot even hold a header or `keep`.
    pub fn start(buf: &'a mut [u8], keep: usize, limit: usize) -> Option<Response<'a>> {
        let keep = keep.max(HEADER_LEN);
        if buf.len() < keep {
            return None;
        }
        let limit = limit.min(buf.len()).max(keep);
        let mut h = Header::new_checked(&mut buf[..]).ok()?;
        let f = h.flags() & (flags::OPCODE_MASK | flags::RD | flags::CD);
        h.set_flags(f | flags::QR);
        h.set_qdcount(u16::from(keep > HEADER_LEN));
        h.set_ancount(0);
        h.set_nscount(0);
        h.set_arcount(0);
        Some(Response {
            buf,
            len: keep,
            limit,
            reserved: 0,
            counts: [0; 3],
            rcode: 0,
            names: Compressor::new(),
            qname_remembered: keep == HEADER_LEN,
        })
    }

    /// Keeps room for an OPT record at the end. Returns false (and reserves
    /// nothing) when there is not enough room left.
    pub fn reserve_opt(&mut self) -> bool {
        if self.len + OPT_LEN <= self.limit {
            self.reserved = OPT_LEN;
            true
        } else {
            false
        }
    }

    /// Keeps room for an NSID option of `len` bytes in the reserved OPT
    /// (after [`Response::reserve_opt`]). Returns false (and reserves
    /// nothing) without an OPT or when it does not fit.
    pub fn reserve_nsid(&mut self, len: usize) -> bool {
        let more = OPTION_HEADER_LEN + len;
        if self.reserved == OPT_LEN && self.len + self.reserved + more <= self.limit {
            self.reserved += more;
            true
        } else {
            false
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The message written so far.
    pub fn message(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    /// Records in `section` so far.
    pub fn count(&self, section: Section) -> u16 {
        self.counts[section as usize]
    }

    pub fn set_flag(&mut self, bits: u16, on: bool) {
        if let Ok(mut h) = Header::new_checked(&mut self.buf[..]) {
            h.set_flag(bits, on);
        }
    }

    /// Sets the (up to 12-bit) rcode; the upper bits go into the OPT.
    pub fn set_rcode(&mut self, rcode: u16) {
        self.rcode = rcode;
        if let Ok(mut h) = Header::new_checked(&mut self.buf[..]) {
            h.set_rcode((rcode & 0xf) as u8);
        }
    }

    pub fn rcode(&self) -> u16 {
        self.rcode
    }

    pub fn mark(&self) -> Mark {
        Mark {
            len: self.len,
            counts: self.counts,
            names: self.names.len(),
        }
    }

    /// Undoes everything written since `mark`.
    pub fn rollback(&mut self, mark: Mark) {
        self.len = mark.len;
        self.counts = mark.counts;
        self.names.truncate(mark.names);
    }

    /// Appends one record (class IN) to `section`. Returns the offset of its
    /// RDATA. On error nothing is written.
    pub fn push(
        &mut self,
        section: Section,
        owner: Owner<'_>,
        rr_type: u16,
        ttl: u32,
        rdata: &[u8],
    ) -> Result<usize, WriteError> {
        debug_assert!(self.counts[section as usize + 1..].iter().all(|&c| c == 0));
        if self.counts[section as usize] == u16::MAX {
            return Err(WriteError::TooMany);
        }
        if let (Some(at), false) = (owner.at, has_rdata_names(rr_type)) {
            if at <= MAX_POINTER {
                let rdata_at =
                    self.put_fixed(&record_head(at, rr_type, ttl, rdata.len())?, rdata)?;
                self.counts[section as usize] += 1;
                return Ok(rdata_at);
            }
        }
        let mark = self.mark();
        let r = self.push_inner(owner, rr_type, ttl, rdata);
        match r {
            Ok(at) => {
                self.counts[section as usize] += 1;
                Ok(at)
            }
            Err(e) => {
                self.rollback(mark);
                Err(e)
            }
        }
    }

    /// Appends one record rendered in advance (`rr`: owner, type, class, TTL, RDLENGTH and
    /// RDATA) to `section`, with a compression pointer to `target` written over the two
    /// bytes at each offset of `pointers` within `rr`. Returns the record's offset. On
    /// error (no room, `target` beyond [`MAX_POINTER`]) nothing is written. Its names are
    /// not remembered for later compression.
    pub fn push_rendered(
        &mut self,
        section: Section,
        rr: &[u8],
        pointers: &[u16],
        target: usize,
    ) -> Result<usize, WriteError> {
        debug_assert!(self.counts[section as usize + 1..].iter().all(|&c| c == 0));
        if self.counts[section as usize] == u16::MAX || target > MAX_POINTER {
            return Err(WriteError::TooMany);
        }
        let at = self.len;
        self.put(rr)?;
        let target = pointer(target);
        for &p in pointers {
            let p = at + usize::from(p);
            if let Some(dst) = self.buf.get_mut(p..p + 2) {
                dst.copy_from_slice(&target);
            }
        }
        self.counts[section as usize] += 1;
        Ok(at)
    }

    fn push_inner(
        &mut self,
        owner: Owner<'_>,
        rr_type: u16,
        ttl: u32,
        rdata: &[u8],
    ) -> Result<usize, WriteError> {
        match owner.at {
            Some(at) if at <= MAX_POINTER => self.put(&pointer(at))?,
            _ => self.put_name(owner.name)?,
        }
        self.put(&rr_type.to_be_bytes())?;
        self.put(&class::IN.to_be_bytes())?;
        self.put(&ttl.to_be_bytes())?;
        let rdlen_at = self.len;
        self.put(&[0, 0])?;
        let rdata_at = self.len;
        match rr_type {
            rtype::CNAME | rtype::NS | rtype::PTR => self.put_names(rdata, 0, 1)?,
            rtype::MX => self.put_names(rdata, 2, 1)?,
            rtype::SOA => self.put_names(rdata, 0, 2)?,
            _ => self.put(rdata)?,
        }
        let rdlen = u16::try_from(self.len - rdata_at).map_err(|_| WriteError::NoSpace)?;
        if let Some(dst) = self.buf.get_mut(rdlen_at..rdlen_at + 2) {
            dst.copy_from_slice(&rdlen.to_be_bytes());
        }
        Ok(rdata_at)
    }

    /// Writes `rdata` whose bytes from `skip` start with `names` uncompressed
    /// names, compressing those names. Malformed RDATA is copied as is.
    fn put_names(&mut self, rdata: &[u8], skip: usize, names: usize) -> Result<(), WriteError> {
        let (Some(head), Some(mut rest)) = (rdata.get(..skip), rdata.get(skip..)) else {
            return self.put(rdata);
        };
        // Check every name is well formed before writing anything.
        let mut probe = rest;
        for _ in 0..names {
            match wire_name_len(probe).and_then(|n| probe.get(n..)) {
                Some(tail) => probe = tail,
                None => return self.put(rdata),
            }
        }
        self.put(head)?;
        for _ in 0..names {
            let n = wire_name_len(rest).unwrap_or(rest.len());
            let (name, tail) = rest.split_at(n.min(rest.len()));
            self.put_name(name)?;
            rest = tail;
        }
        self.put(rest)
    }

    /// Writes an uncompressed wire name, compressed against earlier names,
    /// and remembers its new labels.
    fn put_name(&mut self, name: &[u8]) -> Result<(), WriteError> {
        if !self.qname_remembered {
            self.qname_remembered = true;
            let qname_len = wire_name_len(self.buf.get(HEADER_LEN..).unwrap_or(&[])).unwrap_or(0);
            if let Some(q) = self.buf.get(HEADER_LEN..HEADER_LEN + qname_len) {
                self.names.remember(HEADER_LEN, q, qname_len);
            }
        }
        let (literal_len, suffix_at) = self.names.find(self.buf, name);
        let at = self.len;
        let literal = name.get(..literal_len).unwrap_or(name);
        self.put(literal)?;
        if let Some(p) = suffix_at {
            self.put(&pointer(usize::from(p)))?;
        }
        self.names.remember(at, literal, name.len());
        Ok(())
    }

    /// Writes a record's fixed part `head` and its `rdata` after one size check (all or
    /// nothing); returns the offset of the RDATA.
    #[inline]
    fn put_fixed(
        &mut self,
        head: &[u8; RECORD_HEAD_LEN],
        rdata: &[u8],
    ) -> Result<usize, WriteError> {
        let rdata_at = self.len + RECORD_HEAD_LEN;
        let end = rdata_at + rdata.len();
        if end + self.reserved > self.limit {
            return Err(WriteError::NoSpace);
        }
        let dst = self.buf.get_mut(self.len..end).ok_or(WriteError::NoSpace)?;
        let (h, d) = dst.split_at_mut(RECORD_HEAD_LEN);
        h.copy_from_slice(head);
        d.copy_from_slice(rdata);
        self.len = end;
        Ok(rdata_at)
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), WriteError> {
        let end = self.len + bytes.len();
        if end + self.reserved > self.limit {
            return Err(WriteError::NoSpace);
        }
        let dst = self.buf.get_mut(self.len..end).ok_or(WriteError::NoSpace)?;
        dst.copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    /// Writes the counts and, with `opt = Some((udp_size, dnssec_ok))`, the
    /// OPT record (version 0, extended rcode from [`Response::set_rcode`]).
    /// Returns the message length.
    pub fn finish(self, opt: Option<(u16, bool)>) -> usize {
        self.finish_with_nsid(opt, &[])
    }

    /// [`Response::finish`] with an NSID option carrying `nsid` in the OPT
    /// when it is not empty and [`Response::reserve_nsid`] kept room for it.
    pub fn finish_with_nsid(mut self, opt: Option<(u16, bool)>, nsid: &[u8]) -> usize {
        let nsid = if self.reserved == OPT_LEN + OPTION_HEADER_LEN + nsid.len() {
            nsid
        } else {
            &[]
        };
        if let (Some((udp_size, dnssec_ok)), true) = (opt, self.reserved > 0) {
            if let Some(dst) = self.buf.get_mut(self.len..) {
                if let Some(n) = write_opt_nsid(dst, udp_size, self.rcode, dnssec_ok, nsid) {
                    self.len += n;
                    self.counts[Section::Additional as usize] =
                        self.counts[Section::Additional as usize].saturating_add(1);
                }
            }
        }
        let [an, ns, ar] = self.counts;
        if let Ok(mut h) = Header::new_checked(&mut self.buf[..]) {
            h.set_ancount(an);
            h.set_nscount(ns);
            h.set_arcount(ar);
        }
        self.len
    }
}

/// Bytes of a record before its RDATA when its owner is a compression pointer: pointer,
/// TYPE, CLASS, TTL, RDLENGTH.
pub const RECORD_HEAD_LEN: usize = 12;

/// True for the types whose RDATA starts with names [`Response::push`] compresses.
#[inline]
fn has_rdata_names(rr_type: u16) -> bool {
    matches!(
        rr_type,
        rtype::CNAME | rtype::NS | rtype::PTR | rtype::MX | rtype::SOA
    )
}

/// The fixed part of a record (class IN) whose owner is a pointer to `owner_at`
/// (`<=` [`MAX_POINTER`]), rendered in one piece: the types without names in their RDATA
/// are written as this head and a copy of the RDATA, with one size check.
#[inline]
fn record_head(
    owner_at: usize,
    rr_type: u16,
    ttl: u32,
    rdlen: usize,
) -> Result<[u8; RECORD_HEAD_LEN], WriteError> {
    let rdlen = u16::try_from(rdlen).map_err(|_| WriteError::NoSpace)?;
    let mut h = [0u8; RECORD_HEAD_LEN];
    h[..2].copy_from_slice(&pointer(owner_at));
    h[2..4].copy_from_slice(&rr_type.to_be_bytes());
    h[4..6].copy_from_slice(&class::IN.to_be_bytes());
    h[6..10].copy_from_slice(&ttl.to_be_bytes());
    h[10..12].copy_from_slice(&rdlen.to_be_bytes());
    Ok(h)
}

/// Length of the uncompressed wire name at the start of `wire` (root label
/// included), or `None` when it is not a well-formed uncompressed name.
pub fn wire_name_len(wire: &[u8]) -> Option<usize> {
    let mut i = 0;
    loop {
        let l = *wire.get(i)?;
        if l == 0 {
            return if i < crate::name::MAX_NAME_LEN {
                Some(i + 1)
            } else {
                None
            };
        }
        if l & 0xc0 != 0 {
            return None;
        }
        i += 1 + l as usize;
    }
}

#[cfg(test)]
mod tests;
