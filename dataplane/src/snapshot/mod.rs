//! The snapshot table: an immutable lookup structure built from a record set.
//!
//! CONTRACT (shared with engine/, socket/, controlplane/ — keep these signatures):
//! - `Snapshot::build(config, records)` compiles records into wire-ready RRsets.
//! - `Snapshot::apply(&self, changes)` returns a new snapshot where each named
//!   name's records are replaced (empty = removed), sharing everything else.
//! - `Snapshot::with_down(&self, ips)` returns a new snapshot with that DOWN set.
//! - Lookups take lowercased, uncompressed wire names (`&[u8]`).
//! - `SharedSnapshot` is what loops read (arc-swap) and the control plane stores.

use crate::name::Name;
use crate::record::{Policy, Record};
use arc_swap::ArcSwap;
use std::net::IpAddr;
use std::sync::Arc;

/// The live snapshot: loaded lock-free by every core, stored by the control plane.
pub type SharedSnapshot = Arc<ArcSwap<Snapshot>>;

/// Parameters of the synthetic SOA made for each served domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoaDefaults {
    /// Primary server name; `None` = `ns.<apex>`.
    pub mname: Option<Name>,
    /// Responsible mailbox; `None` = `hostmaster.<apex>`.
    pub rname: Option<Name>,
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    /// Negative-caching TTL (RFC 2308), also the SOA minimum field.
    pub minimum: u32,
}

impl Default for SoaDefaults {
    fn default() -> Self {
        SoaDefaults {
            mname: None,
            rname: None,
            refresh: 3600,
            retry: 600,
            expire: 86400,
            minimum: 30,
        }
    }
}

/// Everything about serving that is not a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneConfig {
    /// Served suffixes; the snapshot is authoritative for names under them.
    pub domains: Vec<Name>,
    /// TTL used when a record gives 0 / for synthetic records.
    pub default_ttl: u32,
    /// Policy for names without an entry in `policies`.
    pub default_policy: Policy,
    /// Per-name policy overrides.
    pub policies: Vec<(Name, Policy)>,
    /// Generate PTR records under in-addr.arpa / ip6.arpa from A/AAAA records.
    pub auto_ptr: bool,
    pub soa: SoaDefaults,
}

impl Default for ZoneConfig {
    fn default() -> Self {
        ZoneConfig {
            domains: vec![Name::from_ascii("skylane.local.").expect("valid")],
            default_ttl: 30,
            default_policy: Policy::All,
            policies: Vec::new(),
            auto_ptr: true,
            soa: SoaDefaults::default(),
        }
    }
}

/// Replace every record owned by `name` with `records` (empty = delete the name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameChange {
    pub name: Name,
    pub records: Vec<Record>,
}

/// An immutable, lock-free lookup table. See the module docs.
pub struct Snapshot {
    _todo: (),
}

impl Snapshot {
    pub fn build(_config: Arc<ZoneConfig>, _records: Vec<Record>) -> Snapshot {
        unimplemented!("snapshot helper")
    }

    pub fn apply(&self, _changes: &[NameChange]) -> Snapshot {
        unimplemented!("snapshot helper")
    }

    pub fn with_down(&self, _down: &[IpAddr]) -> Snapshot {
        unimplemented!("snapshot helper")
    }
}
