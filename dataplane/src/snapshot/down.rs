//! The DOWN set: backend addresses currently marked unhealthy, excluded from
//! A/AAAA answers. Sorted vectors: tiny, cache-friendly, binary-searched.

use std::net::IpAddr;

/// Addresses marked DOWN.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct DownSet {
    v4: Vec<u32>,
    v6: Vec<u128>,
}

impl DownSet {
    pub(crate) fn new(addrs: &[IpAddr]) -> DownSet {
        let mut s = DownSet::default();
        for a in addrs {
            match a {
                IpAddr::V4(v) => s.v4.push(u32::from(*v)),
                IpAddr::V6(v) => s.v6.push(u128::from(*v)),
            }
        }
        s.v4.sort_unstable();
        s.v4.dedup();
        s.v6.sort_unstable();
        s.v6.dedup();
        s
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// Membership of a 4- or 16-byte address (anything else: false).
    #[inline]
    pub(crate) fn contains(&self, addr: &[u8]) -> bool {
        if let Ok(b) = <[u8; 4]>::try_from(addr) {
            let v = u32::from_be_bytes(b);
            if self.v4.len() <= 8 {
                self.v4.contains(&v)
            } else {
                self.v4.binary_search(&v).is_ok()
            }
        } else if let Ok(b) = <[u8; 16]>::try_from(addr) {
            let v = u128::from_be_bytes(b);
            if self.v6.len() <= 8 {
                self.v6.contains(&v)
            } else {
                self.v6.binary_search(&v).is_ok()
            }
        } else {
            false
        }
    }

    /// The addresses, for diagnostics.
    pub(crate) fn addrs(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.v4
            .iter()
            .map(|&v| IpAddr::from(std::net::Ipv4Addr::from(v)))
            .chain(
                self.v6
                    .iter()
                    .map(|&v| IpAddr::from(std::net::Ipv6Addr::from(v))),
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn membership_small_and_large() {
        let small = DownSet::new(&["10.0.0.1".parse().unwrap(), "2001:db8::1".parse().unwrap()]);
        assert!(small.contains(&[10, 0, 0, 1]));
        assert!(!small.contains(&[10, 0, 0, 2]));
        let v6: std::net::Ipv6Addr = "2001:db8::1".parse().unwrap();
        assert!(small.contains(&v6.octets()));
        assert!(!small.contains(&[1, 2, 3]));
        let many: Vec<IpAddr> = (0..100u32)
            .map(|i| IpAddr::from(std::net::Ipv4Addr::from(i * 7)))
            .collect();
        let big = DownSet::new(&many);
        assert!(big.contains(&(7u32 * 99).to_be_bytes()));
        assert!(!big.contains(&8u32.to_be_bytes()));
        assert_eq!(big.addrs().count(), 100);
        assert!(DownSet::new(&[]).is_empty());
    }
}
