//! What to check: every A/AAAA address in the store (and the zone files when asked), with
//! its ports, and the stored status of each address.

use crate::layout::{self, Health, KeyKind, SkyValue};
use crate::store::KeyValue;
use serde::{Deserialize, Serialize};
use skylane_dataplane::name::Name;
use skylane_dataplane::record::{RData, Record};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

/// A status value as the scanner writes and reads it. Plain seed values
/// (`{"status":"DOWN"}`, `{"status":"UP","ports":[22,80]}`) parse too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusDoc {
    pub status: Health,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// RFC 3339 time of the transition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Set by an operator: scanners never overwrite it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub manual: bool,
    /// Extra TCP ports to check on this address.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<u16>,
}

impl StatusDoc {
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("StatusDoc always serialises")
    }
}

/// The stored status of one address and the revision it was read at (0 = no key).
#[derive(Debug, Clone, Default)]
pub struct Stored {
    pub doc: Option<StatusDoc>,
    pub mod_revision: i64,
}

impl Stored {
    /// The status answers use: a missing (or unreadable) key is UP.
    pub fn health(&self) -> Health {
        self.doc.as_ref().map_or(Health::Up, |d| d.status)
    }

    pub fn manual(&self) -> bool {
        self.doc.as_ref().is_some_and(|d| d.manual)
    }
}

/// Addresses and their ports, from records.
#[derive(Debug, Default)]
pub struct AddressBook {
    /// Address → SRV ports whose target resolves to it.
    pub addresses: BTreeMap<IpAddr, BTreeSet<u16>>,
}

impl AddressBook {
    /// Collects A/AAAA addresses and the SRV ports of the names they belong to.
    pub fn from_records<'a>(records: impl Iterator<Item = &'a Record>) -> AddressBook {
        let mut by_name: HashMap<Name, Vec<IpAddr>> = HashMap::new();
        let mut srv: Vec<(Name, u16)> = Vec::new();
        for r in records {
            match &r.data {
                RData::A(v4) => by_name
                    .entry(r.name.to_lowercase())
                    .or_default()
                    .push(IpAddr::V4(*v4)),
                RData::Aaaa(v6) => by_name
                    .entry(r.name.to_lowercase())
                    .or_default()
                    .push(IpAddr::V6(*v6)),
                RData::Srv { port, target, .. } if *port != 0 => {
                    srv.push((target.to_lowercase(), *port))
                }
                _ => {}
            }
        }
        let mut addresses: BTreeMap<IpAddr, BTreeSet<u16>> = BTreeMap::new();
        for ip in by_name.values().flatten() {
            addresses.entry(*ip).or_default();
        }
        for (target, port) in srv {
            // SkyDNS: a name without records of its own stands for its children's.
            let ips: Vec<IpAddr> = match by_name.get(&target) {
                Some(ips) => ips.clone(),
                None => by_name
                    .iter()
                    .filter(|(n, _)| n.is_subdomain_of(&target))
                    .flat_map(|(_, ips)| ips.iter().copied())
                    .collect(),
            };
            for ip in ips {
                addresses.entry(ip).or_default().insert(port);
            }
        }
        AddressBook { addresses }
    }
}

/// Everything read from one list of the store: record-derived addresses and statuses.
#[derive(Debug, Default)]
pub struct Inventory {
    pub book: AddressBook,
    pub statuses: HashMap<IpAddr, Stored>,
}

/// Parses a status key's value (unreadable values count as absent).
pub fn parse_stored(kv: &KeyValue) -> Stored {
    Stored {
        doc: serde_json::from_slice(&kv.value).ok(),
        mod_revision: kv.mod_revision,
    }
}

/// Builds the inventory from a list of the watch root plus static records.
pub fn inventory(
    kvs: &[KeyValue],
    prefix: &str,
    monitor_prefix: &str,
    static_records: &[Record],
) -> Inventory {
    let mut records: Vec<Record> = static_records.to_vec();
    let mut statuses = HashMap::new();
    for kv in kvs {
        match layout::classify_key(prefix, monitor_prefix, &kv.key) {
            KeyKind::Status(ip) => {
                statuses.insert(ip, parse_stored(kv));
            }
            KeyKind::Name(name) => {
                if let Ok(v) = SkyValue::from_json(&kv.value) {
                    // Default TTL is irrelevant here.
                    if let Ok(recs) = layout::value_to_records(&name, &v, 0) {
                        records.extend(recs);
                    }
                }
            }
            KeyKind::Other => {}
        }
    }
    Inventory {
        book: AddressBook::from_records(records.iter()),
        statuses,
    }
}

/// The ports to check on `ip`: SRV ports, the configured ports, the status's `ports`.
pub fn ports_of(
    srv_ports: &BTreeSet<u16>,
    default_ports: &[u16],
    stored: Option<&Stored>,
) -> Vec<u16> {
    let mut ports: BTreeSet<u16> = srv_ports.clone();
    ports.extend(default_ports.iter().copied());
    if let Some(doc) = stored.and_then(|s| s.doc.as_ref()) {
        ports.extend(doc.ports.iter().copied().filter(|&p| p != 0));
    }
    ports.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: &str, value: &str) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: value.as_bytes().to_vec(),
            mod_revision: 7,
        }
    }

    #[test]
    fn addresses_ports_and_statuses() {
        let kvs = [
            kv("/skydns/local/skylane/web/a", r#"{"host":"10.0.0.1"}"#),
            kv(
                "/skydns/local/skylane/web/b",
                r#"{"host":"10.0.0.2","port":8080}"#,
            ),
            kv(
                "/skydns/local/skylane/_http/x",
                r#"{"host":"web.skylane.local","port":81}"#,
            ),
            kv(
                "/skydns/monitor/status/10.0.0.2",
                r#"{"status":"DOWN","ports":[22]}"#,
            ),
            kv("/skydns/monitor/heart/agent-1", r#"{"agent":"agent-1"}"#),
        ];
        let inv = inventory(&kvs, "/skydns", "/skydns/monitor/status", &[]);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(inv.book.addresses.len(), 2);
        assert_eq!(inv.book.addresses[&a], BTreeSet::from([81]));
        assert_eq!(inv.book.addresses[&b], BTreeSet::from([81, 8080]));
        let stored = inv.statuses.get(&b);
        assert_eq!(stored.unwrap().health(), Health::Down);
        assert_eq!(
            ports_of(&inv.book.addresses[&b], &[80], stored),
            vec![22, 80, 81, 8080]
        );
    }
}
