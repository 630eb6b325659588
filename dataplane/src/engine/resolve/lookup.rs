//! Finding what answers a name ([`lookup`]: exact node, union, wildcard
//! pattern, RFC 4592 wildcard) and which RRset answers ANY, for
//! [`super::Ctx`]; every table lookup is added to the query's cost.

use super::{Found, ANY_PREFERENCE, MAX_CHILDREN};
use crate::engine::pattern::{classify, find_matches, Matches, Wild};
use crate::record::rtype;
use crate::snapshot::{NodeRef, Snapshot, ZoneRef};
use crate::wire::name::{is_wildcard, parent, NameBuf};

/// Finds what answers `name` in `zone` (see the module docs).
pub(super) fn lookup<'s>(
    snap: &'s Snapshot,
    zone: ZoneRef<'s>,
    name: &NameBuf,
    matches: &mut Matches<'s>,
    cost: &mut u32,
) -> Found<'s> {
    *cost += 1;
    let cur = name.as_wire();
    if let Some(node) = snap.node_hashed(cur, name.hash()) {
        return if node.shows_nothing() {
            Found::Union(node)
        } else {
            Found::Data(node)
        };
    }
    match classify(cur) {
        Wild::None => {}
        Wild::Leftmost => {
            *cost += 1;
            if let Some(node) = parent(cur).and_then(|p| snap.node(p)) {
                return Found::Union(node);
            }
        }
        Wild::Inner => {
            // Charged at its bound: the pattern walk visits at most MAX_CHILDREN nodes.
            *cost += MAX_CHILDREN as u32;
            find_matches(snap, cur, matches);
            return if matches.is_empty() {
                Found::Missing
            } else {
                Found::Pattern
            };
        }
    }
    // RFC 4592: the closest encloser is the longest existing ancestor (the
    // apex at worst); only `*.<closest encloser>` may match — and nothing can in a
    // zone without a name with a `*` label (no walk then).
    if !zone.has_wildcards() {
        return Found::Missing;
    }
    let apex_len = zone.apex().len();
    let mut encloser = parent(cur);
    while let Some(anc) = encloser {
        if anc.len() <= apex_len {
            break;
        }
        *cost += 1;
        if snap.node(anc).is_some() {
            break;
        }
        encloser = parent(anc);
    }
    let Some(anc) = encloser.filter(|a| a.len() >= apex_len) else {
        return Found::Missing;
    };
    let mut wild = NameBuf::new();
    if wild.set_concat(b"\x01*", anc).is_err() {
        return Found::Missing;
    }
    *cost += 1;
    match snap.node(wild.as_wire()) {
        Some(node) => Found::Data(node),
        None => Found::Missing,
    }
}

/// The RRset type answered to ANY at a node (RFC 8482 §4.1).
pub(super) fn pick_any(node: NodeRef<'_>) -> Option<u16> {
    ANY_PREFERENCE
        .iter()
        .copied()
        .find(|&t| node.rrset(t).is_some())
        .or_else(|| node.rrsets().next().map(|rs| rs.rtype()))
}

/// The RRset type answered to ANY for a union of names: the most preferred
/// type any of them holds, in one pass over the names.
pub(super) fn pick_any_union<'s, I: Iterator<Item = NodeRef<'s>>>(
    nodes: &impl Fn() -> I,
) -> Option<u16> {
    let mut best = ANY_PREFERENCE.len();
    for c in nodes() {
        let limit = ANY_PREFERENCE.get(..best).unwrap_or(&[]);
        if let Some(i) = limit
            .iter()
            .position(|&t| t != rtype::CNAME && c.rrset(t).is_some())
        {
            best = i;
        }
        if best == 0 {
            break;
        }
    }
    ANY_PREFERENCE.get(best).copied()
}

/// The children taking part in a union: at most [`MAX_CHILDREN`], wildcard
/// owners excluded (they stand for names that do not exist, RFC 4592), and
/// so are delegations (NS cuts: their data is not ours to answer).
pub(super) fn union_children(node: NodeRef<'_>) -> impl Iterator<Item = NodeRef<'_>> {
    node.children()
        .take(MAX_CHILDREN)
        .filter(|c| !is_wildcard(c.owner()) && c.rrset(rtype::NS).is_none())
}
