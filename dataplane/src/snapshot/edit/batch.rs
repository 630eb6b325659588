//! Batched reads of a node's children for the subtree pass.
//!
//! A name's subtree answer reads every child (`edit::subtree`); read one after the other,
//! each lookup waits on its own cache misses (the index slot, then the entry), and at a
//! million names those misses were most of the pass. Here the child keys of a parent are made
//! first, then the slot and entry of each lookup of a window of 64 are touched in one short
//! loop, so that their misses overlap, and only then are those nodes looked up and read (now
//! from the cache). A parent with very many children (a zone apex over a million names)
//! has them read on several threads. The
//! result is the same as looking each child up with `Editor::peek`.

use super::subtree::{add_below_all, Bounded};
use super::{Editor, View};
use crate::snapshot::hash::key_hash;
use crate::snapshot::parallel::{parallel_parts, thread_count};
use crate::snapshot::shard::shard_of;

/// Children from which a parent's children are read in a batch (fewer: one by one).
const BATCH_FROM: usize = 8;

/// Children touched ahead of their reads at a time (their slots and entries stay cached).
const WINDOW: usize = 64;

/// Children from which one parent's are read on several threads.
const PARALLEL_CHILDREN: usize = 1 << 16;

/// The child keys of one parent back to back in `bytes`; per child: (hash, start, end).
pub(super) struct ChildKeys {
    bytes: Vec<u8>,
    keys: Vec<(u64, usize, usize)>,
}

impl Editor<'_> {
    /// The keys of `parent`'s children (`chunks` chunks) that compose its subtree answer:
    /// label `*` (a wildcard stands for names that do not exist) and names over the length
    /// limit are left out.
    pub(super) fn child_keys(&self, parent: &[u8], chunks: u16) -> ChildKeys {
        let mut bytes: Vec<u8> = Vec::new();
        let mut keys: Vec<(u64, usize, usize)> = Vec::new();
        self.each_child(parent, chunks, |label| {
            if 1 + label.len() + parent.len() > crate::name::MAX_NAME_LEN || *label == *b"*" {
                return;
            }
            let start = bytes.len();
            bytes.push(label.len() as u8);
            bytes.extend_from_slice(label);
            bytes.extend_from_slice(parent);
            keys.push((key_hash(&bytes[start..]), start, bytes.len()));
        });
        ChildKeys { bytes, keys }
    }

    /// Calls `f` with the node of each key of `keys` (into `bytes`) that has one.
    pub(super) fn views_of<'s>(
        &'s self,
        bytes: &[u8],
        keys: &[(u64, usize, usize)],
        mut f: impl FnMut(View<'s>),
    ) {
        // One window at a time: a million children touched in one go would have evicted the
        // first ones again before they were read.
        for window in keys.chunks(WINDOW) {
            if keys.len() >= BATCH_FROM {
                // Touch every lookup's slot and entry first (a dirty child's base entry too:
                // harmless); the loads are independent, so the CPU overlaps their misses.
                let mut sink = 0u64;
                for &(h, _, _) in window {
                    if let Some(s) = self.base.get(shard_of(h)) {
                        sink ^= s.touch(h);
                    }
                }
                std::hint::black_box(sink);
            }
            for &(h, a, b) in window {
                if let Some(v) = self.peek_hashed(&bytes[a..b], h) {
                    f(v);
                }
            }
        }
    }

    /// Adds at-or-below of every child of `parent` (`chunks` chunks) to `sets` (the types
    /// `wanted`); per type, whether a child held records; and whether a child is grouped.
    /// A parent of [`PARALLEL_CHILDREN`] children or more (a zone apex over a million
    /// names) reads them on several threads, each into its own sets, merged at the end: a
    /// bounded set of a union is the bounded set of the parts' bounded sets.
    pub(super) fn children_sets(
        &self,
        parent: &[u8],
        chunks: u16,
        sets: &mut [Bounded; 5],
        wanted: impl Fn(u16) -> bool + Sync,
    ) -> ([bool; 5], bool) {
        let ck = self.child_keys(parent, chunks);
        let read = |keys: &[(u64, usize, usize)], sets: &mut [Bounded; 5]| {
            let mut below = [false; 5];
            let mut grouped = false;
            self.views_of(&ck.bytes, keys, |child| {
                let (from_child, child_grouped) = add_below_all(&child, sets, &wanted);
                grouped |= child_grouped;
                for (b, c) in below.iter_mut().zip(from_child) {
                    *b |= c;
                }
            });
            (below, grouped)
        };
        if ck.keys.len() < PARALLEL_CHILDREN || thread_count() == 1 {
            return read(&ck.keys, sets);
        }
        let parts = parallel_parts(&ck.keys, |keys| {
            let mut own: [Bounded; 5] = Default::default();
            let (below, grouped) = read(keys, &mut own);
            (own, below, grouped)
        });
        let mut below = [false; 5];
        let mut grouped = false;
        for (own, b, g) in parts {
            for (set, part) in sets.iter_mut().zip(&own) {
                for (ttl, rdata) in part.iter() {
                    set.add(ttl, rdata);
                }
            }
            for (x, y) in below.iter_mut().zip(b) {
                *x |= y;
            }
            grouped |= g;
        }
        (below, grouped)
    }
}
