//! The example records `skylane serve` answers out of the box under
//! `skylane.local.` (config `[dns] example-records`, on by default; only
//! loaded when `skylane.local.` is a served domain).

use skylane_dataplane::name::Name;
use skylane_dataplane::record::{RData, Record};

/// The built-in example zone, in master-file form (also shown in the README).
pub const EXAMPLE_ZONE: &str = r#"$ORIGIN skylane.local.
www        A     192.0.2.10
www        A     192.0.2.11
www        AAAA  2001:db8::10
web        CNAME www
_http._tcp SRV   10 50 80 www
info       TXT   "Skylane example records: see README"
"#;

/// The example records, when `domains` contains `skylane.local.`.
pub fn example_records(domains: &[Name], ttl: u32) -> Vec<Record> {
    let apex = Name::from_ascii("skylane.local.").expect("valid name");
    if !domains.iter().any(|d| d.to_lowercase() == apex) {
        return Vec::new();
    }
    let zone = skylane_controlplane::zonefile::parse_zone(EXAMPLE_ZONE, None, ttl)
        .expect("the built-in example zone parses");
    debug_assert!(zone
        .records
        .iter()
        .all(|r| !matches!(r.data, RData::Soa { .. })));
    zone.records
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_only_under_skylane_local() {
        let ours = [Name::from_ascii("skylane.local.").unwrap()];
        assert_eq!(example_records(&ours, 30).len(), 6);
        let other = [Name::from_ascii("cluster.local.").unwrap()];
        assert!(example_records(&other, 30).is_empty());
    }
}
