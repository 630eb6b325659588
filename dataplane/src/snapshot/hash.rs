//! The fixed, fast hash used for every table key (lowercased wire names and
//! child-chunk keys): FxHash-style rounds over 8-byte words, finished with the
//! murmur3 avalanche so that both the high bits (shard choice) and the low bits
//! (index slot) are well mixed. Deterministic across runs and machines.

const K: u64 = 0x517c_c1b7_2722_0a95;

#[inline]
fn round(h: u64, w: u64) -> u64 {
    (h.rotate_left(5) ^ w).wrapping_mul(K)
}

/// Hash of a table key.
#[inline]
pub(crate) fn key_hash(bytes: &[u8]) -> u64 {
    let mut h = bytes.len() as u64;
    let mut words = bytes.chunks_exact(8);
    for c in &mut words {
        h = round(
            h,
            u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]),
        );
    }
    let rem = words.remainder();
    if !rem.is_empty() {
        let mut buf = [0u8; 8];
        buf[..rem.len()].copy_from_slice(rem);
        h = round(h, u64::from_le_bytes(buf));
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differs_on_small_changes_and_is_stable() {
        let a = key_hash(b"\x03www\x07example\x03com\x00");
        let b = key_hash(b"\x03wwx\x07example\x03com\x00");
        assert_ne!(a, b);
        assert_eq!(a, key_hash(b"\x03www\x07example\x03com\x00"));
        // Trailing zero bytes must matter (length is mixed in).
        assert_ne!(key_hash(b"\x01a"), key_hash(b"\x01a\x00"));
    }
}
