//! One family's auto-PTR entries (IPv4 or IPv6): sorted by address in chunks.
//!
//! A chunk is one shared allocation holding up to [`CHUNK_MAX`] entries: their keys back
//! to back (`klen` bytes each), the end offset of each entry, and the entries (node entries
//! with an empty key, see [`super`]). The family keeps the chunks in address order with
//! each chunk's first key in one flat array, so a lookup is a binary search over the heads,
//! then one inside a chunk. An update copies only the chunks its addresses fall in, entry by
//! entry, re-encoding just the addresses it edits (splitting a chunk past [`CHUNK_MAX`],
//! dropping an empty one), plus the chunk handles and heads.

use super::Edit;
use crate::record::{rtype, Policy};
use crate::snapshot::node::NodeHeader;
use crate::snapshot::parallel::parallel_parts;
use crate::snapshot::rrset::{RrSet, RrSlice, KIND_AUTO_PTR};
use crate::snapshot::shard::{begin_entry, end_entry};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Entries per chunk as built and after a split (≈ 1,200 chunks for 1.2 M addresses: an
/// update clones that many chunk handles and copies one chunk of ≈ 64 KB).
const CHUNK: usize = 1024;
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

impl Input {
    /// The input for a 4- or 16-byte address, with its family (0 = IPv4, 1 = IPv6).
    pub(crate) fn new(
        addr: &[u8],
        seq: u32,
        ttl: u32,
        owner: u32,
        olen: u8,
    ) -> Option<(usize, Input)> {
        let family = super::KEY_LEN.iter().position(|&l| l == addr.len())?;
        let mut bytes = [0u8; 16];
        bytes.get_mut(..addr.len())?.copy_from_slice(addr);
        let input = Input {
            bytes,
            seq,
            ttl,
            owner,
            olen,
        };
        Some((family, input))
    }
}

/// Sorted entries of one chunk.
#[derive(Default, Clone)]
struct Chunk {
    keys: Vec<u8>,
    ends: Vec<u32>,
    entries: Vec<u8>,
}

/// PTR records of one address in editable form: (TTL, owner).
type Items = Vec<(u32, Box<[u8]>)>;

/// One address of a chunk being edited: its entry as stored, decoded once an edit touches it.
struct Row<'a> {
    key: [u8; 16],
    raw: &'a [u8],
    items: Option<Items>,
}

/// The records of an encoded entry.
fn decode_entry(e: &[u8]) -> Items {
    let rr = RrSet::from_bytes(e.get(ENTRY_HEAD..).unwrap_or(&[]));
    (0..rr.len())
        .map(|j| (rr.record_ttl(j), rr.rdata(j).into()))
        .collect()
}

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

    /// Appends an entry encoded before.
    fn push_raw(&mut self, key: &[u8], entry: &[u8]) {
        self.keys.extend_from_slice(key);
        self.entries.extend_from_slice(entry);
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

    /// Every address with its entry, for editing.
    fn rows(&self, klen: usize) -> Vec<Row<'_>> {
        (0..self.len())
            .map(|i| {
                let mut key = [0u8; 16];
                if let Some(b) = key.get_mut(..klen) {
                    b.copy_from_slice(self.key(i, klen));
                }
                Row {
                    key,
                    raw: self.entry(i),
                    items: None,
                }
            })
            .collect()
    }
}

/// Inputs (sorted by address) from which a build starts a thread of its own: below this
/// the chunks are encoded on the calling thread.
const PARALLEL_INPUTS: usize = 64 * 1024;

/// The inputs of each chunk as built: [`CHUNK`] addresses (an address's records are
/// never split), as `(start, end)` positions in `inputs` (sorted by address).
fn chunk_bounds(inputs: &[Input]) -> Vec<(usize, usize)> {
    let mut bounds = Vec::with_capacity(inputs.len() / CHUNK + 1);
    let (mut start, mut addresses) = (0, 0);
    for (i, w) in inputs.windows(2).enumerate() {
        if w[0].bytes != w[1].bytes {
            addresses += 1;
            if addresses == CHUNK {
                bounds.push((start, i + 1));
                (start, addresses) = (i + 1, 0);
            }
        }
    }
    if start < inputs.len() {
        bounds.push((start, inputs.len()));
    }
    bounds
}

/// Encodes one chunk's inputs (sorted by address) in `scratch`, then copies it out at
/// its exact size (a chunk grown in place would be copied at each doubling, and once
/// more to shrink it).
fn encode_chunk(inputs: &[Input], klen: usize, arena: &[u8], scratch: &mut Chunk) -> Chunk {
    scratch.keys.clear();
    scratch.ends.clear();
    scratch.entries.clear();
    let mut items: Vec<(u32, &[u8])> = Vec::new();
    for run in inputs.chunk_by(|a, b| a.bytes == b.bytes) {
        items.clear();
        for i in run {
            let start = i.owner as usize;
            let o = arena.get(start..start + usize::from(i.olen)).unwrap_or(&[]);
            match items.iter_mut().find(|(_, k)| k.eq_ignore_ascii_case(o)) {
                Some(kept) => kept.0 = kept.0.min(i.ttl),
                None => items.push((i.ttl, o)),
            }
        }
        scratch.push(run[0].bytes.get(..klen).unwrap_or(&[]), &items);
    }
    scratch.clone()
}

/// Encodes the chunks at `bounds` of `inputs`, in order, each shared.
fn encode_chunks(
    inputs: &[Input],
    bounds: &[(usize, usize)],
    klen: usize,
    arena: &[u8],
) -> Vec<Arc<Chunk>> {
    let mut scratch = Chunk::default();
    let chunk = |&(a, b): &(usize, usize)| {
        Arc::new(encode_chunk(
            inputs.get(a..b).unwrap_or(&[]),
            klen,
            arena,
            &mut scratch,
        ))
    };
    bounds.iter().map(chunk).collect()
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
    /// Compiles the inputs of one family (`klen`-byte keys); owners in `arena`.
    pub(super) fn build(klen: usize, mut inputs: Vec<Input>, arena: &[u8]) -> Family {
        // The address as one big-endian number orders as its bytes do, in one comparison.
        inputs.sort_unstable_by_key(|i| (u128::from_be_bytes(i.bytes), i.seq));
        let bounds = chunk_bounds(&inputs);
        let mut chunks = Vec::with_capacity(bounds.len());
        if inputs.len() < PARALLEL_INPUTS {
            chunks.extend(encode_chunks(&inputs, &bounds, klen, arena));
        } else {
            for part in parallel_parts(&bounds, |part| encode_chunks(&inputs, part, klen, arena)) {
                chunks.extend(part);
            }
        }
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
        let mut out = Family {
            klen,
            heads: Vec::with_capacity(self.heads.len() + by_chunk.len() * klen),
            chunks: Vec::with_capacity(self.chunks.len() + by_chunk.len()),
        };
        let mut next = 0;
        for (ci, edits) in by_chunk {
            out.keep(self, next, ci);
            next = ci + 1;
            let mut rows = self.chunks.get(ci).map_or_else(Vec::new, |c| c.rows(klen));
            for e in edits {
                edit_rows(&mut rows, e);
            }
            for c in encode_rows(&rows, klen) {
                out.heads.extend_from_slice(c.key(0, klen));
                out.chunks.push(Arc::new(c));
            }
        }
        out.keep(self, next, self.chunks.len());
        out
    }

    /// Appends the chunks `from..to` of `base` (shared) with their heads.
    fn keep(&mut self, base: &Family, from: usize, to: usize) {
        let k = self.klen;
        let chunks = base.chunks.get(from..to).unwrap_or(&[]);
        self.chunks.extend(chunks.iter().cloned());
        let heads = base.heads.get(from * k..to * k).unwrap_or(&[]);
        self.heads.extend_from_slice(heads);
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
        let rows = self.chunks.iter().flat_map(|c| c.rows(self.klen));
        rows.map(|r| {
            let mut items = decode_entry(r.raw);
            items.sort();
            format!("{:?} {items:?}", r.key.get(..self.klen))
        })
        .collect()
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.chunks.iter().map(|c| c.len()).sum()
    }
}

/// Applies one edit to a chunk's rows (kept sorted by address), as the table's auto-PTR
/// edits did: an owner is matched ignoring case; adding one already there sets its TTL and
/// case.
fn edit_rows(rows: &mut Vec<Row<'_>>, e: &Edit) {
    let at = rows.partition_point(|r| r.key < e.bytes);
    let found = rows.get(at).is_some_and(|r| r.key == e.bytes);
    if !found && !e.add {
        return;
    }
    if !found {
        let row = Row {
            key: e.bytes,
            raw: &[],
            items: Some(Vec::new()),
        };
        rows.insert(at, row);
    }
    let Some(row) = rows.get_mut(at) else {
        return;
    };
    let raw = row.raw;
    let items = row.items.get_or_insert_with(|| decode_entry(raw));
    let same = |i: &(u32, Box<[u8]>)| i.1.eq_ignore_ascii_case(&e.owner);
    if e.add {
        match items.iter_mut().find(|i| same(i)) {
            Some(i) => *i = (e.ttl, e.owner.clone()),
            None => items.push((e.ttl, e.owner.clone())),
        }
    } else {
        items.retain(|i| !same(i));
        if items.is_empty() {
            rows.remove(at);
        }
    }
}

/// Encodes rows into chunks: one, several of [`CHUNK`] when past [`CHUNK_MAX`], none
/// when empty. Rows no edit touched are copied as they are.
fn encode_rows(rows: &[Row<'_>], klen: usize) -> Vec<Chunk> {
    let per = if rows.len() > CHUNK_MAX {
        CHUNK
    } else {
        CHUNK_MAX
    };
    let mut chunks = Vec::new();
    let mut items: Vec<(u32, &[u8])> = Vec::new();
    for part in rows.chunks(per) {
        let mut c = Chunk::default();
        for row in part {
            let key = row.key.get(..klen).unwrap_or(&[]);
            match &row.items {
                None => c.push_raw(key, row.raw),
                Some(its) => {
                    items.clear();
                    items.extend(its.iter().map(|(t, o)| (*t, &**o)));
                    c.push(key, &items);
                }
            }
        }
        chunks.push(c.shrink());
    }
    chunks
}
