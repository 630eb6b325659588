//! JSON record sets: request bodies in, stored records out.
//!
//! One record set is one object with a `type` and that type's fields:
//!
//! | type  | fields                                                        |
//! |-------|---------------------------------------------------------------|
//! | A     | `ips`: IPv4 strings                                           |
//! | AAAA  | `ips`: IPv6 strings                                           |
//! | CNAME | `target`: one name                                            |
//! | PTR   | `targets`: names                                              |
//! | SRV   | `targets`: `{target, port, priority?=10, weight?=10}`         |
//! | TXT   | `texts`: strings (one TXT record each, at most 255 bytes)     |
//! | MX    | `exchanges`: `{exchange, preference?=10}`                     |
//!
//! Every type takes an optional `ttl` (1..=2147483647 seconds; omitted = the
//! configured default). Unknown fields, empty lists and wrong JSON types are
//! errors naming the field (`ips[1]`): the `type`, the `ttl` and the values are all
//! read as serde-derived types (here and in [`super::fields`]) with `serde_path_to_error`.

use super::error::ApiError;
use super::fields::{typed, AddrSet, CnameSet, MxSet, SrvIn, Target, TargetsSet, TxtSet, Values};
use serde::de::{DeserializeOwned, Error as _, IgnoredAny, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};
use skylane_dataplane::record::{rtype, RData, Record};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Largest TTL accepted (RFC 2181 §8).
pub const MAX_TTL: u32 = 2_147_483_647;
pub use super::fields::{DEFAULT_PRIORITY, MAX_VALUES};

/// Record types the API writes.
pub const WRITABLE_TYPES: [&str; 7] = ["A", "AAAA", "CNAME", "PTR", "SRV", "TXT", "MX"];

/// A validated record set: values of one type, one TTL (`None` = default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSet {
    pub rtype: u16,
    pub ttl: Option<u32>,
    pub data: Vec<RData>,
}

/// `prefix` + `field` as a path (`records[2]` + `ips[0]` → `records[2].ips[0]`).
pub fn path(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_string()
    } else if field.starts_with('[') {
        format!("{prefix}{field}")
    } else {
        format!("{prefix}.{field}")
    }
}

/// Parses the record type name (case-insensitive).
pub fn parse_type(text: &str) -> Option<u16> {
    Some(match text.to_ascii_uppercase().as_str() {
        "A" => rtype::A,
        "AAAA" => rtype::AAAA,
        "CNAME" => rtype::CNAME,
        "PTR" => rtype::PTR,
        "SRV" => rtype::SRV,
        "TXT" => rtype::TXT,
        "MX" => rtype::MX,
        _ => return None,
    })
}

/// The presentation name of a type code.
pub fn type_name(t: u16) -> String {
    match t {
        rtype::A => "A".into(),
        rtype::AAAA => "AAAA".into(),
        rtype::CNAME => "CNAME".into(),
        rtype::NS => "NS".into(),
        rtype::SOA => "SOA".into(),
        rtype::PTR => "PTR".into(),
        rtype::SRV => "SRV".into(),
        rtype::TXT => "TXT".into(),
        rtype::MX => "MX".into(),
        other => format!("TYPE{other}"),
    }
}

fn fields_of(t: u16) -> &'static [&'static str] {
    match t {
        rtype::A | rtype::AAAA => &["ips"],
        rtype::CNAME => &["target"],
        rtype::PTR | rtype::SRV => &["targets"],
        rtype::TXT => &["texts"],
        rtype::MX => &["exchanges"],
        _ => &[],
    }
}

/// A record type name the API writes (case-insensitive), as its type code.
struct RecordType(u16);

impl<'de> Deserialize<'de> for RecordType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_type(&text).map(RecordType).ok_or_else(|| {
            D::Error::custom(format!(
                "unknown record type {text:?} (expected one of {})",
                WRITABLE_TYPES.join(", ")
            ))
        })
    }
}

/// A TTL: an integer from 1 to [`MAX_TTL`].
struct Ttl(u32);

/// The error for a TTL out of range.
fn ttl_range() -> String {
    format!("must be an integer from 1 to {MAX_TTL} (omit it for the default)")
}

impl<'de> Deserialize<'de> for Ttl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Seconds;
        impl Visitor<'_> for Seconds {
            type Value = Ttl;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                write!(
                    f,
                    "an integer from 1 to {MAX_TTL} (omit it for the default)"
                )
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Ttl, E> {
                match u32::try_from(n) {
                    Ok(n) if (1..=MAX_TTL).contains(&n) => Ok(Ttl(n)),
                    _ => Err(E::custom(ttl_range())),
                }
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Ttl, E> {
                u64::try_from(n)
                    .map_err(|_| E::custom(ttl_range()))
                    .and_then(|n| self.visit_u64(n))
            }
        }
        d.deserialize_u64(Seconds)
    }
}

/// What every record-set object has: its `type`, and the names of its other keys (checked
/// against that type's fields before anything else is read).
#[derive(Deserialize)]
#[serde(expecting = "a JSON object with a \"type\"")]
struct SetHead {
    #[serde(rename = "type")]
    rtype: RecordType,
    #[serde(flatten)]
    others: BTreeMap<String, IgnoredAny>,
}

/// A set's `ttl`: absent or null for the configured default.
#[derive(Deserialize)]
struct SetTtl {
    #[serde(default)]
    ttl: Option<Ttl>,
}

/// Reads one JSON object as a record set. `extra` lists other keys the caller
/// handles (e.g. `name` in imports); errors are prefixed with `prefix`. The head (`type`,
/// the keys), then the `ttl`, then the values are read as serde types, in that order: the
/// first error reported is the same whatever the order of the object's keys.
pub fn parse_set(v: &Value, prefix: &str, extra: &[&str]) -> Result<RecordSet, ApiError> {
    let head: SetHead = typed(v, prefix)?;
    let t = head.rtype.0;
    let allowed = fields_of(t);
    for key in head.others.keys() {
        if key != "ttl" && !allowed.contains(&key.as_str()) && !extra.contains(&key.as_str()) {
            return Err(ApiError::field(
                path(prefix, key),
                format!(
                    "unknown field for a {} record (expected {}, ttl)",
                    type_name(t),
                    allowed.join(", ")
                ),
            ));
        }
    }
    let ttl = typed::<SetTtl>(v, prefix)?.ttl.map(|t| t.0);
    let mut data: Vec<RData> = match t {
        rtype::A => each(v, prefix, |s: AddrSet<false>| s.ips, |a| addr_data(a.0))?,
        rtype::AAAA => each(v, prefix, |s: AddrSet<true>| s.ips, |a| addr_data(a.0))?,
        rtype::CNAME => vec![RData::Cname(typed::<CnameSet>(v, prefix)?.target.0)],
        rtype::PTR => each(
            v,
            prefix,
            |s: TargetsSet<Target>| s.targets,
            |n| RData::Ptr(n.0),
        )?,
        rtype::SRV => each(
            v,
            prefix,
            |s: TargetsSet<SrvIn>| s.targets,
            |s| RData::Srv {
                priority: s.priority.unwrap_or(DEFAULT_PRIORITY),
                weight: s.weight.unwrap_or(DEFAULT_PRIORITY),
                port: s.port.0,
                target: s.target.0,
            },
        )?,
        rtype::TXT => each(
            v,
            prefix,
            |s: TxtSet| s.texts,
            |t| RData::Txt(vec![t.0.into_bytes()]),
        )?,
        rtype::MX => each(
            v,
            prefix,
            |s: MxSet| s.exchanges,
            |m| RData::Mx {
                preference: m.preference.unwrap_or(DEFAULT_PRIORITY),
                exchange: m.exchange.0,
            },
        )?,
        _ => unreachable!("parse_type only yields writable types"),
    };
    dedup(&mut data);
    Ok(RecordSet {
        rtype: t,
        ttl,
        data,
    })
}

/// A or AAAA data for an address.
fn addr_data(ip: IpAddr) -> RData {
    match ip {
        IpAddr::V4(v4) => RData::A(v4),
        IpAddr::V6(v6) => RData::Aaaa(v6),
    }
}

/// The values of a set deserialized as `S`, each made into record data.
fn each<S: DeserializeOwned, T>(
    v: &Value,
    prefix: &str,
    values: impl FnOnce(S) -> Values<T>,
    data: impl FnMut(T) -> RData,
) -> Result<Vec<RData>, ApiError> {
    Ok(values(typed(v, prefix)?).0.into_iter().map(data).collect())
}

/// Parses a TTL value (a JSON integer from 1 to [`MAX_TTL`]).
pub fn parse_ttl(v: &Value) -> Result<u32, String> {
    Ttl::deserialize(v).map(|t| t.0).map_err(|e| e.to_string())
}

fn dedup(data: &mut Vec<RData>) {
    let mut seen = std::collections::HashSet::new();
    data.retain(|d| seen.insert(d.clone()));
}

/// Parses a PUT/POST body: one record-set object or a list of them.
pub fn parse_body(bytes: &[u8]) -> Result<Vec<RecordSet>, ApiError> {
    let v = parse_json(bytes)?;
    match &v {
        Value::Array(items) if items.is_empty() => {
            Err(ApiError::field("body", "the list of record sets is empty"))
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| parse_set(item, &format!("[{i}]"), &[]))
            .collect(),
        _ => Ok(vec![parse_set(&v, "", &[])?]),
    }
}

/// Parses JSON, reporting syntax errors with their position.
pub fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::field(
            "body",
            "empty body: a JSON object was expected",
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::field(
            "body",
            format!(
                "malformed JSON at line {} column {}: {e}",
                e.line(),
                e.column()
            ),
        )
    })
}

/// Renders one value as it appears inside a set's list (or the CNAME target).
fn value_json(d: &RData) -> Value {
    match d {
        RData::A(ip) => json!(ip.to_string()),
        RData::Aaaa(ip) => json!(ip.to_string()),
        RData::Cname(n) | RData::Ptr(n) | RData::Ns(n) => json!(n.to_string()),
        RData::Srv {
            priority,
            weight,
            port,
            target,
        } => json!({
            "target": target.to_string(), "port": port, "priority": priority, "weight": weight
        }),
        RData::Txt(strings) => {
            let joined: Vec<u8> = strings.concat();
            json!(String::from_utf8_lossy(&joined))
        }
        RData::Mx {
            preference,
            exchange,
        } => {
            json!({ "exchange": exchange.to_string(), "preference": preference })
        }
        RData::Soa {
            mname,
            rname,
            serial,
            refresh,
            retry,
            expire,
            minimum,
        } => json!({
            "mname": mname.to_string(), "rname": rname.to_string(), "serial": serial,
            "refresh": refresh, "retry": retry, "expire": expire, "minimum": minimum
        }),
    }
}

fn list_key(t: u16) -> &'static str {
    match t {
        rtype::A | rtype::AAAA => "ips",
        rtype::CNAME => "target",
        rtype::TXT => "texts",
        rtype::MX => "exchanges",
        rtype::SOA => "soa",
        _ => "targets",
    }
}

/// Groups records (of one owner) into record-set objects, by type then TTL.
pub fn sets_json(records: &[Record]) -> Vec<Value> {
    /// Values of one (type, TTL) group, with their wire form for ordering.
    type Group<'a> = Vec<(Vec<u8>, &'a RData)>;
    let mut groups: BTreeMap<(u16, u32), Group<'_>> = BTreeMap::new();
    for r in records {
        let mut wire = Vec::new();
        r.data.write_wire(&mut wire);
        groups
            .entry((r.data.rtype(), r.ttl))
            .or_default()
            .push((wire, &r.data));
    }
    let mut out = Vec::new();
    for ((t, ttl), mut values) in groups {
        // Stable output: values in wire order (addresses numerically).
        values.sort_by(|a, b| a.0.cmp(&b.0));
        values.dedup_by(|a, b| a.0 == b.0);
        let values: Vec<&RData> = values.into_iter().map(|(_, d)| d).collect();
        let key = list_key(t);
        if t == rtype::CNAME || t == rtype::SOA {
            // Single-valued types: one object per value.
            for v in values {
                out.push(json!({ "type": type_name(t), key: value_json(v), "ttl": ttl }));
            }
        } else {
            let list: Vec<Value> = values.into_iter().map(value_json).collect();
            out.push(json!({ "type": type_name(t), key: list, "ttl": ttl }));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use skylane_dataplane::name::Name;

    fn err_field(body: &str) -> String {
        parse_body(body.as_bytes())
            .unwrap_err()
            .field
            .unwrap_or_default()
    }

    #[test]
    fn parses_every_type() {
        let sets = parse_body(
            br#"[{"type":"A","ips":["10.0.0.1","10.0.0.2","10.0.0.1"],"ttl":60},
                 {"type":"aaaa","ips":["fd00::1"]},
                 {"type":"CNAME","target":"web.skylane.local"},
                 {"type":"PTR","targets":["web.skylane.local."]},
                 {"type":"SRV","targets":[{"target":"web.skylane.local.","port":80,"priority":1,"weight":5}]},
                 {"type":"TXT","texts":["hello world"]},
                 {"type":"MX","exchanges":[{"exchange":"mail.skylane.local.","preference":5}]}]"#,
        )
        .unwrap();
        assert_eq!(sets.len(), 7);
        assert_eq!(sets[0].ttl, Some(60));
        assert_eq!(sets[0].data.len(), 2, "duplicates are merged");
        assert_eq!(sets[1].rtype, rtype::AAAA);
        assert_eq!(
            sets[4].data[0],
            RData::Srv {
                priority: 1,
                weight: 5,
                port: 80,
                target: Name::from_ascii("web.skylane.local.").unwrap()
            }
        );
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(
            err_field(r#"{"type":"A","ips":["10.0.0.1","10.0.0.x"]}"#),
            "ips[1]"
        );
        assert_eq!(err_field(r#"{"type":"A","ips":["fd00::1"]}"#), "ips[0]");
        assert_eq!(err_field(r#"{"type":"AAAA","ips":["10.0.0.1"]}"#), "ips[0]");
        assert_eq!(err_field(r#"{"type":"A","ips":[]}"#), "ips");
        assert_eq!(err_field(r#"{"type":"A","ips":"10.0.0.1"}"#), "ips");
        assert_eq!(
            err_field(r#"{"type":"A","ips":["10.0.0.1"],"ttl":0}"#),
            "ttl"
        );
        assert_eq!(
            err_field(r#"{"type":"A","ips":["10.0.0.1"],"ttl":2147483648}"#),
            "ttl"
        );
        assert_eq!(
            err_field(r#"{"type":"A","ips":["10.0.0.1"],"ttl":"30"}"#),
            "ttl"
        );
        assert_eq!(err_field(r#"{"type":"A","ip":["10.0.0.1"]}"#), "ip");
        assert_eq!(err_field(r#"{"type":"NAPTR"}"#), "type");
        assert_eq!(err_field(r#"{"ips":["10.0.0.1"]}"#), "type");
        assert_eq!(
            err_field(r#"{"type":"SRV","targets":[{"target":"x.","port":70000}]}"#),
            "targets[0].port"
        );
        assert_eq!(
            err_field(r#"{"type":"SRV","targets":[{"target":"x."}]}"#),
            "targets[0].port"
        );
        assert_eq!(
            err_field(
                r#"{"type":"SRV","targets":[{"target":"x.","port":80},{"target":"y.","port":0}]}"#
            ),
            "targets[1].port"
        );
        assert_eq!(
            err_field(r#"{"type":"SRV","targets":[{"target":"a..b","port":1}]}"#),
            "targets[0].target"
        );
        assert_eq!(
            err_field(r#"{"type":"MX","exchanges":[{"exchange":"m.","pref":1}]}"#),
            "exchanges[0].pref"
        );
        assert_eq!(
            err_field(&format!(
                r#"{{"type":"TXT","texts":["{}"]}}"#,
                "x".repeat(256)
            )),
            "texts[0]"
        );
        assert_eq!(
            err_field(r#"[{"type":"A","ips":["1.2.3.4"]},{"type":"CNAME"}]"#),
            "[1].target"
        );
        assert_eq!(err_field(r#"{"type":"A","ips":["10.0.0.1"]"#), "body");
        assert_eq!(err_field(""), "body");
        assert_eq!(err_field("[]"), "body");
        assert_eq!(err_field("42"), "body");
    }

    #[test]
    fn type_then_keys_then_ttl_then_values_with_clear_messages() {
        let err = |body: &str| parse_body(body.as_bytes()).unwrap_err();
        // The first error reported follows the check order, not the order of the keys.
        assert_eq!(err_field(r#"{"ttl":0,"ips":["y"],"type":"X"}"#), "type");
        assert_eq!(err_field(r#"{"ttl":0,"ipz":["y"],"type":"A"}"#), "ipz");
        assert_eq!(err_field(r#"{"ttl":0,"ips":["y"],"type":"A"}"#), "ttl");
        assert_eq!(
            err_field(r#"[{"type":"A","ips":["1.2.3.4"]},{"type":5}]"#),
            "[1].type"
        );
        for e in [err("42"), err(r#"[{"type":"A","ips":["1.2.3.4"]},"A"]"#)] {
            assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
            assert!(
                e.message.contains(r#"a JSON object with a "type""#),
                "{}",
                e.message
            );
        }
        assert_eq!(err("42").field.as_deref(), Some("body"));
        assert_eq!(
            err(r#"[{"type":"A","ips":["1.2.3.4"]},"A"]"#)
                .field
                .as_deref(),
            Some("[1]")
        );
        let e = err(r#"{"type":"NAPTR"}"#);
        assert_eq!(
            e.message,
            "unknown record type \"NAPTR\" (expected one of A, AAAA, CNAME, PTR, SRV, TXT, MX)"
        );
        assert_eq!(err(r#"{"ips":["1.2.3.4"]}"#).message, "missing");
        let e = err(r#"{"type":"A","ips":["1.2.3.4"],"ipv6":["::1"]}"#);
        assert_eq!(
            e.message,
            "unknown field for a A record (expected ips, ttl)"
        );
        assert_eq!(
            err(r#"{"type":"A","ips":["1.2.3.4"],"ttl":0}"#).message,
            ttl_range()
        );
        let e = err(r#"{"type":"A","ips":["1.2.3.4"],"ttl":"30"}"#);
        assert!(
            e.message.contains("an integer from 1 to 2147483647"),
            "{}",
            e.message
        );
        // A null TTL is the default; type names are case-insensitive.
        let sets = parse_body(br#"{"type":"txt","texts":["x"],"ttl":null}"#).unwrap();
        assert_eq!((sets[0].rtype, sets[0].ttl), (rtype::TXT, None));
    }

    #[test]
    fn ttl_values() {
        assert_eq!(parse_ttl(&json!(1)), Ok(1));
        assert_eq!(parse_ttl(&json!(MAX_TTL)), Ok(MAX_TTL));
        assert_eq!(parse_ttl(&json!(0)), Err(ttl_range()));
        assert_eq!(parse_ttl(&json!(MAX_TTL as u64 + 1)), Err(ttl_range()));
        assert_eq!(parse_ttl(&json!(u64::MAX)), Err(ttl_range()));
        assert_eq!(parse_ttl(&json!(-5)), Err(ttl_range()));
        for bad in [json!(1.5), json!("30"), json!(true), json!([30])] {
            let e = parse_ttl(&bad).unwrap_err();
            assert!(e.contains("expected an integer from 1 to"), "{bad}: {e}");
        }
    }

    #[test]
    fn renders_sets_by_type_and_ttl() {
        let n = Name::from_ascii("web.skylane.local.").unwrap();
        let recs = vec![
            Record::new(n.clone(), 30, RData::A("10.0.0.1".parse().unwrap())),
            Record::new(n.clone(), 30, RData::A("10.0.0.2".parse().unwrap())),
            Record::new(n.clone(), 60, RData::Txt(vec![b"hi".to_vec()])),
        ];
        let v = sets_json(&recs);
        assert_eq!(
            v[0],
            json!({"type":"A","ips":["10.0.0.1","10.0.0.2"],"ttl":30})
        );
        assert_eq!(v[1], json!({"type":"TXT","texts":["hi"],"ttl":60}));
        // What we render parses back to the same values.
        let back = parse_set(&v[0], "", &[]).unwrap();
        assert_eq!(back.data.len(), 2);
    }
}
