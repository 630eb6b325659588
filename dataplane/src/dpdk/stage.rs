//! The first passes over a received burst, before any frame is answered (DPDK's l3fwd
//! pattern): pass 1 finds every frame's DNS query, reads and hashes its question name and
//! loads the name's shard handle; pass 2 loads every name's index slot and entry head. The
//! cache misses of the burst's lookups then overlap; the third pass, the loop's usual
//! frame-by-frame [`super::responder::Responder::handle`], answers through
//! [`crate::engine::answer`] with the lines already in cache.
//!
//! Nothing here decides anything: a frame this quick look gets wrong (not ours, bad
//! checksum, not DNS after all) only costs its prefetch, the responder still checks
//! everything.

use super::net::{ethernet, ipv4, ipv6, udp};
use super::responder::DNS_PORT;
use crate::engine;
use crate::snapshot::Snapshot;
use dpdk_sys::{Burst, BURST};

/// The UDP payload of `frame` when it looks like a DNS query: Ethernet (optionally one
/// 802.1Q tag), IPv4 (any header length) or IPv6 (no extension header), UDP to port 53.
#[inline]
pub(crate) fn dns_payload(frame: &[u8]) -> Option<&[u8]> {
    let be16 = |at: usize| {
        frame
            .get(at..at + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
    };
    let mut l2 = ethernet::HEADER_LEN;
    let mut ethertype = be16(12)?;
    if ethertype == ethernet::ETHERTYPE_VLAN {
        ethertype = be16(16)?;
        l2 += ethernet::VLAN_TAG_LEN;
    }
    let l4 = match ethertype {
        ethernet::ETHERTYPE_IPV4 => {
            let ihl = usize::from(frame.get(l2)? & 0x0f) * 4;
            (*frame.get(l2 + 9)? == ipv4::PROTO_UDP).then_some(l2 + ihl)?
        }
        ethernet::ETHERTYPE_IPV6 => {
            (*frame.get(l2 + 6)? == ipv6::NEXT_UDP).then_some(l2 + ipv6::HEADER_LEN)?
        }
        _ => return None,
    };
    if be16(l4 + 2)? != DNS_PORT {
        return None;
    }
    frame.get(l4 + udp::HEADER_LEN..)
}

/// Passes 1 and 2 over the frames held in `rx` (see the module docs).
#[inline]
pub(crate) fn warm(snap: &Snapshot, rx: &Burst) {
    let queries = (0..rx.len()).filter_map(|i| rx.data(i).and_then(dns_payload));
    engine::warm::<BURST>(snap, queries);
}

#[cfg(test)]
mod tests {
    use super::dns_payload;

    /// An Ethernet frame (tagged with `vlan`) carrying UDP `payload` to port `dport`.
    fn frame(v6: bool, vlan: bool, dport: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        if vlan {
            f.extend_from_slice(&[0x81, 0x00, 0x00, 0x05]);
        }
        let udp_len = (8 + payload.len()) as u16;
        if v6 {
            f.extend_from_slice(&[0x86, 0xdd]);
            let mut ip = vec![0u8; 40];
            ip[0] = 0x60;
            ip[4..6].copy_from_slice(&udp_len.to_be_bytes());
            ip[6] = 17;
            f.extend_from_slice(&ip);
        } else {
            f.extend_from_slice(&[0x08, 0x00]);
            let mut ip = vec![0u8; 20];
            ip[0] = 0x45;
            ip[9] = 17;
            f.extend_from_slice(&ip);
        }
        f.extend_from_slice(&1234u16.to_be_bytes());
        f.extend_from_slice(&dport.to_be_bytes());
        f.extend_from_slice(&udp_len.to_be_bytes());
        f.extend_from_slice(&[0, 0]);
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn finds_the_dns_payload() {
        let q = b"query bytes";
        for (v6, vlan) in [(false, false), (false, true), (true, false), (true, true)] {
            let f = frame(v6, vlan, 53, q);
            assert_eq!(dns_payload(&f), Some(&q[..]), "v6={v6} vlan={vlan}");
            assert_eq!(dns_payload(&frame(v6, vlan, 54, q)), None);
        }
    }

    #[test]
    fn rejects_other_frames() {
        let mut tcp = frame(false, false, 53, b"x");
        tcp[14 + 9] = 6;
        assert_eq!(dns_payload(&tcp), None);
        let mut arp = frame(false, false, 53, b"x");
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(dns_payload(&arp), None);
        // Truncated anywhere: nothing, and no panic.
        let f = frame(true, true, 53, b"");
        for n in 0..f.len() {
            assert_eq!(dns_payload(&f[..n]), None, "{n} bytes");
        }
    }
}
