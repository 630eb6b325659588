//! Warming the cache lines a lookup will read, for a batch of names before any of them is
//! looked up (DPDK's l3fwd pattern: hash every key of a burst, load every bucket, then do
//! the work). A lookup is three dependent loads (shard handle, index slot, entry), each a
//! likely cache miss in a large table; issued for a whole batch stage by stage, the misses
//! of different names overlap instead of coming one after the other inside the engine.
//!
//! These functions change nothing and return values that mean nothing (they exist so the
//! loads cannot be optimised away); the lookups themselves still go through
//! [`Snapshot::node`] and friends, inside the answer engine.

use super::hash::key_hash;
use super::shard::shard_of;
use super::Snapshot;
use std::hint::black_box;

impl Snapshot {
    /// First stage for a name of key hash `h` ([`crate::wire::NameBuf::hash`]): loads the
    /// handle of its shard; returns `h`, for [`Snapshot::prefetch_hashed`].
    #[inline]
    pub fn prefetch_shard(&self, h: u64) -> u64 {
        if let Some(shard) = self.shards.get(shard_of(h)) {
            black_box(shard.len());
        }
        h
    }

    /// Second stage for key hash `h` (from [`Snapshot::prefetch_shard`]): loads the index
    /// slot a lookup of `h` probes first and, when its tag matches, the first two cache
    /// lines of the entry it points to (`Shard::touch`).
    #[inline]
    pub fn prefetch_hashed(&self, h: u64) -> u64 {
        self.shards
            .get(shard_of(h))
            .map_or(0, |shard| black_box(shard.touch(h)))
    }

    /// Both stages for one name.
    #[inline]
    pub fn prefetch(&self, lname: &[u8]) -> u64 {
        self.prefetch_hashed(self.prefetch_shard(key_hash(lname)))
    }
}

#[cfg(test)]
mod tests {
    use crate::name::Name;
    use crate::record::{RData, Record};
    use crate::snapshot::{Snapshot, ZoneConfig};
    use std::sync::Arc;

    fn lower(s: &str) -> Vec<u8> {
        Name::from_ascii(s)
            .unwrap()
            .to_lowercase()
            .as_wire()
            .to_vec()
    }

    #[test]
    fn prefetch_leaves_lookups_unchanged() {
        let config = Arc::new(ZoneConfig {
            domains: vec![Name::from_ascii("example.").unwrap()],
            ..ZoneConfig::default()
        });
        let rec = Record::new(
            Name::from_ascii("www.example.").unwrap(),
            60,
            RData::A("192.0.2.1".parse().unwrap()),
        );
        let snap = Snapshot::build(config, vec![rec]);
        let (hit, miss) = (lower("www.example."), lower("missing.example."));
        assert!(snap.node(&hit).is_some());
        assert!(snap.node(&miss).is_none());
        // Both stages apart, and together, for a present and an absent name.
        let h = snap.prefetch_shard(super::key_hash(&hit));
        snap.prefetch_hashed(h);
        snap.prefetch(&miss);
        assert_eq!(snap.node(&hit).map(|n| n.key().to_vec()), Some(hit.clone()));
        assert!(snap.node(&miss).is_none());
    }
}
