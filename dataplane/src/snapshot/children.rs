//! Child lists, chunked so that a parent with very many children stays cheap
//! to update.
//!
//! A parent's direct children are listed by their (lowercased) first label in
//! `child_chunks` chunk entries (a power of two). A label lives in chunk
//! `hash(label) & (chunks - 1)`; each chunk is its own table entry, keyed by
//! two marker bytes (`0x40 + chunk / 256`, `chunk % 256` — never a valid label
//! length) followed by the parent's key, so chunks spread over the shards and
//! adding or removing one child rewrites one chunk of bounded size. The
//! parent grows its chunk count when chunks get crowded.
//!
//! Chunk entry body: `u32 count`, then `count` labels as `u8 len, bytes`.

use super::hash::key_hash;
use super::node::NodeRef;
use super::shard::{entry_key, find_in, Table};
use crate::name::MAX_NAME_LEN;

/// A chunk is split when it holds more than this many labels on average.
pub(crate) const CHUNK_TARGET: usize = 256;
/// Upper bound on chunks per parent (fits the two-byte key marker).
pub(crate) const MAX_CHUNKS: u16 = 32768;

/// True when a table key is a chunk key rather than a name.
#[inline]
pub(crate) fn is_chunk_key(key: &[u8]) -> bool {
    key.first().is_some_and(|&b| b >= 0x40)
}

/// Which chunk of `chunks` a child label belongs to.
#[inline]
pub(crate) fn chunk_of(label: &[u8], chunks: u16) -> u16 {
    ((key_hash(label) >> 24) as u16) & chunks.wrapping_sub(1)
}

/// Writes the key of chunk `c` of `parent` into `buf`; returns its length.
#[inline]
pub(crate) fn chunk_key_into(parent: &[u8], c: u16, buf: &mut [u8; MAX_NAME_LEN + 3]) -> usize {
    let n = parent.len().min(MAX_NAME_LEN);
    buf[0] = 0x40 + (c >> 8) as u8;
    buf[1] = c as u8;
    buf[2..2 + n].copy_from_slice(&parent[..n]);
    2 + n
}

/// The key of chunk `c` of `parent`.
pub(crate) fn chunk_key(parent: &[u8], c: u16) -> Vec<u8> {
    let mut buf = [0u8; MAX_NAME_LEN + 3];
    let n = chunk_key_into(parent, c, &mut buf);
    buf[..n].to_vec()
}

/// Appends a chunk body.
pub(crate) fn encode_chunk(labels: &[Box<[u8]>], out: &mut Vec<u8>) {
    out.extend_from_slice(&(labels.len() as u32).to_le_bytes());
    for l in labels {
        out.push(l.len() as u8);
        out.extend_from_slice(l);
    }
}

/// The label bytes region of a chunk entry.
fn chunk_labels(entry: &[u8]) -> &[u8] {
    let body = 5 + entry_key(entry).len() + 4;
    entry.get(body..).unwrap_or(&[])
}

/// The labels of a chunk entry.
pub(crate) fn decode_chunk(entry: &[u8]) -> Vec<Box<[u8]>> {
    let mut out = Vec::new();
    each_chunk_label(entry, |l| out.push(l.into()));
    out
}

/// Calls `f` with each label of a chunk entry, in stored order.
pub(crate) fn each_chunk_label(entry: &[u8], mut f: impl FnMut(&[u8])) {
    let mut rest = chunk_labels(entry);
    while let Some(&l) = rest.first() {
        let Some(label) = rest.get(1..1 + l as usize) else {
            break;
        };
        f(label);
        rest = &rest[1 + l as usize..];
    }
}

/// Iterator over a node's direct children. Allocation-free.
pub struct ChildIter<'a> {
    shards: &'a Table,
    parent: &'a [u8],
    chunks: u16,
    next_chunk: u16,
    cur: &'a [u8],
}

impl<'a> ChildIter<'a> {
    pub(crate) fn new(shards: &'a Table, parent: &'a [u8], chunks: u16) -> ChildIter<'a> {
        ChildIter {
            shards,
            parent,
            chunks,
            next_chunk: 0,
            cur: &[],
        }
    }
}

impl<'a> Iterator for ChildIter<'a> {
    type Item = NodeRef<'a>;

    fn next(&mut self) -> Option<NodeRef<'a>> {
        let mut buf = [0u8; MAX_NAME_LEN + 3];
        loop {
            if self.cur.is_empty() {
                if self.next_chunk >= self.chunks {
                    return None;
                }
                let n = chunk_key_into(self.parent, self.next_chunk, &mut buf);
                self.next_chunk += 1;
                self.cur = find_in(self.shards, &buf[..n]).map_or(&[], chunk_labels);
                continue;
            }
            let l = self.cur[0] as usize;
            let Some(label) = self.cur.get(1..1 + l) else {
                self.cur = &[];
                continue;
            };
            self.cur = &self.cur[1 + l..];
            let total = 1 + l + self.parent.len();
            if total > MAX_NAME_LEN {
                continue;
            }
            buf[0] = l as u8;
            buf[1..1 + l].copy_from_slice(label);
            buf[1 + l..total].copy_from_slice(self.parent);
            if let Some(e) = find_in(self.shards, &buf[..total]) {
                return Some(NodeRef::new(self.shards, e));
            }
        }
    }
}
