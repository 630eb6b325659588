//! The static part of a served configuration: zone files (their apexes become served
//! domains), example records, and the zone configuration derived from them. Loaded once by
//! `skylane serve` before anything starts; shared by the snapshot build, the store sync and
//! the API.
//!
//! The records are kept once, compactly ([`StaticRecords`]: one arena shared by the sync and
//! the health agent); `skylane serve` moves the parsed `Vec<Record>` into its first snapshot
//! build instead of cloning it (docs/performance.md, "Memory (issue 11)"), and keeps the
//! proof of what that snapshot was built from ([`StaticBuild`]) for the sync, which then
//! skips building the same table again when the store is empty.

use crate::examples::example_records;
use skylane_controlplane::config::Config;
use skylane_controlplane::sync::{StaticBuild, StaticRecords};
use skylane_controlplane::zonefile::load_zone_file;
use skylane_dataplane::name::Name;
use skylane_dataplane::record::Record;
use skylane_dataplane::snapshot::{Snapshot, ZoneConfig};
use std::sync::Arc;
use tracing::info;

/// Static records and the zone configuration derived from the config.
pub struct StaticData {
    pub zone: Arc<ZoneConfig>,
    pub records: StaticRecords,
    /// The first `zone_records` of `records` come from zone files (the rest are example
    /// records).
    pub zone_records: usize,
    /// What the start-up snapshot was built from (`skylane serve`'s first load only; a
    /// reload's data has none, so the sync restarted with it always builds).
    pub first_build: Option<StaticBuild>,
}

impl StaticData {
    /// The records that come from zone files.
    pub fn zone_file_records(&self) -> Vec<Record> {
        self.records.first(self.zone_records)
    }
}

/// Zone files and example records as parsed, not yet kept compactly.
pub struct ParsedStatic {
    pub zone: Arc<ZoneConfig>,
    pub records: Vec<Record>,
    /// The first `zone_records` records come from zone files.
    pub zone_records: usize,
}

impl ParsedStatic {
    /// Keeps the records compactly and builds the start-up snapshot (store-pending) from
    /// them, with the proof of it for the sync ([`StaticBuild`]).
    pub fn build_first(self) -> (StaticData, Arc<Snapshot>) {
        let (records, first, proof) = StaticBuild::build(self.zone.clone(), self.records);
        let data = StaticData {
            zone: self.zone,
            records,
            zone_records: self.zone_records,
            first_build: Some(proof),
        };
        (data, first)
    }
}

/// Loads zone files (their apexes become served domains) and example records.
pub fn load_static(cfg: &Config) -> anyhow::Result<StaticData> {
    let parsed = parse_static(cfg)?;
    Ok(StaticData {
        records: StaticRecords::new(&parsed.records),
        zone: parsed.zone,
        zone_records: parsed.zone_records,
        first_build: None,
    })
}

/// Parses zone files (their apexes become served domains) and adds the example records.
pub fn parse_static(cfg: &Config) -> anyhow::Result<ParsedStatic> {
    let mut records = Vec::new();
    let mut apexes: Vec<Name> = Vec::new();
    for path in &cfg.dns.zone_files {
        let started = std::time::Instant::now();
        let zone = load_zone_file(path, None, cfg.dns.ttl)?;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        info!(file = %path.display(), apex = %zone.apex, records = zone.records.len(), elapsed_ms, "zone file loaded");
        apexes.push(zone.apex);
        if records.is_empty() {
            records = zone.records;
        } else {
            records.extend(zone.records);
        }
    }
    let zone = cfg.zone_config(&apexes);
    let zone_records = records.len();
    if cfg.dns.example_records {
        records.extend(example_records(&zone.domains, cfg.dns.ttl));
    }
    Ok(ParsedStatic {
        zone: Arc::new(zone),
        records,
        zone_records,
    })
}
