//! Warming the snapshot for a query before it is answered: the question name is hashed
//! lowercased in place, without being copied ([`name_key_hash`]: the value
//! [`crate::wire::NameBuf::hash`] will have when the engine reads it), and the cache lines
//! the engine's lookup reads first are loaded
//! ([`Snapshot::prefetch_shard`], [`Snapshot::prefetch_hashed`]).
//! A backend calls the two stages for a whole batch of received queries, then [`super::answer`]
//! for each: the answer itself is never computed here.

use crate::snapshot::Snapshot;
use crate::wire::header::HEADER_LEN;
use crate::wire::name::name_key_hash;

/// First stage for the DNS message `query`: the key hash of its (lowercased) question name
/// after loading that name's shard handle; `None` when no question name can be read.
///
/// Hashing in place covers every question name the engine can read: a QNAME starts the
/// message body, so no compression pointer in it can point before it, and the engine's
/// reader (`parse_query`) refuses what is not a plain, well-formed name as well.
#[inline]
pub fn prefetch_hash(snap: &Snapshot, query: &[u8]) -> Option<u64> {
    name_key_hash(query, HEADER_LEN).map(|h| snap.prefetch_shard(h))
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

#[cfg(test)]
mod tests {
    use crate::wire::header::HEADER_LEN;
    use crate::wire::name::{name_key_hash, read_name, NameBuf};

    /// The in-place hash gives a value exactly when the engine's reader reads the question
    /// name, and the same value: plain names, pointers (to the name itself, backwards,
    /// forwards), bad label types, truncations and over-long names, then random bytes.
    #[test]
    fn hashes_in_place_every_question_name_the_reader_reads() {
        let mut cases: Vec<Vec<u8>> = [
            &b"\x03WwW\x07Example\x03COM\x00"[..],
            b"\x00",
            b"\xc0\x0c",
            b"\x03www\xc0\x0c",
            b"\x03www\xc0\x10\x00",
            b"\x03www\x80",
            b"\x03ww",
            b"",
        ]
        .iter()
        .map(|n| [&[0u8; HEADER_LEN][..], n].concat())
        .collect();
        for labels in [41, 42, 63] {
            let mut m = vec![0u8; HEADER_LEN];
            for _ in 0..labels {
                m.extend_from_slice(b"\x05abcde");
            }
            m.push(0);
            cases.push(m);
        }
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            let mut m = vec![0u8; HEADER_LEN];
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 24) as usize;
            for i in 0..len {
                let b = (x >> (i % 8 * 8)) as u8;
                // Mostly small label lengths and letters, sometimes pointers and zeros.
                m.push(match (b >> 5, i % 3) {
                    (0, _) => 0,
                    (1, _) => 0xc0,
                    (_, 0) => b & 0x07,
                    _ => b | 0x40,
                });
            }
            cases.push(m);
        }
        let mut read_ok = 0;
        for msg in &cases {
            let mut name = NameBuf::new();
            let read = read_name(msg, HEADER_LEN, HEADER_LEN, &mut name)
                .ok()
                .map(|_| name.hash());
            assert_eq!(name_key_hash(msg, HEADER_LEN), read, "{msg:02x?}");
            read_ok += usize::from(read.is_some());
        }
        // Both outcomes are well represented.
        assert!(
            read_ok > 1000 && cases.len() - read_ok > 1000,
            "{read_ok} of {}",
            cases.len()
        );
    }
}
