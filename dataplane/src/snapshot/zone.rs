//! Served zones: which names the snapshot is authoritative for, the synthetic
//! SOA/NS at each apex, the zone lookup ([`ZoneRef`]) the engine uses to
//! choose between an answer and REFUSED, and each zone's NS cuts ([`Cuts`]).

use super::hash::key_hash;
use super::node::NodeRef;
use super::reverse::REVERSE_APEXES;
use super::rrset::RrSet;
use super::shard::{shard_of, Table};
use super::ZoneConfig;
use crate::name::Name;
use crate::record::{rtype, Policy};
use rustc_hash::{FxHashMap, FxHashSet};
use std::sync::Arc;

/// True when `name` equals `apex` or lies below it (both lowercased wire).
#[inline]
pub(crate) fn is_within(name: &[u8], apex: &[u8]) -> bool {
    if apex.len() > name.len() {
        return false;
    }
    let tail = name.len() - apex.len();
    if name[tail..] != *apex {
        return false;
    }
    let mut i = 0;
    while i < tail {
        i += 1 + name[i] as usize;
    }
    i == tail
}

/// True when some label of the wire name `key` is `*` (a wildcard, or a name below one).
pub(crate) fn has_star_label(key: &[u8]) -> bool {
    let mut i = 0;
    while let Some(&len) = key.get(i) {
        if len == 0 {
            return false;
        }
        if len == 1 && key.get(i + 1) == Some(&b'*') {
            return true;
        }
        i += 1 + usize::from(len);
    }
    false
}

/// A served apex: (lowercased key, wire name as configured).
pub(crate) type Apex = (Box<[u8]>, Box<[u8]>);

/// Everything derived from the [`ZoneConfig`] once per build and shared by
/// every later snapshot.
pub(crate) struct ZoneRules {
    pub(crate) config: Arc<ZoneConfig>,
    /// Configured apexes: (lowercased key, wire name as configured).
    pub(crate) domains: Vec<Apex>,
    policies: FxHashMap<Box<[u8]>, Policy>,
    /// A configured domain already contains `in-addr.arpa.` / `ip6.arpa.`.
    pub(crate) reverse_covered: [bool; 2],
    /// `dns.reverse-zones` (lowercased wire, longest first); `None`: derived.
    pub(crate) reverse_zones: Option<Vec<Box<[u8]>>>,
}

impl ZoneRules {
    pub(crate) fn new(config: Arc<ZoneConfig>) -> ZoneRules {
        let mut domains: Vec<Apex> = Vec::new();
        for d in &config.domains {
            let key: Box<[u8]> = d.to_lowercase().as_wire().into();
            if !domains.iter().any(|(k, _)| *k == key) {
                domains.push((key, d.as_wire().into()));
            }
        }
        let policies = config
            .policies
            .iter()
            .map(|(n, p)| (n.to_lowercase().as_wire().into(), *p))
            .collect();
        let reverse_covered =
            REVERSE_APEXES.map(|apex| domains.iter().any(|(k, _)| is_within(apex, k)));
        let reverse_zones = config.reverse_zones.as_ref().map(|zones| {
            let mut keys: Vec<Box<[u8]>> = zones
                .iter()
                .map(|z| z.to_lowercase().as_wire().into())
                .collect();
            keys.sort_by_key(|k| std::cmp::Reverse(k.len()));
            keys
        });
        ZoneRules {
            config,
            domains,
            policies,
            reverse_covered,
            reverse_zones,
        }
    }

    /// True when `key` lies in a configured domain.
    pub(crate) fn is_configured(&self, key: &[u8]) -> bool {
        self.domains.iter().any(|(d, _)| is_within(key, d))
    }

    /// True when `key` is the apex of a configured domain or of a reverse tree.
    pub(crate) fn is_apex(&self, key: &[u8]) -> bool {
        self.domains.iter().any(|(d, _)| **d == *key) || REVERSE_APEXES.contains(&key)
    }

    /// The reverse family (0 = IPv4, 1 = IPv6) whose tree holds `key`.
    pub(crate) fn reverse_family(&self, key: &[u8]) -> Option<usize> {
        REVERSE_APEXES.iter().position(|apex| is_within(key, apex))
    }

    /// Offset of the parent within `key` when the node links to its parent
    /// (the parent is still inside the served namespace).
    pub(crate) fn parent_offset(&self, key: &[u8]) -> Option<usize> {
        let first = *key.first()? as usize;
        if first == 0 {
            return None;
        }
        let p = 1 + first;
        let parent = key.get(p..)?;
        let inside = self.is_configured(parent) || self.reverse_family(parent).is_some();
        inside.then_some(p)
    }

    /// The policy of a name.
    pub(crate) fn policy(&self, key: &[u8]) -> Policy {
        if self.policies.is_empty() {
            return self.config.default_policy;
        }
        self.policies
            .get(key)
            .copied()
            .unwrap_or(self.config.default_policy)
    }

    /// TTL for a record that gives 0 and for synthetic records.
    pub(crate) fn default_ttl(&self) -> u32 {
        self.config.default_ttl
    }

    /// Synthetic SOA RDATA for an apex (wire name as configured).
    pub(crate) fn synthetic_soa(&self, apex: &[u8], serial: u32) -> Vec<u8> {
        let soa = &self.config.soa;
        let mut out = Vec::new();
        match &soa.mname {
            Some(m) => out.extend_from_slice(m.as_wire()),
            None => prefixed(b"ns", apex, &mut out),
        }
        match &soa.rname {
            Some(r) => out.extend_from_slice(r.as_wire()),
            None => prefixed(b"hostmaster", apex, &mut out),
        }
        for v in [serial, soa.refresh, soa.retry, soa.expire, soa.minimum] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out
    }

    /// Synthetic NS RDATA (`ns.<apex>`).
    pub(crate) fn synthetic_ns(&self, apex: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        prefixed(b"ns", apex, &mut out);
        out
    }
}

/// `label.apex` in wire form (the apex alone if that would be too long).
fn prefixed(label: &[u8], apex: &[u8], out: &mut Vec<u8>) {
    match Name::from_wire(apex).and_then(|a| a.prepend(label)) {
        Ok(n) => out.extend_from_slice(n.as_wire()),
        Err(_) => out.extend_from_slice(apex),
    }
}

/// Most NS cuts of a zone listed in its [`Cuts`]; beyond, the engine walks.
pub const MAX_LISTED_CUTS: usize = 8;

/// The NS cuts (non-apex names holding NS) below one zone's apex, kept with
/// the zone so that a query in a zone without cuts pays no lookup for them.
#[derive(Debug, Clone, Default)]
pub enum Cuts {
    /// No delegation in the zone.
    #[default]
    None,
    /// At most [`MAX_LISTED_CUTS`] cuts (lowercased wire keys).
    Few(Box<[Box<[u8]>]>),
    /// More: found by walking the name's ancestors.
    Many,
}

/// Where an active zone's apex node sits in the shard table.
#[derive(Debug, Clone)]
pub(crate) struct ZoneSlot {
    pub(crate) apex: Box<[u8]>,
    shard: u16,
    off: u32,
    cuts: Cuts,
    /// Some name with a `*` label lies in the zone (else no wildcard can match).
    wild: bool,
    /// The apex's key hash.
    hash: u64,
    /// The negative answer's SOA record, rendered.
    neg_soa: NegSoa,
}

/// A zone's SOA record as a negative answer carries it (RFC 2308: owner the apex, TTL
/// the negative TTL), rendered once per snapshot: the owner, and the MNAME and RNAME
/// where they end in the apex, are compression pointers to the apex, written at the
/// offsets [`NegSoa::parts`] gives when copied (`wire::Response::push_rendered`).
#[derive(Debug, Clone, Default)]
pub struct NegSoa {
    rr: Box<[u8]>,
    pointers: [u16; 3],
    n: u8,
}

impl NegSoa {
    /// Renders the SOA `rs` of `apex` (lowercased wire) with TTL `ttl`; empty when the
    /// zone has no SOA or its RDATA is malformed.
    fn new(apex: &[u8], rs: RrSet<'_>, ttl: u32) -> NegSoa {
        if rs.is_empty() {
            return NegSoa::default();
        }
        let mut out = NegSoa::default();
        let mut rr = vec![0xc0, 0];
        out.n = 1;
        rr.extend_from_slice(&rtype::SOA.to_be_bytes());
        rr.extend_from_slice(&1u16.to_be_bytes());
        rr.extend_from_slice(&ttl.to_be_bytes());
        rr.extend_from_slice(&[0, 0]);
        let start = rr.len();
        let mut rest = rs.rdata(0);
        for _ in 0..2 {
            let Some(len) = crate::wire::writer::wire_name_len(rest) else {
                return NegSoa::default();
            };
            let (name, tail) = rest.split_at(len.min(rest.len()));
            if is_within(&name.to_ascii_lowercase(), apex) {
                rr.extend_from_slice(&name[..name.len() - apex.len()]);
                if let Some(p) = out.pointers.get_mut(usize::from(out.n)) {
                    *p = rr.len() as u16;
                    out.n += 1;
                }
                rr.extend_from_slice(&[0xc0, 0]);
            } else {
                rr.extend_from_slice(name);
            }
            rest = tail;
        }
        if rest.len() != 20 {
            return NegSoa::default();
        }
        rr.extend_from_slice(rest);
        let rdlen = (rr.len() - start) as u16;
        rr[start - 2..start].copy_from_slice(&rdlen.to_be_bytes());
        out.rr = rr.into();
        out
    }

    /// The rendered record (empty: none) and the offsets of its pointers to the apex.
    #[inline]
    pub fn parts(&self) -> (&[u8], &[u16]) {
        let n = if self.rr.is_empty() { 0 } else { self.n };
        (&self.rr, self.pointers.get(..usize::from(n)).unwrap_or(&[]))
    }
}

/// The active zones of one snapshot, longest apex first.
#[derive(Debug, Clone, Default)]
pub(crate) struct ZoneTable {
    slots: Vec<ZoneSlot>,
}

impl ZoneTable {
    /// Locates each apex in `shards` (apexes without a node are skipped) and
    /// gives each zone the `cuts` lying strictly below its apex and in no
    /// longer zone, and whether one of the `wilds` (names with a `*` label) lies in it.
    pub(crate) fn new<'c>(
        mut apexes: Vec<Box<[u8]>>,
        shards: &Table,
        cuts: impl Iterator<Item = &'c [u8]>,
        wilds: impl Iterator<Item = &'c [u8]>,
    ) -> ZoneTable {
        apexes.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        apexes.dedup();
        let mut per_zone: Vec<Vec<Box<[u8]>>> = vec![Vec::new(); apexes.len()];
        for cut in cuts {
            let zone = apexes.iter().position(|a| is_within(cut, a));
            // One more than listed is enough to know there are many.
            if let Some(list) = zone.and_then(|z| per_zone.get_mut(z)) {
                if list.len() <= MAX_LISTED_CUTS {
                    list.push(cut.into());
                }
            }
        }
        let mut wild = vec![false; apexes.len()];
        for w in wilds {
            let zone = apexes.iter().position(|a| is_within(w, a));
            if let Some(flag) = zone.and_then(|z| wild.get_mut(z)) {
                *flag = true;
            }
        }
        let slots = apexes
            .into_iter()
            .zip(per_zone)
            .zip(wild)
            .filter_map(|((apex, list), wild)| {
                let h = key_hash(&apex);
                let s = shard_of(h);
                let off = shards.get(s)?.find_offset(h, &apex)?;
                let node = NodeRef::new(shards, shards.get(s)?.entry(off));
                let soa = node.rrset(rtype::SOA).unwrap_or_else(|| RrSet::empty());
                let neg_soa = NegSoa::new(&apex, soa, negative_ttl(soa));
                let cuts = match list.len() {
                    0 => Cuts::None,
                    n if n <= MAX_LISTED_CUTS => Cuts::Few(list.into()),
                    _ => Cuts::Many,
                };
                Some(ZoneSlot {
                    apex,
                    shard: s as u16,
                    off,
                    cuts,
                    wild,
                    hash: h,
                    neg_soa,
                })
            })
            .collect();
        ZoneTable { slots }
    }

    pub(crate) fn slots(&self) -> &[ZoneSlot] {
        &self.slots
    }

    /// The longest active zone containing `lname`.
    #[inline]
    pub(crate) fn find<'a>(&'a self, shards: &'a Table, lname: &[u8]) -> Option<ZoneRef<'a>> {
        let slot = self.slots.iter().find(|s| is_within(lname, &s.apex))?;
        let e = shards.get(slot.shard as usize)?.entry(slot.off);
        Some(ZoneRef {
            node: NodeRef::new(shards, e),
            cuts: &slot.cuts,
            wild: slot.wild,
            hash: slot.hash,
            neg_soa: &slot.neg_soa,
        })
    }
}

/// One served zone.
#[derive(Clone, Copy, Debug)]
pub struct ZoneRef<'a> {
    node: NodeRef<'a>,
    cuts: &'a Cuts,
    wild: bool,
    hash: u64,
    neg_soa: &'a NegSoa,
}

impl<'a> ZoneRef<'a> {
    /// Lowercased wire apex.
    #[inline]
    pub fn apex(&self) -> &'a [u8] {
        self.node.key()
    }

    /// The key hash of the apex (`wire::name::key_hash`), made with the snapshot.
    #[inline]
    pub fn apex_hash(&self) -> u64 {
        self.hash
    }

    /// The apex node.
    #[inline]
    pub fn apex_node(&self) -> NodeRef<'a> {
        self.node
    }

    /// The NS cuts below the apex (delegations), known when the snapshot was made.
    #[inline]
    pub fn cuts(&self) -> &'a Cuts {
        self.cuts
    }

    /// False when no name with a `*` label lies in the zone, known when the snapshot was
    /// made: no RFC 4592 wildcard can match there, a missing name needs no
    /// closest-encloser walk.
    #[inline]
    pub fn has_wildcards(&self) -> bool {
        self.wild
    }

    /// The negative answer's SOA, rendered when the snapshot was made.
    #[inline]
    pub fn negative_soa(&self) -> &'a NegSoa {
        self.neg_soa
    }

    /// The SOA RRset (from records, else synthetic).
    #[inline]
    pub fn soa(&self) -> RrSet<'a> {
        self.node
            .rrset(rtype::SOA)
            .unwrap_or_else(|| RrSet::empty())
    }

    /// The NS RRset (from records, else synthetic `ns.<apex>`).
    #[inline]
    pub fn ns(&self) -> RrSet<'a> {
        self.node.rrset(rtype::NS).unwrap_or_else(|| RrSet::empty())
    }

    /// Negative-caching TTL (RFC 2308 §3): the smaller of the SOA record's
    /// TTL and its MINIMUM field.
    #[inline]
    pub fn negative_ttl(&self) -> u32 {
        negative_ttl(self.soa())
    }
}

/// Negative-caching TTL of a zone with this SOA RRset (RFC 2308 §3): the smaller of the
/// record's TTL and its MINIMUM field.
fn negative_ttl(rs: RrSet<'_>) -> u32 {
    let soa = rs.rdata(0);
    let minimum = match soa.len().checked_sub(4).and_then(|s| soa.get(s..)) {
        Some(m) => u32::from_be_bytes([m[0], m[1], m[2], m[3]]),
        None => 0,
    };
    minimum.min(rs.ttl())
}

/// A set of names of one snapshot kept with it: the NS cuts (names holding an NS
/// RRset that are no zone apex) or the wildcard names (names with a `*` label that
/// exist: what makes a zone's closest-encloser walk worth doing). Kept up to date by
/// `build` (every candidate given) and `apply` (every changed name), and handed to
/// [`ZoneTable::new`].
#[derive(Debug, Clone, Default)]
pub(crate) struct CutSet {
    keys: FxHashSet<Box<[u8]>>,
}

impl CutSet {
    /// `self` with each of `keys` (lowercased wire) re-checked against the new
    /// table (`member`: whether it belongs to the set now); `None` when nothing changed.
    pub(crate) fn updated<'k>(
        &self,
        keys: impl Iterator<Item = &'k [u8]>,
        member: impl Fn(&[u8]) -> bool,
    ) -> Option<CutSet> {
        let mut next: Option<CutSet> = None;
        for key in keys {
            let is_member = member(key);
            let current = next.as_ref().unwrap_or(self);
            if current.keys.contains(key) == is_member {
                continue;
            }
            let set = &mut next.get_or_insert_with(|| self.clone()).keys;
            if is_member {
                set.insert(key.into());
            } else {
                set.remove(key);
            }
        }
        next
    }

    /// Every name of the set.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.keys.iter().map(|k| &**k)
    }
}
