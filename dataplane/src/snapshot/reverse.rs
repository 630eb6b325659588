//! Reverse-mapping names (`in-addr.arpa.`, `ip6.arpa.` nibble form) for
//! automatic PTR records, and which of them we answer ([`Snapshot::served_zone`]).
//!
//! The auto-PTR tree hangs below a synthetic `in-addr.arpa.` / `ip6.arpa.`
//! apex, but Skylane is authoritative only for the reverse zones it serves:
//! - `dns.reverse-zones` when set: names at or below one of those zones;
//! - otherwise (derived): names whose covering /24 (IPv4: three octet labels)
//!   or /64 (IPv6: sixteen nibble labels) zone exists in the table, i.e.
//!   holds an address we serve (auto-PTR of an A/AAAA record) or a PTR
//!   record from the store or a zone file; a shorter name only when it holds
//!   records itself (it is then its own zone); never the bare
//!   `in-addr.arpa.` / `ip6.arpa.`.
//!
//! Every other name under `in-addr.arpa.` / `ip6.arpa.` is REFUSED (or
//! forwarded, when forwarding is on). Reverse zones given as domains or by
//! zone files are ordinary served domains and not affected.

use super::zone::{is_within, ZoneRef};
use super::Snapshot;

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

/// Labels below the reverse apex of the derived zone: /24 and /64.
const DERIVED_LABELS: [usize; 2] = [3, 16];

/// The suffix of `lname` with `labels` labels above `apex_len` bytes (the apex), if it has that many.
fn suffix_with_labels(lname: &[u8], apex_len: usize, labels: usize) -> Option<&[u8]> {
    let below = lname.len().checked_sub(apex_len)?;
    const RING: usize = 17;
    let mut starts = [0usize; RING];
    let mut n = 0;
    let mut i = 0;
    while i < below {
        if let Some(slot) = starts.get_mut(n % RING) {
            *slot = i;
        }
        n += 1;
        i += 1 + usize::from(*lname.get(i)?);
    }
    if n < labels {
        return None;
    }
    let at = *starts.get((n - labels) % RING)?;
    lname.get(at..)
}

impl Snapshot {
    /// The zone answering `lname` (lowercased wire) — [`Snapshot::zone`] — and,
    /// for a name in the synthetic reverse tree, the length of the reverse zone
    /// apex serving it (a suffix of `lname`); `None` when the name is not ours
    /// (REFUSED). See the module docs for the rule.
    #[inline]
    pub fn served_zone(&self, lname: &[u8]) -> Option<(ZoneRef<'_>, usize)> {
        let zone = self.zone(lname)?;
        let apex = zone.apex();
        let Some(family) = REVERSE_APEXES.iter().position(|&r| r == apex) else {
            return Some((zone, apex.len()));
        };
        if !self.reverse_active[family] {
            // A configured domain: an ordinary zone.
            return Some((zone, apex.len()));
        }
        if let Some(zones) = &self.rules.reverse_zones {
            let z = zones.iter().find(|z| is_within(lname, z))?;
            return Some((zone, z.len()));
        }
        match suffix_with_labels(lname, apex.len(), DERIVED_LABELS[family]) {
            Some(covering) => self.node(covering).map(|_| (zone, covering.len())),
            None if lname.len() > apex.len() => {
                let node = self.node(lname)?;
                (!node.is_empty()).then_some((zone, lname.len()))
            }
            // The synthetic apex itself is no zone of ours.
            None => None,
        }
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
