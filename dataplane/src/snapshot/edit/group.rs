//! `group` (SkyDNS / CoreDNS etcd plugin, `msg.Group`): a name's subtree answer keeps only
//! the services of one group.
//!
//! The services of a name are the names at or below it holding records (wildcard owners
//! left out, as in the subtree answer), in etcd key order: the key is the labels reversed,
//! joined by `/`, compared bytewise; the depth of a key is its label count. A name's group is
//! the group of its values when they all share one, else none. CoreDNS's rule, followed
//! step by step:
//! - walk the services in key order; the first one's group and depth start; a service at a
//!   smaller depth than the current one sets the group when it has one, and stops the walk
//!   when it has none;
//! - no group found: every service is answered;
//! - otherwise the services of that group and those without a group are answered, but every
//!   service is answered when one walked before the stop, at the group's depth, holds
//!   another group (services after the stop never count as disagreeing, as in CoreDNS).
//!
//! Precomputed: a name with children whose subtree holds a group is marked
//! ([`KIND_GROUPED`]); its answers are computed from the walk over its subtree, so the cost
//! of an update there is the size of the subtree (names without groups below them keep the
//! incremental path of `edit::delta`). The unfiltered answer is kept hidden
//! ([`KIND_SUBTREE_RAW`](crate::snapshot::rrset::KIND_SUBTREE_RAW)) for the parent.

use super::subtree::{add_given, prefixed, Bounded, SUBTREE_TYPES};
use super::{Editor, View};
use crate::record::Record;
use crate::snapshot::rrset::{is_given, GROUP_RTYPE, KIND_GROUP, KIND_GROUPED};
use crate::wire::name::label_count;

/// The group of a name holding `records`: the one they all share, else none.
pub(crate) fn name_group<'r>(mut records: impl Iterator<Item = &'r Record>) -> Option<&'r str> {
    let first = records.next()?.group.as_deref()?;
    records
        .all(|r| r.group.as_deref() == Some(first))
        .then_some(first)
}

/// One service for the group rule.
struct Member {
    /// The etcd key below the prefix: `/` + each label, right to left.
    path: Vec<u8>,
    depth: usize,
    group: Option<Box<[u8]>>,
    key: Box<[u8]>,
}

/// The etcd key order path of a wire name.
fn key_path(key: &[u8]) -> Vec<u8> {
    let mut labels = Vec::new();
    let mut at = 0;
    while let Some(&len) = key.get(at) {
        if len == 0 {
            break;
        }
        labels.push(key.get(at + 1..at + 1 + len as usize).unwrap_or(&[]));
        at += 1 + len as usize;
    }
    let mut path = Vec::with_capacity(key.len() + 1);
    for l in labels.iter().rev() {
        path.push(b'/');
        path.extend_from_slice(l);
    }
    path
}

/// CoreDNS `msg.Group` over `m` (in key order): which services are answered, `None` = all.
fn coredns_group(m: &[Member]) -> Option<Vec<bool>> {
    let first = m.first()?;
    let (mut group, mut depth) = (first.group.as_deref(), first.depth);
    // Depths as CoreDNS records them: only up to where the walk stopped (0 after).
    let mut walked = vec![0usize; m.len()];
    for (s, w) in m.iter().zip(walked.iter_mut()) {
        *w = s.depth;
        if s.depth < depth {
            let Some(g) = s.group.as_deref() else {
                break;
            };
            depth = s.depth;
            group = Some(g);
        }
    }
    let group = group?;
    let mut keep = Vec::with_capacity(m.len());
    for (s, &w) in m.iter().zip(&walked) {
        match s.group.as_deref() {
            None => keep.push(true),
            Some(g) if w == depth && g != group => return None,
            Some(g) => keep.push(g == group),
        }
    }
    Some(keep)
}

impl View<'_> {
    /// True when it holds records as given.
    fn has_given(&self) -> bool {
        match self {
            View::Dirty(n) => n.rrsets.iter().any(|r| is_given(r.kind)),
            View::Base(n) => n.all_rrsets().any(|r| is_given(r.kind())),
        }
    }

    /// The group of its values.
    fn group(&self) -> Option<Box<[u8]>> {
        let mut out = None;
        self.each(GROUP_RTYPE, KIND_GROUP, |_, g| {
            out = Some(g.into());
            false
        });
        out
    }

    /// True when it or a name below it has a group.
    pub(super) fn is_grouped(&self) -> bool {
        self.has(GROUP_RTYPE, KIND_GROUP) || self.has(GROUP_RTYPE, KIND_GROUPED)
    }
}

impl Editor<'_> {
    /// The services at or below `key`, in etcd key order.
    fn members(&self, key: &[u8]) -> Vec<Member> {
        let mut out = Vec::new();
        let mut stack = vec![key.to_vec()];
        while let Some(k) = stack.pop() {
            let Some(v) = self.peek(&k) else {
                continue;
            };
            if v.has_given() {
                out.push(Member {
                    path: key_path(&k),
                    depth: label_count(&k),
                    group: v.group(),
                    key: k.as_slice().into(),
                });
            }
            for label in self.peek_children(&k, v.child_chunks()) {
                if *label != *b"*" {
                    stack.extend(prefixed(&[&[label.len() as u8][..], &label].concat(), &k));
                }
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }

    /// The answers of `key` per type of [`SUBTREE_TYPES`] after the group rule, or `None`
    /// when every service is answered (the unfiltered union stands).
    pub(super) fn group_filtered(&self, key: &[u8]) -> Option<[Bounded; 5]> {
        let m = self.members(key);
        let keep = coredns_group(&m)?;
        let mut sets: [Bounded; 5] = Default::default();
        for (mem, _) in m.iter().zip(&keep).filter(|(_, k)| **k) {
            if let Some(v) = self.peek(&mem.key) {
                for (set, t) in sets.iter_mut().zip(SUBTREE_TYPES) {
                    add_given(&v, t, set);
                }
            }
        }
        Some(sets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str, group: Option<&str>) -> Member {
        let key = crate::name::Name::from_ascii(name).unwrap();
        let key = key.as_wire();
        Member {
            path: key_path(key),
            depth: label_count(key),
            group: group.map(|g| g.as_bytes().into()),
            key: key.into(),
        }
    }

    fn run(mut v: Vec<Member>) -> Option<Vec<bool>> {
        v.sort_by(|a, b| a.path.cmp(&b.path));
        coredns_group(&v)
    }

    #[test]
    fn the_rule_of_coredns_msg_group() {
        // No group: all.
        assert_eq!(run(vec![m("a.x.", None), m("b.x.", None)]), None);
        // Same group at two depths: both.
        let g1 = Some("g1");
        assert_eq!(
            run(vec![m("a.d.x.", g1), m("b.sub.d.x.", g1)]),
            Some(vec![true, true])
        );
        // The shortest key's group plus group-less services.
        assert_eq!(
            run(vec![m("a.d.x.", g1), m("b.sub.d.x.", None)]),
            Some(vec![true, true])
        );
        assert_eq!(
            run(vec![m("a.d.x.", g1), m("b.sub.d.x.", Some("g2"))]),
            Some(vec![true, false])
        );
        // Two groups at the shortest depth: all.
        assert_eq!(run(vec![m("a.d.x.", g1), m("b.d.x.", Some("g2"))]), None);
        // A shorter key without a group stops the walk: the group found so far stays and a
        // later service of another group at its depth is not a disagreement.
        assert_eq!(
            run(vec![
                m("a.a.d.x.", g1),
                m("b.d.x.", None),
                m("c.c.d.x.", Some("g2"))
            ]),
            Some(vec![true, true, false])
        );
    }

    #[test]
    fn key_order_is_the_etcd_order() {
        // `/x/d/a-b` < `/x/d/a/c` < `/x/d/ab` (`-` < `/` < letters).
        let mut v = [m("c.a.d.x.", None), m("ab.d.x.", None), m("a-b.d.x.", None)];
        v.sort_by(|a, b| a.path.cmp(&b.path));
        let names: Vec<&[u8]> = v.iter().map(|x| &x.path[..]).collect();
        assert_eq!(names, [&b"/x/d/a-b"[..], b"/x/d/a/c", b"/x/d/ab"]);
    }
}
