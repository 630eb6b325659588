//! Nodes: one owner name with its RRsets, policy and child bookkeeping.
//!
//! [`NodeRef`] is the zero-copy view the data plane reads; [`NodeData`] is the
//! editable form the builder decodes, changes and encodes again.
//!
//! Node entry body (after the shard entry header and key, little endian):
//! `u8 flags` (bit 0: owner case differs from the key, bits 1-2: policy),
//! the owner (key length bytes) when it differs, `u8 visible`, `u8 total`,
//! `u32 child_count`, `u16 child_chunks`, then `total` RRsets: the visible
//! ones first (answers), then hidden ones. Of the RRsets of one type the one of
//! the highest [`rank`] is shown: a subtree answer (it includes the name's own
//! records) over the explicit records over an auto-PTR or synthetic one (for
//! NS: explicit over the `ns.dns` subtree answer over synthetic); the others
//! are kept so they come back when the shown one goes.

use super::children::ChildIter;
use super::rrset::{
    RrData, RrSet, RrSlice, KIND_EXPLICIT, KIND_GROUP, KIND_GROUPED, KIND_SUBTREE,
    KIND_SUBTREE_RAW, KIND_VERBATIM,
};
use super::shard::{read_u16, read_u32, Table};
use crate::record::rtype;
use crate::record::Policy;

const FLAG_OWNER_DIFFERS: u8 = 1;

/// Which RRset of a type is shown (highest rank); rank 0 is never shown.
fn rank(kind: u8, rtype: u16) -> u8 {
    match kind {
        KIND_SUBTREE_RAW | KIND_GROUP | KIND_GROUPED => 0,
        KIND_VERBATIM => 5,
        KIND_SUBTREE if rtype != rtype::NS => 4,
        KIND_EXPLICIT => 3,
        KIND_SUBTREE => 2,
        _ => 1,
    }
}

/// True for the kinds derived from other names (recomputed, never given).
pub(crate) fn is_derived(kind: u8) -> bool {
    kind == KIND_SUBTREE || kind == KIND_SUBTREE_RAW || kind == KIND_GROUPED
}

fn policy_code(p: Policy) -> u8 {
    match p {
        Policy::All => 0,
        Policy::RandomOne => 1,
        Policy::HoneOne => 2,
    }
}

fn policy_from_code(c: u8) -> Policy {
    match c {
        1 => Policy::RandomOne,
        2 => Policy::HoneOne,
        _ => Policy::All,
    }
}

/// One name in the snapshot (possibly an empty non-terminal).
#[derive(Clone, Copy)]
pub struct NodeRef<'a> {
    shards: &'a Table,
    e: &'a [u8],
    /// Offset of the `visible` count byte.
    counts: u32,
}

impl std::fmt::Debug for NodeRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeRef")
            .field("owner", &crate::name::Name::from_wire(self.owner()))
            .field("rrsets", &self.rrsets().collect::<Vec<_>>())
            .finish()
    }
}

impl<'a> NodeRef<'a> {
    /// View over a node entry of `shards`.
    #[inline]
    pub(crate) fn new(shards: &'a Table, e: &'a [u8]) -> NodeRef<'a> {
        let klen = e.get(4).copied().unwrap_or(0) as usize;
        let flags = e.get(5 + klen).copied().unwrap_or(0);
        let mut counts = 6 + klen;
        if flags & FLAG_OWNER_DIFFERS != 0 {
            counts += klen;
        }
        NodeRef {
            shards,
            e,
            counts: counts as u32,
        }
    }

    /// The lowercased wire name (lookup key).
    #[inline]
    pub fn key(&self) -> &'a [u8] {
        super::shard::entry_key(self.e)
    }

    #[inline]
    fn flags(&self) -> u8 {
        let klen = self.key().len();
        self.e.get(5 + klen).copied().unwrap_or(0)
    }

    /// The owner name in wire form, in the case it was first given.
    #[inline]
    pub fn owner(&self) -> &'a [u8] {
        let klen = self.key().len();
        if self.flags() & FLAG_OWNER_DIFFERS != 0 {
            self.e.get(6 + klen..6 + 2 * klen).unwrap_or(&[])
        } else {
            self.key()
        }
    }

    /// The address-selection policy of this name.
    #[inline]
    pub fn policy(&self) -> Policy {
        policy_from_code((self.flags() >> 1) & 3)
    }

    #[inline]
    fn visible(&self) -> u8 {
        self.e.get(self.counts as usize).copied().unwrap_or(0)
    }

    #[inline]
    fn total(&self) -> u8 {
        self.e.get(self.counts as usize + 1).copied().unwrap_or(0)
    }

    /// Number of direct children.
    #[inline]
    pub(crate) fn child_count(&self) -> u32 {
        read_u32(self.e, self.counts as usize + 2)
    }

    #[inline]
    pub(crate) fn child_chunks(&self) -> u16 {
        read_u16(self.e, self.counts as usize + 6)
    }

    #[inline]
    fn first_rrset(&self) -> usize {
        self.counts as usize + 8
    }

    /// The answerable RRset of this type.
    #[inline]
    pub fn rrset(&self, rtype: u16) -> Option<RrSet<'a>> {
        self.rrsets().find(|r| r.rtype() == rtype)
    }

    /// Every answerable RRset.
    #[inline]
    pub fn rrsets(&self) -> RrSetIter<'a> {
        RrSetIter {
            rest: self.e.get(self.first_rrset()..).unwrap_or(&[]),
            left: self.visible(),
        }
    }

    /// Every RRset including hidden generated ones.
    pub(crate) fn all_rrsets(&self) -> RrSetIter<'a> {
        RrSetIter {
            rest: self.e.get(self.first_rrset()..).unwrap_or(&[]),
            left: self.total(),
        }
    }

    /// True for an empty non-terminal: no records of its own, only descendants (it may
    /// still show subtree answers made from theirs).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.all_rrsets().all(|r| is_derived(r.kind()))
    }

    /// True when no RRset at all is shown (not even a subtree answer).
    #[inline]
    pub fn shows_nothing(&self) -> bool {
        self.visible() == 0
    }

    /// Direct children, in an order stable within one snapshot.
    pub fn children(&self) -> ChildIter<'a> {
        ChildIter::new(self.shards, self.key(), self.child_chunks())
    }
}

/// Iterator over a node's RRsets.
pub struct RrSetIter<'a> {
    rest: &'a [u8],
    left: u8,
}

impl<'a> Iterator for RrSetIter<'a> {
    type Item = RrSet<'a>;
    #[inline]
    fn next(&mut self) -> Option<RrSet<'a>> {
        if self.left == 0 {
            return None;
        }
        let rr = RrSet::from_bytes(self.rest);
        let len = rr.encoded_len();
        if len == 0 || len > self.rest.len() {
            self.left = 0;
            return None;
        }
        self.left -= 1;
        self.rest = &self.rest[len..];
        Some(rr)
    }
}

/// Everything of a node but its RRsets, for encoding.
pub(crate) struct NodeHeader<'x> {
    pub key: &'x [u8],
    pub owner: &'x [u8],
    pub policy: Policy,
    pub child_count: u32,
    pub child_chunks: u16,
}

impl NodeHeader<'_> {
    /// Appends the node body (after the entry key): header, then the visible
    /// RRsets, then the hidden ones. Sorts `sets`; empty sets are dropped.
    pub(crate) fn encode(&self, sets: &mut [RrSlice<'_>], out: &mut Vec<u8>) {
        // Auto-PTR entries have an empty key and owner: not compared, since glibc's AVX-512
        // `memcmp` of 0 bytes at an empty slice's dangling address costs ≈ 190 ns (a masked
        // load's fault assist), 0.2 s of CPU over the 1.2 M auto-PTRs of a large zone.
        let differs =
            !self.key.is_empty() && self.owner.len() == self.key.len() && self.owner != self.key;
        out.push(if differs { FLAG_OWNER_DIFFERS } else { 0 } | policy_code(self.policy) << 1);
        if differs {
            out.extend_from_slice(self.owner);
        }
        sets.sort_by_key(|r| (r.rtype, r.kind));
        let best = |t: u16| {
            sets.iter()
                .filter(|r| r.rtype == t && !r.items.is_empty())
                .map(|r| rank(r.kind, t))
                .max()
                .unwrap_or(0)
        };
        let visible = |r: &RrSlice<'_>| {
            let k = rank(r.kind, r.rtype);
            k > 0 && k == best(r.rtype)
        };
        let n_visible = sets
            .iter()
            .filter(|r| !r.items.is_empty() && visible(r))
            .count();
        let n_total = sets.iter().filter(|r| !r.items.is_empty()).count();
        out.push(n_visible as u8);
        out.push(n_total as u8);
        out.extend_from_slice(&self.child_count.to_le_bytes());
        out.extend_from_slice(&self.child_chunks.to_le_bytes());
        for pass_visible in [true, false] {
            for r in sets.iter().filter(|r| !r.items.is_empty()) {
                if visible(r) == pass_visible {
                    r.encode(out);
                }
            }
        }
    }
}

/// A node in editable form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NodeData {
    pub owner: Box<[u8]>,
    pub rrsets: Vec<RrData>,
    pub child_count: u32,
    pub child_chunks: u16,
}

impl NodeData {
    pub(crate) fn new(owner: &[u8]) -> NodeData {
        NodeData {
            owner: owner.into(),
            rrsets: Vec::new(),
            child_count: 0,
            child_chunks: 0,
        }
    }

    /// True when the node has neither children nor RRsets of its own (it must go; subtree
    /// answers without a subtree do not keep it).
    pub(crate) fn is_dead(&self) -> bool {
        self.child_count == 0 && self.rrsets.iter().all(|r| is_derived(r.kind))
    }

    /// The RRset of this type and kind.
    pub(crate) fn rrset(&self, rtype: u16, kind: u8) -> Option<&RrData> {
        self.rrsets
            .iter()
            .find(|r| r.rtype == rtype && r.kind == kind)
    }

    /// The RRset of this type and kind.
    pub(crate) fn rrset_mut(&mut self, rtype: u16, kind: u8) -> Option<&mut RrData> {
        self.rrsets
            .iter_mut()
            .find(|r| r.rtype == rtype && r.kind == kind)
    }

    /// Appends the body of the entry (after the key) to `out`.
    pub(crate) fn encode_body(&self, key: &[u8], policy: Policy, out: &mut Vec<u8>) {
        let items: Vec<Vec<(u32, &[u8])>> = self
            .rrsets
            .iter()
            .map(|r| r.items.iter().map(|i| (i.ttl, &*i.rdata)).collect())
            .collect();
        let mut sets: Vec<RrSlice<'_>> = self
            .rrsets
            .iter()
            .zip(&items)
            .map(|(r, items)| RrSlice {
                rtype: r.rtype,
                kind: r.kind,
                items,
            })
            .collect();
        let header = NodeHeader {
            key,
            owner: &self.owner,
            policy,
            child_count: self.child_count,
            child_chunks: self.child_chunks,
        };
        header.encode(&mut sets, out);
    }

    /// The editable form of an encoded node.
    pub(crate) fn decode(n: NodeRef<'_>) -> NodeData {
        NodeData {
            owner: n.owner().into(),
            rrsets: n.all_rrsets().map(RrData::decode).collect(),
            child_count: n.child_count(),
            child_chunks: n.child_chunks(),
        }
    }
}
