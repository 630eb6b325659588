//! Subtree answers (SkyDNS / CoreDNS etcd plugin rule), precomputed in the snapshot.
//!
//! A name answers A, AAAA, SRV, TXT and MX with the records of every name at or below it
//! (CoreDNS reads the etcd prefix of the name). The answer of each name is stored in the name's
//! node as a [`KIND_SUBTREE`] RRset, so a query reads one RRset as for any other name; the
//! data plane never walks a subtree.
//!
//! Rules, per type `t` of [`SUBTREE_TYPES`], for a node `N`:
//! - at-or-below(`N`, t) = the smallest [`MAX_SUBTREE_RRS`] distinct RDATAs (bytewise order;
//!   an RDATA found several times keeps its smallest TTL) among `N`'s own records of type `t`
//!   and at-or-below(`C`, t) of each child `C` whose label is not `*` (a wildcard owner stands
//!   for names that do not exist, RFC 4592). Composing the children's bounded sets gives the
//!   same result as bounding the whole subtree, so bulk build and incremental apply agree.
//! - It is stored (and shown instead of `N`'s own records) when some child contributes. SRV
//!   keeps the raw weights in a hidden [`KIND_SUBTREE_RAW`] set (what the parent composes)
//!   and shows a set with the weights normalised as CoreDNS does: per priority,
//!   `max(1, floor(100 / sum * w))`, a raw weight of 0 counting as 100.
//!   Zone-file SRV records ([`KIND_VERBATIM`]) are served as written at their own name
//!   (shown over the subtree answer) and enter their ancestors' sets with their raw weights.
//! - Where a `group` is at or below a name, the shown sets keep only the records of the
//!   services the group rule answers (`edit::group`); the unfiltered set is then kept hidden
//!   as [`KIND_SUBTREE_RAW`] for every type, and parents compose that.
//! - At a zone apex, A/AAAA come from `apex.dns.<apex>` (at or below) when that name exists,
//!   and NS from the names at or below `ns.dns.<apex>` holding A/AAAA records (their
//!   addresses are the glue), else the synthetic `ns.<apex>`.
//!
//! Cost: the bulk build computes every name from its children's stored sets, deepest first
//! (`children × MAX_SUBTREE_RRS` RDATAs at most per name). An update walks the touched names
//! and their ancestors, deepest first, and updates each stored answer from the old and new
//! sets of the contributors that changed (`edit::delta`), falling back to the full
//! computation only where a removed record may have been given by that contributor alone; a
//! name is written only when its answer changed.

pub(super) use super::bounded::Bounded;
use super::delta::stored_as;
use super::{is_address, Editor, View};
use crate::record::rtype;
use crate::snapshot::node::is_derived;
use crate::snapshot::parallel::parallel_each_mut;
use crate::snapshot::rrset::{
    Item, RrData, RrSet, GROUP_RTYPE, KIND_EXPLICIT, KIND_GROUP, KIND_GROUPED, KIND_SUBTREE,
    KIND_SUBTREE_RAW, KIND_VERBATIM,
};
use crate::wire::name::label_count;
use rustc_hash::{FxHashMap, FxHashSet};

/// Most records of one type in a name's subtree answer (the bound on RRs per name; the
/// engine writes at most this many per RRset).
pub const MAX_SUBTREE_RRS: usize = 256;

/// Names of one depth from which the bulk pass computes them on several threads.
const PARALLEL_LEVEL: usize = 512;

/// The types answered from the subtree.
pub(crate) const SUBTREE_TYPES: [u16; 5] =
    [rtype::A, rtype::AAAA, rtype::SRV, rtype::TXT, rtype::MX];

/// The kind of the stored subtree set of type `t` (raw weights for SRV; without a group
/// below, what a parent composes).
pub(super) fn subtree_kind(t: u16) -> u8 {
    if t == rtype::SRV {
        KIND_SUBTREE_RAW
    } else {
        KIND_SUBTREE
    }
}

/// What `v` gives its parent's answer of type `t`: at-or-below(`v`, t).
pub(super) fn contribution(v: &View<'_>, t: u16) -> Bounded {
    let mut set = Bounded::default();
    add_below(v, t, &mut set);
    set
}

/// `v`'s own records of type `t` (zone-file SRV records included, raw).
pub(super) fn given(v: &View<'_>, t: u16) -> Bounded {
    let mut set = Bounded::default();
    add_given(v, t, &mut set);
    set
}

/// Adds at-or-below(`v`, t) to `set`; true when it held records. A stored subtree set is
/// sorted, so reading it stops at the first RDATA a full `set` leaves out: a parent reads
/// only what can still enter its answer.
fn add_below(v: &View<'_>, t: u16, set: &mut Bounded) -> bool {
    // The unfiltered set when the shown one is filtered by group (always for SRV).
    let kind = if v.has(t, KIND_SUBTREE_RAW) {
        KIND_SUBTREE_RAW
    } else {
        subtree_kind(t)
    };
    if v.has(t, kind) {
        let mut any = false;
        v.each(t, kind, |ttl, rdata| {
            any = true;
            if set.rejects(rdata) {
                return false;
            }
            set.add(ttl, rdata);
            true
        });
        return any;
    }
    add_given(v, t, set)
}

/// A stored RRset of either kind of view.
#[derive(Clone, Copy)]
enum Src<'a> {
    Base(RrSet<'a>),
    Dirty(&'a RrData),
}

impl Src<'_> {
    /// Calls `f(ttl, rdata)` per record, in stored order, until it returns false.
    fn each(self, mut f: impl FnMut(u32, &[u8]) -> bool) {
        match self {
            Src::Base(r) => {
                for i in 0..r.len() {
                    if !f(r.record_ttl(i), r.rdata(i)) {
                        return;
                    }
                }
            }
            Src::Dirty(d) => {
                for i in &d.items {
                    if !f(i.ttl, &i.rdata) {
                        return;
                    }
                }
            }
        }
    }
}

impl<'a> Src<'a> {
    fn len(self) -> usize {
        match self {
            Src::Base(r) => r.len(),
            Src::Dirty(d) => d.items.len(),
        }
    }

    /// Record `i`: (TTL, RDATA).
    fn get(self, i: usize) -> (u32, &'a [u8]) {
        match self {
            Src::Base(r) => (r.record_ttl(i), r.rdata(i)),
            Src::Dirty(d) => (d.items[i].ttl, &d.items[i].rdata),
        }
    }
}

/// The stored set of type index `i` a parent composes (raw when filtered; always raw for
/// SRV), if any.
fn stored<'a>(src: &[Option<Src<'a>>; 4], t: u16) -> Option<Src<'a>> {
    let [raw, sub, ..] = *src;
    raw.or(if t == rtype::SRV { None } else { sub })
}

/// True when `a` and `b` give a parent the same sets (at-or-below per type): stored sets
/// are compared record by record, without building them.
pub(super) fn same_contribution(a: &View<'_>, b: &View<'_>) -> bool {
    let ((sa, _), (sb, _)) = (sources(a), sources(b));
    SUBTREE_TYPES
        .iter()
        .enumerate()
        .all(|(i, &t)| match (stored(&sa[i], t), stored(&sb[i], t)) {
            (Some(x), Some(y)) => x.len() == y.len() && (0..x.len()).all(|j| x.get(j) == y.get(j)),
            _ => contribution(a, t) == contribution(b, t),
        })
}

/// Per type of [`SUBTREE_TYPES`], `v`'s sets a parent may compose: raw (unfiltered),
/// subtree, explicit, verbatim; and whether `v` is grouped (`edit::group`). One pass over
/// the node's RRsets.
fn sources<'a>(v: &View<'a>) -> ([[Option<Src<'a>>; 4]; 5], bool) {
    let mut out: [[Option<Src<'a>>; 4]; 5] = Default::default();
    let mut grouped = false;
    let mut put = |t: u16, kind: u8, src: Src<'a>| {
        grouped |= kind == KIND_GROUP || kind == KIND_GROUPED;
        let slot = match kind {
            KIND_SUBTREE_RAW => 0,
            KIND_SUBTREE => 1,
            KIND_EXPLICIT => 2,
            KIND_VERBATIM => 3,
            _ => return,
        };
        if let Some(i) = SUBTREE_TYPES.iter().position(|&x| x == t) {
            out[i][slot] = Some(src);
        }
    };
    match v {
        View::Base(n) => n
            .all_rrsets()
            .for_each(|r| put(r.rtype(), r.kind(), Src::Base(r))),
        View::Dirty(n) => n
            .rrsets
            .iter()
            .for_each(|r| put(r.rtype, r.kind, Src::Dirty(r))),
    }
    (out, grouped)
}

/// [`add_below`] for every type `wanted` at once, in one pass over `v`'s RRsets; per type,
/// true when `v` held records; and whether `v` is grouped.
pub(super) fn add_below_all(
    v: &View<'_>,
    sets: &mut [Bounded; 5],
    wanted: impl Fn(u16) -> bool,
) -> ([bool; 5], bool) {
    let mut below = [false; 5];
    let (src, grouped) = sources(v);
    let all = SUBTREE_TYPES.iter().zip(src).zip(sets.iter_mut());
    for (((&t, [raw, sub, exp, verb]), set), any) in all.zip(below.iter_mut()) {
        if !wanted(t) {
            continue;
        }
        // A stored set is sorted: stop at the first RDATA a full `set` leaves out.
        match stored(&[raw, sub, exp, verb], t) {
            Some(c) => c.each(|ttl, rdata| {
                *any = true;
                if set.rejects(rdata) {
                    return false;
                }
                set.add(ttl, rdata);
                true
            }),
            None => {
                for g in [exp, verb].into_iter().flatten() {
                    g.each(|ttl, rdata| {
                        *any = true;
                        set.add(ttl, rdata);
                        true
                    });
                }
            }
        }
    }
    (below, grouped)
}

/// Adds `v`'s own records of type `t` (zone-file SRV records included, raw); true when any.
pub(super) fn add_given(v: &View<'_>, t: u16, set: &mut Bounded) -> bool {
    let mut any = false;
    for kind in [KIND_EXPLICIT, KIND_VERBATIM] {
        v.each(t, kind, |ttl, rdata| {
            any = true;
            set.add(ttl, rdata);
            true
        });
    }
    any
}

/// SRV records with CoreDNS's weights: per priority `max(1, floor(100 / sum * w))`, where a
/// raw weight of 0 counts as 100.
pub(crate) fn normalise_srv(raw: &RrData) -> RrData {
    let prio = |r: &[u8]| r.get(..2).map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
    let weight = |r: &[u8]| {
        let w = r.get(2..4).map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
        if w == 0 {
            100.0
        } else {
            f64::from(w)
        }
    };
    // Sums per priority, once (few distinct priorities).
    let mut sums: Vec<(u16, f64)> = Vec::new();
    for i in &raw.items {
        let p = prio(&i.rdata);
        match sums.iter_mut().find(|(q, _)| *q == p) {
            Some((_, s)) => *s += weight(&i.rdata),
            None => sums.push((p, weight(&i.rdata))),
        }
    }
    let mut out = RrData::new(rtype::SRV, KIND_SUBTREE);
    let mut seen: FxHashMap<Box<[u8]>, usize> = FxHashMap::default();
    for i in &raw.items {
        let p = prio(&i.rdata);
        let sum = sums
            .iter()
            .find(|(q, _)| *q == p)
            .map_or(100.0, |&(_, s)| s);
        let w = ((100.0 / sum) * weight(&i.rdata)).floor().max(1.0) as u16;
        let mut rdata: Box<[u8]> = i.rdata.clone();
        if let Some(b) = rdata.get_mut(2..4) {
            b.copy_from_slice(&w.to_be_bytes());
        }
        // Weights that normalise alike make equal records: one, with the smaller TTL.
        match seen.get(&rdata) {
            Some(&at) => {
                if let Some(x) = out.items.get_mut(at) {
                    x.ttl = x.ttl.min(i.ttl);
                }
            }
            None => {
                seen.insert(rdata.clone(), out.items.len());
                out.items.push(Item { ttl: i.ttl, rdata });
            }
        }
    }
    out
}

/// `prefix` (wire labels) followed by `key`, when that is a valid name length.
pub(super) fn prefixed(prefix: &[u8], key: &[u8]) -> Option<Vec<u8>> {
    let total = prefix.len() + key.len();
    (total <= crate::name::MAX_NAME_LEN).then(|| [prefix, key].concat())
}

impl Editor<'_> {
    /// Recomputes the subtree answers of `keys` and of all their ancestors, deepest first.
    /// `incremental`: the base table holds consistent answers (an update), so each name is
    /// updated from the changes of its contributors (`edit::delta`); else (the bulk build)
    /// every name is computed from its children.
    pub(crate) fn refresh_subtrees<'k>(
        &mut self,
        keys: impl IntoIterator<Item = &'k [u8]>,
        incremental: bool,
    ) {
        let mut all: FxHashSet<Box<[u8]>> = FxHashSet::default();
        let mut given: FxHashSet<&[u8]> = FxHashSet::default();
        for key in keys {
            given.insert(key);
            let mut k = key;
            while self.rules.is_configured(k) && all.insert(k.into()) {
                match self.rules.parent_offset(k) {
                    Some(p) => k = &k[p..],
                    None => break,
                }
            }
        }
        // Children before parents (siblings are independent: any order among them).
        let mut order: Vec<Box<[u8]>> = all.into_iter().collect();
        order.sort_by_cached_key(|k| std::cmp::Reverse(label_count(k)));
        // Per parent: its children whose contribution changed.
        let mut changed: FxHashMap<Box<[u8]>, Vec<Box<[u8]>>> = FxHashMap::default();
        if !incremental {
            self.refresh_levels(&mut order);
            return;
        }
        for key in &order {
            let children = changed.remove(key);
            // Nothing changed at or below an ancestor no changed child leads to (zone apexes
            // always recompute: their `ns.dns` and `apex.dns` rules read deeper names).
            if children.is_none() && !given.contains(&**key) && !self.is_apex(key) {
                continue;
            }
            if !self.refresh_by_delta(key, &children.unwrap_or_default()) {
                self.refresh_subtree(key);
            }
            let wildcard = key.starts_with(b"\x01*");
            if let Some(p) = self.rules.parent_offset(key).filter(|_| !wildcard) {
                // A grouped name's parent recomputes its group rule (`edit::group`).
                if self.contribution_changed(key) || self.grouped_here(key) {
                    changed
                        .entry(key[p..].into())
                        .or_default()
                        .push(key.clone());
                }
            }
        }
    }

    /// The bulk pass: every name of `order` (deepest first) computed from its children,
    /// one depth at a time; the names of a depth are computed in parallel (they read only
    /// the names below, already stored), then stored.
    fn refresh_levels(&mut self, order: &mut [Box<[u8]>]) {
        let mut rest = order;
        while let Some(first) = rest.first() {
            let depth = label_count(first);
            let n = rest.iter().take_while(|k| label_count(k) == depth).count();
            let (level, next) = rest.split_at_mut(n);
            let this = &*self;
            let computed = if level.len() >= PARALLEL_LEVEL {
                parallel_each_mut(level, |k| this.subtree_sets(k))
            } else {
                level.iter().map(|k| this.subtree_sets(k)).collect()
            };
            for (key, derived) in level.iter().zip(computed) {
                if let Some(derived) = derived {
                    self.put_derived(key, derived);
                }
            }
            rest = next;
        }
    }

    /// True when `key` is a served domain's apex.
    pub(super) fn is_apex(&self, key: &[u8]) -> bool {
        self.rules.domains.iter().any(|(k, _)| **k == *key)
    }

    /// Recomputes the subtree answers of one node from its own records and its children's.
    fn refresh_subtree(&mut self, key: &[u8]) {
        if let Some(derived) = self.subtree_sets(key) {
            self.store_derived(key, derived);
        }
    }

    /// The subtree answers of one node computed from its own records and its children's
    /// stored ones; `None` when they are already stored (or there are none to store).
    fn subtree_sets(&self, key: &[u8]) -> Option<Vec<RrData>> {
        let node = self.peek(key)?;
        let is_apex = self.is_apex(key);
        // A leaf without SRV records has no subtree answer (the common case, checked cheaply).
        if node.child_chunks() == 0
            && !is_apex
            && !node.has(rtype::SRV, KIND_EXPLICIT)
            && !node.has_derived()
        {
            return None;
        }
        let mut sets: [Bounded; 5] = Default::default();
        let mut below = [false; 5];
        for (set, t) in sets.iter_mut().zip(SUBTREE_TYPES) {
            add_given(&node, t, set);
        }
        let apex_dns = is_apex
            .then(|| prefixed(b"\x04apex\x03dns", key))
            .flatten()
            .filter(|k| self.peek(k).is_some());
        // Its own group, or a child's (whose mark is current: children come first).
        let mut grouped = node.child_chunks() > 0 && node.has(GROUP_RTYPE, KIND_GROUP);
        let from_apex_dns = apex_dns.is_some();
        let (from_children, children_grouped) =
            self.children_sets(key, node.child_chunks(), &mut sets, |t| {
                !(from_apex_dns && is_address(t))
            });
        grouped |= children_grouped;
        for (b, c) in below.iter_mut().zip(from_children) {
            *b |= c;
        }
        if let Some(src) = apex_dns.as_deref().and_then(|k| self.peek(k)) {
            let (from_src, _) = add_below_all(&src, &mut sets, is_address);
            for (b, c) in below.iter_mut().zip(from_src) {
                *b |= c;
            }
        }
        let ns = if is_apex { self.ns_from_dns(key) } else { None };
        // Unchanged (the common case of an update's ancestors): told without building sets.
        if !grouped && ns.is_none() && stored_as(&node, &sets, below) {
            return None;
        }
        // The group rule (`edit::group`); at an apex answering from `apex.dns`, A/AAAA keep
        // that rule.
        let mut shown: [Option<Bounded>; 5] = Default::default();
        if let Some(filtered) = grouped.then(|| self.group_filtered(key)).flatten() {
            for ((slot, f), t) in shown.iter_mut().zip(filtered).zip(SUBTREE_TYPES) {
                if !(apex_dns.is_some() && is_address(t)) {
                    *slot = Some(f);
                }
            }
        }
        let mut derived = Self::derived_sets(sets, below, shown);
        if grouped {
            let mut mark = RrData::new(GROUP_RTYPE, KIND_GROUPED);
            mark.items.push(Item {
                ttl: 0,
                rdata: [1u8][..].into(),
            });
            derived.push(mark);
        }
        derived.extend(ns);
        (!node.derived_equals(&derived)).then_some(derived)
    }

    /// The stored sets of a name from its bounded unions per type of [`SUBTREE_TYPES`],
    /// whether each holds records from below (only then is a set stored; SRV is always shown
    /// normalised), and the answers the group rule leaves (`Some`: shown instead of the
    /// union, which is kept hidden for the parent).
    pub(super) fn derived_sets(
        sets: [Bounded; 5],
        below: [bool; 5],
        shown: [Option<Bounded>; 5],
    ) -> Vec<RrData> {
        let mut derived = Vec::new();
        let all = sets.into_iter().zip(shown).zip(SUBTREE_TYPES).zip(below);
        for (((set, shown), t), below) in all {
            if t == rtype::SRV && !set.is_empty() {
                let raw = set.to_rrdata(t, KIND_SUBTREE_RAW);
                match shown {
                    Some(f) if f.is_empty() => {}
                    Some(f) => derived.push(normalise_srv(&f.to_rrdata(t, KIND_SUBTREE_RAW))),
                    None => derived.push(normalise_srv(&raw)),
                }
                if below {
                    derived.push(raw);
                }
            } else if below {
                match shown {
                    Some(f) => {
                        if !f.is_empty() {
                            derived.push(f.to_rrdata(t, KIND_SUBTREE));
                        }
                        derived.push(set.to_rrdata(t, KIND_SUBTREE_RAW));
                    }
                    None => derived.push(set.to_rrdata(t, KIND_SUBTREE)),
                }
            }
        }
        derived
    }

    /// Replaces `key`'s derived sets with `derived` when they differ.
    pub(super) fn store_derived(&mut self, key: &[u8], derived: Vec<RrData>) {
        let Some(node) = self.peek(key) else {
            return;
        };
        if node.derived_equals(&derived) {
            return;
        }
        self.put_derived(key, derived);
    }

    /// Replaces `key`'s derived sets with `derived`.
    fn put_derived(&mut self, key: &[u8], mut derived: Vec<RrData>) {
        derived.sort_by_key(|r| (r.rtype, r.kind));
        if let Some(n) = self.node_mut(key) {
            n.rrsets.retain(|r| !is_derived(r.kind));
            n.rrsets.extend(derived);
        }
    }

    /// NS of an apex from `ns.dns.<apex>`: every name at or below it with A/AAAA records
    /// (TTL: the smallest of those records).
    fn ns_from_dns(&self, apex: &[u8]) -> Option<RrData> {
        let mut stack = vec![prefixed(b"\x02ns\x03dns", apex)?];
        let mut set = Bounded::default();
        while let Some(k) = stack.pop() {
            let Some(v) = self.peek(&k) else {
                continue;
            };
            let mut ttl: Option<u32> = None;
            for t in [rtype::A, rtype::AAAA] {
                v.each(t, KIND_EXPLICIT, |x, _| {
                    ttl = Some(ttl.map_or(x, |m| m.min(x)));
                    true
                });
            }
            if let Some(ttl) = ttl {
                set.add(ttl, v.owner());
            }
            for label in self.peek_children(&k, v.child_chunks()) {
                if *label != *b"*" {
                    stack.extend(prefixed(&[&[label.len() as u8][..], &label].concat(), &k));
                }
            }
        }
        (!set.is_empty()).then(|| set.to_rrdata(rtype::NS, KIND_SUBTREE))
    }
}
