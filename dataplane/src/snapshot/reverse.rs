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
    match addr.len() {
        4 => {
            let mut out = Vec::with_capacity(16 + IN_ADDR_ARPA.len());
            for &b in addr.iter().rev() {
                let s = b.to_string();
                out.push(s.len() as u8);
                out.extend_from_slice(s.as_bytes());
            }
            out.extend_from_slice(IN_ADDR_ARPA);
            Some(out)
        }
        16 => {
            let mut out = Vec::with_capacity(64 + IP6_ARPA.len());
            for &b in addr.iter().rev() {
                out.extend_from_slice(&[1, HEX[(b & 15) as usize], 1, HEX[(b >> 4) as usize]]);
            }
            out.extend_from_slice(IP6_ARPA);
            Some(out)
        }
        _ => None,
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
