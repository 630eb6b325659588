//! The editor: applies record changes on top of a base shard table.
//!
//! Touched entries are decoded into editable form on first use and kept in a
//! dirty map; everything they imply (empty non-terminals appearing or going,
//! parents' child lists, auto-PTR records, apex SOA/NS) is done here too.
//! [`Editor::finish`] encodes the dirty entries and rebuilds only the shards
//! they fall in; every other shard is shared with the base.

use super::autoptr::Edit as AutoEdit;
use super::children::{
    chunk_key, chunk_key_into, chunk_of, decode_chunk, each_chunk_label, encode_chunk,
    is_chunk_key, CHUNK_TARGET, MAX_CHUNKS,
};
use super::hash::key_hash;
use super::node::{is_derived, NodeData, NodeRef};
use super::rrset::{is_given, kind_of, Item, RrData, GROUP_RTYPE, KIND_GROUP, KIND_SYNTHETIC};
use super::shard::{begin_entry, end_entry, shard_of, Table};
use super::zone::ZoneRules;
use crate::name::Name;
use crate::record::{rtype, Record};
use rustc_hash::FxHashMap;
use std::collections::hash_map::Entry as MapEntry;

/// A record's type and RDATA (what makes two records the same).
type RecordKey = (u16, u8, Box<[u8]>);

mod autoptr;
mod batch;
mod bounded;
mod delta;
mod group;
mod subtree;

pub(crate) use bounded::Bounded;
pub(crate) use group::name_group;
pub(crate) use subtree::normalise_srv;
pub use subtree::MAX_SUBTREE_RRS;

/// A decoded table entry.
enum Entry {
    Node(NodeData),
    Chunk(Vec<Box<[u8]>>),
}

/// Counts kept alongside the table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counters {
    /// Records as given (after de-duplication), not synthetic or generated.
    pub records: usize,
    /// Names owning given records.
    pub names: usize,
    /// Records ignored because they are outside every served domain.
    pub ignored: usize,
    /// Given PTR records accepted only because they are under a reverse tree.
    pub reverse_explicit: [usize; 2],
}

pub(crate) struct Editor<'a> {
    rules: &'a ZoneRules,
    base: &'a Table,
    dirty: FxHashMap<Box<[u8]>, Option<Entry>>,
    pub(crate) counters: Counters,
    auto_edits: Vec<AutoEdit>,
}

impl<'a> Editor<'a> {
    pub(crate) fn new(rules: &'a ZoneRules, base: &'a Table, counters: Counters) -> Self {
        Editor {
            rules,
            base,
            dirty: FxHashMap::default(),
            counters,
            auto_edits: Vec::new(),
        }
    }

    fn load(&mut self, key: &[u8]) {
        if self.dirty.contains_key(key) {
            return;
        }
        let h = key_hash(key);
        let found = self.base.get(shard_of(h)).and_then(|s| s.find(h, key));
        let entry = found.map(|e| {
            if is_chunk_key(key) {
                Entry::Chunk(decode_chunk(e))
            } else {
                Entry::Node(NodeData::decode(NodeRef::new(self.base, e)))
            }
        });
        self.dirty.insert(key.into(), entry);
    }

    /// A read-only view of a node: its dirty copy, else its base entry (not loaded).
    fn peek(&self, key: &[u8]) -> Option<View<'_>> {
        self.peek_hashed(key, key_hash(key))
    }

    /// [`Editor::peek`] with the key's hash already known.
    fn peek_hashed(&self, key: &[u8], h: u64) -> Option<View<'_>> {
        match self.dirty.get(key) {
            Some(Some(Entry::Node(n))) => Some(View::Dirty(n)),
            Some(_) => None,
            None => {
                let e = self.base.get(shard_of(h)).and_then(|s| s.find(h, key))?;
                Some(View::Base(NodeRef::new(self.base, e)))
            }
        }
    }

    /// The child labels of `parent` (`chunks` chunks), read without loading them.
    fn peek_children(&self, parent: &[u8], chunks: u16) -> Vec<Box<[u8]>> {
        let mut out = Vec::new();
        self.each_child(parent, chunks, |l| out.push(l.into()));
        out
    }

    /// Calls `f` with each child label of `parent` (`chunks` chunks), without copying them.
    fn each_child(&self, parent: &[u8], chunks: u16, mut f: impl FnMut(&[u8])) {
        let mut buf = [0u8; crate::name::MAX_NAME_LEN + 3];
        for c in 0..chunks {
            let n = chunk_key_into(parent, c, &mut buf);
            let ck = &buf[..n];
            match self.dirty.get(ck) {
                Some(Some(Entry::Chunk(labels))) => labels.iter().for_each(|l| f(l)),
                Some(_) => {}
                None => {
                    let h = key_hash(ck);
                    if let Some(e) = self.base.get(shard_of(h)).and_then(|s| s.find(h, ck)) {
                        each_chunk_label(e, &mut f);
                    }
                }
            }
        }
    }

    fn node_mut(&mut self, key: &[u8]) -> Option<&mut NodeData> {
        self.load(key);
        match self.dirty.get_mut(key) {
            Some(Some(Entry::Node(n))) => Some(n),
            _ => None,
        }
    }

    fn chunk_mut(&mut self, key: &[u8]) -> &mut Vec<Box<[u8]>> {
        self.load(key);
        let slot = self.dirty.entry(key.into()).or_insert(None);
        if !matches!(slot, Some(Entry::Chunk(_))) {
            *slot = Some(Entry::Chunk(Vec::new()));
        }
        match slot {
            Some(Entry::Chunk(c)) => c,
            _ => unreachable!("just set to a chunk"),
        }
    }

    /// Makes sure a node exists, creating it and its missing ancestors.
    fn ensure_node(&mut self, key: &[u8], owner: &[u8]) {
        if self.node_mut(key).is_some() {
            return;
        }
        let owner = if owner.len() == key.len() { owner } else { key };
        self.dirty
            .insert(key.into(), Some(Entry::Node(NodeData::new(owner))));
        if let Some(p) = self.rules.parent_offset(key) {
            self.ensure_node(&key[p..], &owner[p..]);
            self.add_child(&key[p..], &key[1..p]);
        }
    }

    fn add_child(&mut self, parent: &[u8], label: &[u8]) {
        let Some(n) = self.node_mut(parent) else {
            return;
        };
        n.child_count += 1;
        if n.child_chunks == 0 {
            n.child_chunks = 1;
        }
        let (count, chunks) = (n.child_count as usize, n.child_chunks);
        let ck = chunk_key(parent, chunk_of(label, chunks));
        self.chunk_mut(&ck).push(label.into());
        if count > CHUNK_TARGET * chunks as usize && chunks < MAX_CHUNKS {
            self.regrow(parent, chunks, chunks * 2);
        }
    }

    /// Redistributes a parent's child labels over `new` chunks.
    fn regrow(&mut self, parent: &[u8], old: u16, new: u16) {
        let mut labels = Vec::new();
        for c in 0..old {
            let ck = chunk_key(parent, c);
            labels.append(self.chunk_mut(&ck));
            self.dirty.insert(ck.into(), None);
        }
        let mut parts: Vec<Vec<Box<[u8]>>> = vec![Vec::new(); new as usize];
        for l in labels {
            parts[chunk_of(&l, new) as usize].push(l);
        }
        for (c, part) in parts.into_iter().enumerate() {
            if !part.is_empty() {
                self.dirty
                    .insert(chunk_key(parent, c as u16).into(), Some(Entry::Chunk(part)));
            }
        }
        if let Some(n) = self.node_mut(parent) {
            n.child_chunks = new;
        }
    }

    fn remove_child(&mut self, parent: &[u8], label: &[u8]) {
        let chunks = match self.node_mut(parent) {
            Some(n) if n.child_chunks > 0 => n.child_chunks,
            _ => return,
        };
        let ck = chunk_key(parent, chunk_of(label, chunks));
        let chunk = self.chunk_mut(&ck);
        let Some(pos) = chunk.iter().position(|l| **l == *label) else {
            return;
        };
        chunk.swap_remove(pos);
        if chunk.is_empty() {
            self.dirty.insert(ck.into(), None);
        }
        if let Some(n) = self.node_mut(parent) {
            n.child_count -= 1;
            if n.child_count == 0 {
                let old = n.child_chunks;
                n.child_chunks = 0;
                for c in 0..old {
                    self.dirty.insert(chunk_key(parent, c).into(), None);
                }
            }
        }
    }

    /// Removes the node if it has neither RRsets nor children, then its
    /// parent if that became empty too, and so on.
    fn prune(&mut self, key: &[u8]) {
        let mut key = key.to_vec();
        loop {
            match self.node_mut(&key) {
                Some(n) if n.is_dead() => {}
                _ => return,
            }
            self.dirty.insert(key.as_slice().into(), None);
            let Some(p) = self.rules.parent_offset(&key) else {
                return;
            };
            let (label, parent) = (key[1..p].to_vec(), key[p..].to_vec());
            self.remove_child(&parent, &label);
            key = parent;
        }
    }

    /// Replaces every record owned by `name` with `records` (empty = delete).
    /// Records for other names or outside the served domains are ignored.
    pub(crate) fn set_name(&mut self, name: &Name, records: &[Record]) {
        let key = name.as_wire().to_ascii_lowercase();
        // The owner keeps the case of the first record that names it.
        let owner = records
            .iter()
            .map(|r| r.name.as_wire())
            .find(|o| o.eq_ignore_ascii_case(&key))
            .unwrap_or(name.as_wire());
        let configured = self.rules.is_configured(&key);
        let reverse = if configured {
            None
        } else {
            self.rules.reverse_family(&key)
        };
        let default_ttl = self.rules.default_ttl();
        let mut new: Vec<RrData> = Vec::new();
        // (type, RDATA) → (rrset, item): a repeated record keeps the smaller TTL without a
        // linear scan per record (a headless Service's name can carry thousands).
        let mut seen: FxHashMap<RecordKey, (usize, usize)> = FxHashMap::default();
        let mut buf = Vec::new();
        for r in records {
            let t = r.data.rtype();
            let kind = kind_of(r);
            let accepted = (configured || (reverse.is_some() && t == rtype::PTR))
                && r.name.as_wire().eq_ignore_ascii_case(owner);
            if !accepted {
                self.counters.ignored += 1;
                continue;
            }
            buf.clear();
            r.data.write_wire(&mut buf);
            let ttl = if r.ttl == 0 { default_ttl } else { r.ttl };
            let set = match new.iter().position(|s| s.rtype == t && s.kind == kind) {
                Some(i) => i,
                None => {
                    new.push(RrData::new(t, kind));
                    new.len() - 1
                }
            };
            match seen.entry((t, kind, buf.as_slice().into())) {
                MapEntry::Occupied(e) => {
                    let (s, i) = *e.get();
                    new[s].items[i].ttl = new[s].items[i].ttl.min(ttl);
                }
                MapEntry::Vacant(v) => {
                    v.insert((set, new[set].items.len()));
                    new[set].items.push(Item {
                        ttl,
                        rdata: buf.as_slice().into(),
                    });
                }
            }
        }
        let auto_ptr = self.rules.config.auto_ptr && configured;

        // Take the old records out.
        let mut same_owner = false;
        let old: Vec<RrData> = match self.node_mut(&key) {
            Some(n) => {
                same_owner = *n.owner == *owner;
                let (old, keep) = std::mem::take(&mut n.rrsets)
                    .into_iter()
                    .partition(|r| is_given(r.kind));
                n.rrsets = keep;
                // Subtree answers are recomputed once every change is in (`subtree`); the
                // group goes with the records.
                n.rrsets
                    .retain(|r| !is_derived(r.kind) && r.kind != KIND_GROUP);
                old
            }
            None => Vec::new(),
        };
        let old_count: usize = old.iter().map(|r| r.items.len()).sum();
        if old_count > 0 {
            self.counters.records -= old_count;
            self.counters.names -= 1;
            if let Some(f) = reverse {
                self.counters.reverse_explicit[f] -= old_count;
            }
        }
        // Auto-PTR edits only for addresses that come or go (or change TTL): a name with
        // thousands of addresses where one changed costs one PTR edit, not thousands.
        let addrs = |sets: &[RrData]| -> FxHashMap<Box<[u8]>, u32> {
            let items = sets
                .iter()
                .filter(|r| is_address(r.rtype))
                .flat_map(|r| &r.items);
            items.map(|i| (i.rdata.clone(), i.ttl)).collect()
        };
        let (old_addrs, new_addrs) = if auto_ptr {
            (addrs(&old), addrs(&new))
        } else {
            Default::default()
        };
        for a in old_addrs.keys().filter(|a| !new_addrs.contains_key(*a)) {
            self.remove_auto_ptr(a, &key);
        }

        // Put the new ones in.
        let new_count: usize = new.iter().map(|r| r.items.len()).sum();
        if new_count > 0 {
            self.ensure_node(&key, owner);
            for (a, ttl) in &new_addrs {
                if !same_owner || old_addrs.get(a) != Some(ttl) {
                    self.add_auto_ptr(a, owner, *ttl);
                }
            }
            if let Some(n) = self.node_mut(&key) {
                n.owner = owner.into();
                n.rrsets.extend(new);
            }
            if configured {
                if let Some(g) = name_group(records.iter()) {
                    self.set_group(&key, g);
                }
            }
            self.counters.records += new_count;
            self.counters.names += 1;
            if let Some(f) = reverse {
                self.counters.reverse_explicit[f] += new_count;
            }
        }
        self.prune(&key);
    }

    /// Gives an apex its synthetic SOA and NS (shown unless records provide them).
    pub(crate) fn set_synthetic(&mut self, apex_key: &[u8], apex_owner: &[u8], serial: u32) {
        self.ensure_node(apex_key, apex_owner);
        let ttl = self.rules.default_ttl();
        let soa = self.rules.synthetic_soa(apex_owner, serial);
        let ns = self.rules.synthetic_ns(apex_owner);
        if let Some(n) = self.node_mut(apex_key) {
            n.rrsets.retain(|r| r.kind != KIND_SYNTHETIC);
            let mut s = RrData::new(rtype::SOA, KIND_SYNTHETIC);
            s.add(ttl, &soa);
            let mut n2 = RrData::new(rtype::NS, KIND_SYNTHETIC);
            n2.add(ttl, &ns);
            n.rrsets.push(s);
            n.rrsets.push(n2);
        }
    }

    /// Removes an apex's synthetic SOA and NS.
    pub(crate) fn clear_synthetic(&mut self, apex_key: &[u8]) {
        if let Some(n) = self.node_mut(apex_key) {
            n.rrsets.retain(|r| r.kind != KIND_SYNTHETIC);
        }
        self.prune(apex_key);
    }

    /// Marks the name at `key` (holding records) as one of `group`'s services.
    pub(crate) fn set_group(&mut self, key: &[u8], group: &str) {
        if let Some(n) = self.node_mut(key) {
            n.rrsets.retain(|r| r.kind != KIND_GROUP);
            let mut set = RrData::new(GROUP_RTYPE, KIND_GROUP);
            set.items.push(Item {
                ttl: 0,
                rdata: group.as_bytes().into(),
            });
            n.rrsets.push(set);
        }
    }

    /// Keys of every node touched so far.
    pub(crate) fn touched_names(&self) -> impl Iterator<Item = &[u8]> {
        self.dirty.keys().map(|k| &**k).filter(|k| !is_chunk_key(k))
    }

    /// Encodes the dirty entries and rebuilds the shards they fall in.
    pub(crate) fn finish(self) -> (Table, Counters) {
        struct ShardEdit<'k> {
            removed: Vec<(u64, &'k [u8])>,
            added: Vec<u8>,
        }
        let mut edits: FxHashMap<usize, ShardEdit<'_>> = FxHashMap::default();
        for (key, entry) in &self.dirty {
            let h = key_hash(key);
            let s = shard_of(h);
            let edit = edits.entry(s).or_insert_with(|| ShardEdit {
                removed: Vec::new(),
                added: Vec::new(),
            });
            if self.base.get(s).is_some_and(|b| b.len() > 0) {
                edit.removed.push((h, key));
            }
            let Some(entry) = entry else {
                continue;
            };
            match entry {
                Entry::Node(n) if !n.is_dead() => {
                    let start = begin_entry(&mut edit.added, key);
                    n.encode_body(key, self.rules.policy(key), &mut edit.added);
                    end_entry(&mut edit.added, start);
                }
                Entry::Chunk(c) if !c.is_empty() => {
                    let start = begin_entry(&mut edit.added, key);
                    encode_chunk(c, &mut edit.added);
                    end_entry(&mut edit.added, start);
                }
                _ => {}
            }
        }
        let replaced = edits
            .into_iter()
            .filter_map(|(s, edit)| {
                Some((s, self.base.get(s)?.rebuild(&edit.removed, &edit.added)))
            })
            .collect();
        (self.base.with_replaced(replaced), self.counters)
    }
}

/// A node read without loading it into the editor.
enum View<'a> {
    Dirty(&'a NodeData),
    Base(NodeRef<'a>),
}

impl View<'_> {
    fn owner(&self) -> &[u8] {
        match self {
            View::Dirty(n) => &n.owner,
            View::Base(n) => n.owner(),
        }
    }

    /// True when its derived (subtree) RRsets are exactly `sets` (in any order), compared
    /// in place.
    fn derived_equals(&self, sets: &[RrData]) -> bool {
        let find = |t: u16, kind: u8| sets.iter().find(|d| d.rtype == t && d.kind == kind);
        let mut count = 0;
        let all_same = match self {
            View::Dirty(n) => n.rrsets.iter().filter(|r| is_derived(r.kind)).all(|r| {
                count += 1;
                find(r.rtype, r.kind).is_some_and(|d| d.items == r.items)
            }),
            View::Base(n) => n.all_rrsets().filter(|r| is_derived(r.kind())).all(|r| {
                count += 1;
                find(r.rtype(), r.kind()).is_some_and(|d| {
                    d.items.len() == r.len()
                        && d.items
                            .iter()
                            .enumerate()
                            .all(|(i, x)| x.ttl == r.record_ttl(i) && *x.rdata == *r.rdata(i))
                })
            }),
        };
        all_same && count == sets.len()
    }

    fn child_chunks(&self) -> u16 {
        match self {
            View::Dirty(n) => n.child_chunks,
            View::Base(n) => n.child_chunks(),
        }
    }

    /// True when it holds an RRset of this type and kind.
    fn has(&self, t: u16, kind: u8) -> bool {
        match self {
            View::Dirty(n) => n.rrset(t, kind).is_some(),
            View::Base(n) => n.all_rrsets().any(|r| r.rtype() == t && r.kind() == kind),
        }
    }

    /// Calls `f(ttl, rdata)` for each record of the RRset of this type and kind, in stored
    /// order, until `f` returns false.
    fn each(&self, t: u16, kind: u8, mut f: impl FnMut(u32, &[u8]) -> bool) {
        match self {
            View::Dirty(n) => {
                for i in n.rrset(t, kind).map_or(&[][..], |r| &r.items) {
                    if !f(i.ttl, &i.rdata) {
                        return;
                    }
                }
            }
            View::Base(n) => {
                if let Some(r) = n.all_rrsets().find(|r| r.rtype() == t && r.kind() == kind) {
                    for i in 0..r.len() {
                        if !f(r.record_ttl(i), r.rdata(i)) {
                            return;
                        }
                    }
                }
            }
        }
    }

    /// True when it holds a derived (subtree) RRset.
    fn has_derived(&self) -> bool {
        match self {
            View::Dirty(n) => n.rrsets.iter().any(|r| is_derived(r.kind)),
            View::Base(n) => n.all_rrsets().any(|r| is_derived(r.kind())),
        }
    }
}

fn is_address(t: u16) -> bool {
    t == rtype::A || t == rtype::AAAA
}
