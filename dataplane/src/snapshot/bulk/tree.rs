//! The tree side of a bulk build: child-to-parent links ([`Edge`]), the child lists of
//! every parent and the empty non-terminals found while linking ([`Tree`]), and the child
//! chunks encoded from those lists.

use super::{chunks_for, slice, touch, Span, NO_CHILDREN, TOUCH_WINDOW};
use crate::snapshot::children::{chunk_key, chunk_of};
use crate::snapshot::hash::key_hash;
use crate::snapshot::shard::{begin_entry, end_entry, shard_of, SHARD_COUNT};
use crate::snapshot::zone::ZoneRules;
use rustc_hash::FxHashMap;

/// A child-to-parent link waiting to be recorded in the parent's shard: the child's key
/// and owner as offsets into the build arena (24 bytes: a million-name zone links a million
/// children to one parent).
pub(super) struct Edge {
    /// Hash of the parent key.
    pub(super) hash: u64,
    /// Offsets of the child's key and owner (`klen` bytes each) in the arena.
    pub(super) child: u32,
    pub(super) owner: u32,
    pub(super) klen: u8,
    /// Offset of the parent within the child's key.
    pub(super) p: u8,
}

/// (parent offset, parent hash) of a key linked to its parent, else (0, 0).
pub(super) fn parent_link(rules: &ZoneRules, key: &[u8]) -> (u8, u64) {
    match rules.parent_offset(key) {
        Some(p) => (p as u8, key_hash(&key[p..])),
        None => (0, 0),
    }
}

/// Queues the link of the child at `child` / `owner` (`klen` bytes) to its parent, when
/// it has one (`p > 0`).
pub(super) fn push_edge(
    edges: &mut [Vec<Edge>],
    child: u32,
    owner: u32,
    klen: u8,
    p: u8,
    hash: u64,
) {
    if p > 0 {
        edges[shard_of(hash)].push(Edge {
            hash,
            child,
            owner,
            klen,
            p,
        });
    }
}

/// An empty non-terminal: (key, owner, child list index).
pub(super) type Ent<'x> = (&'x [u8], &'x [u8], usize);

/// Child lists and empty non-terminals found while linking nodes to parents.
pub(super) struct Tree<'x> {
    /// The build arena the child keys are in.
    arena: &'x [u8],
    /// (parent key, arena offsets of the children's keys: 4 bytes a child).
    pub(super) lists: Vec<(&'x [u8], Vec<u32>)>,
    /// Per shard: (key, owner, list index) of each empty non-terminal.
    pub(super) ents: Vec<Vec<Ent<'x>>>,
    /// Per shard: empty non-terminal key hash -> list index.
    pub(super) ent_by_hash: Vec<FxHashMap<u64, usize>>,
    /// Per shard: the rare empty non-terminals whose hash collided.
    pub(super) ent_by_key: Vec<FxHashMap<&'x [u8], usize>>,
    /// Per shard: the child chunks whose keys fall in it ([`Tree::split_chunks`]), in
    /// parent and chunk order.
    parts: Vec<Vec<ChunkPart>>,
    /// Per shard: bytes of its chunk entries.
    chunk_bytes: Vec<usize>,
}

/// One child chunk to encode: its key and children (arena offsets of their keys).
struct ChunkPart {
    key: Vec<u8>,
    labels: Vec<u32>,
}

impl<'x> Tree<'x> {
    pub(super) fn new(arena: &'x [u8]) -> Self {
        Tree {
            arena,
            lists: Vec::new(),
            ents: (0..SHARD_COUNT).map(|_| Vec::new()).collect(),
            ent_by_hash: (0..SHARD_COUNT).map(|_| FxHashMap::default()).collect(),
            ent_by_key: (0..SHARD_COUNT).map(|_| FxHashMap::default()).collect(),
            parts: (0..SHARD_COUNT).map(|_| Vec::new()).collect(),
            chunk_bytes: vec![0; SHARD_COUNT],
        }
    }

    /// Splits every parent's children into its child chunks (by label hash, as the
    /// editor does) and files each chunk under the shard its key falls in, for
    /// [`Tree::encode_chunks`].
    pub(super) fn split_chunks(&mut self) {
        let arena = self.arena;
        for (parent, children) in &self.lists {
            let chunks = chunks_for(children.len());
            let each = children.len() / chunks as usize;
            let mut split: Vec<Vec<u32>> = (0..chunks)
                .map(|_| Vec::with_capacity(each + each / 4 + 4))
                .collect();
            for window in children.chunks(TOUCH_WINDOW) {
                touch(arena, window.iter().copied());
                for &c in window {
                    split[chunk_of(label(arena, c), chunks) as usize].push(c);
                }
            }
            for (c, labels) in split.into_iter().enumerate() {
                if labels.is_empty() {
                    continue;
                }
                let key = chunk_key(parent, c as u16);
                let shard = shard_of(key_hash(&key));
                let bytes = labels
                    .iter()
                    .map(|&l| 1 + label(arena, l).len())
                    .sum::<usize>();
                self.chunk_bytes[shard] += 4 + 1 + key.len() + 4 + bytes;
                self.parts[shard].push(ChunkPart { key, labels });
            }
        }
    }

    /// Bytes of the chunk entries [`Tree::encode_chunks`] writes for shard `s`.
    pub(super) fn chunk_bytes(&self, s: usize) -> usize {
        self.chunk_bytes.get(s).copied().unwrap_or(0)
    }

    /// Appends the child chunks whose keys fall in shard `s` to its entries `buf`.
    pub(super) fn encode_chunks(&self, s: usize, buf: &mut Vec<u8>) {
        for part in self.parts.get(s).map_or(&[][..], |p| p.as_slice()) {
            let start = begin_entry(buf, &part.key);
            buf.extend_from_slice(&(part.labels.len() as u32).to_le_bytes());
            for &l in &part.labels {
                let l = label(self.arena, l);
                buf.push(l.len() as u8);
                buf.extend_from_slice(l);
            }
            end_entry(buf, start);
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

/// The first label of the key at `off` in the build `arena`.
fn label(arena: &[u8], off: u32) -> &[u8] {
    let o = off as usize;
    let n = usize::from(arena.get(o).copied().unwrap_or(0));
    arena.get(o + 1..o + 1 + n).unwrap_or(&[])
}
