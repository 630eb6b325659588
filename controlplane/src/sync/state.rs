//! What the sync remembers between watch batches: the static records, the extra source's
//! records per name, the DOWN set and the keys whose values were skipped. Store records are
//! not kept: a name's store records come from its one key (one key per name, see
//! [`layout::key_to_name`]), so a watch event replaces them whole, and SRV weights are
//! normalised by the snapshot over each answer (it needs the raw weights).
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
use skylane_dataplane::record::Record;
use skylane_dataplane::{Name, NameChange};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// Sync-side memory of the store contents. Names are kept lowercased.
pub struct SyncState {
    prefix: String,
    monitor_prefix: String,
    default_ttl: u32,
    /// Zone-file and example records, kept compactly (shared with the caller).
    statics: StaticRecords,
    /// Records of the extra source (see `source.rs`), per name; merged like static records.
    source_by_name: FxHashMap<Name, Vec<Record>>,
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
        let mut out = Vec::new();
        self.records_into(name, kv, &mut out).then_some(out)
    }

    /// Appends the records of a value to `out`; false (nothing appended; skipped, counted)
    /// when it is not usable.
    fn records_into(&mut self, name: &Name, kv: &KeyValue, out: &mut Vec<Record>) -> bool {
        let parsed = SkyValue::from_json(&kv.value)
            .and_then(|v| layout::served_records_into(name, &v, self.default_ttl, out));
        match parsed {
            Ok(()) => {
                if !self.bad_keys.is_empty() {
                    self.bad_keys.remove(&kv.key);
                }
                true
            }
            Err(e) => {
                self.skip(&kv.key, &e);
                false
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

    /// The static records.
    pub fn statics(&self) -> &StaticRecords {
        &self.statics
    }

    /// True when the extra source has given records.
    pub fn has_source_records(&self) -> bool {
        !self.source_by_name.is_empty()
    }

    /// Forgets every store-derived fact (the DOWN set, the skipped keys), as before a full
    /// list is taken in.
    pub fn forget_store(&mut self) {
        self.down.clear();
        self.bad_keys.clear();
    }

    /// Forgets every store-derived fact and returns the full record set for `kvs`
    /// (static records included), for a fresh `Snapshot::build` + `with_down(self.down())`.
    pub fn full_records(&mut self, kvs: &[KeyValue]) -> Vec<Record> {
        self.forget_store();
        let source = self.source_by_name.values().map(Vec::len).sum::<usize>();
        // Most values give one or two records (an IP host: A and a port-0 SRV).
        let mut records: Vec<Record> =
            Vec::with_capacity(self.statics.len() + source + 2 * kvs.len());
        self.statics.decode_into(&mut records);
        records.extend(self.source_by_name.values().flatten().cloned());
        for kv in kvs {
            match layout::classify_key(&self.prefix, &self.monitor_prefix, &kv.key) {
                KeyKind::Status(ip) => {
                    self.set_status(ip, Some(kv));
                }
                KeyKind::Name(name) => {
                    // A name from a key is lowercase (one canonical key per name).
                    self.records_into(&name, kv, &mut records);
                }
                KeyKind::Other => {}
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
        for (name, recs) in touched {
            let mut records = self.static_records(&name);
            records.extend(recs.unwrap_or_default());
            out.changes.push(NameChange { name, records });
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

#[cfg(test)]
mod tests;
