//! Helpers shared by the snapshot tests.

use crate::name::Name;
use crate::record::{RData, Record};
use crate::snapshot::{NameChange, Snapshot, ZoneConfig};
use std::sync::Arc;

pub fn n(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

/// Lowercased wire form of a presentation name.
pub fn k(s: &str) -> Vec<u8> {
    n(s).to_lowercase().as_wire().to_vec()
}

pub fn cfg(domains: &[&str], auto_ptr: bool) -> Arc<ZoneConfig> {
    Arc::new(ZoneConfig {
        domains: domains.iter().map(|d| n(d)).collect(),
        auto_ptr,
        ..ZoneConfig::default()
    })
}

pub fn a(name: &str, ip: &str, ttl: u32) -> Record {
    Record::new(n(name), ttl, RData::A(ip.parse().unwrap()))
}

pub fn aaaa(name: &str, ip: &str, ttl: u32) -> Record {
    Record::new(n(name), ttl, RData::Aaaa(ip.parse().unwrap()))
}

pub fn ptr(name: &str, target: &str) -> Record {
    Record::new(n(name), 60, RData::Ptr(n(target)))
}

pub fn change(name: &str, records: Vec<Record>) -> NameChange {
    NameChange {
        name: n(name),
        records,
    }
}

/// The RDATA of one RRset, as owned vectors.
pub fn rdatas(s: &Snapshot, name: &str, rtype: u16) -> Vec<Vec<u8>> {
    s.node(&k(name))
        .and_then(|nd| nd.rrset(rtype))
        .map(|r| r.iter().map(|d| d.to_vec()).collect())
        .unwrap_or_default()
}

/// PTR targets at a reverse name, as presentation strings, sorted.
pub fn ptr_targets(s: &Snapshot, rname: &str) -> Vec<String> {
    let mut v: Vec<String> = rdatas(s, rname, crate::record::rtype::PTR)
        .iter()
        .map(|w| Name::from_wire(w).unwrap().to_string())
        .collect();
    v.sort();
    v
}

/// Lowercased child names of a node, sorted.
pub fn children(s: &Snapshot, name: &str) -> Vec<String> {
    let mut v: Vec<String> = s
        .node(&k(name))
        .map(|nd| {
            nd.children()
                .map(|c| Name::from_wire(c.key()).unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Everything a lookup can observe about every node reachable from the
/// zone apexes, with synthetic SOA serials masked, in a comparable form.
pub fn dump(s: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack: Vec<Vec<u8>> = s.zones().map(|z| z.apex().to_vec()).collect();
    let mut seen = std::collections::BTreeSet::new();
    while let Some(key) = stack.pop() {
        if !seen.insert(key.clone()) {
            continue;
        }
        let Some(node) = s.node(&key) else {
            out.push(format!("missing {:?}", Name::from_wire(&key)));
            continue;
        };
        let mut sets: Vec<String> = node
            .rrsets()
            .map(|r| {
                let mut d: Vec<Vec<u8>> = r.iter().map(|x| x.to_vec()).collect();
                if r.rtype() == crate::record::rtype::SOA {
                    for x in &mut d {
                        let l = x.len();
                        if l >= 20 {
                            x[l - 20..l - 16].fill(0);
                        }
                    }
                }
                d.sort();
                format!("{} ttl={} {:?}", r.rtype(), r.ttl(), d)
            })
            .collect();
        sets.sort();
        out.push(format!(
            "{} policy={:?} {:?}",
            Name::from_wire(&key).unwrap(),
            node.policy(),
            sets
        ));
        for c in node.children() {
            stack.push(c.key().to_vec());
        }
    }
    out.sort();
    let names = s
        .shards
        .iter()
        .flat_map(|sh| sh.entries())
        .filter(|e| !crate::snapshot::children::is_chunk_key(crate::snapshot::shard::entry_key(e)))
        .count();
    out.push(format!("{names} nodes in the table"));
    out.extend(s.auto.dump().into_iter().map(|a| format!("auto-PTR {a}")));
    out
}

/// A tiny deterministic generator (no external RNG needed).
pub struct Lcg(pub u64);
impl Lcg {
    pub fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}
