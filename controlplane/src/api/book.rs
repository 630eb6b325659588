//! How the API maps a name's record sets onto store keys (SkyDNS layout).
//!
//! A name's OWN values are:
//! - the value at the name's exact key (SkyDNS single-value form; the API
//!   writes CNAMEs there, since a CNAME is alone at its name), and
//! - values at direct child keys whose label is a value id — 8 to 16
//!   lowercase hex digits (the API's 16-digit FNV-1a ids, and the 8-digit
//!   hashes of kube2sky / ContainerDNS) — and that have no keys below them.
//!
//! Every other key below the name belongs to another name and is never
//! touched by writes or deletes of this name (ContainerDNS deleted the whole
//! subtree). Writes are planned as a diff of own keys: unchanged values keep
//! their keys, so a re-import of the same data writes nothing.

use super::body::RecordSet;
use crate::layout::{name_to_key, value_to_records, SkyValue};
use crate::store::KeyValue;
use skylane_dataplane::name::Name;
use skylane_dataplane::record::{RData, Record};
use std::collections::BTreeMap;

/// True when a leaf child key (nothing below it) labelled `label` and holding `value` is one
/// of its parent's values rather than a name of its own. Only the forms SkyDNS / CoreDNS
/// writers produce count: 16 lowercase hex digits (Skylane's FNV-1a 64 [`value_id`]) or 8
/// (kube2sky / ContainerDNS), and never a CNAME value — writers keep a CNAME at the name's own
/// key, so `cafebabe.web` holding a CNAME is a name (under `in-addr.arpa.`/`ip6.arpa.`,
/// `reverse`, a name host is a PTR and may be a value).
pub fn is_value_id(label: &str, value: &[u8], reverse: bool) -> bool {
    let hex_form = (label.len() == 16 || label.len() == 8)
        && label
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    hex_form && (reverse || !is_cname_value(value))
}

/// True when a stored value reads as a CNAME (a name host without port or mail).
fn is_cname_value(value: &[u8]) -> bool {
    SkyValue::from_json(value).is_ok_and(|v| {
        !v.host.is_empty() && v.host.parse::<std::net::IpAddr>().is_err() && v.port == 0 && !v.mail
    })
}

/// The id (child label) of a value: FNV-1a 64 of its JSON, 16 hex digits.
pub fn value_id(value: &SkyValue) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in value.to_json() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The SkyDNS values of one record set.
pub fn set_to_values(set: &RecordSet) -> Vec<SkyValue> {
    let ttl = set.ttl.unwrap_or(0);
    set.data
        .iter()
        .map(|d| {
            let mut v = SkyValue {
                ttl,
                ..SkyValue::default()
            };
            match d {
                RData::A(ip) => v.host = ip.to_string(),
                RData::Aaaa(ip) => v.host = ip.to_string(),
                RData::Cname(n) | RData::Ptr(n) | RData::Ns(n) => v.host = n.to_string(),
                RData::Srv {
                    priority,
                    weight,
                    port,
                    target,
                } => {
                    v.host = target.to_string();
                    v.port = *port;
                    v.priority = *priority;
                    v.weight = *weight;
                }
                RData::Mx {
                    preference,
                    exchange,
                } => {
                    v.host = exchange.to_string();
                    v.mail = true;
                    v.priority = *preference;
                }
                RData::Txt(strings) => {
                    v.text = String::from_utf8_lossy(&strings.concat()).into_owned();
                }
                RData::Soa { .. } => {}
            }
            v
        })
        .collect()
}

/// The keys of a name's own values, from its exact key's value and the keys below it.
/// `below` holds every key under `<key>/` (any depth); `reverse`: the name is under
/// `in-addr.arpa.`/`ip6.arpa.` (see [`is_value_id`]).
pub fn own_values(
    exact: Option<KeyValue>,
    key: &str,
    below: Vec<KeyValue>,
    reverse: bool,
) -> Vec<KeyValue> {
    let child_prefix = format!("{key}/");
    let has_descendants = |k: &str| {
        let p = format!("{k}/");
        below.iter().any(|o| o.key.starts_with(&p))
    };
    let mut own: Vec<KeyValue> = below
        .iter()
        .filter(|kv| {
            kv.key
                .strip_prefix(&child_prefix)
                .is_some_and(|label| !label.contains('/') && is_value_id(label, &kv.value, reverse))
                && !has_descendants(&kv.key)
        })
        .cloned()
        .collect();
    if let Some(e) = exact {
        own.insert(0, e);
    }
    own
}

/// The records of a name's own values; values that do not parse are skipped (and logged).
pub fn own_records(name: &Name, own: &[KeyValue], default_ttl: u32) -> Vec<Record> {
    let mut out = Vec::new();
    for kv in own {
        match SkyValue::from_json(&kv.value).and_then(|v| value_to_records(name, &v, default_ttl)) {
            Ok(recs) => out.extend(recs),
            Err(e) => tracing::warn!(key = %kv.key, error = %e, "api: skipping a bad stored value"),
        }
    }
    out
}

/// Puts and deletes turning `current` own values into exactly `desired`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Plan {
    pub puts: Vec<(String, Vec<u8>)>,
    pub deletes: Vec<String>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.puts.is_empty() && self.deletes.is_empty()
    }

    pub fn extend(&mut self, other: Plan) {
        self.puts.extend(other.puts);
        self.deletes.extend(other.deletes);
    }
}

/// Where each desired value goes: CNAMEs (a name host at a non-reverse name
/// without port/mail) at the exact key, every other value at `<key>/<id>`.
pub fn plan(prefix: &str, name: &Name, current: &[KeyValue], desired: &[SkyValue]) -> Plan {
    let key = name_to_key(prefix, name);
    let mut want: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for v in desired {
        let is_cname = v.port == 0
            && !v.mail
            && v.text.is_empty()
            && v.host.parse::<std::net::IpAddr>().is_err()
            && !crate::layout::is_reverse_name(name);
        let k = if is_cname {
            key.clone()
        } else {
            format!("{key}/{}", value_id(v))
        };
        want.insert(k, v.to_json());
    }
    let mut plan = Plan::default();
    for kv in current {
        if !want.contains_key(&kv.key) {
            plan.deletes.push(kv.key.clone());
        }
    }
    for (k, v) in want {
        let unchanged = current.iter().any(|kv| kv.key == k && kv.value == v);
        if !unchanged {
            plan.puts.push((k, v));
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::body::parse_body;

    fn kv(key: &str, value: &str) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: value.as_bytes().to_vec(),
            mod_revision: 1,
        }
    }

    #[test]
    fn own_values_skip_other_names() {
        let key = "/skydns/local/skylane/web";
        let below = vec![
            kv(
                "/skydns/local/skylane/web/0123456789abcdef",
                r#"{"host":"10.0.0.1"}"#,
            ),
            kv(
                "/skydns/local/skylane/web/deadbeef",
                r#"{"host":"10.0.0.2"}"#,
            ),
            kv("/skydns/local/skylane/web/api", r#"{"host":"10.0.0.3"}"#),
            // A hex-looking label with names below it is a name, not a value.
            kv(
                "/skydns/local/skylane/web/abcdef01",
                r#"{"host":"10.0.0.4"}"#,
            ),
            kv(
                "/skydns/local/skylane/web/abcdef01/x",
                r#"{"host":"10.0.0.5"}"#,
            ),
            kv(
                "/skydns/local/skylane/web/_tcp/0123456789abcdef",
                r#"{"host":"10.0.0.6"}"#,
            ),
            // A CNAME at a hex label is the name cafebabe.web, not a value of web.
            kv(
                "/skydns/local/skylane/web/cafebabe",
                r#"{"host":"other.skylane.local."}"#,
            ),
            // Hex labels of other lengths are names (ids are 16 or 8 digits).
            kv(
                "/skydns/local/skylane/web/abcdef012",
                r#"{"host":"10.0.0.7"}"#,
            ),
            kv("/skydns/local/skylane/web/add", r#"{"host":"10.0.0.8"}"#),
        ];
        let own = own_values(Some(kv(key, r#"{"text":"hi"}"#)), key, below, false);
        let keys: Vec<&str> = own.iter().map(|k| k.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                key,
                "/skydns/local/skylane/web/0123456789abcdef",
                "/skydns/local/skylane/web/deadbeef"
            ]
        );
        // Under arpa a name host is a PTR value and may sit at a value id.
        let ptr = kv(
            "/skydns/arpa/in-addr/10/0/0/1/0123456789abcdef",
            r#"{"host":"web.skylane.local."}"#,
        );
        let own = own_values(None, "/skydns/arpa/in-addr/10/0/0/1", vec![ptr], true);
        assert_eq!(own.len(), 1);
    }

    #[test]
    fn plans_are_diffs() {
        let name = Name::from_ascii("web.skylane.local.").unwrap();
        let sets = parse_body(br#"{"type":"A","ips":["10.0.0.1","10.0.0.2"]}"#).unwrap();
        let values = set_to_values(&sets[0]);
        let first = plan("/skydns", &name, &[], &values);
        assert_eq!(first.puts.len(), 2);
        assert!(first.deletes.is_empty());
        let stored: Vec<KeyValue> = first
            .puts
            .iter()
            .map(|(k, v)| KeyValue {
                key: k.clone(),
                value: v.clone(),
                mod_revision: 1,
            })
            .collect();
        assert!(stored
            .iter()
            .all(|s| s.key.starts_with("/skydns/local/skylane/web/")));
        // Same data again: nothing to do. One IP less: one delete.
        assert!(plan("/skydns", &name, &stored, &values).is_empty());
        let again = plan("/skydns", &name, &stored, &values[..1]);
        assert_eq!(again.puts.len(), 0);
        assert_eq!(again.deletes.len(), 1);
        // Records read back equal what was written.
        let recs = own_records(&name, &stored, 30);
        assert_eq!(recs.len(), 2);
        assert!(recs.iter().all(|r| r.ttl == 30 && r.name == name));
    }

    #[test]
    fn cname_lives_at_the_exact_key() {
        let name = Name::from_ascii("alias.skylane.local.").unwrap();
        let sets = parse_body(br#"{"type":"CNAME","target":"web.skylane.local."}"#).unwrap();
        let p = plan("/skydns", &name, &[], &set_to_values(&sets[0]));
        assert_eq!(p.puts[0].0, "/skydns/local/skylane/alias");
        let stored = [kv(&p.puts[0].0, std::str::from_utf8(&p.puts[0].1).unwrap())];
        let recs = own_records(&name, &stored, 30);
        assert_eq!(
            recs[0].data,
            RData::Cname(Name::from_ascii("web.skylane.local.").unwrap())
        );
    }

    #[test]
    fn every_type_round_trips_through_sky_values() {
        let name = Name::from_ascii("x.skylane.local.").unwrap();
        let body = br#"[{"type":"AAAA","ips":["fd00::1"],"ttl":5},
            {"type":"SRV","targets":[{"target":"web.skylane.local.","port":80,"priority":1,"weight":5}]},
            {"type":"TXT","texts":["a b c"]},
            {"type":"MX","exchanges":[{"exchange":"mail.skylane.local.","preference":7}]}]"#;
        for set in parse_body(body).unwrap() {
            let values = set_to_values(&set);
            let p = plan("/skydns", &name, &[], &values);
            let stored: Vec<KeyValue> = p
                .puts
                .iter()
                .map(|(k, v)| KeyValue {
                    key: k.clone(),
                    value: v.clone(),
                    mod_revision: 1,
                })
                .collect();
            let recs = own_records(&name, &stored, 30);
            let data: Vec<RData> = recs.into_iter().map(|r| r.data).collect();
            assert_eq!(data, set.data);
        }
    }
}
