//! The start-up snapshot, built from the static records alone before the store is read, and
//! the proof of what it was built from ([`StaticBuild`]).
//!
//! `skylane serve` answers from this snapshot (store-pending: SERVFAIL for missing names)
//! while the sync lists the store. When that first list is empty, the full build the sync
//! would make is this same table again (static records, nothing from the store, no DOWN
//! address): instead the sync publishes the live snapshot with the store-pending mark cleared
//! ([`Snapshot::with_store_loaded`]), but only when the proof holds — the live snapshot is
//! still the very one built here (same allocation, held weakly), from the same static record
//! arena (the same `Arc`, not equal bytes: a reload makes a new one) and an equal zone
//! configuration.

use super::StaticRecords;
use skylane_dataplane::record::Record;
use skylane_dataplane::{Snapshot, ZoneConfig};
use std::sync::{Arc, Weak};

/// What the start-up snapshot was built from. See the module docs.
#[derive(Clone)]
pub struct StaticBuild {
    snapshot: Weak<Snapshot>,
    statics: StaticRecords,
    zone: Arc<ZoneConfig>,
}

impl StaticBuild {
    /// Keeps `records` compactly for the sync ([`StaticRecords`]) and builds the start-up
    /// snapshot (store-pending) from the same records, which the build consumes. Returns the
    /// records kept, the snapshot and the proof tying them together.
    pub fn build(
        zone: Arc<ZoneConfig>,
        records: Vec<Record>,
    ) -> (StaticRecords, Arc<Snapshot>, StaticBuild) {
        let started = std::time::Instant::now();
        let statics = StaticRecords::new(&records);
        tracing::debug!(
            records = records.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "static records kept"
        );
        let snapshot = Arc::new(Snapshot::build(zone.clone(), records).with_store_pending());
        let proof = StaticBuild {
            snapshot: Arc::downgrade(&snapshot),
            statics: statics.clone(),
            zone,
        };
        (statics, snapshot, proof)
    }

    /// True when `live` is the snapshot [`StaticBuild::build`] made, from exactly `statics`
    /// and a zone configuration equal to `zone`: a full build from `statics` alone would give
    /// the same table.
    pub(crate) fn holds_for(
        &self,
        live: &Arc<Snapshot>,
        statics: &StaticRecords,
        zone: &ZoneConfig,
    ) -> bool {
        // The weak reference keeps the allocation: no other snapshot can take its address.
        std::ptr::eq(self.snapshot.as_ptr(), Arc::as_ptr(live))
            && self.statics.same_arena(statics)
            && *self.zone == *zone
    }
}

impl std::fmt::Debug for StaticBuild {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticBuild")
            .field("statics", &self.statics)
            .field("live", &(self.snapshot.strong_count() > 0))
            .finish()
    }
}
