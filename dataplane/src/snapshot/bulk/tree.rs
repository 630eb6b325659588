//! The tree side of a bulk build: child-to-parent links ([`Edge`]), the child lists of
//! every parent and the empty non-terminals found while linking ([`Tree`]), and the child
//! chunks encoded from those lists.

use super::{chunks_for, slice, Span, NO_CHILDREN};
use crate::snapshot::children::{chunk_key, chunk_of};
use crate::snapshot::hash::key_hash;
use crate::snapshot::shard::{begin_entry, end_entry, shard_of, SHARD_COUNT};
use crate::snapshot::zone::ZoneRules;
use rustc_hash::FxHashMap;

/// A child-to-parent link waiting to be recorded in the parent's shard.
pub(super) struct Edge<'x> {
    /// Hash of the parent key.
    pub(super) hash: u64,
    pub(super) child: &'x [u8],
    pub(super) owner: &'x [u8],
    /// Offset of the parent within `child`.
    pub(super) p: usize,
}

/// (parent offset, parent hash) of a key linked to its parent, else (0, 0).
pub(super) fn parent_link(rules: &ZoneRules, key: &[u8]) -> (u8, u64) {
    match rules.parent_offset(key) {
        Some(p) => (p as u8, key_hash(&key[p..])),
        None => (0, 0),
    }
}

pub(super) fn push_edge<'x>(
    edges: &mut [Vec<Edge<'x>>],
    child: &'x [u8],
    owner: &'x [u8],
    p: u8,
    hash: u64,
) {
    if p > 0 {
        edges[shard_of(hash)].push(Edge {
            hash,
            child,
            owner,
            p: p as usize,
        });
    }
}

/// An empty non-terminal: (key, owner, child list index).
pub(super) type Ent<'x> = (&'x [u8], &'x [u8], usize);

/// Child lists and empty non-terminals found while linking nodes to parents.
pub(super) struct Tree<'x> {
    /// (parent key, child labels).
    pub(super) lists: Vec<(&'x [u8], Vec<&'x [u8]>)>,
    /// Per shard: (key, owner, list index) of each empty non-terminal.
    pub(super) ents: Vec<Vec<Ent<'x>>>,
    /// Per shard: empty non-terminal key hash -> list index.
    pub(super) ent_by_hash: Vec<FxHashMap<u64, usize>>,
    /// Per shard: the rare empty non-terminals whose hash collided.
    pub(super) ent_by_key: Vec<FxHashMap<&'x [u8], usize>>,
}

impl<'x> Tree<'x> {
    pub(super) fn new() -> Self {
        Tree {
            lists: Vec::new(),
            ents: (0..SHARD_COUNT).map(|_| Vec::new()).collect(),
            ent_by_hash: (0..SHARD_COUNT).map(|_| FxHashMap::default()).collect(),
            ent_by_key: (0..SHARD_COUNT).map(|_| FxHashMap::default()).collect(),
        }
    }

    /// Appends every parent's child chunks to the encoded shards `out`.
    pub(super) fn encode_chunks(&self, out: &mut [Vec<u8>]) {
        for (parent, labels) in &self.lists {
            let chunks = chunks_for(labels.len());
            let each = labels.len() / chunks as usize;
            let mut parts: Vec<Vec<&[u8]>> = (0..chunks)
                .map(|_| Vec::with_capacity(each + each / 4 + 4))
                .collect();
            for l in labels {
                parts[chunk_of(l, chunks) as usize].push(l);
            }
            for (c, part) in parts.iter().enumerate().filter(|(_, p)| !p.is_empty()) {
                let ck = chunk_key(parent, c as u16);
                let buf = &mut out[shard_of(key_hash(&ck))];
                let start = begin_entry(buf, &ck);
                buf.extend_from_slice(&(part.len() as u32).to_le_bytes());
                for l in part {
                    buf.push(l.len() as u8);
                    buf.extend_from_slice(l);
                }
                end_entry(buf, start);
            }
        }
    }

    pub(super) fn count(&self, idx: u32) -> usize {
        self.lists.get(idx as usize).map_or(0, |l| l.1.len())
    }

    /// The child list of `parent` (in shard `s`), and whether `parent` is a
    /// new empty non-terminal.
    pub(super) fn parent_list(
        &mut self,
        arena: &[u8],
        spans: &mut [Span],
        s: usize,
        hash: u64,
        parent: &'x [u8],
    ) -> (usize, bool) {
        let found = spans.binary_search_by(|sp| {
            sp.hash
                .cmp(&hash)
                .then_with(|| slice(arena, sp.key, sp.klen as usize).cmp(parent))
        });
        if let Ok(i) = found {
            if spans[i].children == NO_CHILDREN {
                spans[i].children = self.lists.len() as u32;
                self.lists.push((parent, Vec::new()));
            }
            return (spans[i].children as usize, false);
        }
        let idx = self.lists.len();
        match self.ent_by_hash[s].get(&hash) {
            Some(&i) if self.lists[i].0 == parent => return (i, false),
            Some(_) => {
                if let Some(&i) = self.ent_by_key[s].get(parent) {
                    return (i, false);
                }
                self.ent_by_key[s].insert(parent, idx);
            }
            None => {
                self.ent_by_hash[s].insert(hash, idx);
            }
        }
        self.lists.push((parent, Vec::new()));
        (idx, true)
    }
}

/// Keys back to back in one buffer, with the end of each: no allocation per key (boxed keys
/// made at the end of a build sat above its freed temporaries on the heap and kept them
/// resident: ≈ 175 B/record more RSS after a 1 M build).
#[derive(Default)]
pub(crate) struct Parents {
    bytes: Vec<u8>,
    ends: Vec<u32>,
}

impl Parents {
    pub(crate) fn push(&mut self, key: &[u8]) {
        self.bytes.extend_from_slice(key);
        self.ends.push(self.bytes.len() as u32);
    }

    /// Every key, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(&self.ends)
            .map(|(a, &b)| &self.bytes[a as usize..b as usize])
    }
}
