//! The table: every shard of a snapshot, and the index that finds an entry in them.
//!
//! The [`SHARD_COUNT`] shards are kept in groups of [`GROUP_SIZE`]; each group has one
//! open-addressing index for all its shards' entries: 8-byte slots
//! `(fingerprint << 32) | offset` (all ones when free), the fingerprint being 28 bits of
//! the key hash above the entry's shard number in the group ([`fingerprint`]), so one
//! 64-byte line holds eight fingerprints with their offsets and a mismatch never loads an
//! entry. The directory of groups (1,024 × [`Group`], 40 KiB) stays in the cache, so a
//! lookup reads the group's index line and the shard handle in two independent loads,
//! then the entry: two dependent misses, where a per-shard index behind the shard
//! handle made three (handle, slot, entry).
//!
//! Copy on write: a new snapshot copies the directory (reference counts), shares every
//! untouched group (shards and index), and for each touched group makes a new shard list
//! (sharing its untouched shards) and a new index.

use super::shard::{
    entry_at, entry_key, fingerprint, shard_of, Shard, GROUP_BITS, GROUP_SIZE, SHARD_COUNT,
};
use std::sync::{Arc, LazyLock};

const EMPTY_SLOT: u64 = u64::MAX;

/// One group of shards and their index.
#[derive(Clone)]
pub(crate) struct Group {
    shards: Arc<[Shard]>,
    /// `mask + 1` slots (a power of two larger than the entries by a third).
    index: Arc<[u64]>,
    mask: u32,
}

/// All shards of a snapshot, with their index, in groups of [`GROUP_SIZE`].
#[derive(Clone)]
pub(crate) struct Table {
    groups: Arc<[Group]>,
}

/// Number of the shard in its group, from a slot's fingerprint.
#[inline]
fn shard_in_group(fp: u32) -> usize {
    fp as usize & (GROUP_SIZE - 1)
}

/// The first index slot a fingerprint probes.
#[inline]
fn home(fp: u32, mask: u32) -> usize {
    ((fp >> GROUP_BITS) & mask) as usize
}

impl Group {
    /// A group of `shards` (their unplaced index words are taken and placed), re-using
    /// the words of `kept` (an old index's slots whose shard is still in the group).
    fn new(mut shards: Vec<Shard>, kept: impl Iterator<Item = u64>) -> Group {
        let n: usize = shards.iter().map(Shard::len).sum();
        let (index, mask) = if n == 0 {
            (EMPTY_INDEX.clone(), 0)
        } else {
            let mut index = vec![EMPTY_SLOT; index_len(n)];
            let mask = (index.len() - 1) as u32;
            let fresh: Vec<Box<[u64]>> = shards.iter_mut().map(Shard::take_slots).collect();
            for w in kept.chain(fresh.iter().flat_map(|f| f.iter().copied())) {
                place(&mut index, mask, w);
            }
            (index.into(), mask)
        };
        Group {
            shards: shards.into(),
            index,
            mask,
        }
    }

    /// This group with the shards flagged in `touched` replaced by those of `shards` (the
    /// whole new list; their unplaced index words are taken). When the index keeps its
    /// size, it is copied and only the replaced shards' slots are removed (each removal
    /// moves back the rest of its cluster) and their new slots placed: an update costs a
    /// copy and a few probes, not a new index.
    fn replaced(&self, mut shards: Vec<Shard>, touched: &[bool; GROUP_SIZE]) -> Group {
        let n: usize = shards.iter().map(Shard::len).sum();
        let is_touched = |w: u64| touched[shard_in_group((w >> 32) as u32)];
        if n == 0 || index_len(n) != self.index.len() || Arc::ptr_eq(&self.index, &EMPTY_INDEX) {
            let kept = self
                .index
                .iter()
                .copied()
                .filter(|&w| w != EMPTY_SLOT && !is_touched(w));
            return Group::new(shards, kept);
        }
        let mut index = self.index.to_vec();
        let mask = self.mask;
        let mut i = 0;
        while i < index.len() {
            // A removal moves a later slot into `i`: look at `i` again.
            if index[i] != EMPTY_SLOT && is_touched(index[i]) {
                remove_at(&mut index, mask, i);
            } else {
                i += 1;
            }
        }
        for shard in shards.iter_mut() {
            for &w in shard.take_slots().iter() {
                place(&mut index, mask, w);
            }
        }
        Group {
            shards: shards.into(),
            index: index.into(),
            mask,
        }
    }

    /// Offset of the entry with this key (`h` = its hash) in `shard`, one of this group's.
    #[inline]
    fn find_offset(&self, shard: &Shard, h: u64, key: &[u8]) -> Option<u32> {
        let fp = fingerprint(h);
        let arena = shard.arena();
        let mut i = home(fp, self.mask);
        loop {
            let slot = *self.index.get(i)?;
            if slot == EMPTY_SLOT {
                return None;
            }
            if (slot >> 32) as u32 == fp {
                let off = slot as u32;
                if entry_key(entry_at(arena, off as usize)) == key {
                    return Some(off);
                }
            }
            i = (i + 1) & self.mask as usize;
        }
    }

    /// The slot a lookup of `h` probes first.
    #[inline]
    fn first_slot(&self, h: u64) -> u64 {
        self.index
            .get(home(fingerprint(h), self.mask))
            .copied()
            .unwrap_or(EMPTY_SLOT)
    }
}

/// One shard of a table, with its group's index.
#[derive(Clone, Copy)]
pub(crate) struct ShardRef<'a> {
    group: &'a Group,
    shard: &'a Shard,
    /// Number of the shard in its group.
    s: usize,
}

impl<'a> ShardRef<'a> {
    /// Offset of the entry with this key (`h` = its hash, of a key of this shard).
    #[inline]
    pub(crate) fn find_offset(&self, h: u64, key: &[u8]) -> Option<u32> {
        self.group.find_offset(self.shard, h, key)
    }

    /// The entry with this key (`h` = its hash, of a key of this shard).
    #[inline]
    pub(crate) fn find(&self, h: u64, key: &[u8]) -> Option<&'a [u8]> {
        self.find_offset(h, key).map(|o| self.entry(o))
    }

    /// Number of entries of the shard.
    pub(crate) fn len(&self) -> usize {
        self.shard.len()
    }

    /// The entry at an offset returned by [`ShardRef::find_offset`].
    #[inline]
    pub(crate) fn entry(&self, off: u32) -> &'a [u8] {
        self.shard.entry(off)
    }

    /// Loads the index slot a lookup of hash `h` starts at and, when its fingerprint
    /// matches, the first byte of that entry, and returns them combined (meaningless: only
    /// for `std::hint::black_box`). Called for a batch of keys before looking them up, so
    /// that their cache misses overlap instead of coming one after the other
    /// (`edit::batch`, `Snapshot::prefetch_hashed`).
    #[inline]
    pub(crate) fn touch(&self, h: u64) -> u64 {
        let slot = self.group.first_slot(h);
        if slot != EMPTY_SLOT && (slot >> 32) as u32 == fingerprint(h) {
            let at = slot as u32 as usize;
            return slot ^ u64::from(self.shard.arena().get(at).copied().unwrap_or(0));
        }
        slot
    }

    /// The `(fingerprint, offset)` of each entry of this shard, in index order.
    fn slots(&self) -> impl Iterator<Item = (u32, u32)> + 'a {
        let s = self.s;
        self.group
            .index
            .iter()
            .filter(move |&&w| w != EMPTY_SLOT && shard_in_group((w >> 32) as u32) == s)
            .map(|&w| ((w >> 32) as u32, w as u32))
    }

    /// A new shard: this one without the entries keyed in `removed` (`(hash, key)`
    /// pairs), plus the complete entries in `added` ([`Shard::rebuild`]).
    pub(crate) fn rebuild(&self, removed: &[(u64, &[u8])], added: &[u8]) -> Shard {
        let mut gone: Vec<u32> = removed
            .iter()
            .filter_map(|&(h, k)| self.find_offset(h, k))
            .collect();
        gone.sort_unstable();
        gone.dedup();
        self.shard.rebuild(self.slots(), &gone, added)
    }
}

impl Table {
    /// A table from exactly [`SHARD_COUNT`] shards (fewer are padded with empty ones).
    pub(crate) fn from_shards(mut shards: Vec<Shard>) -> Table {
        shards.resize_with(SHARD_COUNT, Shard::empty);
        let mut groups = Vec::with_capacity(SHARD_COUNT / GROUP_SIZE);
        let mut rest = shards.into_iter();
        for _ in 0..SHARD_COUNT / GROUP_SIZE {
            let group: Vec<Shard> = rest.by_ref().take(GROUP_SIZE).collect();
            groups.push(Group::new(group, std::iter::empty()));
        }
        Table {
            groups: groups.into(),
        }
    }

    /// Shard number `s`.
    #[inline]
    pub(crate) fn get(&self, s: usize) -> Option<ShardRef<'_>> {
        let group = self.groups.get(s >> GROUP_BITS)?;
        let in_group = s & (GROUP_SIZE - 1);
        Some(ShardRef {
            group,
            shard: group.shards.get(in_group)?,
            s: in_group,
        })
    }

    /// The entry with this key (`h` = its hash). The group's index line and the shard
    /// handle are independent loads (the directory is small enough to stay cached).
    #[inline]
    pub(crate) fn find(&self, h: u64, key: &[u8]) -> Option<&[u8]> {
        let s = shard_of(h);
        let group = self.groups.get(s >> GROUP_BITS)?;
        let shard = group.shards.get(s & (GROUP_SIZE - 1))?;
        let off = group.find_offset(shard, h, key)?;
        Some(shard.entry(off))
    }

    /// Loads the index slot a lookup of `h` probes first and the handle of its shard, and
    /// returns them combined (meaningless: only for `std::hint::black_box`): the first
    /// stage of a staged batch ([`crate::snapshot::Snapshot::prefetch_shard`]).
    #[inline]
    pub(crate) fn touch_index(&self, h: u64) -> u64 {
        let s = shard_of(h);
        self.groups.get(s >> GROUP_BITS).map_or(0, |g| {
            let len = g.shards.get(s & (GROUP_SIZE - 1)).map_or(0, Shard::len);
            g.first_slot(h) ^ len as u64
        })
    }

    /// Every shard.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Shard> {
        self.groups.iter().flat_map(|g| g.shards.iter())
    }

    /// Heap bytes of the directory, the groups' shard lists and their indexes (the
    /// shards' arenas are counted by [`Shard::heap_bytes`]); groups shared with other
    /// snapshots included.
    pub(crate) fn index_bytes(&self) -> usize {
        let arc = 16;
        let lists = self.groups.len() * (arc + GROUP_SIZE * std::mem::size_of::<Shard>());
        let indexes: usize = self
            .groups
            .iter()
            .filter(|g| !Arc::ptr_eq(&g.index, &EMPTY_INDEX))
            .map(|g| arc + 8 * g.index.len())
            .sum();
        arc + self.groups.len() * std::mem::size_of::<Group>() + lists + indexes
    }

    /// A table sharing everything with this one but the replaced shards (and the
    /// indexes of their groups).
    pub(crate) fn with_replaced(&self, mut replaced: Vec<(usize, Shard)>) -> Table {
        replaced.sort_by_key(|r| r.0);
        let mut groups: Vec<Group> = self.groups.to_vec();
        let mut rest = replaced.as_mut_slice();
        while let Some(&(first, _)) = rest.first() {
            let g = first >> GROUP_BITS;
            let n = rest.iter().take_while(|r| r.0 >> GROUP_BITS == g).count();
            let (now, later) = rest.split_at_mut(n);
            if let Some(group) = groups.get_mut(g) {
                let mut shards = group.shards.to_vec();
                let mut touched = [false; GROUP_SIZE];
                for (s, shard) in now.iter_mut() {
                    let i = *s & (GROUP_SIZE - 1);
                    if let (Some(slot), Some(t)) = (shards.get_mut(i), touched.get_mut(i)) {
                        *slot = std::mem::replace(shard, Shard::empty());
                        *t = true;
                    }
                }
                *group = group.replaced(shards, &touched);
            }
            rest = later;
        }
        Table {
            groups: groups.into(),
        }
    }
}

/// Places index word `w` in the first free slot from its home.
fn place(index: &mut [u64], mask: u32, w: u64) {
    let mut i = home((w >> 32) as u32, mask);
    while index.get(i).is_some_and(|&s| s != EMPTY_SLOT) {
        i = (i + 1) & mask as usize;
    }
    if let Some(s) = index.get_mut(i) {
        *s = w;
    }
}

/// Frees slot `i` and moves back each later slot of its cluster whose home allows it
/// (linear probing's deletion without tombstones), so every remaining word stays reachable
/// from its home.
fn remove_at(index: &mut [u64], mask: u32, mut i: usize) {
    let mask = mask as usize;
    index[i] = EMPTY_SLOT;
    let mut j = i;
    loop {
        j = (j + 1) & mask;
        let w = index[j];
        if w == EMPTY_SLOT {
            return;
        }
        let k = home((w >> 32) as u32, mask as u32);
        // `w` must stay where it is when its home lies cyclically in (i, j].
        let stays = if i <= j {
            i < k && k <= j
        } else {
            i < k || k <= j
        };
        if !stays {
            index[i] = w;
            index[j] = EMPTY_SLOT;
            i = j;
        }
    }
}

/// Index slots for `n` entries: a power of two larger than `n` by a third.
fn index_len(n: usize) -> usize {
    (n + n / 3 + 1).next_power_of_two()
}

/// The index of a group without entries, shared by every such group.
static EMPTY_INDEX: LazyLock<Arc<[u64]>> = LazyLock::new(|| Arc::from(&[EMPTY_SLOT][..]));

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::hash::key_hash;
    use crate::snapshot::shard::{begin_entry, end_entry};

    fn arena(keys: impl Iterator<Item = String>) -> Vec<u8> {
        let mut out = Vec::new();
        for k in keys {
            let s = begin_entry(&mut out, k.as_bytes());
            out.extend_from_slice(b"body");
            end_entry(&mut out, s);
        }
        out
    }

    /// Arenas per shard for the keys, as the builders make them.
    fn table_of(keys: &[String]) -> Table {
        let mut per: Vec<Vec<String>> = vec![Vec::new(); SHARD_COUNT];
        for k in keys {
            per[shard_of(key_hash(k.as_bytes()))].push(k.clone());
        }
        let shards = per
            .into_iter()
            .map(|ks| Shard::from_arena(arena(ks.into_iter())))
            .collect();
        Table::from_shards(shards)
    }

    #[test]
    fn every_key_is_found_in_its_group_index_and_updates_keep_the_others() {
        let keys: Vec<String> = (0..50_000).map(|i| format!("k{i}")).collect();
        let t = table_of(&keys);
        assert_eq!(t.iter().map(Shard::len).sum::<usize>(), keys.len());
        for k in &keys {
            let e = t.find(key_hash(k.as_bytes()), k.as_bytes()).unwrap();
            assert_eq!(entry_key(e), k.as_bytes());
        }
        assert!(t.find(key_hash(b"nope"), b"nope").is_none());
        // Rebuild the shards of k3 and k4 (remove k3, replace k4, add k-new).
        let edit = |k: &str| (key_hash(k.as_bytes()), k.to_string());
        let (h3, k3) = edit("k3");
        let (h4, k4) = edit("k4");
        let (hn, kn) = edit("k-new");
        let mut replaced = Vec::new();
        for s in [shard_of(h3), shard_of(h4), shard_of(hn)] {
            if replaced.iter().any(|r: &(usize, Shard)| r.0 == s) {
                continue;
            }
            let removed: Vec<(u64, &[u8])> = [(h3, &k3), (h4, &k4)]
                .into_iter()
                .filter(|(h, _)| shard_of(*h) == s)
                .map(|(h, k)| (h, k.as_bytes()))
                .collect();
            let added = arena(
                [&k4, &kn]
                    .into_iter()
                    .filter(|k| shard_of(key_hash(k.as_bytes())) == s)
                    .cloned(),
            );
            replaced.push((s, t.get(s).unwrap().rebuild(&removed, &added)));
        }
        let u = t.with_replaced(replaced);
        for k in &keys {
            let found = u.find(key_hash(k.as_bytes()), k.as_bytes());
            assert_eq!(found.is_some(), k != "k3", "{k}");
        }
        assert!(u.find(hn, kn.as_bytes()).is_some());
        assert!(t.find(hn, kn.as_bytes()).is_none());
        assert!(t.find(h3, k3.as_bytes()).is_some());
        // Untouched groups are shared, index and all.
        let shared = t
            .groups
            .iter()
            .zip(u.groups.iter())
            .filter(|(a, b)| Arc::ptr_eq(&a.index, &b.index) && Arc::ptr_eq(&a.shards, &b.shards))
            .count();
        assert!(shared >= t.groups.len() - 3, "{shared} groups shared");
    }

    #[test]
    fn rebuilt_shards_keep_every_other_entry_at_its_new_offset() {
        let body = |i: usize| vec![b'x'; i % 7 * 13 + 1];
        let keys: Vec<String> = (0..100_000).map(|i| format!("k{i}")).collect();
        let mut per: Vec<Vec<u8>> = vec![Vec::new(); SHARD_COUNT];
        for (i, k) in keys.iter().enumerate() {
            let out = &mut per[shard_of(key_hash(k.as_bytes()))];
            let s = begin_entry(out, k.as_bytes());
            out.extend_from_slice(&body(i));
            end_entry(out, s);
        }
        let t = Table::from_shards(per.into_iter().map(Shard::from_arena).collect());
        // Touched: the shards of k0..k40. In each, every third key goes, the next is
        // replaced, and new keys come; one shard loses everything.
        let touched: Vec<usize> = {
            let mut v: Vec<usize> = keys[..40]
                .iter()
                .map(|k| shard_of(key_hash(k.as_bytes())))
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        let emptied = touched[0];
        let gone = |i: usize, s: usize| s == emptied || i.is_multiple_of(3);
        let fresh: Vec<String> = (0..200_000)
            .map(|i| format!("n{i}"))
            .filter(|k| touched.contains(&shard_of(key_hash(k.as_bytes()))))
            .filter(|k| shard_of(key_hash(k.as_bytes())) != emptied)
            .collect();
        let mut replaced = Vec::new();
        for &s in &touched {
            let mut removed: Vec<(u64, &[u8])> = vec![(key_hash(b"absent"), b"absent")];
            let mut added = Vec::new();
            for (i, k) in keys.iter().enumerate() {
                let h = key_hash(k.as_bytes());
                if shard_of(h) != s || !(gone(i, s) || i % 3 == 1) {
                    continue;
                }
                removed.push((h, k.as_bytes()));
                if !gone(i, s) {
                    let e = begin_entry(&mut added, k.as_bytes());
                    added.extend_from_slice(b"new");
                    end_entry(&mut added, e);
                }
            }
            for k in fresh
                .iter()
                .filter(|k| shard_of(key_hash(k.as_bytes())) == s)
            {
                let e = begin_entry(&mut added, k.as_bytes());
                added.extend_from_slice(b"fresh");
                end_entry(&mut added, e);
            }
            replaced.push((s, t.get(s).unwrap().rebuild(&removed, &added)));
        }
        let u = t.with_replaced(replaced);
        for (i, k) in keys.iter().enumerate() {
            let h = key_hash(k.as_bytes());
            let s = shard_of(h);
            let e = u.find(h, k.as_bytes());
            match (touched.contains(&s), gone(i, s), i % 3 == 1) {
                (true, true, _) => assert!(e.is_none(), "{k} removed"),
                (true, false, true) => assert!(e.unwrap().ends_with(b"new"), "{k} replaced"),
                _ => assert_eq!(&e.unwrap()[5 + k.len()..], &body(i)[..], "{k} kept"),
            }
            assert!(
                t.find(h, k.as_bytes()).is_some(),
                "{k} still in the old table"
            );
        }
        for k in &fresh {
            assert!(u
                .find(key_hash(k.as_bytes()), k.as_bytes())
                .unwrap()
                .ends_with(b"fresh"));
        }
        assert!(!fresh.is_empty());
        for &s in &touched {
            let shard = u.get(s).unwrap().shard;
            assert_eq!(shard.entries().count(), shard.len());
            assert_eq!(u.get(s).unwrap().slots().count(), shard.len());
        }
        assert_eq!(u.get(emptied).unwrap().shard.ptr(), Shard::empty().ptr());
    }

    #[test]
    fn an_empty_table_finds_nothing_and_touches_safely() {
        let t = Table::from_shards(Vec::new());
        let h = key_hash(b"a");
        assert!(t.find(h, b"a").is_none());
        assert!(t.get(shard_of(h)).unwrap().find_offset(h, b"a").is_none());
        assert_eq!(t.get(shard_of(h)).unwrap().touch(h), EMPTY_SLOT);
        assert_eq!(t.touch_index(h), EMPTY_SLOT);
        assert_eq!(t.iter().count(), SHARD_COUNT);
    }
}
