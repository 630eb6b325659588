//! What the sync remembers between watch batches: static records per name, SRV sibling groups
//! (for CoreDNS weight normalisation), the DOWN set and the keys whose values were skipped.
//!
//! A full list turns into the record set for [`Snapshot::build`]; a watch batch turns into the
//! [`NameChange`]s for [`Snapshot::apply`] plus a flag saying the DOWN set changed.
//!
//! [`Snapshot::build`]: skylane_dataplane::Snapshot::build
//! [`Snapshot::apply`]: skylane_dataplane::Snapshot::apply

use super::StaticRecords;
use crate::layout::{self, KeyKind, SkyValue, StatusValue};
use crate::store::{KeyValue, WatchEvent};
use rustc_hash::{FxHashMap, FxHashSet};
use skylane_dataplane::record::{RData, Record};
use skylane_dataplane::{Name, NameChange};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// One SRV-carrying key: its raw records and the normalised ones last handed out.
#[derive(Debug, Clone)]
struct SrvMember {
    raw: Vec<Record>,
    served: Vec<Record>,
}

/// Sync-side memory of the store contents. Names are kept lowercased.
pub struct SyncState {
    prefix: String,
    monitor_prefix: String,
    default_ttl: u32,
    /// Zone-file and example records, kept compactly (shared with the caller).
    statics: StaticRecords,
    /// Records of the extra source (see `source.rs`), per name; merged like static records.
    source_by_name: FxHashMap<Name, Vec<Record>>,
    /// parent name → SRV-carrying child keys (their weights are normalised together).
    srv_groups: FxHashMap<Name, BTreeMap<Name, SrvMember>>,
    down: BTreeSet<IpAddr>,
    /// Keys whose current value was skipped (logged once each).
    bad_keys: FxHashSet<String>,
    /// Values skipped since start (every occurrence).
    parse_errors: u64,
}

/// What one watch batch changes.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    pub changes: Vec<NameChange>,
    pub down_changed: bool,
}

fn has_srv(records: &[Record]) -> bool {
    records.iter().any(|r| matches!(r.data, RData::Srv { .. }))
}

fn parent_of(name: &Name) -> Name {
    name.parent().unwrap_or_else(Name::root)
}

impl SyncState {
    pub fn new(
        prefix: &str,
        monitor_prefix: &str,
        default_ttl: u32,
        static_records: impl Into<StaticRecords>,
    ) -> SyncState {
        SyncState {
            prefix: prefix.to_string(),
            monitor_prefix: monitor_prefix.to_string(),
            default_ttl,
            statics: static_records.into(),
            source_by_name: FxHashMap::default(),
            srv_groups: FxHashMap::default(),
            down: BTreeSet::new(),
            bad_keys: FxHashSet::default(),
            parse_errors: 0,
        }
    }

    /// The DOWN set.
    pub fn down(&self) -> Vec<IpAddr> {
        self.down.iter().copied().collect()
    }

    /// Values skipped since start.
    pub fn parse_errors(&self) -> u64 {
        self.parse_errors
    }

    /// Keys whose current value is skipped.
    pub fn bad_key_count(&self) -> usize {
        self.bad_keys.len()
    }

    /// Number of static (zone-file) records.
    pub fn static_count(&self) -> usize {
        self.statics.len()
    }

    fn skip(&mut self, key: &str, why: &dyn std::fmt::Display) {
        self.parse_errors += 1;
        if self.bad_keys.insert(key.to_string()) {
            tracing::warn!("store key {key}: value skipped: {why}");
        }
    }

    /// Parses a record value; `None` (skipped, counted) when it is not usable.
    fn records_of(&mut self, name: &Name, kv: &KeyValue) -> Option<Vec<Record>> {
        let parsed = SkyValue::from_json(&kv.value)
            .and_then(|v| layout::served_records(name, &v, self.default_ttl));
        match parsed {
            Ok(records) => {
                self.bad_keys.remove(&kv.key);
                Some(records)
            }
            Err(e) => {
                self.skip(&kv.key, &e);
                None
            }
        }
    }

    /// Applies a status value; true when the DOWN set changed.
    fn set_status(&mut self, ip: IpAddr, kv: Option<&KeyValue>) -> bool {
        let down = match kv {
            None => false,
            Some(kv) => match StatusValue::from_json(&kv.value) {
                Ok(v) => {
                    self.bad_keys.remove(&kv.key);
                    v.is_down()
                }
                Err(e) => {
                    self.skip(&kv.key, &e);
                    false
                }
            },
        };
        if down {
            self.down.insert(ip)
        } else {
            self.down.remove(&ip)
        }
    }

    /// Forgets every store-derived fact and returns the full record set for `kvs`
    /// (static records included), for a fresh `Snapshot::build` + `with_down(self.down())`.
    pub fn full_records(&mut self, kvs: Vec<KeyValue>) -> Vec<Record> {
        self.srv_groups.clear();
        self.down.clear();
        self.bad_keys.clear();
        let mut records: Vec<Record> = Vec::with_capacity(self.statics.len() + kvs.len());
        self.statics.decode_into(&mut records);
        records.extend(self.source_by_name.values().flatten().cloned());
        for kv in &kvs {
            match layout::classify_key(&self.prefix, &self.monitor_prefix, &kv.key) {
                KeyKind::Status(ip) => {
                    self.set_status(ip, Some(kv));
                }
                KeyKind::Name(name) => {
                    let name = name.to_lowercase();
                    let Some(recs) = self.records_of(&name, kv) else {
                        continue;
                    };
                    if has_srv(&recs) {
                        self.srv_groups.entry(parent_of(&name)).or_default().insert(
                            name,
                            SrvMember {
                                raw: recs,
                                served: Vec::new(),
                            },
                        );
                    } else {
                        records.extend(recs);
                    }
                }
                KeyKind::Other => {}
            }
        }
        for group in self.srv_groups.values_mut() {
            normalize_group(group);
            for member in group.values() {
                records.extend(member.served.iter().cloned());
            }
        }
        records
    }

    /// Applies one batch of watch events (in order).
    pub fn apply_events(&mut self, events: &[WatchEvent]) -> BatchOutcome {
        let mut out = BatchOutcome::default();
        // Latest store records per touched name (None = no usable value any more).
        let mut touched: BTreeMap<Name, Option<Vec<Record>>> = BTreeMap::new();
        for event in events {
            let (key, kv) = match event {
                WatchEvent::Put(kv) => (kv.key.as_str(), Some(kv)),
                WatchEvent::Delete { key, .. } => (key.as_str(), None),
                WatchEvent::Resync | WatchEvent::Progress { .. } => continue,
            };
            match layout::classify_key(&self.prefix, &self.monitor_prefix, key) {
                KeyKind::Status(ip) => out.down_changed |= self.set_status(ip, kv),
                KeyKind::Name(name) => {
                    let name = name.to_lowercase();
                    let recs = match kv {
                        Some(kv) => self.records_of(&name, kv),
                        None => {
                            self.bad_keys.remove(key);
                            None
                        }
                    };
                    touched.insert(name, recs);
                }
                KeyKind::Other => {}
            }
        }
        let mut dirty_groups: BTreeSet<Name> = BTreeSet::new();
        for (name, recs) in touched {
            let parent = parent_of(&name);
            if let Some(group) = self.srv_groups.get_mut(&parent) {
                if group.remove(&name).is_some() {
                    dirty_groups.insert(parent.clone());
                }
            }
            match recs {
                Some(recs) if has_srv(&recs) => {
                    self.srv_groups.entry(parent.clone()).or_default().insert(
                        name.clone(),
                        SrvMember {
                            raw: recs,
                            served: Vec::new(),
                        },
                    );
                    dirty_groups.insert(parent);
                }
                other => {
                    let mut records = self.static_records(&name);
                    records.extend(other.unwrap_or_default());
                    out.changes.push(NameChange { name, records });
                }
            }
        }
        for parent in dirty_groups {
            let Some(group) = self.srv_groups.get_mut(&parent) else {
                continue;
            };
            let before: FxHashMap<Name, Vec<Record>> = group
                .iter()
                .map(|(n, m)| (n.clone(), m.served.clone()))
                .collect();
            normalize_group(group);
            for (name, member) in group.iter() {
                if before.get(name) != Some(&member.served) {
                    let mut records = self.statics.records_of(name);
                    let source = self.source_by_name.get(name).into_iter().flatten();
                    records.extend(source.cloned());
                    records.extend(member.served.iter().cloned());
                    out.changes.push(NameChange {
                        name: name.clone(),
                        records,
                    });
                }
            }
            if group.is_empty() {
                self.srv_groups.remove(&parent);
            }
        }
        out
    }

    /// Static and extra-source records of `name`.
    fn static_records(&self, name: &Name) -> Vec<Record> {
        let mut out = self.statics.records_of(name);
        out.extend(self.source_by_name.get(name).into_iter().flatten().cloned());
        out
    }

    /// Takes the extra source's new record sets; the snapshot changes they make.
    pub fn apply_source(&mut self, update: super::SourceUpdate) -> Vec<NameChange> {
        let mut touched: BTreeMap<Name, ()> = BTreeMap::new();
        for (name, records) in update {
            let name = name.to_lowercase();
            if records.is_empty() {
                self.source_by_name.remove(&name);
            } else {
                self.source_by_name.insert(name.clone(), records);
            }
            touched.insert(name, ());
        }
        touched
            .into_keys()
            .map(|name| NameChange {
                records: self.static_records(&name),
                name,
            })
            .collect()
    }
}

/// The served records of every member of one SRV group: the raw records. SRV weights are
/// normalised by the snapshot over each answered set (a name's whole subtree, CoreDNS-style),
/// which needs the raw weights; the group only decides which names are handed over again.
fn normalize_group(group: &mut BTreeMap<Name, SrvMember>) {
    for member in group.values_mut() {
        member.served = member.raw.clone();
    }
}

#[cfg(test)]
mod tests;
