//! RRsets in wire-ready form: a typed view over the encoded bytes ([`RrSet`])
//! and the editable form used while building ([`RrData`]).
//!
//! Encoded layout (little endian):
//! `u32 len, u16 rtype, u8 kind, u8 flags, u32 ttl, u32 count, u16 fixed_size`,
//! then `count` u32 end offsets (unless every RDATA has the same size, flag
//! `FIXED`), then `count` u32 per-record TTLs (unless all equal the RRset TTL,
//! flag `UNIFORM_TTL`), then the RDATA bytes back to back.

use super::shard::{read_u16, read_u32};

/// Records as given by the control plane.
pub(crate) const KIND_EXPLICIT: u8 = 0;
/// PTR records generated from A/AAAA records (`auto_ptr`).
pub(crate) const KIND_AUTO_PTR: u8 = 1;
/// SOA/NS made up for a zone apex.
pub(crate) const KIND_SYNTHETIC: u8 = 2;
/// The answer of a name from the records at or below it (SkyDNS / CoreDNS subtree rule,
/// `snapshot::edit::subtree`): shown instead of the name's own records of that type. For
/// SRV the weights are normalised; NS at an apex comes from `ns.dns.<apex>`.
pub(crate) const KIND_SUBTREE: u8 = 3;
/// Records at or below a name unfiltered, never shown: what the parent's subtree answer is
/// composed from. Always there for SRV (raw weights); for other types only when the shown
/// answer is filtered by group (`edit::group`).
pub(crate) const KIND_SUBTREE_RAW: u8 = 4;
/// The `group` of a name's values (one item: the group's bytes, TTL 0; type
/// [`GROUP_RTYPE`]), never shown: what `edit::group` filters subtree answers by.
pub(crate) const KIND_GROUP: u8 = 6;
/// Set (one empty item, type [`GROUP_RTYPE`]) on a name with children when it or a name
/// below it has a group, never shown: its answers are filtered by group (`edit::group`).
pub(crate) const KIND_GROUPED: u8 = 7;
/// The record type of the [`KIND_GROUP`] and [`KIND_GROUPED`] sets (no real type).
pub(crate) const GROUP_RTYPE: u16 = 0;
/// SRV records given as written (zone files, [`crate::record::Record::as_written`]): shown
/// over a subtree answer, weights untouched; a parent's subtree answer composes them raw.
pub(crate) const KIND_VERBATIM: u8 = 5;

/// The kind of the RRset a given record goes into: SRV records served as written apart.
pub(crate) fn kind_of(r: &crate::record::Record) -> u8 {
    if r.as_written && r.data.rtype() == crate::record::rtype::SRV {
        KIND_VERBATIM
    } else {
        KIND_EXPLICIT
    }
}

/// True for the kinds holding records as given (not derived, not generated).
pub(crate) fn is_given(kind: u8) -> bool {
    kind == KIND_EXPLICIT || kind == KIND_VERBATIM
}

const FLAG_FIXED: u8 = 1;
const FLAG_UNIFORM_TTL: u8 = 2;
const HDR: usize = 18;

static EMPTY_RRSET: [u8; HDR] = [
    HDR as u8,
    0,
    0,
    0,
    0,
    0,
    KIND_SYNTHETIC,
    FLAG_FIXED | FLAG_UNIFORM_TTL,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
];

/// One RRset: all records of one type at one name, one TTL, wire RDATA.
#[derive(Clone, Copy)]
pub struct RrSet<'a> {
    b: &'a [u8],
}

impl std::fmt::Debug for RrSet<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RrSet")
            .field("rtype", &self.rtype())
            .field("ttl", &self.ttl())
            .field("rdata", &self.iter().collect::<Vec<_>>())
            .finish()
    }
}

impl<'a> RrSet<'a> {
    /// View over encoded bytes starting at an RRset header.
    #[inline]
    pub(crate) fn from_bytes(b: &'a [u8]) -> RrSet<'a> {
        RrSet { b }
    }

    /// An RRset with no records (type 0).
    pub fn empty() -> RrSet<'static> {
        RrSet { b: &EMPTY_RRSET }
    }

    /// Encoded length in bytes.
    #[inline]
    pub(crate) fn encoded_len(&self) -> usize {
        read_u32(self.b, 0) as usize
    }

    /// The record type.
    #[inline]
    pub fn rtype(&self) -> u16 {
        read_u16(self.b, 4)
    }

    #[inline]
    pub(crate) fn kind(&self) -> u8 {
        self.b.get(6).copied().unwrap_or(0)
    }

    #[inline]
    fn flags(&self) -> u8 {
        self.b.get(7).copied().unwrap_or(0)
    }

    /// The TTL of the RRset: the smallest TTL of its records.
    #[inline]
    pub fn ttl(&self) -> u32 {
        read_u32(self.b, 8)
    }

    /// Number of records.
    #[inline]
    pub fn len(&self) -> usize {
        read_u32(self.b, 12) as usize
    }

    /// True when there are no records.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    fn data_start(&self) -> usize {
        let n = self.len();
        let f = self.flags();
        let mut at = HDR;
        if f & FLAG_FIXED == 0 {
            at += 4 * n;
        }
        if f & FLAG_UNIFORM_TTL == 0 {
            at += 4 * n;
        }
        at
    }

    /// RDATA of record `i` (uncompressed wire, no RDLENGTH); empty if out of range.
    #[inline]
    pub fn rdata(&self, i: usize) -> &'a [u8] {
        if i >= self.len() {
            return &[];
        }
        let ds = self.data_start();
        let (start, end) = if self.flags() & FLAG_FIXED != 0 {
            let size = read_u16(self.b, 16) as usize;
            (i * size, (i + 1) * size)
        } else {
            let end = read_u32(self.b, HDR + 4 * i) as usize;
            let start = if i == 0 {
                0
            } else {
                read_u32(self.b, HDR + 4 * (i - 1)) as usize
            };
            (start, end)
        };
        self.b.get(ds + start..ds + end).unwrap_or(&[])
    }

    /// TTL of record `i` as given (the RRset TTL is the minimum of these).
    pub(crate) fn record_ttl(&self, i: usize) -> u32 {
        if self.flags() & FLAG_UNIFORM_TTL != 0 {
            return self.ttl();
        }
        let mut at = HDR;
        if self.flags() & FLAG_FIXED == 0 {
            at += 4 * self.len();
        }
        read_u32(self.b, at + 4 * i)
    }

    /// Every record's RDATA in order.
    #[inline]
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> {
        let s = *self;
        (0..s.len()).map(move |i| s.rdata(i))
    }
}

/// An RRset to encode, borrowing its records as `(ttl, rdata)` pairs.
#[derive(Clone, Copy)]
pub(crate) struct RrSlice<'x> {
    pub rtype: u16,
    pub kind: u8,
    pub items: &'x [(u32, &'x [u8])],
}

impl RrSlice<'_> {
    /// Appends the encoded form to `out`.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let items = self.items;
        let n = items.len();
        let ttl = items.iter().map(|i| i.0).min().unwrap_or(0);
        let first_len = items.first().map_or(0, |i| i.1.len());
        let fixed = first_len <= u16::MAX as usize && items.iter().all(|i| i.1.len() == first_len);
        let uniform = items.iter().all(|i| i.0 == ttl);
        let start = out.len();
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&self.rtype.to_le_bytes());
        out.push(self.kind);
        out.push(if fixed { FLAG_FIXED } else { 0 } | if uniform { FLAG_UNIFORM_TTL } else { 0 });
        out.extend_from_slice(&ttl.to_le_bytes());
        out.extend_from_slice(&(n as u32).to_le_bytes());
        out.extend_from_slice(&(if fixed { first_len as u16 } else { 0 }).to_le_bytes());
        if !fixed {
            let mut end = 0u32;
            for i in items {
                end += i.1.len() as u32;
                out.extend_from_slice(&end.to_le_bytes());
            }
        }
        if !uniform {
            for i in items {
                out.extend_from_slice(&i.0.to_le_bytes());
            }
        }
        for i in items {
            out.extend_from_slice(i.1);
        }
        let len = (out.len() - start) as u32;
        out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    }
}

/// One record in editable form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item {
    pub ttl: u32,
    pub rdata: Box<[u8]>,
}

/// One RRset in editable form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RrData {
    pub rtype: u16,
    pub kind: u8,
    pub items: Vec<Item>,
}

impl RrData {
    pub(crate) fn new(rtype: u16, kind: u8) -> RrData {
        RrData {
            rtype,
            kind,
            items: Vec::new(),
        }
    }

    /// Adds a record; an identical RDATA keeps the smaller TTL instead.
    pub(crate) fn add(&mut self, ttl: u32, rdata: &[u8]) {
        match self.items.iter_mut().find(|i| &*i.rdata == rdata) {
            Some(i) => i.ttl = i.ttl.min(ttl),
            None => self.items.push(Item {
                ttl,
                rdata: rdata.into(),
            }),
        }
    }

    /// Appends the encoded form to `out`.
    #[cfg(test)]
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let items: Vec<(u32, &[u8])> = self.items.iter().map(|i| (i.ttl, &*i.rdata)).collect();
        RrSlice {
            rtype: self.rtype,
            kind: self.kind,
            items: &items,
        }
        .encode(out);
    }

    /// The editable form of an encoded RRset.
    pub(crate) fn decode(rr: RrSet<'_>) -> RrData {
        RrData {
            rtype: rr.rtype(),
            kind: rr.kind(),
            items: (0..rr.len())
                .map(|i| Item {
                    ttl: rr.record_ttl(i),
                    rdata: rr.rdata(i).into(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(rr: &RrData) -> Vec<u8> {
        let mut out = Vec::new();
        rr.encode(&mut out);
        assert_eq!(RrSet::from_bytes(&out).encoded_len(), out.len());
        assert_eq!(&RrData::decode(RrSet::from_bytes(&out)), rr);
        out
    }

    #[test]
    fn fixed_size_uniform_ttl() {
        let mut rr = RrData::new(1, KIND_EXPLICIT);
        rr.add(60, &[10, 0, 0, 1]);
        rr.add(60, &[10, 0, 0, 2]);
        rr.add(90, &[10, 0, 0, 1]); // duplicate keeps the smaller TTL
        let out = roundtrip(&rr);
        let v = RrSet::from_bytes(&out);
        assert_eq!((v.rtype(), v.ttl(), v.len()), (1, 60, 2));
        assert_eq!(v.rdata(1), &[10, 0, 0, 2]);
        assert_eq!(v.rdata(2), &[] as &[u8]);
        assert_eq!(out.len(), HDR + 8);
    }

    #[test]
    fn variable_size_mixed_ttl() {
        let mut rr = RrData::new(16, KIND_EXPLICIT);
        rr.add(300, b"\x03abc");
        rr.add(20, b"\x01x\x02yz");
        rr.add(100, b"");
        let out = roundtrip(&rr);
        let v = RrSet::from_bytes(&out);
        assert_eq!(v.ttl(), 20);
        assert_eq!(
            v.iter().collect::<Vec<_>>(),
            vec![&b"\x03abc"[..], b"\x01x\x02yz", b""]
        );
        assert_eq!(v.record_ttl(0), 300);
        assert!(RrSet::empty().is_empty());
    }
}
