//! Wildcard labels in a query (SkyDNS / CoreDNS etcd plugin rule): a `*` or `any` label in any
//! position matches exactly one label of an existing name, and the matched names answer with
//! their subtree answers (everything at or below them), so `prod.*.skydns.local` lists every
//! service under `prod.<x>.skydns.local` for each `<x>`.
//!
//! Bounded and allocation-free: at most [`MAX_WILDCARD_LABELS`] wildcard labels (a query with
//! more matches nothing), at most [`MAX_CHILDREN`] nodes visited and [`MAX_PATTERN_NODES`]
//! matched names per query; matches live in a stack array.

use super::resolve::MAX_CHILDREN;
use crate::snapshot::{NodeRef, Snapshot};
use crate::wire::name::{is_wildcard, NameBuf};
use arrayvec::ArrayVec;

/// Most names one wildcard query is answered from.
pub const MAX_PATTERN_NODES: usize = 64;
/// Most wildcard labels in one query.
pub const MAX_WILDCARD_LABELS: usize = 4;

/// The names a wildcard query matched.
pub(crate) type Matches<'s> = ArrayVec<NodeRef<'s>, MAX_PATTERN_NODES>;

/// True for a wildcard query label (`*` or `any`; the name is lowercased).
#[inline]
pub(crate) fn is_wild_label(label: &[u8]) -> bool {
    label == b"*" || label == b"any"
}

/// Offsets of the labels of a wire name (leftmost first) into `out`; returns their number.
fn label_offsets(name: &[u8], out: &mut [u8; 128]) -> usize {
    let mut n = 0;
    let mut at = 0usize;
    while let Some(&l) = name.get(at) {
        if l == 0 || n >= out.len() {
            break;
        }
        if let Some(slot) = out.get_mut(n) {
            *slot = at as u8;
        }
        n += 1;
        at += 1 + l as usize;
    }
    n
}

/// The wire label (length byte included) at offset `at`.
fn label_at(name: &[u8], at: u8) -> &[u8] {
    let at = at as usize;
    let l = name.get(at).copied().unwrap_or(0) as usize;
    name.get(at..at + 1 + l).unwrap_or(&[])
}

/// Where a query's wildcard labels are.
pub(crate) enum Wild {
    /// No wildcard label.
    None,
    /// Only the leftmost label is one: the children of the rest of the name.
    Leftmost,
    /// Elsewhere (or several): see [`find_matches`].
    Inner,
}

/// Classifies `name` (lowercased wire).
pub(crate) fn classify(name: &[u8]) -> Wild {
    let mut offs = [0u8; 128];
    let n = label_offsets(name, &mut offs);
    let wild = |i: usize| {
        offs.get(i)
            .is_some_and(|&o| is_wild_label(label_at(name, o).get(1..).unwrap_or(&[])))
    };
    if !(0..n).any(wild) {
        Wild::None
    } else if (1..n).any(wild) {
        Wild::Inner
    } else {
        Wild::Leftmost
    }
}

/// The existing names `name` matches, label for label (a wildcard label matches any one
/// label of a name that is not itself a wildcard owner).
pub(crate) fn find_matches<'s>(snap: &'s Snapshot, name: &[u8], out: &mut Matches<'s>) {
    let mut offs = [0u8; 128];
    let n = label_offsets(name, &mut offs);
    let labels = offs.get(..n).unwrap_or(&[]);
    let is_wild = |o: &u8| is_wild_label(label_at(name, *o).get(1..).unwrap_or(&[]));
    if labels.iter().filter(|o| is_wild(o)).count() > MAX_WILDCARD_LABELS {
        return;
    }
    // The part right of the rightmost wildcard label must exist.
    let Some(w) = labels.iter().rposition(is_wild) else {
        return;
    };
    let Some(&o) = labels.get(w) else {
        return;
    };
    let suffix = name
        .get(o as usize + label_at(name, o).len()..)
        .unwrap_or(&[]);
    let Some(base) = snap.node(suffix) else {
        return;
    };
    let mut budget = MAX_CHILDREN;
    expand(
        snap,
        name,
        labels.get(..=w).unwrap_or(&[]),
        base,
        out,
        &mut budget,
    );
}

/// Matches the labels `offs` (leftmost first) right to left below `node`.
fn expand<'s>(
    snap: &'s Snapshot,
    name: &[u8],
    offs: &[u8],
    node: NodeRef<'s>,
    out: &mut Matches<'s>,
    budget: &mut usize,
) {
    let mut node = node;
    let mut offs = offs;
    let mut buf = NameBuf::new();
    while let Some((&last, rest)) = offs.split_last() {
        let label = label_at(name, last);
        if is_wild_label(label.get(1..).unwrap_or(&[])) {
            for child in node.children() {
                if *budget == 0 || out.is_full() {
                    return;
                }
                *budget -= 1;
                if !is_wildcard(child.owner()) {
                    expand(snap, name, rest, child, out, budget);
                }
            }
            return;
        }
        if *budget == 0 || buf.set_concat(label, node.key()).is_err() {
            return;
        }
        *budget -= 1;
        match snap.node(buf.as_wire()) {
            Some(next) => node = next,
            None => return,
        }
        offs = rest;
    }
    let _ = out.try_push(node);
}
