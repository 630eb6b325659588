//! Resolution of one question inside the snapshot, writing the answer.
//!
//! Order of decisions for a name `cur` (the QNAME, then each CNAME target):
//! 1. NS or SOA asked at the zone apex: answered from the zone (NS from
//!    `ns.dns.<zone>` when present, with its addresses as glue).
//! 2. Lookup (`lookup`): an exact node showing RRsets — for A, AAAA, SRV,
//!    TXT and MX its precomputed subtree answer (everything at or below it,
//!    `snapshot::edit::subtree`); an exact node showing nothing (empty
//!    non-terminal) → union of its children's RRsets of the asked type
//!    (wildcard children excluded); a leftmost `*`/`any` label with no literal
//!    node → union over the children of the rest of the name; `*`/`any`
//!    labels elsewhere → union over the names they match ([`super::pattern`]);
//!    otherwise the RFC 4592 wildcard `*.<closest encloser>` (records
//!    synthesized with the owner rewritten to `cur`; looked for only in a zone
//!    holding a name with a `*` label, [`crate::snapshot::ZoneRef::has_wildcards`]);
//!    otherwise the name does not exist.
//! 3. The asked type's RRset (A/AAAA through the node's answer policy, SRV
//!    with A/AAAA of its targets in the additional section); else a CNAME,
//!    which is written and followed when its target is inside one of our
//!    zones (at most [`MAX_CNAME_HOPS`], loops detected and cut); else
//!    NODATA. NODATA and NXDOMAIN carry the zone SOA in the authority
//!    section with TTL = the zone's negative TTL (for the QNAME's own zone the
//!    record rendered with the snapshot, [`crate::snapshot::NegSoa`], copied with
//!    its names pointing into the question). The rcode after a CNAME
//!    chain is the one of the last name looked up (RFC 6604).
//!
//! Before all of this, a name at or below an NS cut below the apex gets a
//! referral (`referral`; DS at the cut excepted). In the synthetic reverse
//! tree, the apex of the reverse zone serving the QNAME answers SOA and NS and
//! exists even without a node, negative answers carry that zone's own SOA
//! (`reverse_zone`), and ENTs form no union (NODATA).
//!
//! QTYPE ANY gets the RFC 8482 §4.1 answer: ONE RRset of the name, the
//! first present among A, AAAA, CNAME, SRV, TXT, MX, PTR, NS, SOA (else
//! whatever RRset comes first).

mod lookup;
mod negative;
mod referral;
mod reverse_zone;

pub use referral::MAX_GLUE_TARGETS;

use super::pattern::Matches;
use super::policy::{gather, select_indexed, Choice};
use super::CoreState;
use crate::record::{rtype, Policy};
use crate::snapshot::{NodeRef, RrSet, Snapshot, ZoneRef};
use crate::wire::compress::name_at_equals;
use crate::wire::header::flags;
use crate::wire::header::HEADER_LEN;
use crate::wire::name::{read_name, NameBuf};
use crate::wire::writer::{Owner, Response, Section};
use crate::wire::{qtype, rcode};
use lookup::{lookup, pick_any, pick_any_union, union_children};
use negative::NegZone;
use std::cell::Cell;
use std::net::IpAddr;

/// Longest CNAME chain followed.
pub const MAX_CNAME_HOPS: usize = 8;
/// Most children considered in a union (SkyDNS semantics). Further children
/// are ignored: bounds the work per query below huge subtrees.
pub const MAX_CHILDREN: usize = 512;
/// Most SRV targets whose addresses are added to the additional section.
pub const MAX_SRV_TARGETS: usize = 16;

/// Most labels a name can have below an apex (a 255-byte name of 1-byte labels).
const MAX_LABELS_BELOW_APEX: u32 = 127;
/// Lookups for one name that is not answered by a union: its zone, the NS cut
/// walk, the exact node, the closest-encloser walk and the RFC 4592 wildcard.
const NAME_LOOKUPS: u32 = 1 + MAX_LABELS_BELOW_APEX + 1 + MAX_LABELS_BELOW_APEX + 1;

/// The most lookups one query costs (names looked up in the table plus union
/// members visited; counted in [`super::EngineState::lookups`]): each of the
/// [`MAX_CNAME_HOPS`] + 1 names of a CNAME chain costs at most
/// `NAME_LOOKUPS` (257), and the last may also be a union — the parent of a
/// leftmost `*` (1) whose members are visited at most twice (the ANY choice and
/// the answer: 2 × [`MAX_CHILDREN`]), or a wildcard pattern charged at its
/// bound ([`MAX_CHILDREN`] nodes walked, then 2 × 64 matches) — followed by
/// [`MAX_SRV_TARGETS`] additional-section lookups. A referral adds at most
/// [`MAX_GLUE_TARGETS`] glue lookups instead of the union. 3,354 in all.
pub const MAX_QUERY_LOOKUPS: u32 = (MAX_CNAME_HOPS as u32 + 1) * NAME_LOOKUPS
    + 1
    + 2 * MAX_CHILDREN as u32
    + MAX_SRV_TARGETS as u32;

/// RFC 8482 §4.1 preference for the one RRset answered to ANY.
const ANY_PREFERENCE: [u16; 9] = [
    rtype::A,
    rtype::AAAA,
    rtype::CNAME,
    rtype::SRV,
    rtype::TXT,
    rtype::MX,
    rtype::PTR,
    rtype::NS,
    rtype::SOA,
];

/// Per-query resolution context.
pub(crate) struct Ctx<'s, 'r, 'b, 'e> {
    pub snap: &'s Snapshot,
    pub resp: &'r mut Response<'b>,
    pub client: IpAddr,
    pub state: &'e mut CoreState,
    /// An answer/authority record did not fit.
    pub truncated: bool,
    /// Some answered address set was entirely DOWN.
    pub fail_open: bool,
    /// Offsets of the target names of the SRV and NS records written in the answer.
    srv_at: [usize; MAX_SRV_TARGETS],
    srv_n: usize,
    /// Where the owner of the negative answer's SOA is written, when it is not the
    /// zone apex: a reverse zone inside the QNAME ([`Snapshot::served_zone`]).
    soa_at: Option<usize>,
    /// Wire length of the reverse zone that ends the QNAME (with `soa_at`).
    rev_zone_len: usize,
    /// Where the question holds the apex of the zone being answered (the QNAME's zone,
    /// before any CNAME is followed): the target of a pre-rendered SOA's pointers.
    apex_at: Option<usize>,
    /// The zone of the negative answer written, for response rate limiting.
    neg_zone: NegZone,
    /// Names looked up and nodes visited so far (see [`MAX_QUERY_LOOKUPS`]).
    pub cost: u32,
}

/// What the lookup of a name found.
enum Found<'s> {
    /// A node whose RRsets answer (exact, or the wildcard that matched).
    Data(NodeRef<'s>),
    /// Answer with the union of this node's children's RRsets.
    Union(NodeRef<'s>),
    /// A query with wildcard labels inside: the union of the RRsets of the names it
    /// matched (written to the caller's [`Matches`]).
    Pattern,
    /// The name does not exist.
    Missing,
}

/// What to do after answering one name of the chain.
enum Step<'s> {
    Done(u16),
    /// A CNAME to this (raw, snapshot-owned) target was written at `at`.
    Follow(&'s [u8], usize),
}

impl<'s, 'r, 'b, 'e> Ctx<'s, 'r, 'b, 'e> {
    pub fn new(
        snap: &'s Snapshot,
        resp: &'r mut Response<'b>,
        client: IpAddr,
        state: &'e mut CoreState,
    ) -> Self {
        Ctx {
            snap,
            resp,
            client,
            state,
            truncated: false,
            fail_open: false,
            srv_at: [0; MAX_SRV_TARGETS],
            srv_n: 0,
            soa_at: None,
            rev_zone_len: 0,
            apex_at: None,
            neg_zone: NegZone::None,
            cost: 0,
        }
    }

    /// Answers `qname` (lowercased) of type `qt`; returns the rcode.
    pub fn resolve(&mut self, qname: &NameBuf, qt: u16) -> u16 {
        self.cost += 1;
        let Some((mut zone, zone_len)) = self.snap.served_zone(qname.as_wire()) else {
            return rcode::REFUSED;
        };
        if zone_len != zone.apex().len() {
            self.soa_at = Some(HEADER_LEN + qname.as_wire().len() - zone_len);
            self.rev_zone_len = zone_len;
        }
        self.apex_at = Some(HEADER_LEN + qname.as_wire().len() - zone.apex().len());
        self.resp.set_flag(flags::AA, true);
        // Only written when a CNAME is followed (no 255-byte zeroing otherwise).
        let mut target: NameBuf;
        let mut next: Option<&'s [u8]> = None;
        let mut owner_at = crate::wire::header::HEADER_LEN;
        let mut visited = [0usize; MAX_CNAME_HOPS + 1];
        for hop in 0..=MAX_CNAME_HOPS {
            let cur = match next {
                None => qname,
                Some(raw) => {
                    target = NameBuf::new();
                    if target.set(raw).is_err() {
                        return rcode::NOERROR;
                    }
                    &target
                }
            };
            if let Some(v) = visited.get_mut(hop) {
                *v = owner_at;
            }
            let owner = Owner {
                name: cur.as_wire(),
                at: Some(owner_at),
            };
            match self.answer_name(zone, cur, owner, qt) {
                Step::Done(rc) => return rc,
                Step::Follow(raw, at) => {
                    let msg = self.resp.message();
                    let looped = visited
                        .get(..=hop)
                        .unwrap_or(&[])
                        .iter()
                        .any(|&v| name_at_equals(msg, v, raw));
                    let mut lower = NameBuf::new();
                    let next_zone = match lower.set(raw) {
                        Ok(()) => {
                            self.cost += 1;
                            self.snap.served_zone(lower.as_wire())
                        }
                        Err(_) => None,
                    };
                    match next_zone {
                        Some((z, _)) if !looped && hop < MAX_CNAME_HOPS => {
                            zone = z;
                            self.soa_at = None;
                            self.apex_at = None;
                            next = Some(raw);
                            owner_at = at;
                        }
                        // Out of our zones, a loop, or too long: the chain
                        // written so far is the answer.
                        _ => return rcode::NOERROR,
                    }
                }
            }
        }
        rcode::NOERROR
    }

    fn answer_name(
        &mut self,
        zone: ZoneRef<'s>,
        name: &NameBuf,
        owner: Owner<'_>,
        qt: u16,
    ) -> Step<'s> {
        let cur = name.as_wire();
        let first = owner.at == Some(HEADER_LEN);
        if let Some(cut) = referral::find_cut(self.snap, zone, cur, &mut self.cost) {
            return self.referral(cut, first);
        }
        let rev_apex = self.at_reverse_apex(first);
        if rev_apex && (qt == rtype::NS || qt == rtype::SOA) {
            return self.reverse_apex_answer(zone, owner, qt);
        }
        if cur == zone.apex() && (qt == rtype::NS || qt == rtype::SOA) {
            let rs = if qt == rtype::NS {
                zone.ns()
            } else {
                zone.soa()
            };
            self.write_rrset(Section::Answer, owner, rs, Policy::All);
            // Glue for NS targets we hold (`ns.dns.<zone>` names).
            self.srv_additionals();
            return Step::Done(rcode::NOERROR);
        }
        let mut matches = Matches::new();
        match lookup(self.snap, zone, name, &mut matches, &mut self.cost) {
            // A reverse zone's apex exists whether or not a node holds it.
            Found::Missing if rev_apex => self.negative_answer(zone, rcode::NOERROR),
            Found::Missing => self.negative_answer(zone, rcode::NXDOMAIN),
            Found::Data(node) if referral::is_cut_at(node, cur, zone.apex(), qt) => {
                self.referral(node, first)
            }
            Found::Data(node) => {
                let t = if qt == qtype::ANY {
                    pick_any(node)
                } else {
                    Some(qt)
                };
                if let Some(rs) = t.and_then(|t| node.rrset(t)) {
                    self.write_rrset(Section::Answer, owner, rs, node.policy());
                    self.srv_additionals();
                    return Step::Done(rcode::NOERROR);
                }
                if qt != rtype::CNAME {
                    if let Some(cname) = node.rrset(rtype::CNAME) {
                        let raw = cname.rdata(0);
                        return match self.resp.push(
                            Section::Answer,
                            owner,
                            rtype::CNAME,
                            cname.ttl(),
                            raw,
                        ) {
                            Ok(at) => Step::Follow(raw, at),
                            Err(_) => {
                                self.truncated = true;
                                Step::Done(rcode::NOERROR)
                            }
                        };
                    }
                }
                self.negative_answer(zone, rcode::NOERROR)
            }
            // No SkyDNS unions in the reverse tree: its inner names are plain ENTs.
            Found::Union(_) if self.soa_at.is_some() => self.negative_answer(zone, rcode::NOERROR),
            Found::Union(node) => {
                self.answer_union(zone, owner, qt, node.policy(), || union_children(node))
            }
            Found::Pattern => {
                let policy = self.snap.policy(cur);
                self.answer_union(zone, owner, qt, policy, || matches.iter().copied())
            }
        }
    }

    /// Answers with the union of the RRsets of the names `nodes` gives (never a CNAME).
    fn answer_union<I: Iterator<Item = NodeRef<'s>>>(
        &mut self,
        zone: ZoneRef<'s>,
        owner: Owner<'_>,
        qt: u16,
        policy: Policy,
        nodes: impl Fn() -> I,
    ) -> Step<'s> {
        let visits = Cell::new(0u32);
        let nodes = || nodes().inspect(|_| visits.set(visits.get() + 1));
        let t = if qt == qtype::ANY {
            pick_any_union(&nodes)
        } else {
            Some(qt)
        };
        let written = match t {
            Some(t) if t != rtype::CNAME => self.write_union(owner, policy, &nodes, t),
            _ => 0,
        };
        self.cost += visits.get();
        if written == 0 && !self.truncated {
            return self.negative_answer(zone, rcode::NOERROR);
        }
        self.srv_additionals();
        Step::Done(rcode::NOERROR)
    }

    /// Writes an RRset (A/AAAA through `policy`). Returns records written.
    fn write_rrset(
        &mut self,
        section: Section,
        owner: Owner<'_>,
        rs: RrSet<'s>,
        policy: Policy,
    ) -> usize {
        let t = rs.rtype();
        let ttl = rs.ttl();
        if t == rtype::A || t == rtype::AAAA {
            return self.write_rrset_addresses(section, owner, rs, policy);
        }
        let mut n = 0;
        for rdata in rs.iter() {
            if !self.push(section, owner, t, ttl, rdata) {
                break;
            }
            n += 1;
        }
        n
    }

    /// Writes the union of the RRsets of type `t` of the names `nodes` gives.
    fn write_union<I: Iterator<Item = NodeRef<'s>>>(
        &mut self,
        owner: Owner<'_>,
        policy: Policy,
        nodes: &impl Fn() -> I,
        t: u16,
    ) -> usize {
        let sets = move || nodes().filter_map(move |c| c.rrset(t));
        if t == rtype::A || t == rtype::AAAA {
            let addrs = sets().flat_map(|rs| {
                let ttl = rs.ttl();
                rs.iter().map(move |a| (a, ttl))
            });
            return self.write_addresses(Section::Answer, owner, t, policy, addrs);
        }
        let mut n = 0;
        for rs in sets() {
            for rdata in rs.iter() {
                if !self.push(Section::Answer, owner, t, rs.ttl(), rdata) {
                    return n;
                }
                n += 1;
            }
        }
        n
    }

    /// Applies `policy` to one A/AAAA RRset and writes the chosen records.
    fn write_rrset_addresses(
        &mut self,
        section: Section,
        owner: Owner<'_>,
        rs: RrSet<'s>,
        policy: Policy,
    ) -> usize {
        let ttl = rs.ttl();
        self.write_selected(section, owner, rs.rtype(), policy, rs.len(), |i| {
            (rs.rdata(i), ttl)
        })
    }

    /// Applies `policy` to the addresses (a union: gathered first) and writes
    /// the chosen ones.
    fn write_addresses(
        &mut self,
        section: Section,
        owner: Owner<'_>,
        t: u16,
        policy: Policy,
        addrs: impl Iterator<Item = (&'s [u8], u32)>,
    ) -> usize {
        let list = gather(addrs);
        self.write_selected(section, owner, t, policy, list.len(), |i| {
            list.get(i).copied().unwrap_or((&[], 0))
        })
    }

    /// Applies `policy` to `n` candidates read by `get` and writes the chosen
    /// records of type `t`; sets TC when an answer/authority record did not fit.
    fn write_selected(
        &mut self,
        section: Section,
        owner: Owner<'_>,
        t: u16,
        policy: Policy,
        n: usize,
        get: impl Fn(usize) -> (&'s [u8], u32),
    ) -> usize {
        let snap = self.snap;
        let is_down = |a: &[u8]| snap.is_down(a);
        let choice = Choice {
            policy,
            client: self.client,
            is_down: snap.has_down().then_some(is_down),
        };
        let mut written = 0;
        let resp = &mut *self.resp;
        let mut overflow = false;
        let sel = select_indexed(
            n,
            get,
            &choice,
            &mut self.state.rng,
            &mut self.state.rotation,
            |a, ttl| {
                let ok = resp.push(section, owner, t, ttl, a).is_ok();
                written += usize::from(ok);
                overflow |= !ok;
                ok
            },
        );
        self.fail_open |= sel.fail_open;
        if overflow && section != Section::Additional {
            self.truncated = true;
        }
        written
    }

    /// Pushes one record; in answer/authority a record that does not fit
    /// sets TC. Returns false when it was not written.
    fn push(&mut self, section: Section, owner: Owner<'_>, t: u16, ttl: u32, rdata: &[u8]) -> bool {
        if self.truncated && section != Section::Additional {
            return false;
        }
        match self.resp.push(section, owner, t, ttl, rdata) {
            Ok(at) => {
                let target = match t {
                    rtype::SRV => Some(at + 6),
                    rtype::NS => Some(at),
                    _ => None,
                };
                if let (Some(target), Section::Answer) = (target, section) {
                    if let Some(slot) = self.srv_at.get_mut(self.srv_n) {
                        *slot = target;
                        self.srv_n += 1;
                    }
                }
                true
            }
            Err(_) => {
                if section != Section::Additional {
                    self.truncated = true;
                }
                false
            }
        }
    }

    /// A/AAAA of the SRV and NS targets written in the answer, when we have them.
    fn srv_additionals(&mut self) {
        if self.truncated || self.srv_n == 0 {
            return;
        }
        let mut targets = NameBuf::new();
        for i in 0..self.srv_n.min(MAX_SRV_TARGETS) {
            let Some(&at) = self.srv_at.get(i) else {
                break;
            };
            let msg = self.resp.message();
            // NS targets may be compressed: read the name, then skip ones already handled.
            if read_name(msg, at, HEADER_LEN, &mut targets).is_err() {
                continue;
            }
            let dup = self
                .srv_at
                .get(..i)
                .unwrap_or(&[])
                .iter()
                .any(|&p| name_at_equals(msg, p, targets.as_wire()));
            if dup {
                continue;
            }
            self.cost += 1;
            let Some(node) = self.snap.node(targets.as_wire()) else {
                continue;
            };
            let owner = Owner {
                name: targets.as_wire(),
                at: Some(at),
            };
            for t in [rtype::A, rtype::AAAA] {
                if let Some(rs) = node.rrset(t) {
                    self.write_rrset(Section::Additional, owner, rs, node.policy());
                }
            }
        }
    }
}
