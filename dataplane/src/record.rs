//! Resource records as the control plane hands them to the snapshot builder.
//!
//! These are owned, allocation-friendly values: zone files, the embedded
//! store and etcd all produce [`Record`]s, and the snapshot compiles them
//! into wire form once. The data plane never sees these types per packet.

use crate::name::Name;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Record types Skylane serves.
pub mod rtype {
    pub const A: u16 = 1;
    pub const NS: u16 = 2;
    pub const CNAME: u16 = 5;
    pub const SOA: u16 = 6;
    pub const PTR: u16 = 12;
    pub const MX: u16 = 15;
    pub const TXT: u16 = 16;
    pub const AAAA: u16 = 28;
    pub const SRV: u16 = 33;
    pub const OPT: u16 = 41;
    pub const ANY: u16 = 255;
}

/// Record data of one record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Cname(Name),
    Ns(Name),
    Ptr(Name),
    Mx {
        preference: u16,
        exchange: Name,
    },
    Srv {
        priority: u16,
        weight: u16,
        port: u16,
        target: Name,
    },
    /// Character strings, each at most 255 bytes.
    Txt(Vec<Vec<u8>>),
    Soa {
        mname: Name,
        rname: Name,
        serial: u32,
        refresh: u32,
        retry: u32,
        expire: u32,
        minimum: u32,
    },
}

impl RData {
    /// The record type code.
    pub fn rtype(&self) -> u16 {
        match self {
            RData::A(_) => rtype::A,
            RData::Aaaa(_) => rtype::AAAA,
            RData::Cname(_) => rtype::CNAME,
            RData::Ns(_) => rtype::NS,
            RData::Ptr(_) => rtype::PTR,
            RData::Mx { .. } => rtype::MX,
            RData::Srv { .. } => rtype::SRV,
            RData::Txt(_) => rtype::TXT,
            RData::Soa { .. } => rtype::SOA,
        }
    }

    /// Appends the uncompressed wire RDATA (without RDLENGTH) to `out`.
    pub fn write_wire(&self, out: &mut Vec<u8>) {
        match self {
            RData::A(ip) => out.extend_from_slice(&ip.octets()),
            RData::Aaaa(ip) => out.extend_from_slice(&ip.octets()),
            RData::Cname(n) | RData::Ns(n) | RData::Ptr(n) => out.extend_from_slice(n.as_wire()),
            RData::Mx {
                preference,
                exchange,
            } => {
                out.extend_from_slice(&preference.to_be_bytes());
                out.extend_from_slice(exchange.as_wire());
            }
            RData::Srv {
                priority,
                weight,
                port,
                target,
            } => {
                out.extend_from_slice(&priority.to_be_bytes());
                out.extend_from_slice(&weight.to_be_bytes());
                out.extend_from_slice(&port.to_be_bytes());
                out.extend_from_slice(target.as_wire());
            }
            RData::Txt(strings) => {
                if strings.is_empty() {
                    out.push(0);
                }
                for s in strings {
                    let s = &s[..s.len().min(255)];
                    out.push(s.len() as u8);
                    out.extend_from_slice(s);
                }
            }
            RData::Soa {
                mname,
                rname,
                serial,
                refresh,
                retry,
                expire,
                minimum,
            } => {
                out.extend_from_slice(mname.as_wire());
                out.extend_from_slice(rname.as_wire());
                for v in [serial, refresh, retry, expire, minimum] {
                    out.extend_from_slice(&v.to_be_bytes());
                }
            }
        }
    }
}

/// One resource record (class IN).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Record {
    pub name: Name,
    pub ttl: u32,
    pub data: RData,
    /// Served exactly as given (zone files, like Knot/NSD): an SRV record keeps its weight.
    /// Records without it (the store's SkyDNS layout) follow CoreDNS's etcd plugin: SRV
    /// weights are normalised per answer (`snapshot::edit::subtree`).
    pub as_written: bool,
    /// The SkyDNS / CoreDNS `group` of the value this record comes from (`None`: no group).
    /// A name's subtree answer keeps only the services of one group (CoreDNS `msg.Group`,
    /// `snapshot::edit::group`).
    pub group: Option<Box<str>>,
}

impl Record {
    /// A record with the store's (CoreDNS) answer rules.
    pub fn new(name: Name, ttl: u32, data: RData) -> Record {
        Record {
            name,
            ttl,
            data,
            as_written: false,
            group: None,
        }
    }

    /// The same record, from a value of this `group` (empty: no group).
    pub fn with_group(mut self, group: &str) -> Record {
        self.group = (!group.is_empty()).then(|| group.into());
        self
    }

    /// The same record, served exactly as given (zone-file records).
    pub fn as_written(mut self) -> Record {
        self.as_written = true;
        self
    }
}

/// How the A/AAAA addresses of a name are handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Policy {
    /// Every healthy address, order rotated between queries.
    #[default]
    All,
    /// One healthy address chosen at random per query.
    RandomOne,
    /// One healthy address per client IP, by rendezvous hashing: stable for a
    /// client, identical on every appliance, minimal movement on changes.
    HoneOne,
}

impl Policy {
    /// The name used in config files and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::All => "all",
            Policy::RandomOne => "random-one",
            Policy::HoneOne => "hone-one",
        }
    }
}

impl std::str::FromStr for Policy {
    type Err = String;
    fn from_str(s: &str) -> Result<Policy, String> {
        match s {
            "all" => Ok(Policy::All),
            "random-one" => Ok(Policy::RandomOne),
            "hone-one" => Ok(Policy::HoneOne),
            other => Err(format!(
                "unknown policy {other:?} (expected all, random-one or hone-one)"
            )),
        }
    }
}

impl std::fmt::Display for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
