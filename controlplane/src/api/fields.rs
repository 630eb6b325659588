//! Serde-derived request bodies: the shapes of record-set values and status bodies,
//! deserialized with `serde_path_to_error` so that every error names its field path
//! (`ips[1]`, `[2].targets[0].port`, `records[3].exchanges[0].exchange`).
//!
//! Value checks that go beyond JSON types (IPv4 vs IPv6, name syntax, SRV port 0,
//! TXT length, non-empty lists) live in the `Deserialize` impls of small newtypes, so
//! they fail at the value's own path too.

use super::error::ApiError;
use super::names;
use crate::layout::Health;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use skylane_dataplane::name::Name;
use std::net::IpAddr;

/// Most values one record set may carry.
pub const MAX_VALUES: usize = 10_000;
/// Default SRV priority and weight, MX preference (SkyDNS's defaults).
pub const DEFAULT_PRIORITY: u16 = 10;

/// Deserializes `v` as `T`; a failure becomes a 400 naming the field under `prefix`.
pub fn typed<T: DeserializeOwned>(v: &Value, prefix: &str) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(v).map_err(|e| path_error(&e, prefix))
}

/// The API error for a failed deserialization: the path of the failure (plus the field
/// serde names for a missing or unknown field), under `prefix`.
fn path_error(e: &serde_path_to_error::Error<serde_json::Error>, prefix: &str) -> ApiError {
    let message = e.inner().to_string();
    let mut path = e.path().to_string();
    if path == "." {
        path.clear();
    }
    // "missing field `port`" fails at the parent object: name the field. (An unknown
    // field's path already ends with its key.)
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    if let Some(field) = missing {
        path = super::body::path(&path, field);
    }
    let full = match (prefix.is_empty(), path.is_empty()) {
        (_, true) if prefix.is_empty() => "body".to_string(),
        (_, true) => prefix.to_string(),
        (true, false) => path,
        (false, false) => super::body::path(prefix, &path),
    };
    let message = match missing {
        Some(_) => "missing".to_string(),
        None => message,
    };
    ApiError::field(full, message)
}

/// A JSON list of 1..=[`MAX_VALUES`] values.
pub struct Values<T>(pub Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Values<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Vec::<T>::deserialize(d)?;
        if v.is_empty() {
            return Err(D::Error::custom("must not be empty"));
        }
        if v.len() > MAX_VALUES {
            return Err(D::Error::custom(format!("more than {MAX_VALUES} values")));
        }
        Ok(Values(v))
    }
}

/// An address as a string: IPv6 when `V6` (AAAA values), else IPv4 (A values).
pub struct Addr<const V6: bool>(pub IpAddr);

impl<'de, const V6: bool> Deserialize<'de> for Addr<V6> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.trim().parse::<IpAddr>() {
            Ok(ip) if ip.is_ipv6() == V6 => Ok(Addr(ip)),
            _ => Err(D::Error::custom(format!(
                "{s:?} is not an {} address",
                if V6 { "IPv6" } else { "IPv4" }
            ))),
        }
    }
}

/// A target name (CNAME, PTR, SRV target, MX exchange): relative names are completed.
pub struct Target(pub Name);

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        names::target_name(&s, "")
            .map(Target)
            .map_err(|e| D::Error::custom(e.message))
    }
}

/// One TXT string (one TXT record, at most 255 bytes).
pub struct Txt(pub String);

impl<'de> Deserialize<'de> for Txt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.len() > 255 {
            return Err(D::Error::custom("longer than 255 bytes"));
        }
        Ok(Txt(s))
    }
}

/// An SRV port: 1..=65535 (in the SkyDNS layout a value without a port is a CNAME).
pub struct Port(pub u16);

impl<'de> Deserialize<'de> for Port {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match u16::deserialize(d)? {
            0 => Err(D::Error::custom(
                "must be from 1 to 65535 (an SRV port of 0 cannot be stored in SkyDNS layout)",
            )),
            p => Ok(Port(p)),
        }
    }
}

/// `{"target", "port", "priority"?, "weight"?}` of an SRV set.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SrvIn {
    pub target: Target,
    pub port: Port,
    pub priority: Option<u16>,
    pub weight: Option<u16>,
}

/// `{"exchange", "preference"?}` of an MX set.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MxIn {
    pub exchange: Target,
    pub preference: Option<u16>,
}

/// A/AAAA set values (the `type` and `ttl` keys are read before).
#[derive(Deserialize)]
pub struct AddrSet<const V6: bool> {
    pub ips: Values<Addr<V6>>,
}

/// CNAME: one `target`.
#[derive(Deserialize)]
pub struct CnameSet {
    pub target: Target,
}

/// PTR (`T` = [`Target`]) and SRV (`T` = [`SrvIn`]): a `targets` list.
#[derive(Deserialize)]
#[serde(bound = "T: Deserialize<'de>")]
pub struct TargetsSet<T> {
    pub targets: Values<T>,
}

/// TXT: a `texts` list.
#[derive(Deserialize)]
pub struct TxtSet {
    pub texts: Values<Txt>,
}

/// MX: an `exchanges` list.
#[derive(Deserialize)]
pub struct MxSet {
    pub exchanges: Values<MxIn>,
}

/// `UP` or `DOWN`, any case.
pub struct HealthIn(pub Health);

impl<'de> Deserialize<'de> for HealthIn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.eq_ignore_ascii_case("up") {
            Ok(HealthIn(Health::Up))
        } else if s.eq_ignore_ascii_case("down") {
            Ok(HealthIn(Health::Down))
        } else {
            Err(D::Error::custom(format!("{s:?} is not UP or DOWN")))
        }
    }
}

/// `PUT /v1/status/{ip}`: `{"status": "UP"|"DOWN", "manual"?: bool}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusIn {
    pub status: HealthIn,
    #[serde(default)]
    pub manual: bool,
}

/// An address as a string.
pub struct IpIn(pub IpAddr);

impl<'de> Deserialize<'de> for IpIn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.trim()
            .parse()
            .map(IpIn)
            .map_err(|_| D::Error::custom(format!("{s:?} is not an IP address")))
    }
}

/// One `/v1/import` status entry: `{"ip", "status"}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusEntryIn {
    pub ip: IpIn,
    pub status: HealthIn,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of<T: DeserializeOwned>(json: &str, prefix: &str) -> String {
        let v: Value = serde_json::from_str(json).unwrap();
        match typed::<T>(&v, prefix) {
            Ok(_) => panic!("{json} was accepted"),
            Err(e) => e.field.unwrap(),
        }
    }

    #[test]
    fn errors_carry_the_field_path() {
        assert_eq!(
            field_of::<AddrSet<false>>(r#"{"ips":["1.2.3.4","x"]}"#, ""),
            "ips[1]"
        );
        assert_eq!(
            field_of::<AddrSet<false>>(r#"{"ips":[]}"#, "[3]"),
            "[3].ips"
        );
        assert_eq!(
            field_of::<AddrSet<false>>(r#"{}"#, "records[2]"),
            "records[2].ips"
        );
        assert_eq!(
            field_of::<TargetsSet<SrvIn>>(
                r#"{"targets":[{"target":"a.","port":1,"colour":1}]}"#,
                ""
            ),
            "targets[0].colour"
        );
        assert_eq!(field_of::<StatusIn>(r#"{"status":"MAYBE"}"#, ""), "status");
        assert_eq!(
            field_of::<StatusEntryIn>(r#"{"ip":"x","status":"UP"}"#, "statuses[0]"),
            "statuses[0].ip"
        );
        assert_eq!(field_of::<StatusIn>(r#"[]"#, ""), "body");
    }

    #[test]
    fn defaults_and_values() {
        let v: Value = serde_json::from_str(r#"{"exchanges":[{"exchange":"m.x."}]}"#).unwrap();
        let mx: MxSet = typed(&v, "").unwrap();
        assert_eq!(mx.exchanges.0[0].preference, None);
        let v: Value = serde_json::from_str(r#"{"status":"down"}"#).unwrap();
        let s: StatusIn = typed(&v, "").unwrap();
        assert!(matches!(s.status.0, Health::Down) && !s.manual);
    }
}
