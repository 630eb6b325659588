//! Warming the snapshot for a query before it is answered: the question name is hashed
//! lowercased in place, without being copied ([`name_key_hash`]: the value
//! [`crate::wire::NameBuf::hash`] will have when the engine reads it), and the cache lines
//! the engine's lookup reads first are loaded
//! ([`Snapshot::prefetch_shard`], [`Snapshot::prefetch_hashed`]).
//! A backend calls the two stages for a whole batch of received queries, then [`super::answer`]
//! for each: the answer itself is never computed here.

use crate::snapshot::Snapshot;
use crate::wire::header::HEADER_LEN;
use crate::wire::name::{name_key_hash, read_name, NameBuf};

/// First stage for the DNS message `query`: the key hash of its (lowercased) question name
/// after loading that name's shard handle; `None` when no question name can be read.
#[inline]
pub fn prefetch_hash(snap: &Snapshot, query: &[u8]) -> Option<u64> {
    let h = match name_key_hash(query, HEADER_LEN) {
        Some(h) => h,
        None => {
            // Compressed or malformed: the engine's own reader decides.
            let mut name = NameBuf::new();
            read_name(query, HEADER_LEN, HEADER_LEN, &mut name).ok()?;
            name.hash()
        }
    };
    Some(snap.prefetch_shard(h))
}

/// Both stages for one query (a meaningless value, see [`Snapshot::prefetch`]).
#[inline]
pub fn prefetch(snap: &Snapshot, query: &[u8]) -> u64 {
    prefetch_hash(snap, query).map_or(0, |h| snap.prefetch_hashed(h))
}

/// Both stages for a batch of at most `N` queries (the rest are left cold): every question
/// name is hashed and its shard loaded first, then every name's index slot and entry, so
/// that the batch's cache misses overlap. Shared by the DPDK bursts and the socket batches.
#[inline]
pub fn warm<'q, const N: usize>(snap: &Snapshot, queries: impl Iterator<Item = &'q [u8]>) {
    let mut hashes = [0u64; N];
    let mut n = 0;
    for q in queries.take(N) {
        if let (Some(h), Some(slot)) = (prefetch_hash(snap, q), hashes.get_mut(n)) {
            *slot = h;
            n += 1;
        }
    }
    for &h in hashes.iter().take(n) {
        snap.prefetch_hashed(h);
    }
}
