//! The static part of a served configuration: zone files (their apexes become served
//! domains), example records, and the zone configuration derived from them. Loaded once by
//! `skylane serve` before anything starts; shared by the snapshot build, the store sync and
//! the API.

use crate::examples::example_records;
use skylane_controlplane::config::Config;
use skylane_controlplane::zonefile::load_zone_file;
use skylane_dataplane::name::Name;
use skylane_dataplane::record::Record;
use skylane_dataplane::snapshot::ZoneConfig;
use std::sync::Arc;
use tracing::info;

/// Static records and the zone configuration derived from the config.
pub struct StaticData {
    pub zone: Arc<ZoneConfig>,
    pub records: Vec<Record>,
    /// `records[..zone_records]` come from zone files (the rest are example records).
    pub zone_records: usize,
}

/// Loads zone files (their apexes become served domains) and example records.
pub fn load_static(cfg: &Config) -> anyhow::Result<StaticData> {
    let mut records = Vec::new();
    let mut apexes: Vec<Name> = Vec::new();
    for path in &cfg.dns.zone_files {
        let zone = load_zone_file(path, None, cfg.dns.ttl)?;
        info!(file = %path.display(), apex = %zone.apex, records = zone.records.len(), "zone file loaded");
        apexes.push(zone.apex);
        records.extend(zone.records);
    }
    let zone = cfg.zone_config(&apexes);
    let zone_records = records.len();
    if cfg.dns.example_records {
        records.extend(example_records(&zone.domains, cfg.dns.ttl));
    }
    Ok(StaticData {
        zone: Arc::new(zone),
        records,
        zone_records,
    })
}
