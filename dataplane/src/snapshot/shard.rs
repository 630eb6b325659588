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
use std::sync::{Arc, LazyLock};

/// log2 of the number of shards.
pub(crate) const SHARD_BITS: u32 = 14;
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
    find_hashed(shards, key, key_hash(key))
}

/// [`find_in`] for a key whose hash `h` is known.
#[inline]
pub(crate) fn find_hashed<'a>(shards: &'a Table, key: &[u8], h: u64) -> Option<&'a [u8]> {
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
        EMPTY.clone()
    }

    /// Makes a shard from an arena of complete entries.
    pub(crate) fn from_arena(arena: Vec<u8>) -> Shard {
        let tagged: Vec<(u32, u32)> = each_entry(&arena)
            .map(|(o, e)| (tag_of(key_hash(entry_key(e))), o))
            .collect();
        Shard::with_index(arena, &tagged)
    }

    /// Makes a shard from an arena and the `(tag, offset)` of each entry.
    fn with_index(arena: Vec<u8>, tagged: &[(u32, u32)]) -> Shard {
        let mut data = index_area(tagged.len(), arena.len());
        data.extend_from_slice(&arena);
        Shard::finish(data, tagged.iter().copied(), tagged.len())
    }

    /// Places each `(tag, offset)` in the index area at the start of `data`.
    fn finish(mut data: Vec<u8>, tagged: impl Iterator<Item = (u32, u32)>, n: usize) -> Shard {
        let mask = index_len(n) - 1;
        for (tag, o) in tagged {
            let mut i = tag as usize & mask;
            while read_u64(&data, 8 * i) != EMPTY_SLOT {
                i = (i + 1) & mask;
            }
            let slot = (u64::from(tag) << 32) | u64::from(o);
            if let Some(s) = data.get_mut(8 * i..8 * i + 8) {
                s.copy_from_slice(&slot.to_le_bytes());
            }
        }
        if n == 0 {
            return EMPTY.clone();
        }
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

    /// Loads the index slot a lookup of hash `h` starts at and, when its tag matches, the
    /// first two cache lines of that entry (its key and, usually, its first RRset), and
    /// returns them combined (meaningless: only for
    /// `std::hint::black_box`). Called for a batch of keys before looking them up, so that
    /// their cache misses overlap instead of coming one after the other (`edit::batch`).
    #[inline]
    pub(crate) fn touch(&self, h: u64) -> u64 {
        let tag = tag_of(h);
        let slot = self.slot(tag as usize & self.mask as usize);
        if slot != EMPTY_SLOT && (slot >> 32) as u32 == tag {
            let at = slot as u32 as usize;
            let arena = self.arena();
            // The entry's first two cache lines: a name's key and its first RRset usually
            // run past the first one.
            let head = arena.get(at).copied().unwrap_or(0);
            let next = arena.get(at + 64).copied().unwrap_or(0);
            return slot ^ u64::from(head) ^ (u64::from(next) << 8);
        }
        slot
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
    /// entries are copied in runs between the removed ones, straight into
    /// the new shard's single allocation, with their stored tags: no key is
    /// hashed again and no intermediate buffer is made.
    pub(crate) fn rebuild(&self, removed: &[(u64, &[u8])], added: &[u8]) -> Shard {
        let old = self.arena();
        let mut gone: Vec<(u32, u32)> = removed
            .iter()
            .filter_map(|&(h, k)| self.find_offset(h, k))
            .map(|o| (o, self.entry(o).len() as u32))
            .collect();
        gone.sort_unstable();
        gone.dedup();
        let gone_bytes: usize = gone.iter().map(|g| g.1 as usize).sum();
        let (added_n, added_len) = complete_entries(added);
        let n = self.len() - gone.len() + added_n;
        let mut data = index_area(n, old.len() - gone_bytes + added_len);
        let base = data.len();
        let mut from = 0usize;
        for &(o, len) in &gone {
            data.extend_from_slice(old.get(from..o as usize).unwrap_or(&[]));
            from = (o + len) as usize;
        }
        data.extend_from_slice(old.get(from..).unwrap_or(&[]));
        let kept_len = (data.len() - base) as u32;
        data.extend_from_slice(added.get(..added_len).unwrap_or(&[]));
        // `shift[i]`: bytes removed before the (i + 1)-th removed entry's end.
        let shift: Vec<u32> = gone
            .iter()
            .scan(0, |acc, g| {
                *acc += g.1;
                Some(*acc)
            })
            .collect();
        let kept = (0..=self.mask as usize)
            .map(|i| self.slot(i))
            .filter(|&s| s != EMPTY_SLOT)
            .filter_map(|slot| {
                let (tag, off) = ((slot >> 32) as u32, slot as u32);
                let before = gone.partition_point(|g| g.0 < off);
                if gone.get(before).is_some_and(|g| g.0 == off) {
                    return None;
                }
                let moved = before.checked_sub(1).map_or(0, |b| shift[b]);
                Some((tag, off - moved))
            });
        let fresh = each_entry(added).map(|(o, e)| (tag_of(key_hash(entry_key(e))), kept_len + o));
        Shard::finish(data, kept.chain(fresh), n)
    }
}

/// Index slots for `n` entries: a power of two larger than `n` by a third.
fn index_len(n: usize) -> usize {
    (n + n / 3 + 1).next_power_of_two()
}

/// A buffer holding a free index for `n` entries, with room for the arena.
fn index_area(n: usize, arena_len: usize) -> Vec<u8> {
    let slots = index_len(n);
    let mut data = Vec::with_capacity(slots * 8 + arena_len);
    data.resize(slots * 8, 0xFF);
    data
}

/// Each complete entry of `arena` with its offset, up to the first corrupt one.
fn each_entry(arena: &[u8]) -> impl Iterator<Item = (u32, &[u8])> {
    let mut off = 0usize;
    std::iter::from_fn(move || {
        let e = entry_at(arena, off);
        if e.is_empty() {
            return None;
        }
        off += e.len();
        Some(((off - e.len()) as u32, e))
    })
}

/// Number and total length of the complete entries of `arena`.
fn complete_entries(arena: &[u8]) -> (usize, usize) {
    each_entry(arena).fold((0, 0), |(n, len), (_, e)| (n + 1, len + e.len()))
}

/// The shard without entries, shared by every empty shard.
static EMPTY: LazyLock<Shard> = LazyLock::new(|| Shard {
    data: vec![0xFF; 8].into(),
    mask: 0,
    entries: 0,
});

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

    #[test]
    fn rebuild_keeps_every_other_entry_at_its_new_offset() {
        let body = |i: u32| vec![b'x'; (i % 7) as usize * 13 + 1];
        let mut arena = Vec::new();
        for i in 0..300u32 {
            arena.extend(entry(format!("k{i}").as_bytes(), &body(i)));
        }
        let s = Shard::from_arena(arena);
        // Removed: runs at the start, the middle and the end, plus keys that are absent.
        let gone: Vec<u32> = (0..3)
            .chain(100..140)
            .chain([150, 152])
            .chain(297..300)
            .collect();
        let keys: Vec<String> = gone
            .iter()
            .map(|i| format!("k{i}"))
            .chain(["none".into()])
            .collect();
        let removed: Vec<(u64, &[u8])> = keys
            .iter()
            .map(|k| (key_hash(k.as_bytes()), k.as_bytes()))
            .collect();
        let mut added = Vec::new();
        for i in [150u32, 400, 401] {
            added.extend(entry(format!("k{i}").as_bytes(), b"new"));
        }
        let t = s.rebuild(&removed, &added);
        assert_eq!(t.len(), 300 - gone.len() + 3);
        assert_eq!(t.entries().count(), t.len());
        for i in 0..300u32 {
            let k = format!("k{i}");
            let e = t.find(key_hash(k.as_bytes()), k.as_bytes());
            match (i, gone.contains(&i)) {
                (150, _) => assert!(e.unwrap().ends_with(b"new")),
                (_, true) => assert!(e.is_none(), "{k} removed"),
                (_, false) => assert_eq!(entry_key(e.unwrap()), k.as_bytes()),
            }
            if let (Some(e), false) = (e, gone.contains(&i)) {
                assert_eq!(&e[5 + k.len()..], &body(i)[..]);
            }
        }
        assert!(t.find(key_hash(b"k401"), b"k401").is_some());
        let emptied: Vec<(u64, &[u8])> = ["k400", "k401", "k150"]
            .iter()
            .map(|k| (key_hash(k.as_bytes()), k.as_bytes()))
            .collect();
        let only = Shard::from_arena(added.clone()).rebuild(&emptied, &[]);
        assert_eq!(only.len(), 0);
        assert_eq!(only.ptr(), Shard::empty().ptr());
    }
}
