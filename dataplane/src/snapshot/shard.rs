//! Shards: the unit of sharing between snapshots.
//!
//! The table is split into [`SHARD_COUNT`] shards by the top bits of the key
//! hash. Each shard is ONE shared allocation: a flat open-addressing index of
//! `(tag, offset)` pairs followed by a byte arena holding the entries back to
//! back, so a shard costs one allocation no matter how many names it holds
//! and a lookup is three dependent loads (shard handle, index slot, entry).
//! An update rebuilds only the shards it touches (copying the untouched
//! entries byte for byte, re-using their stored hash tags) and shares every
//! other shard with the previous snapshot; shards are grouped by 64 in a
//! [`Table`] so that a new snapshot copies only the touched groups.
//!
//! Entry layout (little endian): `u32 entry_len`, `u8 key_len`, the key, then a
//! kind-specific body (see `node.rs`). The key of a node is its lowercased wire
//! name; child-chunk keys start with a byte >= 0x40 so they never equal a name.

use super::hash::key_hash;
use rustc_hash::FxHashSet;
use std::sync::Arc;

/// log2 of the number of shards.
pub(crate) const SHARD_BITS: u32 = 12;
/// Number of shards in every snapshot.
pub(crate) const SHARD_COUNT: usize = 1 << SHARD_BITS;

const EMPTY_SLOT: u64 = u64::MAX;

/// Which shard a key hash belongs to.
#[inline]
pub(crate) fn shard_of(h: u64) -> usize {
    (h >> (64 - SHARD_BITS)) as usize
}

#[inline]
fn tag_of(h: u64) -> u32 {
    (h >> 16) as u32
}

#[inline]
pub(crate) fn read_u32(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(s) => u32::from_le_bytes([s[0], s[1], s[2], s[3]]),
        None => 0,
    }
}

#[inline]
pub(crate) fn read_u16(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(s) => u16::from_le_bytes([s[0], s[1]]),
        None => 0,
    }
}

/// The whole entry starting at `off` in `arena` (empty if corrupt).
#[inline]
pub(crate) fn entry_at(arena: &[u8], off: usize) -> &[u8] {
    let len = read_u32(arena, off) as usize;
    arena.get(off..off + len).unwrap_or(&[])
}

/// The key of an entry.
#[inline]
pub(crate) fn entry_key(entry: &[u8]) -> &[u8] {
    let klen = entry.get(4).copied().unwrap_or(0) as usize;
    entry.get(5..5 + klen).unwrap_or(&[])
}

/// Starts an entry in `out`: returns its start offset; finish with [`end_entry`].
pub(crate) fn begin_entry(out: &mut Vec<u8>, key: &[u8]) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.push(key.len() as u8);
    out.extend_from_slice(key);
    start
}

/// Writes the length of the entry begun at `start`.
pub(crate) fn end_entry(out: &mut [u8], start: usize) {
    let len = (out.len() - start) as u32;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
}

/// The entry with this key in a whole shard table.
#[inline]
pub(crate) fn find_in<'a>(shards: &'a Table, key: &[u8]) -> Option<&'a [u8]> {
    let h = key_hash(key);
    shards.get(shard_of(h))?.find(h, key)
}

/// log2 of the shards per group.
const GROUP_BITS: u32 = 6;
const GROUP_SIZE: usize = 1 << GROUP_BITS;

/// All shards of a snapshot, in groups of 64 so that a new snapshot copies
/// (and later releases) only the group pointers and the groups it changes,
/// never touching the reference counts of every shard.
#[derive(Clone)]
pub(crate) struct Table {
    groups: Arc<[Arc<[Shard]>]>,
}

impl Table {
    /// A table from exactly [`SHARD_COUNT`] shards.
    pub(crate) fn from_shards(mut shards: Vec<Shard>) -> Table {
        shards.resize_with(SHARD_COUNT, Shard::empty);
        let groups: Vec<Arc<[Shard]>> = shards.chunks(GROUP_SIZE).map(Arc::from).collect();
        Table {
            groups: groups.into(),
        }
    }

    /// Shard number `s`.
    #[inline]
    pub(crate) fn get(&self, s: usize) -> Option<&Shard> {
        self.groups.get(s >> GROUP_BITS)?.get(s & (GROUP_SIZE - 1))
    }

    /// Every shard.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Shard> {
        self.groups.iter().flat_map(|g| g.iter())
    }

    /// A table sharing everything with this one but the replaced shards.
    pub(crate) fn with_replaced(&self, mut replaced: Vec<(usize, Shard)>) -> Table {
        replaced.sort_by_key(|r| r.0);
        let mut groups: Vec<Arc<[Shard]>> = self.groups.to_vec();
        let mut rest = replaced.as_slice();
        while let Some(&(first, _)) = rest.first() {
            let g = first >> GROUP_BITS;
            let n = rest.iter().take_while(|r| r.0 >> GROUP_BITS == g).count();
            if let Some(group) = groups.get_mut(g) {
                let mut v = group.to_vec();
                for (s, shard) in &rest[..n] {
                    if let Some(slot) = v.get_mut(s & (GROUP_SIZE - 1)) {
                        *slot = shard.clone();
                    }
                }
                *group = v.into();
            }
            rest = &rest[n..];
        }
        Table {
            groups: groups.into(),
        }
    }
}

/// One shard: an open-addressing index followed by the entries, in one
/// shared allocation. Cloning is a reference-count increment.
#[derive(Clone)]
pub(crate) struct Shard {
    /// `mask + 1` index slots (8 bytes each, little endian:
    /// `(tag << 32) | offset`, all ones when free), then the arena.
    data: Arc<[u8]>,
    /// Index length - 1 (the length is a power of two larger than `entries`).
    mask: u32,
    entries: u32,
}

#[inline]
fn read_u64(b: &[u8], at: usize) -> u64 {
    match b.get(at..at + 8) {
        Some(s) => u64::from_le_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]),
        None => EMPTY_SLOT,
    }
}

impl Shard {
    /// A shard without entries.
    pub(crate) fn empty() -> Shard {
        Shard::with_index(Vec::new(), &[])
    }

    /// Makes a shard from an arena of complete entries.
    pub(crate) fn from_arena(arena: Vec<u8>) -> Shard {
        let mut tagged = Vec::new();
        let mut off = 0;
        while off < arena.len() {
            let e = entry_at(&arena, off);
            if e.is_empty() {
                break;
            }
            tagged.push((tag_of(key_hash(entry_key(e))), off as u32));
            off += e.len();
        }
        Shard::with_index(arena, &tagged)
    }

    /// Makes a shard from an arena and the `(tag, offset)` of each entry.
    fn with_index(arena: Vec<u8>, tagged: &[(u32, u32)]) -> Shard {
        let n = tagged.len();
        let cap = (n + n / 3 + 1).next_power_of_two();
        let mask = cap - 1;
        let mut index = vec![EMPTY_SLOT; cap];
        for &(tag, o) in tagged {
            let mut i = tag as usize & mask;
            while index[i] != EMPTY_SLOT {
                i = (i + 1) & mask;
            }
            index[i] = (u64::from(tag) << 32) | u64::from(o);
        }
        let mut data = Vec::with_capacity(cap * 8 + arena.len());
        for slot in index {
            data.extend_from_slice(&slot.to_le_bytes());
        }
        data.extend_from_slice(&arena);
        Shard {
            data: data.into(),
            mask: mask as u32,
            entries: n as u32,
        }
    }

    #[inline]
    fn slot(&self, i: usize) -> u64 {
        read_u64(&self.data, 8 * i)
    }

    #[inline]
    fn arena(&self) -> &[u8] {
        self.data.get(8 * (self.mask as usize + 1)..).unwrap_or(&[])
    }

    /// Number of entries.
    pub(crate) fn len(&self) -> usize {
        self.entries as usize
    }

    /// Bytes held (index + arena), for memory accounting.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.data.len()
    }

    /// Identity of the shared allocation (to count shared shards once).
    pub(crate) fn ptr(&self) -> *const u8 {
        self.data.as_ptr()
    }

    /// Offset of the entry with this key (`h` = its hash).
    #[inline]
    pub(crate) fn find_offset(&self, h: u64, key: &[u8]) -> Option<u32> {
        let mask = self.mask as usize;
        let tag = tag_of(h);
        let mut i = tag as usize & mask;
        loop {
            let slot = self.slot(i);
            if slot == EMPTY_SLOT {
                return None;
            }
            if (slot >> 32) as u32 == tag {
                let off = slot as u32;
                if entry_key(entry_at(self.arena(), off as usize)) == key {
                    return Some(off);
                }
            }
            i = (i + 1) & mask;
        }
    }

    /// The entry with this key (`h` = its hash).
    #[inline]
    pub(crate) fn find(&self, h: u64, key: &[u8]) -> Option<&[u8]> {
        self.find_offset(h, key).map(|o| self.entry(o))
    }

    /// The entry at an offset returned by [`Shard::find_offset`].
    #[inline]
    pub(crate) fn entry(&self, off: u32) -> &[u8] {
        entry_at(self.arena(), off as usize)
    }

    /// Every entry, in arena order.
    #[cfg(test)]
    pub(crate) fn entries(&self) -> impl Iterator<Item = &[u8]> {
        let arena = self.arena();
        let mut off = 0usize;
        std::iter::from_fn(move || {
            if off >= arena.len() {
                return None;
            }
            let e = entry_at(arena, off);
            if e.is_empty() {
                return None;
            }
            off += e.len();
            Some(e)
        })
    }

    /// A new shard: this one without the entries keyed in `removed`
    /// (`(hash, key)` pairs), plus the complete entries in `added`. Kept
    /// entries are copied with their stored tags: no key is hashed again.
    pub(crate) fn rebuild(&self, removed: &[(u64, &[u8])], added: &[u8]) -> Shard {
        let removed_tags: FxHashSet<u32> = removed.iter().map(|&(h, _)| tag_of(h)).collect();
        let mut arena = Vec::with_capacity(self.arena().len() + added.len());
        let mut tagged = Vec::with_capacity(self.len() + removed.len());
        for slot in (0..=self.mask as usize)
            .map(|i| self.slot(i))
            .filter(|&s| s != EMPTY_SLOT)
        {
            let (tag, off) = ((slot >> 32) as u32, slot as u32);
            let e = self.entry(off);
            if removed_tags.contains(&tag)
                && removed
                    .iter()
                    .any(|&(h, k)| tag_of(h) == tag && k == entry_key(e))
            {
                continue;
            }
            tagged.push((tag, arena.len() as u32));
            arena.extend_from_slice(e);
        }
        let mut off = 0;
        while off < added.len() {
            let e = entry_at(added, off);
            if e.is_empty() {
                break;
            }
            tagged.push((tag_of(key_hash(entry_key(e))), arena.len() as u32));
            arena.extend_from_slice(e);
            off += e.len();
        }
        Shard::with_index(arena, &tagged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &[u8], body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let s = begin_entry(&mut out, key);
        out.extend_from_slice(body);
        end_entry(&mut out, s);
        out
    }

    #[test]
    fn finds_rebuilds_and_removes() {
        let mut arena = Vec::new();
        for i in 0..100u32 {
            arena.extend(entry(format!("k{i}").as_bytes(), &i.to_le_bytes()));
        }
        let s = Shard::from_arena(arena);
        assert_eq!(s.len(), 100);
        for i in 0..100u32 {
            let k = format!("k{i}");
            let e = s.find(key_hash(k.as_bytes()), k.as_bytes()).unwrap();
            assert_eq!(&e[e.len() - 4..], &i.to_le_bytes());
        }
        assert!(s.find(key_hash(b"nope"), b"nope").is_none());
        let removed = [(key_hash(b"k7"), &b"k7"[..]), (key_hash(b"k8"), &b"k8"[..])];
        let t = s.rebuild(&removed, &entry(b"k8", b"new!"));
        assert_eq!(t.len(), 99);
        assert!(t.find(key_hash(b"k7"), b"k7").is_none());
        let e = t.find(key_hash(b"k8"), b"k8").unwrap();
        assert_eq!(&e[e.len() - 4..], b"new!");
        assert!(Shard::empty().find(key_hash(b"k1"), b"k1").is_none());
    }
}
