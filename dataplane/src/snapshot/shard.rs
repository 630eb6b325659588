//! Shards: the unit of sharing between snapshots.
//!
//! The table is split into [`SHARD_COUNT`] shards by the top bits of the key
//! hash. Each shard is ONE shared allocation: a byte arena holding its entries
//! back to back, so a shard costs one allocation no matter how many names it
//! holds. The index that finds an entry is not in the shard: it is kept per
//! group of shards in the [`Table`] (`table.rs`), whose small directory gives
//! the index line and the shard handle in two independent loads. A shard made
//! here carries the index words of its entries (fingerprint and offset) until
//! the table places them ([`Shard::take_slots`]).
//! An update rebuilds only the shards it touches (copying the untouched
//! entries byte for byte, re-using their stored fingerprints) and shares every
//! other shard with the previous snapshot.
//!
//! Entry layout (little endian): `u32 entry_len`, `u8 key_len`, the key, then a
//! kind-specific body (see `node.rs`). The key of a node is its lowercased wire
//! name; child-chunk keys start with a byte >= 0x40 so they never equal a name.

use super::hash::key_hash;
pub(crate) use super::table::Table;
use std::sync::{Arc, LazyLock};

/// log2 of the number of shards.
pub(crate) const SHARD_BITS: u32 = 14;
/// Number of shards in every snapshot.
pub(crate) const SHARD_COUNT: usize = 1 << SHARD_BITS;

/// Which shard a key hash belongs to.
#[inline]
pub(crate) fn shard_of(h: u64) -> usize {
    (h >> (64 - SHARD_BITS)) as usize
}

/// log2 of the shards per group (the table's unit of index and of copy on write).
pub(crate) const GROUP_BITS: u32 = 4;
/// Shards per group.
pub(crate) const GROUP_SIZE: usize = 1 << GROUP_BITS;

/// The index fingerprint of key hash `h`: 28 bits of the hash (bits 16..44, whose low
/// bits also choose the first index slot) above the number of its shard in its group, so
/// that one 32-bit compare checks both.
#[inline]
pub(crate) fn fingerprint(h: u64) -> u32 {
    (((h >> 16) as u32) << GROUP_BITS) | (shard_of(h) & (GROUP_SIZE - 1)) as u32
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
    shards.find(h, key)
}

/// One shard: its entries back to back, in one shared allocation. Cloning is a
/// reference-count increment.
#[derive(Clone)]
pub(crate) struct Shard {
    /// The arena.
    data: Arc<[u8]>,
    entries: u32,
    /// The index words of the entries, `(fingerprint << 32) | offset`, until a [`Table`]
    /// places them in its group's index (then empty).
    slots: Box<[u64]>,
}

impl Shard {
    /// A shard without entries.
    pub(crate) fn empty() -> Shard {
        EMPTY.clone()
    }

    /// Makes a shard from an arena of complete entries.
    pub(crate) fn from_arena(arena: Vec<u8>) -> Shard {
        let slots = each_entry(&arena)
            .map(|(o, e)| slot_word(fingerprint(key_hash(entry_key(e))), o))
            .collect();
        Shard::with_slots(arena, slots)
    }

    fn with_slots(arena: Vec<u8>, slots: Box<[u64]>) -> Shard {
        if slots.is_empty() {
            return EMPTY.clone();
        }
        Shard {
            data: arena.into(),
            entries: slots.len() as u32,
            slots,
        }
    }

    /// The index words not yet placed (for the table; leaves none).
    pub(crate) fn take_slots(&mut self) -> Box<[u64]> {
        std::mem::take(&mut self.slots)
    }

    #[inline]
    pub(crate) fn arena(&self) -> &[u8] {
        &self.data
    }

    /// Number of entries.
    pub(crate) fn len(&self) -> usize {
        self.entries as usize
    }

    /// Bytes held (the arena), for memory accounting; the index is the table's.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.data.len()
    }

    /// Identity of the shared allocation (to count shared shards once).
    pub(crate) fn ptr(&self) -> *const u8 {
        self.data.as_ptr()
    }

    /// The entry at an offset of this shard's arena.
    #[inline]
    pub(crate) fn entry(&self, off: u32) -> &[u8] {
        entry_at(self.arena(), off as usize)
    }

    /// Every entry, in arena order.
    #[cfg(test)]
    pub(crate) fn entries(&self) -> impl Iterator<Item = &[u8]> {
        each_entry(self.arena()).map(|(_, e)| e)
    }

    /// A new shard: this one without the entries at the offsets `gone` (sorted, no
    /// duplicates), plus the complete entries in `added`; `old` gives the
    /// `(fingerprint, offset)` of each of this shard's entries. Kept entries are copied in
    /// runs between the removed ones, straight into the new arena, with their stored
    /// fingerprints: no key is hashed again and no intermediate buffer is made.
    pub(crate) fn rebuild(
        &self,
        old: impl Iterator<Item = (u32, u32)>,
        gone: &[u32],
        added: &[u8],
    ) -> Shard {
        let arena = self.arena();
        let gone: Vec<(u32, u32)> = gone
            .iter()
            .map(|&o| (o, self.entry(o).len() as u32))
            .collect();
        let gone_bytes: usize = gone.iter().map(|g| g.1 as usize).sum();
        let (added_n, added_len) = complete_entries(added);
        let n = self.len() - gone.len() + added_n;
        let mut data = Vec::with_capacity(arena.len() - gone_bytes + added_len);
        let mut from = 0usize;
        for &(o, len) in &gone {
            data.extend_from_slice(arena.get(from..o as usize).unwrap_or(&[]));
            from = (o + len) as usize;
        }
        data.extend_from_slice(arena.get(from..).unwrap_or(&[]));
        let kept_len = data.len() as u32;
        data.extend_from_slice(added.get(..added_len).unwrap_or(&[]));
        // `shift[i]`: bytes removed before the (i + 1)-th removed entry's end.
        let shift: Vec<u32> = gone
            .iter()
            .scan(0, |acc, g| {
                *acc += g.1;
                Some(*acc)
            })
            .collect();
        let kept = old.filter_map(|(fp, off)| {
            let before = gone.partition_point(|g| g.0 < off);
            if gone.get(before).is_some_and(|g| g.0 == off) {
                return None;
            }
            let moved = before.checked_sub(1).map_or(0, |b| shift[b]);
            Some(slot_word(fp, off - moved))
        });
        let fresh = each_entry(added)
            .map(|(o, e)| slot_word(fingerprint(key_hash(entry_key(e))), kept_len + o));
        let mut slots = Vec::with_capacity(n);
        slots.extend(kept.chain(fresh));
        Shard::with_slots(data, slots.into())
    }
}

/// The index word of an entry: its fingerprint above its offset.
#[inline]
pub(crate) fn slot_word(fp: u32, off: u32) -> u64 {
    (u64::from(fp) << 32) | u64::from(off)
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
    data: Arc::from(&[][..]),
    entries: 0,
    slots: Box::default(),
});
