//! Reverse-mapping names (`in-addr.arpa.`, `ip6.arpa.` nibble form) for
//! automatic PTR records.

/// `in-addr.arpa.` in wire form.
pub(crate) const IN_ADDR_ARPA: &[u8] = b"\x07in-addr\x04arpa\x00";
/// `ip6.arpa.` in wire form.
pub(crate) const IP6_ARPA: &[u8] = b"\x03ip6\x04arpa\x00";

/// The reverse apexes, indexed by family (0 = IPv4, 1 = IPv6).
pub(crate) const REVERSE_APEXES: [&[u8]; 2] = [IN_ADDR_ARPA, IP6_ARPA];

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The lowercased wire reverse name of a 4- or 16-byte address.
pub(crate) fn reverse_name(addr: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(74);
    reverse_name_into(addr, &mut out).then_some(out)
}

/// Appends the reverse name of a 4- or 16-byte address to `out`; false (and
/// nothing written) for any other length.
pub(crate) fn reverse_name_into(addr: &[u8], out: &mut Vec<u8>) -> bool {
    match addr.len() {
        4 => {
            for &b in addr.iter().rev() {
                if b >= 100 {
                    out.extend_from_slice(&[3, b'0' + b / 100, b'0' + b / 10 % 10, b'0' + b % 10]);
                } else if b >= 10 {
                    out.extend_from_slice(&[2, b'0' + b / 10, b'0' + b % 10]);
                } else {
                    out.extend_from_slice(&[1, b'0' + b]);
                }
            }
            out.extend_from_slice(IN_ADDR_ARPA);
            true
        }
        16 => {
            for &b in addr.iter().rev() {
                out.extend_from_slice(&[1, HEX[(b & 15) as usize], 1, HEX[(b >> 4) as usize]]);
            }
            out.extend_from_slice(IP6_ARPA);
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::Name;
    use std::net::Ipv6Addr;

    #[test]
    fn v4_and_v6() {
        let n = reverse_name(&[192, 0, 2, 10]).unwrap();
        let m = reverse_name(&[1, 22, 255, 0]).unwrap();
        assert_eq!(
            Name::from_wire(&m).unwrap().to_string(),
            "0.255.22.1.in-addr.arpa."
        );
        assert_eq!(
            Name::from_wire(&n).unwrap().to_string(),
            "10.2.0.192.in-addr.arpa."
        );
        let ip: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let n = reverse_name(&ip.octets()).unwrap();
        assert_eq!(
            Name::from_wire(&n).unwrap().to_string(),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."
        );
        assert!(reverse_name(&[1, 2, 3]).is_none());
    }
}
