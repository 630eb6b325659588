//! One family's auto-PTR entries (IPv4 or IPv6): sorted by address in chunks.
//!
//! A chunk is one shared allocation holding up to [`CHUNK_MAX`] entries: their keys back
//! to back (`klen` bytes each), the end offset of each entry, and the entries (node entries
//! with an empty key, see [`super`]). The family keeps the chunks in address order with
//! each chunk's first key in one flat array, so a lookup is a binary search over the heads,
//! then one inside a chunk. An update decodes, edits and re-encodes only the chunks its
//! addresses fall in (splitting one past [`CHUNK_MAX`], dropping an empty one).

use super::Edit;
use crate::record::{rtype, Policy};
use crate::snapshot::node::NodeHeader;
use crate::snapshot::rrset::{RrSet, RrSlice, KIND_AUTO_PTR};
use crate::snapshot::shard::{begin_entry, end_entry};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Entries per chunk as built and after a split.
const CHUNK: usize = 256;
/// A chunk growing past this is split.
const CHUNK_MAX: usize = 2 * CHUNK;
/// Bytes before the RRset in an entry: entry header and empty key (5), flags, visible and
/// total counts (3), child count and chunks (6).
const ENTRY_HEAD: usize = 14;

/// One auto-PTR to build: an address (zero-padded), the forward owner (`owner`, `olen`
/// bytes in the build's arena), its TTL and the record's position among the inputs (the
/// order of the PTR records of one address).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Input {
    pub bytes: [u8; 16],
    pub seq: u32,
    pub ttl: u32,
    pub owner: u32,
    pub olen: u8,
}

/// Sorted entries of one chunk.
#[derive(Default)]
struct Chunk {
    keys: Vec<u8>,
    ends: Vec<u32>,
    entries: Vec<u8>,
}

/// One address in editable form: its PTR records as (TTL, owner).
type Decoded = ([u8; 16], Vec<(u32, Box<[u8]>)>);

impl Chunk {
    fn len(&self) -> usize {
        self.ends.len()
    }

    fn key(&self, i: usize, klen: usize) -> &[u8] {
        self.keys.get(i * klen..(i + 1) * klen).unwrap_or(&[])
    }

    fn entry(&self, i: usize) -> &[u8] {
        let start = match i.checked_sub(1) {
            Some(p) => self.ends.get(p).copied().unwrap_or(0),
            None => 0,
        };
        let end = self.ends.get(i).copied().unwrap_or(0);
        self.entries
            .get(start as usize..end as usize)
            .unwrap_or(&[])
    }

    /// Index of the first key not below `key`.
    fn lower_bound(&self, key: &[u8], klen: usize) -> usize {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.key(mid, klen) < key {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Appends one address with its records (TTL, owner).
    fn push(&mut self, key: &[u8], items: &[(u32, &[u8])]) {
        self.keys.extend_from_slice(key);
        let start = begin_entry(&mut self.entries, b"");
        let header = NodeHeader {
            key: b"",
            owner: b"",
            policy: Policy::All,
            child_count: 0,
            child_chunks: 0,
        };
        let mut sets = [RrSlice {
            rtype: rtype::PTR,
            kind: KIND_AUTO_PTR,
            items,
        }];
        header.encode(&mut sets, &mut self.entries);
        end_entry(&mut self.entries, start);
        self.ends.push(self.entries.len() as u32);
    }

    fn shrink(mut self) -> Chunk {
        self.keys.shrink_to_fit();
        self.ends.shrink_to_fit();
        self.entries.shrink_to_fit();
        self
    }

    fn heap_bytes(&self) -> usize {
        self.keys.capacity() + self.ends.capacity() * 4 + self.entries.capacity()
    }

    /// Every address with its records, in editable form.
    fn decode(&self, klen: usize) -> Vec<Decoded> {
        (0..self.len())
            .map(|i| {
                let mut bytes = [0u8; 16];
                if let Some(b) = bytes.get_mut(..klen) {
                    b.copy_from_slice(self.key(i, klen));
                }
                let rr = RrSet::from_bytes(self.entry(i).get(ENTRY_HEAD..).unwrap_or(&[]));
                let items = (0..rr.len())
                    .map(|j| (rr.record_ttl(j), rr.rdata(j).into()))
                    .collect();
                (bytes, items)
            })
            .collect()
    }
}

/// Adds the records of one address to `chunks` (a new chunk every [`CHUNK`] addresses).
fn emit(chunks: &mut Vec<Chunk>, key: &[u8], items: &[(u32, &[u8])]) {
    if chunks.last().is_none_or(|c| c.len() >= CHUNK) {
        chunks.push(Chunk::default());
    }
    if let Some(c) = chunks.last_mut() {
        c.push(key, items);
    }
}

/// Every auto-PTR of one family (see the module docs).
#[derive(Default)]
pub(super) struct Family {
    klen: usize,
    /// The first key of each chunk, back to back.
    heads: Vec<u8>,
    chunks: Vec<Arc<Chunk>>,
}

impl Family {
    fn from_chunks(klen: usize, chunks: Vec<Arc<Chunk>>) -> Family {
        let mut heads = Vec::with_capacity(chunks.len() * klen);
        for c in &chunks {
            heads.extend_from_slice(c.key(0, klen));
        }
        Family {
            klen,
            heads,
            chunks,
        }
    }

    /// Compiles the inputs of one family (`klen`-byte keys); owners in `arena`.
    pub(super) fn build(klen: usize, mut inputs: Vec<Input>, arena: &[u8]) -> Family {
        inputs.sort_unstable_by(|a, b| a.bytes.cmp(&b.bytes).then(a.seq.cmp(&b.seq)));
        let owner = |i: &Input| {
            let start = i.owner as usize;
            arena.get(start..start + usize::from(i.olen)).unwrap_or(&[])
        };
        let mut chunks = Vec::new();
        let mut items: Vec<(u32, &[u8])> = Vec::new();
        for run in inputs.chunk_by(|a, b| a.bytes == b.bytes) {
            items.clear();
            for i in run {
                let o = owner(i);
                match items.iter_mut().find(|(_, k)| k.eq_ignore_ascii_case(o)) {
                    Some(kept) => kept.0 = kept.0.min(i.ttl),
                    None => items.push((i.ttl, o)),
                }
            }
            let key = run[0].bytes.get(..klen).unwrap_or(&[]);
            emit(&mut chunks, key, &items);
        }
        let chunks = chunks.into_iter().map(|c| Arc::new(c.shrink())).collect();
        Family::from_chunks(klen, chunks)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// The chunk whose range holds `key`: the last whose first key is not above it (the
    /// first chunk for a key below every head).
    fn locate(&self, key: &[u8]) -> usize {
        let k = self.klen;
        let (mut lo, mut hi) = (0, self.chunks.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.heads.get(mid * k..(mid + 1) * k).unwrap_or(&[]) <= key {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo.saturating_sub(1)
    }

    /// The entry of the address `key` (`klen` bytes).
    #[inline]
    pub(super) fn leaf(&self, key: &[u8]) -> Option<&[u8]> {
        let c = self.chunks.get(self.locate(key))?;
        let i = c.lower_bound(key, self.klen);
        (c.key(i, self.klen) == key).then(|| c.entry(i))
    }

    /// True when some address starts with the first `nibbles` nibbles of `prefix` (the
    /// rest of `prefix` zero).
    pub(super) fn has_prefix(&self, prefix: &[u8; 16], nibbles: usize) -> bool {
        let lo = prefix.get(..self.klen).unwrap_or(&[]);
        let ci = self.locate(lo);
        let Some(c) = self.chunks.get(ci) else {
            return false;
        };
        let i = c.lower_bound(lo, self.klen);
        let next = if i < c.len() {
            c.key(i, self.klen)
        } else {
            match self.chunks.get(ci + 1) {
                Some(n) => n.key(0, self.klen),
                None => return false,
            }
        };
        let (whole, half) = (nibbles / 2, nibbles % 2 == 1);
        next.get(..whole) == lo.get(..whole)
            && (!half || next.get(whole).map(|b| b >> 4) == lo.get(whole).map(|b| b >> 4))
    }

    /// A copy with `edits` (all of this family) applied in order.
    pub(super) fn applied(&self, edits: &[&Edit]) -> Family {
        let klen = self
            .klen
            .max(edits.first().map_or(0, |e| super::KEY_LEN[e.family]));
        let mut by_chunk: BTreeMap<usize, Vec<&Edit>> = BTreeMap::new();
        for e in edits {
            let key = e.bytes.get(..klen).unwrap_or(&[]);
            by_chunk.entry(self.locate(key)).or_default().push(e);
        }
        let mut out: Vec<Arc<Chunk>> = Vec::with_capacity(self.chunks.len() + by_chunk.len());
        let mut next = 0;
        for (ci, edits) in by_chunk {
            out.extend(self.chunks.get(next..ci).unwrap_or(&[]).iter().cloned());
            next = ci + 1;
            let mut rows = self
                .chunks
                .get(ci)
                .map_or_else(Vec::new, |c| c.decode(klen));
            for e in edits {
                edit_rows(&mut rows, e);
            }
            out.extend(encode_rows(&rows, klen).into_iter().map(Arc::new));
        }
        out.extend(self.chunks.get(next..).unwrap_or(&[]).iter().cloned());
        Family::from_chunks(klen, out)
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.heads.capacity()
            + self.chunks.capacity() * std::mem::size_of::<Arc<Chunk>>()
            + self
                .chunks
                .iter()
                .map(|c| c.heap_bytes() + std::mem::size_of::<Chunk>() + 16)
                .sum::<usize>()
    }

    /// Every address with its records, in a comparable form.
    #[cfg(test)]
    pub(super) fn dump(&self) -> Vec<String> {
        let rows = self.chunks.iter().flat_map(|c| c.decode(self.klen));
        rows.map(|(b, mut items)| {
            items.sort();
            format!("{:?} {items:?}", b.get(..self.klen))
        })
        .collect()
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.chunks.iter().map(|c| c.len()).sum()
    }
}

/// Applies one edit to a chunk's decoded rows (kept sorted by address), as the table's
/// auto-PTR edits did: an owner is matched ignoring case; adding one already there sets its
/// TTL and case.
fn edit_rows(rows: &mut Vec<Decoded>, e: &Edit) {
    let at = rows.partition_point(|r| r.0 < e.bytes);
    let found = rows.get(at).is_some_and(|r| r.0 == e.bytes);
    if e.add {
        if !found {
            rows.insert(at, (e.bytes, Vec::new()));
        }
        if let Some(row) = rows.get_mut(at) {
            match row
                .1
                .iter_mut()
                .find(|i| i.1.eq_ignore_ascii_case(&e.owner))
            {
                Some(i) => *i = (e.ttl, e.owner.clone()),
                None => row.1.push((e.ttl, e.owner.clone())),
            }
        }
    } else if found {
        if let Some(row) = rows.get_mut(at) {
            row.1.retain(|i| !i.1.eq_ignore_ascii_case(&e.owner));
            if row.1.is_empty() {
                rows.remove(at);
            }
        }
    }
}

/// Encodes rows into chunks: one, several of [`CHUNK`] when past [`CHUNK_MAX`], none
/// when empty.
fn encode_rows(rows: &[Decoded], klen: usize) -> Vec<Chunk> {
    let per = if rows.len() > CHUNK_MAX {
        CHUNK
    } else {
        CHUNK_MAX
    };
    let mut chunks = Vec::new();
    let mut items: Vec<(u32, &[u8])> = Vec::new();
    for part in rows.chunks(per) {
        let mut c = Chunk::default();
        for (bytes, its) in part {
            items.clear();
            items.extend(its.iter().map(|(t, o)| (*t, &**o)));
            c.push(bytes.get(..klen).unwrap_or(&[]), &items);
        }
        chunks.push(c.shrink());
    }
    chunks
}
