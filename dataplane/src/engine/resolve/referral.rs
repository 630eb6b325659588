//! Delegations (RFC 1034 §4.3.2 step 3b): a name at or below an NS cut
//! strictly below the zone apex is not ours to answer. The response is a
//! referral: AA cleared, no answer, the cut's NS RRset in the authority
//! section and, in the additional section, the A/AAAA records we hold for
//! the NS targets inside the cut (in-bailiwick glue). DS at the cut itself
//! belongs to the parent side and is answered normally.
//!
//! Cost: each zone knows its cuts from when the snapshot was made
//! ([`Cuts`]). A zone without cuts costs nothing; one with at most
//! [`crate::snapshot::MAX_LISTED_CUTS`] compares the name with each (no
//! lookup) and looks up the cut found (one lookup); only a zone with more
//! walks the name's ancestors strictly below the apex and above the name
//! (the name's own node is looked up anyway), from the apex down, stopping
//! at the first missing one (nothing exists below it) or at the first
//! holding NS: at most one lookup per label below the apex
//! ([`crate::name::MAX_NAME_LEN`] / 2 = 127 at worst). Glue: at most
//! [`MAX_GLUE_TARGETS`] targets.

use super::{Ctx, Step};
use crate::record::{rtype, Policy};
use crate::snapshot::{is_within, Cuts, NodeRef, Snapshot, ZoneRef};
use crate::wire::header::flags;
use crate::wire::name::NameBuf;
use crate::wire::rcode;
use crate::wire::writer::{Owner, Section};

/// The DS type (RFC 4034): answered by the parent side of a cut.
pub(crate) const DS: u16 = 43;

/// Most NS targets of a referral whose addresses are added as glue.
pub const MAX_GLUE_TARGETS: usize = 16;

/// Most labels a wire name can have (1-byte labels and the root).
const MAX_LABELS: usize = 128;

/// The NS cut strictly above `cur` and strictly below the apex of `zone`
/// (a suffix of `cur`): the existing node closest to the apex that holds an
/// NS RRset. A cut at `cur` itself is found on its own node ([`is_cut_at`]).
pub(crate) fn find_cut<'s>(
    snap: &'s Snapshot,
    zone: ZoneRef<'s>,
    cur: &[u8],
    cost: &mut u32,
) -> Option<NodeRef<'s>> {
    match zone.cuts() {
        Cuts::None => None,
        Cuts::Few(cuts) => {
            let cut = cuts
                .iter()
                .map(|c| &**c)
                .filter(|c| c.len() < cur.len() && is_within(cur, c))
                .min_by_key(|c| c.len())?;
            *cost += 1;
            snap.node(cut)
        }
        Cuts::Many => walk_cut(snap, zone.apex().len(), cur, cost),
    }
}

/// [`find_cut`] by looking up the ancestors of `cur` below the apex (`apex_len` bytes).
fn walk_cut<'s>(
    snap: &'s Snapshot,
    apex_len: usize,
    cur: &[u8],
    cost: &mut u32,
) -> Option<NodeRef<'s>> {
    if cur.len() <= apex_len {
        return None;
    }
    let mut starts = [0u8; MAX_LABELS];
    let mut n = 0;
    let mut i = 0;
    while let Some(&len) = cur.get(i) {
        if len == 0 || cur.len() - i <= apex_len {
            break;
        }
        if let Some(slot) = starts.get_mut(n) {
            *slot = i as u8;
            n += 1;
        }
        i += 1 + usize::from(len);
    }
    // `cur` itself (start 0) is checked by the caller on the node it looks up anyway.
    for &start in starts.get(1..n).unwrap_or(&[]).iter().rev() {
        *cost += 1;
        let node = snap.node(cur.get(usize::from(start)..)?)?;
        if node.rrset(rtype::NS).is_some() {
            return Some(node);
        }
    }
    None
}

/// True when `node`, found by its exact name `cur` below the apex, is an NS cut
/// that answers `qt` with a referral (every type but DS).
pub(crate) fn is_cut_at(node: NodeRef<'_>, cur: &[u8], apex: &[u8], qt: u16) -> bool {
    qt != DS && cur != apex && node.key() == cur && node.rrset(rtype::NS).is_some()
}

impl<'s> Ctx<'s, '_, '_, '_> {
    /// The referral to `cut` (see the module docs); `first` is true when
    /// `cur` is the QNAME (not a CNAME target), which clears AA.
    pub(super) fn referral(&mut self, cut: NodeRef<'s>, first: bool) -> Step<'s> {
        let Some(ns) = cut.rrset(rtype::NS) else {
            return Step::Done(rcode::NOERROR);
        };
        if first {
            self.resp.set_flag(flags::AA, false);
        }
        let owner = Owner {
            name: cut.owner(),
            at: None,
        };
        let ttl = ns.ttl();
        for rdata in ns.iter() {
            if !self.push(Section::Authority, owner, rtype::NS, ttl, rdata) {
                return Step::Done(rcode::NOERROR);
            }
        }
        let mut target = NameBuf::new();
        for rdata in ns.iter().take(MAX_GLUE_TARGETS) {
            if target.set(rdata).is_err() || !is_within(target.as_wire(), cut.key()) {
                continue;
            }
            self.cost += 1;
            let Some(node) = self.snap.node(target.as_wire()) else {
                continue;
            };
            let owner = Owner {
                name: node.owner(),
                at: None,
            };
            for t in [rtype::A, rtype::AAAA] {
                if let Some(rs) = node.rrset(t) {
                    self.write_rrset(Section::Additional, owner, rs, Policy::All);
                }
            }
        }
        Step::Done(rcode::NOERROR)
    }
}
