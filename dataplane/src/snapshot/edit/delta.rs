//! Incremental subtree answers: a name's stored answer updated from the change of the
//! contributors that changed (its own records, its changed children) instead of re-reading
//! every child.
//!
//! A name's answer per type is the bounded union ([`Bounded`]) of its contributors' sets.
//! For each changed contributor, with its set before (`old`, read from the base table) and
//! after (`new`, read from the edited table):
//! - every RDATA of `new` is added (an RDATA new to the union, or a smaller TTL): the union
//!   only grows, so adding is exact, bound included;
//! - an RDATA of `old` that `new` lacks, or holds with a larger TTL, changes nothing when the
//!   answer holds it with a smaller TTL than `old` (another contributor gives that TTL) or
//!   does not hold it at all (a full answer whose bound leaves it out); otherwise this
//!   contributor may have been the one giving it, and the name is recomputed from all its
//!   children (the full pass).
//!
//! So an update costs the sizes of the changed sets along the path to the apex, plus a full
//! recompute only of the names where a removed record was in the answer and may have come from
//! the changed contributor alone. Zone apexes are always recomputed in full
//! (`apex.dns` and `ns.dns` rules), and so are names with a group at or below them
//! (`edit::group`).

use super::subtree::{
    contribution, given, same_contribution, subtree_kind, Bounded, SUBTREE_TYPES,
};
use super::{Editor, View};
use crate::record::rtype;
use crate::snapshot::hash::key_hash;
use crate::snapshot::node::{is_derived, NodeRef};
use crate::snapshot::rrset::{KIND_SUBTREE, KIND_SUBTREE_RAW};
use crate::snapshot::shard::shard_of;

/// Applies one contributor's change (`old` → `new`) to `set`; false when `set` cannot be
/// updated without the other contributors (a full recompute is needed).
fn apply_change(set: &mut Bounded, old: &Bounded, new: &Bounded) -> bool {
    for (ot, rdata) in old.iter() {
        if new.get(rdata).is_some_and(|nt| nt <= ot) {
            continue;
        }
        match set.get(rdata) {
            Some(st) if st >= ot => return false,
            Some(_) => {}
            None if !set.is_full() => return false,
            None => {}
        }
    }
    for (nt, rdata) in new.iter() {
        set.add(nt, rdata);
    }
    true
}

/// True when `v`'s derived sets are exactly what `Editor::derived_sets(sets, below)` makes
/// without a group filter, compared in place (no RRset built, no SRV weights normalised).
/// False also when this cannot be told so (an SRV set shown without a raw one): the caller
/// then builds the sets and compares them.
pub(super) fn stored_as(v: &View<'_>, sets: &[Bounded; 5], below: [bool; 5]) -> bool {
    let same = |t: u16, kind: u8, set: &Bounded| {
        let mut it = set.iter();
        let mut all = true;
        v.each(t, kind, |ttl, rdata| {
            all = it.next() == Some((ttl, rdata));
            all
        });
        all && it.next().is_none()
    };
    let mut expected = 0usize;
    for ((set, &t), below) in sets.iter().zip(SUBTREE_TYPES.iter()).zip(below) {
        if t == rtype::SRV && !set.is_empty() {
            // The shown set is the raw one normalised: the same raw set, the same shown one.
            if !below || !v.has(t, KIND_SUBTREE) || !same(t, KIND_SUBTREE_RAW, set) {
                return false;
            }
            expected += 2;
        } else if below {
            if set.is_empty() || !same(t, KIND_SUBTREE, set) {
                return false;
            }
            expected += 1;
        }
    }
    let derived = match v {
        View::Dirty(n) => n.rrsets.iter().filter(|r| is_derived(r.kind)).count(),
        View::Base(n) => n.all_rrsets().filter(|r| is_derived(r.kind())).count(),
    };
    derived == expected
}

impl Editor<'_> {
    /// The node at `key` in the base table (before this edit).
    fn base_view(&self, key: &[u8]) -> Option<View<'_>> {
        let h = key_hash(key);
        let e = self.base.get(shard_of(h)).and_then(|s| s.find(h, key))?;
        Some(View::Base(NodeRef::new(self.base, e)))
    }

    /// True when what `key` contributes to its parent's answer changed in this edit.
    pub(super) fn contribution_changed(&self, key: &[u8]) -> bool {
        let empty = |v: &View<'_>| SUBTREE_TYPES.iter().all(|&t| contribution(v, t).is_empty());
        match (self.base_view(key), self.peek(key)) {
            (None, None) => false,
            (Some(v), None) | (None, Some(v)) => !empty(&v),
            (Some(before), Some(after)) => !same_contribution(&before, &after),
        }
    }

    /// True when `key` has a group at or below it, before or after the edit.
    pub(super) fn grouped_here(&self, key: &[u8]) -> bool {
        let grouped = |v: Option<View<'_>>| v.is_some_and(|v| v.is_grouped());
        grouped(self.base_view(key)) || grouped(self.peek(key))
    }

    /// Recomputes `key`'s subtree answers from its stored ones and the changes of its own
    /// records and of `changed` (its children whose contribution changed). False when a full
    /// recompute is needed (see the module docs).
    pub(super) fn refresh_by_delta(&mut self, key: &[u8], changed: &[Box<[u8]>]) -> bool {
        if self.is_apex(key) {
            return false;
        }
        let (Some(base), Some(node)) = (self.base_view(key), self.peek(key)) else {
            // A new name: full. A removed one: nothing to store.
            return self.peek(key).is_none();
        };
        // Groups at or below: the answer depends on more than a union (`edit::group`).
        let grouped = |v: Option<View<'_>>| v.is_some_and(|v| v.is_grouped());
        if base.is_grouped() || node.is_grouped() || changed.iter().any(|c| grouped(self.peek(c))) {
            return false;
        }
        let mut sets: [Bounded; 5] = Default::default();
        let mut below = [false; 5];
        for (i, &t) in SUBTREE_TYPES.iter().enumerate() {
            below[i] = base.has(t, subtree_kind(t));
            sets[i] = contribution(&base, t);
            if !apply_change(&mut sets[i], &given(&base, t), &given(&node, t)) {
                return false;
            }
            for c in changed {
                let read = |v: Option<View<'_>>| v.map(|v| contribution(&v, t)).unwrap_or_default();
                let (old, new) = (read(self.base_view(c)), read(self.peek(c)));
                if below[i] && !old.is_empty() && new.is_empty() {
                    // Maybe the last child contributing: only a full pass can tell.
                    return false;
                }
                below[i] |= !new.is_empty();
                if !apply_change(&mut sets[i], &old, &new) {
                    return false;
                }
            }
        }
        if !stored_as(&node, &sets, below) {
            let derived = Self::derived_sets(sets, below, Default::default());
            self.store_derived(key, derived);
        }
        true
    }
}
