//! The Internet checksum (RFC 1071): one's-complement sums over byte slices and the
//! IPv4/IPv6 pseudo-headers UDP and ICMPv6 include.

/// One's-complement sum of `data` as big-endian 16-bit words (odd tail padded with 0),
/// added to `acc`, not folded.
#[inline]
pub fn sum(data: &[u8], acc: u64) -> u64 {
    let mut acc = acc;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        // Eight bytes as two 32-bit big-endian halves: carries accumulate in the upper bits.
        acc += u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
        acc += u64::from(u32::from_be_bytes([c[4], c[5], c[6], c[7]]));
    }
    let rest = chunks.remainder();
    let mut words = rest.chunks_exact(2);
    for w in &mut words {
        acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        acc += u64::from(*last) << 8;
    }
    acc
}

/// Fold a sum to 16 bits (without complementing).
#[inline]
pub fn fold(mut acc: u64) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The checksum field value for data whose sum is `acc`: the complement of the fold.
#[inline]
pub fn finish(acc: u64) -> u16 {
    !fold(acc)
}

/// Sum of the IPv4 pseudo-header (addresses, protocol, upper-layer length).
#[inline]
pub fn pseudo_v4(src: &[u8; 4], dst: &[u8; 4], protocol: u8, len: u16) -> u64 {
    sum(src, 0) + sum(dst, 0) + u64::from(protocol) + u64::from(len)
}

/// Sum of the IPv6 pseudo-header (addresses, upper-layer length, next header).
#[inline]
pub fn pseudo_v6(src: &[u8; 16], dst: &[u8; 16], next_header: u8, len: u32) -> u64 {
    sum(src, 0) + sum(dst, 0) + u64::from(len) + u64::from(next_header)
}

/// A UDP checksum field value: 0 is sent as 0xffff (RFC 768 / RFC 8200).
#[inline]
pub fn udp_field(acc: u64) -> u16 {
    match finish(acc) {
        0 => 0xffff,
        c => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2 (folded).
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&data, 0)), 0xddf2);
        // Split at an even offset (the tail path handles the last 6 bytes).
        assert_eq!(fold(sum(&data[..2], 0) + sum(&data[2..], 0)), 0xddf2);
    }

    #[test]
    fn odd_length_and_split_sums_agree() {
        let data: Vec<u8> = (0..=200u8).map(|b| b.wrapping_mul(37)).collect();
        let whole = fold(sum(&data, 0));
        // Splitting at even offsets gives the same sum.
        for cut in (0..data.len()).step_by(2) {
            assert_eq!(fold(sum(&data[..cut], 0) + sum(&data[cut..], 0)), whole);
        }
        // A buffer whose checksum field holds finish() sums to 0xffff.
        let mut msg = data.clone();
        msg.extend_from_slice(&[0, 0]);
        let c = finish(sum(&msg, 0));
        let n = msg.len();
        if data.len() % 2 == 1 {
            msg.insert(n - 2, 0); // keep the checksum word aligned
        }
        let n = msg.len();
        msg[n - 2..].copy_from_slice(&c.to_be_bytes());
        assert_eq!(fold(sum(&msg, 0)), 0xffff);
    }

    #[test]
    fn ipv4_header_checksum_known_value() {
        // Classic example header (Wikipedia "IPv4 header checksum"): checksum 0xb861.
        let hdr = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(finish(sum(&hdr, 0)), 0xb861);
    }
}
