//! The snapshot table: an immutable lookup structure built from a record set.
//!
//! CONTRACT (shared with engine/, socket/, controlplane/ — keep these signatures):
//! - `Snapshot::build(config, records)` compiles records into wire-ready RRsets.
//! - `Snapshot::apply(&self, changes)` returns a new snapshot where each named
//!   name's records are replaced (empty = removed), sharing everything else.
//! - `Snapshot::with_down(&self, ips)` returns a new snapshot with that DOWN set.
//! - Lookups take lowercased, uncompressed wire names (`&[u8]`).
//! - `SharedSnapshot` is what loops read (arc-swap) and the control plane stores.
//!
//! Layout (each module documents its own encoding):
//! - `shard`: the table is split into 16,384 shards (`SHARD_COUNT`) by key hash; each shard is
//!   one shared allocation (flat open-addressing index + byte arena), and
//!   shards are grouped by 64 so a new snapshot copies only the groups it
//!   changes. An update rebuilds only the shards it touches.
//! - `bulk`: `build` compiles a whole record set in per-shard passes.
//! - `node`, `rrset`: zero-copy views ([`NodeRef`], [`RrSet`]) over encoded
//!   nodes and their precompiled RRsets, plus their editable forms.
//! - `children`: chunked child lists (SkyDNS multi-value names, wildcards).
//! - `zone`: served domains, synthetic SOA/NS, zone lookup ([`ZoneRef`]).
//! - `reverse`: reverse names for automatic PTR records; `autoptr`: the auto-PTRs of the
//!   synthetic reverse trees, kept by address outside the table ([`Snapshot::node`] asks it).
//! - `edit`: applying changes (ENTs, child lists, auto-PTR, subtree answers
//!   in `edit::subtree`) and rebuilding touched shards; `build` runs the same
//!   subtree pass over the bulk-built table. `down`: the DOWN address set. `decode`: RDATA back to
//!   [`RData`](crate::record::RData) for the control plane.
//! - `prefetch`: loading the cache lines of a batch of lookups before any of them is made
//!   (the backends' staged bursts).

mod autoptr;
mod bulk;
mod children;
mod decode;
mod down;
mod edit;
mod hash;
mod node;
mod parallel;
mod prefetch;
mod reverse;
mod rrset;
mod shard;
#[cfg(test)]
mod tests;
mod zone;

pub use children::ChildIter;
pub use edit::MAX_SUBTREE_RRS;
pub use node::{NodeRef, RrSetIter};
pub use rrset::RrSet;
pub(crate) use zone::is_within;
pub use zone::{Cuts, NegSoa, ZoneRef, MAX_LISTED_CUTS};

use crate::name::Name;
use crate::record::{Policy, Record};
use arc_swap::ArcSwap;
use down::DownSet;
use edit::{Counters, Editor};
use reverse::REVERSE_APEXES;
use rrset::{is_given, KIND_VERBATIM};
use shard::{find_hashed, find_in, Table};
use std::net::IpAddr;
use std::sync::Arc;
use zone::{has_star_label, CutSet, ZoneRules, ZoneTable};

/// Names (lowercased keys) with their group.
type NameGroups = Vec<(Box<[u8]>, String)>;

/// The group of each name with one (`edit::name_group`), from the (rare) grouped records.
fn name_groups(records: &[Record]) -> NameGroups {
    let mut grouped: rustc_hash::FxHashMap<Box<[u8]>, Vec<&Record>> = Default::default();
    for r in records.iter().filter(|r| r.group.is_some()) {
        grouped
            .entry(r.name.as_wire().to_ascii_lowercase().into())
            .or_default();
    }
    if !grouped.is_empty() {
        for r in records {
            let key = r.name.as_wire().to_ascii_lowercase();
            if let Some(v) = grouped.get_mut(key.as_slice()) {
                v.push(r);
            }
        }
    }
    grouped
        .into_iter()
        .filter_map(|(k, v)| Some((k, edit::name_group(v.into_iter())?.to_string())))
        .collect()
}

/// True when the node at `key` in `table` holds an NS RRset.
fn has_ns(table: &Table, key: &[u8]) -> bool {
    find_in(table, key).is_some_and(|e| {
        NodeRef::new(table, e)
            .rrset(crate::record::rtype::NS)
            .is_some()
    })
}

/// The live snapshot: loaded lock-free by every core, stored by the control plane.
pub type SharedSnapshot = Arc<ArcSwap<Snapshot>>;

/// Parameters of the synthetic SOA made for each served domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoaDefaults {
    /// Primary server name; `None` = `ns.<apex>`.
    pub mname: Option<Name>,
    /// Responsible mailbox; `None` = `hostmaster.<apex>`.
    pub rname: Option<Name>,
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    /// Negative-caching TTL (RFC 2308), also the SOA minimum field.
    pub minimum: u32,
}

impl Default for SoaDefaults {
    fn default() -> Self {
        SoaDefaults {
            mname: None,
            rname: None,
            refresh: 3600,
            retry: 600,
            expire: 86400,
            minimum: 30,
        }
    }
}

/// Everything about serving that is not a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneConfig {
    /// Served suffixes; the snapshot is authoritative for names under them.
    pub domains: Vec<Name>,
    /// TTL used when a record gives 0 / for synthetic records.
    pub default_ttl: u32,
    /// Policy for names without an entry in `policies`.
    pub default_policy: Policy,
    /// Per-name policy overrides.
    pub policies: Vec<(Name, Policy)>,
    /// Generate PTR records under in-addr.arpa / ip6.arpa from A/AAAA records.
    pub auto_ptr: bool,
    pub soa: SoaDefaults,
    /// The server identifier returned to clients that ask for it (RFC 5001 NSID,
    /// config `dns.nsid`); `None`: not returned.
    pub nsid: Option<Vec<u8>>,
    /// The reverse zones answered from the auto-PTR tree (config `dns.reverse-zones`);
    /// `None`: derived from the names served (see [`Snapshot::served_zone`]).
    pub reverse_zones: Option<Vec<Name>>,
}

impl Default for ZoneConfig {
    fn default() -> Self {
        ZoneConfig {
            domains: vec![Name::from_ascii("skylane.local.").expect("valid")],
            default_ttl: 30,
            default_policy: Policy::All,
            policies: Vec::new(),
            auto_ptr: true,
            soa: SoaDefaults::default(),
            nsid: None,
            reverse_zones: None,
        }
    }
}

/// Replace every record owned by `name` with `records` (empty = delete the name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameChange {
    pub name: Name,
    pub records: Vec<Record>,
}

/// An immutable, lock-free lookup table. See the module docs.
pub struct Snapshot {
    rules: Arc<ZoneRules>,
    shards: Table,
    zones: Arc<ZoneTable>,
    down: Arc<DownSet>,
    generation: u64,
    serial: u32,
    counters: Counters,
    reverse_active: [bool; 2],
    /// The NS cuts below the apexes (each zone's share is in `zones`).
    cuts: Arc<CutSet>,
    /// The names with a `*` label (each zone's flag is in `zones`).
    wilds: Arc<CutSet>,
    /// The record store has not been loaded yet (neither listed nor read from last-known):
    /// negative answers would be wrong, the engine answers SERVFAIL instead.
    store_pending: bool,
    /// The auto-PTRs of the synthetic reverse trees (not table nodes).
    auto: Arc<autoptr::AutoPtr>,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("generation", &self.generation)
            .field("records", &self.counters.records)
            .field("names", &self.counters.names)
            .field("ignored", &self.counters.ignored)
            .field("down", &self.down.addrs().collect::<Vec<_>>())
            .finish()
    }
}

fn unix_now() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_secs() as u32)
}

/// The next synthetic SOA serial: the current time, but always increasing.
fn next_serial(prev: u32) -> u32 {
    unix_now().max(prev.wrapping_add(1))
}

impl Snapshot {
    /// Compiles `records` into a new table. Records outside every served
    /// domain are ignored (see [`Snapshot::ignored_count`]).
    pub fn build(config: Arc<ZoneConfig>, records: Vec<Record>) -> Snapshot {
        let mut phases = bulk::Phases::start();
        let count = records.len();
        let rules = Arc::new(ZoneRules::new(config));
        let serial = next_serial(0);
        let groups: NameGroups = name_groups(&records)
            .into_iter()
            .filter(|(k, _)| rules.is_configured(k))
            .collect();
        let ns_owners: Vec<Box<[u8]>> = records
            .iter()
            .filter(|r| r.data.rtype() == crate::record::rtype::NS)
            .map(|r| r.name.as_wire().to_ascii_lowercase().into())
            .collect();
        let star_owners: Vec<Box<[u8]>> = records
            .iter()
            .filter(|r| has_star_label(r.name.as_wire()))
            .map(|r| r.name.as_wire().to_ascii_lowercase().into())
            .collect();
        phases.mark("groups_ns_star");
        let built = bulk::build(&rules, records, serial, &mut phases);
        let auto = Arc::new(built.auto);
        let table = Table::from_shards(built.shards);
        phases.mark("table");
        // Subtree answers: the same pass as `apply`, over every given name.
        let mut ed = Editor::new(&rules, &table, built.counters);
        for (key, group) in &groups {
            ed.set_group(key, group);
        }
        ed.refresh_subtrees(built.parents.iter(), false);
        phases.mark("subtrees");
        // Reverse trees wanted for configured reverse zones alone (auto-PTR off, no PTR).
        let mut reverse_active = built.reverse_active;
        for (f, apex) in REVERSE_APEXES.iter().enumerate() {
            if !reverse_active[f] && Self::reverse_wanted(&rules, &ed.counters, f) {
                ed.set_synthetic(apex, apex, serial);
                reverse_active[f] = true;
            }
        }
        let (table, counters) = ed.finish();
        phases.mark("finish");
        let cuts = CutSet::default()
            .updated(ns_owners.iter().map(|k| &**k), |k| {
                has_ns(&table, k) && !rules.is_apex(k)
            })
            .unwrap_or_default();
        let wilds = CutSet::default()
            .updated(star_owners.iter().map(|k| &**k), |k| {
                find_in(&table, k).is_some()
            })
            .unwrap_or_default();
        let mut snap = Self::assemble(
            rules,
            table,
            Arc::new(DownSet::default()),
            0,
            serial,
            counters,
            reverse_active,
        );
        snap.set_name_sets(Arc::new(cuts), Arc::new(wilds));
        snap.auto = auto;
        phases.mark("cuts_assemble");
        phases.log(count);
        snap
    }

    /// A table without records (only the synthetic apexes).
    pub fn empty(config: Arc<ZoneConfig>) -> Snapshot {
        Snapshot::build(config, Vec::new())
    }

    /// The synthetic reverse tree of `family` is served: not covered by a domain, and
    /// auto-PTR on, PTR records given, or a `dns.reverse-zones` entry in that family.
    fn reverse_wanted(rules: &ZoneRules, counters: &Counters, family: usize) -> bool {
        let configured = rules.reverse_zones.as_ref().is_some_and(|zones| {
            zones
                .iter()
                .any(|z| rules.reverse_family(z) == Some(family))
        });
        !rules.reverse_covered[family]
            && (rules.config.auto_ptr || counters.reverse_explicit[family] > 0 || configured)
    }

    fn assemble(
        rules: Arc<ZoneRules>,
        shards: Table,
        down: Arc<DownSet>,
        generation: u64,
        serial: u32,
        counters: Counters,
        reverse_active: [bool; 2],
    ) -> Snapshot {
        let mut apexes: Vec<Box<[u8]>> = rules.domains.iter().map(|(k, _)| k.clone()).collect();
        for (f, apex) in REVERSE_APEXES.iter().enumerate() {
            if reverse_active[f] {
                apexes.push((*apex).into());
            }
        }
        let zones = Arc::new(ZoneTable::new(
            apexes,
            &shards,
            std::iter::empty(),
            std::iter::empty(),
        ));
        Snapshot {
            rules,
            shards,
            zones,
            down,
            generation,
            serial,
            counters,
            reverse_active,
            cuts: Arc::default(),
            wilds: Arc::default(),
            store_pending: false,
            auto: Arc::default(),
        }
    }

    /// Sets the NS cuts and the names with a `*` label, and gives each zone its share.
    fn set_name_sets(&mut self, cuts: Arc<CutSet>, wilds: Arc<CutSet>) {
        let apexes = self.zones.slots().iter().map(|s| s.apex.clone()).collect();
        self.zones = Arc::new(ZoneTable::new(
            apexes,
            &self.shards,
            cuts.iter(),
            wilds.iter(),
        ));
        self.cuts = cuts;
        self.wilds = wilds;
    }

    /// This snapshot marked as built before the record store was loaded: until a snapshot
    /// without the mark replaces it, names that would be NXDOMAIN or NODATA get SERVFAIL
    /// (a resolver caches negative answers; it retries a SERVFAIL). Kept by
    /// [`Snapshot::apply`] and [`Snapshot::with_down`].
    pub fn with_store_pending(mut self) -> Snapshot {
        self.store_pending = true;
        self
    }

    /// New snapshot sharing everything with this one but without the store-pending mark
    /// (generation + 1): what the sync publishes when the store it loaded adds nothing to
    /// the records this snapshot was built from, instead of building the same table again.
    pub fn with_store_loaded(&self) -> Snapshot {
        Snapshot {
            store_pending: false,
            ..self.next_generation()
        }
    }

    /// The next generation of this snapshot: everything shared, generation + 1.
    fn next_generation(&self) -> Snapshot {
        Snapshot {
            rules: self.rules.clone(),
            shards: self.shards.clone(),
            zones: self.zones.clone(),
            down: self.down.clone(),
            generation: self.generation + 1,
            serial: self.serial,
            counters: self.counters,
            reverse_active: self.reverse_active,
            cuts: self.cuts.clone(),
            wilds: self.wilds.clone(),
            store_pending: self.store_pending,
            auto: self.auto.clone(),
        }
    }

    /// True while the record store has not been loaded (see [`Snapshot::with_store_pending`]).
    pub fn store_pending(&self) -> bool {
        self.store_pending
    }

    /// New snapshot: each change replaces ALL records owned by that name
    /// (empty = delete). Shares every untouched shard with `self`. Records
    /// of a change that name another owner, or lie outside the served
    /// domains, are ignored and counted in [`Snapshot::ignored_count`].
    /// Synthetic SOA serials of the zones holding touched names increase.
    pub fn apply(&self, changes: &[NameChange]) -> Snapshot {
        let mut ed = Editor::new(&self.rules, &self.shards, self.counters);
        for ch in changes {
            ed.set_name(&ch.name, &ch.records);
        }
        let touched: Vec<Box<[u8]>> = ed.touched_names().map(Into::into).collect();
        let (auto, auto_touched) = self.auto.applied(&ed.take_auto_edits());
        ed.refresh_subtrees(touched.iter().map(|k| &**k), true);
        let serial = if changes.is_empty() {
            self.serial
        } else {
            next_serial(self.serial)
        };
        let mut reverse_active = self.reverse_active;
        for (f, apex) in REVERSE_APEXES.iter().enumerate() {
            let wanted = Self::reverse_wanted(&self.rules, &ed.counters, f);
            if wanted && !reverse_active[f] {
                ed.set_synthetic(apex, apex, serial);
            } else if !wanted && reverse_active[f] {
                ed.clear_synthetic(apex);
            }
            reverse_active[f] = wanted;
        }
        // Bump the serial of every zone holding a touched name.
        let mut apexes: Vec<zone::Apex> = self.rules.domains.clone();
        for (f, apex) in REVERSE_APEXES.iter().enumerate() {
            if reverse_active[f] {
                apexes.push(((*apex).into(), (*apex).into()));
            }
        }
        apexes.sort_by_key(|a| std::cmp::Reverse(a.0.len()));
        let mut touched = vec![false; apexes.len()];
        let auto_apexes = REVERSE_APEXES.iter().zip(auto_touched).filter(|(_, t)| *t);
        for key in ed.touched_names().chain(auto_apexes.map(|(a, _)| *a)) {
            if let Some(z) = apexes.iter().position(|(a, _)| zone::is_within(key, a)) {
                touched[z] = true;
            }
        }
        for (z, (key, owner)) in apexes.iter().enumerate() {
            if touched[z] {
                ed.set_synthetic(key, owner, serial);
            }
        }
        let (shards, counters) = ed.finish();
        let changed = changes
            .iter()
            .map(|c| c.name.to_lowercase().as_wire().to_vec());
        let changed: Vec<Vec<u8>> = changed.collect();
        let cuts = self
            .cuts
            .updated(changed.iter().map(|k| &**k), |k| {
                has_ns(&shards, k) && !self.rules.is_apex(k)
            })
            .map_or_else(|| self.cuts.clone(), Arc::new);
        let wilds = self
            .wilds
            .updated(
                changed.iter().map(|k| &**k).filter(|k| has_star_label(k)),
                |k| find_in(&shards, k).is_some(),
            )
            .map_or_else(|| self.wilds.clone(), Arc::new);
        let mut next = Self::assemble(
            self.rules.clone(),
            shards,
            self.down.clone(),
            self.generation + 1,
            serial,
            counters,
            reverse_active,
        );
        next.store_pending = self.store_pending;
        next.auto = Arc::new(auto);
        next.set_name_sets(cuts, wilds);
        next
    }

    /// New snapshot with this DOWN set (addresses excluded from A/AAAA answers).
    pub fn with_down(&self, down: &[IpAddr]) -> Snapshot {
        Snapshot {
            down: Arc::new(DownSet::new(down)),
            ..self.next_generation()
        }
    }

    /// The configuration this table was built with.
    pub fn config(&self) -> &ZoneConfig {
        &self.rules.config
    }

    /// Records as given (after de-duplication), not synthetic or auto-PTR.
    pub fn record_count(&self) -> usize {
        self.counters.records
    }

    /// Names owning given records.
    pub fn name_count(&self) -> usize {
        self.counters.names
    }

    /// Records ignored (outside every served domain) by `build` and every
    /// `apply` since.
    pub fn ignored_count(&self) -> usize {
        self.counters.ignored
    }

    /// +1 per `apply` / `with_down`.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The given records owned by `name` (control-plane helper; allocates).
    pub fn records(&self, name: &Name) -> Vec<Record> {
        let key = name.to_lowercase();
        let Some(node) = self.node(key.as_wire()) else {
            return Vec::new();
        };
        let Ok(owner) = Name::from_wire(node.owner()) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for rr in node.all_rrsets().filter(|r| is_given(r.kind())) {
            for i in 0..rr.len() {
                if let Some(data) = decode::decode_rdata(rr.rtype(), rr.rdata(i)) {
                    let r = Record::new(owner.clone(), rr.record_ttl(i), data);
                    out.push(if rr.kind() == KIND_VERBATIM {
                        r.as_written()
                    } else {
                        r
                    });
                }
            }
        }
        out
    }

    /// Longest served zone containing `lname`; `None` means REFUSED.
    #[inline]
    pub fn zone(&self, lname: &[u8]) -> Option<ZoneRef<'_>> {
        self.zones.find(&self.shards, lname)
    }

    /// Every active zone, longest apex first.
    pub fn zones(&self) -> impl Iterator<Item = ZoneRef<'_>> {
        self.zones.slots().iter().filter_map(|s| self.zone(&s.apex))
    }

    /// The node at exactly `lname` (possibly an empty non-terminal); where the table has
    /// none, or an empty non-terminal, an auto-PTR node of the reverse trees (`autoptr`).
    #[inline]
    pub fn node(&self, lname: &[u8]) -> Option<NodeRef<'_>> {
        self.node_hashed(lname, hash::key_hash(lname))
    }

    /// [`Snapshot::node`] for a name whose key hash is known
    /// ([`crate::wire::NameBuf::hash`]): the name is not read twice.
    #[inline]
    pub fn node_hashed(&self, lname: &[u8], hash: u64) -> Option<NodeRef<'_>> {
        if children::is_chunk_key(lname) {
            return None;
        }
        match find_hashed(&self.shards, lname, hash).map(|e| NodeRef::new(&self.shards, e)) {
            Some(n) if !n.shows_nothing() => Some(n),
            found => self.auto.node(&self.shards, lname).or(found),
        }
    }

    /// The policy of `lname` (per-name override, else the default).
    pub fn policy(&self, lname: &[u8]) -> Policy {
        self.rules.policy(lname)
    }

    /// DOWN set membership for a 4- or 16-byte address.
    #[inline]
    pub fn is_down(&self, addr: &[u8]) -> bool {
        self.down.contains(addr)
    }

    /// True when some address is DOWN.
    #[inline]
    pub fn has_down(&self) -> bool {
        !self.down.is_empty()
    }

    /// Heap bytes of the table and the auto-PTR store (shards and chunks shared with other
    /// snapshots included).
    pub fn table_bytes(&self) -> usize {
        let mut seen = rustc_hash::FxHashSet::default();
        self.shards
            .iter()
            .filter(|s| seen.insert(s.ptr()))
            .map(|s| s.heap_bytes() + 16)
            .sum::<usize>()
            + shard::SHARD_COUNT * std::mem::size_of::<shard::Shard>()
            + self.auto.heap_bytes()
    }
}
