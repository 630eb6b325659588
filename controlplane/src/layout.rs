//! Record layout in the key-value store, compatible with SkyDNS v2 and CoreDNS's etcd plugin.
//!
//! - Key = prefix + the name's labels reversed: `a.b.skydns.local.` lives at
//!   `/skydns/local/skydns/b/a`. Every key is a name of its own; several values for one name are
//!   child keys (`.../a/x1`, `.../a/x2`), and the engine answers a name with everything at or
//!   below it (CoreDNS's etcd rules, docs/api.md "Storage layout").
//! - Value = JSON [`SkyValue`] `{host, port, priority, weight, text, mail, ttl, targetstrip,
//!   group}`, turned into records by [`value_to_records`] with CoreDNS's meanings.
//! - Health status lives under the monitor prefix: `/skydns/monitor/status/<ip>` =
//!   `{"status":"UP"|"DOWN"}` ([`StatusValue`]); a missing key means UP. Keys under the monitor
//!   prefix are not names.

use serde::{Deserialize, Serialize};
use skylane_dataplane::name::{Name, NameError};
use skylane_dataplane::record::{RData, Record};
use std::net::IpAddr;

/// Why a stored value could not be turned into records.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error("value is not valid SkyDNS JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("host {host:?} is neither an IP address nor a valid name: {source}")]
    BadHost { host: String, source: NameError },
    #[error("value has neither a host nor a text: nothing to serve")]
    Empty,
    #[error("a name host without port or mail makes a CNAME, which cannot carry a text as well")]
    CnameWithText,
    #[error("owner name too long after targetstrip: {0}")]
    BadOwner(#[from] NameError),
}

/// One value in SkyDNS / CoreDNS format. Unknown fields are ignored (as CoreDNS does).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SkyValue {
    /// IP address (A/AAAA) or a domain name (CNAME, SRV/MX target, PTR under arpa).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub host: String,
    /// SRV port (served: an IP host without one answers SRV with port 0, as in CoreDNS).
    #[serde(skip_serializing_if = "is_zero_u16")]
    pub port: u16,
    /// SRV priority; MX preference when `mail` is set. 0 (unset) = [`DEFAULT_PRIORITY`].
    #[serde(skip_serializing_if = "is_zero_u16")]
    pub priority: u16,
    /// Raw SRV weight (0 counts as 100); the snapshot normalises it over each answer.
    #[serde(skip_serializing_if = "is_zero_u16")]
    pub weight: u16,
    /// Non-empty: a TXT record (split in 255-byte strings).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub text: String,
    /// Be an MX record (priority = preference).
    #[serde(skip_serializing_if = "is_false")]
    pub mail: bool,
    /// 0 = the configured default TTL.
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub ttl: u32,
    /// Labels stripped from the left of SRV/MX targets.
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub targetstrip: u32,
    /// Services with a group are answered together: a name's answer keeps the services of
    /// the group of its shortest key holding one, plus those without a group (CoreDNS
    /// `msg.Group`; docs/api.md "Storage layout").
    #[serde(skip_serializing_if = "String::is_empty")]
    pub group: String,
}

/// SRV priority / MX preference of a value without one (CoreDNS's etcd plugin: 10).
pub const DEFAULT_PRIORITY: u16 = 10;

fn is_zero_u16(v: &u16) -> bool {
    *v == 0
}
fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}
fn is_false(v: &bool) -> bool {
    !*v
}

impl SkyValue {
    /// Parses a stored value.
    pub fn from_json(bytes: &[u8]) -> Result<SkyValue, LayoutError> {
        Ok(serde_json::from_slice(bytes)?)
    }

    /// The JSON stored for this value.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("SkyValue always serialises")
    }
}

/// UP or DOWN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Health {
    #[serde(rename = "UP")]
    Up,
    #[serde(rename = "DOWN")]
    Down,
}

/// Value of a status key: `{"status":"UP"|"DOWN"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusValue {
    pub status: Health,
}

impl StatusValue {
    pub fn from_json(bytes: &[u8]) -> Result<StatusValue, LayoutError> {
        Ok(serde_json::from_slice(bytes)?)
    }
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("StatusValue always serialises")
    }
    pub fn is_down(&self) -> bool {
        self.status == Health::Down
    }
}

fn trim_prefix(prefix: &str) -> &str {
    prefix.trim_end_matches('/')
}

/// The key holding `name`'s value: prefix + lowercased labels reversed (`/skydns/local/a`).
/// Label bytes outside printable ASCII, `/`, `.` and `\` are written as `\DDD` / `\.` escapes.
pub fn name_to_key(prefix: &str, name: &Name) -> String {
    let mut key = String::with_capacity(prefix.len() + name.as_wire().len() + 8);
    let _ = write_key(prefix, name, &mut key);
    key
}

/// Writes [`name_to_key`] to `out` (stops at the first error `out` returns).
fn write_key(prefix: &str, name: &Name, out: &mut impl std::fmt::Write) -> std::fmt::Result {
    out.write_str(trim_prefix(prefix))?;
    // Label offsets in the wire form (at most 127 labels in 255 bytes), read backwards.
    let wire = name.as_wire();
    let mut starts = [0u8; 128];
    let (mut count, mut at) = (0, 0);
    while wire[at] != 0 {
        starts[count] = at as u8;
        count += 1;
        at += 1 + wire[at] as usize;
    }
    for &start in starts[..count].iter().rev() {
        let start = start as usize;
        let label = &wire[start + 1..start + 1 + wire[start] as usize];
        out.write_char('/')?;
        for &b in label {
            let b = b.to_ascii_lowercase();
            match b {
                b'.' | b'\\' => {
                    out.write_char('\\')?;
                    out.write_char(b as char)?;
                }
                b'/' => out.write_str("\\047")?,
                0x21..=0x7e => out.write_char(b as char)?,
                _ => write!(out, "\\{b:03}")?,
            }
        }
    }
    Ok(())
}

/// True when `key` is exactly [`name_to_key`] of `name` (compared as it is written, no
/// allocation).
fn is_key_of(prefix: &str, name: &Name, key: &str) -> bool {
    /// Consumes the expected text; fails at the first difference.
    struct Expect<'a>(&'a str);
    impl std::fmt::Write for Expect<'_> {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            let rest = self.0.strip_prefix(s).ok_or(std::fmt::Error)?;
            self.0 = rest;
            Ok(())
        }
    }
    let mut expect = Expect(key);
    write_key(prefix, name, &mut expect).is_ok() && expect.0.is_empty()
}

/// The name a key under `prefix` stands for (`/skydns/local/skydns/b/a` → `a.b.skydns.local.`).
/// `None` for keys outside the prefix, the prefix itself, empty segments, invalid names and
/// non-canonical keys — those that are not exactly [`name_to_key`] of their name: a segment
/// with upper case or an unescaped `.` (`.../skydns/Web`, `.../skydns/b.a`) would name the
/// same owner as another key, so such keys are never served, in the full list and in watch
/// events alike (one key per name, so incremental updates agree with a full rebuild). Does not
/// know about the monitor prefix: see [`classify_key`].
pub fn key_to_name(prefix: &str, key: &str) -> Option<Name> {
    let rest = key.strip_prefix(trim_prefix(prefix))?.strip_prefix('/')?;
    let mut text = String::with_capacity(rest.len() + 1);
    for segment in rest.rsplit('/') {
        if segment.is_empty() {
            return None;
        }
        text.push_str(segment);
        text.push('.');
    }
    let name = Name::from_ascii(&text).ok()?;
    is_key_of(prefix, &name, key).then_some(name)
}

/// The status key of `ip`: `<monitor_prefix>/<ip>`.
pub fn status_key(monitor_prefix: &str, ip: &IpAddr) -> String {
    format!("{}/{}", trim_prefix(monitor_prefix), ip)
}

/// The IP address a status key stands for.
pub fn status_key_to_ip(monitor_prefix: &str, key: &str) -> Option<IpAddr> {
    let rest = key
        .strip_prefix(trim_prefix(monitor_prefix))?
        .strip_prefix('/')?;
    rest.parse().ok()
}

/// What a key in the store is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyKind {
    /// A record key for this name.
    Name(Name),
    /// A health status key for this address.
    Status(IpAddr),
    /// Under the monitor prefix but not a status key, or outside the record prefix.
    Other,
}

/// Classifies a key: the monitor prefix is checked first, its keys are never names; nor are
/// keys beside it in the monitor tree (the parent of the monitor prefix, e.g.
/// `/skydns/monitor/heart/…`, `/skydns/monitor/report/…`) when that tree is below `prefix`.
pub fn classify_key(prefix: &str, monitor_prefix: &str, key: &str) -> KeyKind {
    let monitor = trim_prefix(monitor_prefix);
    if key
        .strip_prefix(monitor)
        .is_some_and(|r| r.is_empty() || r.starts_with('/'))
    {
        return match status_key_to_ip(monitor_prefix, key) {
            Some(ip) => KeyKind::Status(ip),
            None => KeyKind::Other,
        };
    }
    // The monitor tree (`/skydns/monitor/`: status, heart and report keys of the health
    // scanner) is never names, when it lies below the record prefix.
    if let Some((tree, _)) = monitor.rsplit_once('/') {
        if tree.len() > trim_prefix(prefix).len()
            && key
                .strip_prefix(tree)
                .is_some_and(|r| r.is_empty() || r.starts_with('/'))
        {
            return KeyKind::Other;
        }
    }
    match key_to_name(prefix, key) {
        Some(name) => KeyKind::Name(name),
        None => KeyKind::Other,
    }
}

/// True for names under `in-addr.arpa.` or `ip6.arpa.` (name hosts become PTR there).
pub fn is_reverse_name(name: &Name) -> bool {
    let labels: Vec<&[u8]> = name.labels().collect();
    let n = labels.len();
    n >= 2
        && labels[n - 1].eq_ignore_ascii_case(b"arpa")
        && (labels[n - 2].eq_ignore_ascii_case(b"in-addr")
            || labels[n - 2].eq_ignore_ascii_case(b"ip6"))
}

/// `name` without its `count` leftmost labels; the name itself when that would overshoot
/// (CoreDNS `targetStrip`).
fn strip_labels(name: &Name, count: u32) -> Name {
    let mut out = name.clone();
    for _ in 0..count {
        match out.parent() {
            Some(p) if !p.is_root() => out = p,
            _ => return name.clone(),
        }
    }
    out
}

/// The records one value at `name` stands for, CoreDNS-style:
/// - IP host → A/AAAA at `name`; with a port also SRV (target = `name`, the name the key
///   stands for, minus `targetstrip` labels); with `mail` also MX (same target).
///   [`served_records`] adds the port-0 SRV CoreDNS answers for an IP host without a port.
/// - name host → PTR under in-addr.arpa/ip6.arpa; else MX when `mail`, SRV when `port` is set
///   (both when both), else CNAME.
/// - `text` → TXT.
///
/// Priority 0 (unset) → [`DEFAULT_PRIORITY`]. SRV weights are the RAW weights: the snapshot
/// normalises them over each answer ([`normalize_srv_weights`] does the same on a list).
/// `ttl` 0 → `default_ttl`.
pub fn value_to_records(
    name: &Name,
    value: &SkyValue,
    default_ttl: u32,
) -> Result<Vec<Record>, LayoutError> {
    let mut out = Vec::with_capacity(2);
    value_to_records_into(name, value, default_ttl, &mut out)?;
    Ok(out)
}

/// [`value_to_records`] appending to `out` (left as it was on an error).
fn value_to_records_into(
    name: &Name,
    value: &SkyValue,
    default_ttl: u32,
    out: &mut Vec<Record>,
) -> Result<(), LayoutError> {
    let ttl = if value.ttl == 0 {
        default_ttl
    } else {
        value.ttl
    };
    let host = value.host.trim();
    if host.is_empty() && value.text.is_empty() {
        return Err(LayoutError::Empty);
    }
    // Errors are found before anything is pushed.
    let rec = |data| Record::new(name.clone(), ttl, data).with_group(&value.group);
    if !host.is_empty() {
        let ip_text = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
        if let Ok(ip) = ip_text.unwrap_or(host).parse::<IpAddr>() {
            out.push(rec(match ip {
                IpAddr::V4(v4) => RData::A(v4),
                IpAddr::V6(v6) => RData::Aaaa(v6),
            }));
            if value.port != 0 || value.mail {
                let target = strip_labels(name, value.targetstrip);
                if value.port != 0 {
                    out.push(rec(srv(value, target.clone())));
                }
                if value.mail {
                    out.push(rec(RData::Mx {
                        preference: priority(value),
                        exchange: target,
                    }));
                }
            }
        } else {
            let target = Name::from_ascii(host).map_err(|source| LayoutError::BadHost {
                host: host.to_string(),
                source,
            })?;
            if is_reverse_name(name) {
                out.push(rec(RData::Ptr(target)));
            } else if value.mail || value.port != 0 {
                let target = strip_labels(&target, value.targetstrip);
                if value.mail {
                    out.push(rec(RData::Mx {
                        preference: priority(value),
                        exchange: target.clone(),
                    }));
                }
                if value.port != 0 {
                    out.push(rec(srv(value, target)));
                }
            } else if !value.text.is_empty() {
                return Err(LayoutError::CnameWithText);
            } else {
                out.push(rec(RData::Cname(target)));
            }
        }
    }
    if !value.text.is_empty() {
        let strings = value
            .text
            .as_bytes()
            .chunks(255)
            .map(<[u8]>::to_vec)
            .collect();
        out.push(rec(RData::Txt(strings)));
    }
    Ok(())
}

/// The records served for one value: [`value_to_records`], plus, for an IP host without a
/// port, the SRV record with port 0 that CoreDNS answers for it (target: the key's name).
/// The API shows [`value_to_records`]; the sync serves these.
pub fn served_records(
    name: &Name,
    value: &SkyValue,
    default_ttl: u32,
) -> Result<Vec<Record>, LayoutError> {
    let mut out = Vec::with_capacity(2);
    served_records_into(name, value, default_ttl, &mut out)?;
    Ok(out)
}

/// [`served_records`] appending to `out` (left as it was on an error).
pub fn served_records_into(
    name: &Name,
    value: &SkyValue,
    default_ttl: u32,
    out: &mut Vec<Record>,
) -> Result<(), LayoutError> {
    let start = out.len();
    value_to_records_into(name, value, default_ttl, out)?;
    let first = out.get(start);
    let is_ip = out[start..]
        .iter()
        .any(|r| matches!(r.data, RData::A(_) | RData::Aaaa(_)));
    if is_ip && value.port == 0 {
        let ttl = first.map_or(default_ttl, |r| r.ttl);
        let target = strip_labels(name, value.targetstrip);
        out.push(Record::new(name.clone(), ttl, srv(value, target)).with_group(&value.group));
    }
    Ok(())
}

fn priority(value: &SkyValue) -> u16 {
    if value.priority == 0 {
        DEFAULT_PRIORITY
    } else {
        value.priority
    }
}

fn srv(value: &SkyValue, target: Name) -> RData {
    RData::Srv {
        priority: priority(value),
        weight: value.weight,
        port: value.port,
        target,
    }
}

/// Rewrites the raw weights of the SRV records in `records` as CoreDNS answers them: per
/// priority, `max(1, floor(100 / sum * w))` where a raw weight of 0 counts as 100.
pub fn normalize_srv_weights(records: &mut [Record]) {
    let mut sums: Vec<(u16, u64)> = Vec::new();
    for r in records.iter() {
        if let RData::Srv {
            priority, weight, ..
        } = r.data
        {
            let w = if weight == 0 { 100 } else { u64::from(weight) };
            match sums.iter_mut().find(|(p, _)| *p == priority) {
                Some((_, s)) => *s += w,
                None => sums.push((priority, w)),
            }
        }
    }
    for r in records.iter_mut() {
        if let RData::Srv {
            priority, weight, ..
        } = &mut r.data
        {
            let sum = sums
                .iter()
                .find(|(p, _)| p == priority)
                .map_or(100, |&(_, s)| s);
            let raw = if *weight == 0 {
                100.0
            } else {
                f64::from(*weight)
            };
            *weight = ((100.0 / sum as f64) * raw).floor().max(1.0) as u16;
        }
    }
}

#[cfg(test)]
mod tests;
