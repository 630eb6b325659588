//! The static part of a served configuration: zone files (their apexes become served
//! domains), example records, and the zone configuration derived from them. Loaded once by
//! `skylane serve` before anything starts; shared by the snapshot build, the store sync and
//! the API.
//!
//! The records are kept once, compactly ([`StaticRecords`]: one arena shared by the sync and
//! the health agent); `skylane serve` moves the parsed `Vec<Record>` into its first snapshot
//! build instead of cloning it (docs/performance.md, "Memory (issue 11)").

use crate::examples::example_records;
use skylane_controlplane::config::Config;
use skylane_controlplane::sync::StaticRecords;
use skylane_controlplane::zonefile::load_zone_file;
use skylane_dataplane::name::Name;
use skylane_dataplane::record::Record;
use skylane_dataplane::snapshot::ZoneConfig;
use std::sync::Arc;
use tracing::info;

/// Static records and the zone configuration derived from the config.
pub struct StaticData {
    pub zone: Arc<ZoneConfig>,
    pub records: StaticRecords,
    /// The first `zone_records` of `records` come from zone files (the rest are example
    /// records).
    pub zone_records: usize,
}

impl StaticData {
    /// The records that come from zone files.
    pub fn zone_file_records(&self) -> Vec<Record> {
        self.records.first(self.zone_records)
    }
}

/// Loads zone files (their apexes become served domains) and example records.
pub fn load_static(cfg: &Config) -> anyhow::Result<StaticData> {
    Ok(load_static_records(cfg)?.0)
}

/// [`load_static`] that also hands back the records as parsed, for a first build to take.
pub fn load_static_records(cfg: &Config) -> anyhow::Result<(StaticData, Vec<Record>)> {
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
    let data = StaticData {
        zone: Arc::new(zone),
        records: StaticRecords::new(&records),
        zone_records,
    };
    Ok((data, records))
}
