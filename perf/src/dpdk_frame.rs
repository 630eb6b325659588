//! Frames of the DPDK load mode: query frames stamped from a per-client header template
//! (Ethernet + IPv4/IPv6 + UDP), parsing of received frames (DNS responses, ARP and
//! neighbour discovery), and the ARP/NDP messages used to find the server's MAC address.

use std::net::IpAddr;

const ETH_LEN: usize = 14;
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_ARP: u16 = 0x0806;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const PROTO_UDP: u8 = 17;
const NEXT_ICMPV6: u8 = 58;

/// Who talks to whom.
#[derive(Debug, Clone, Copy)]
pub struct Endpoints {
    pub src_mac: [u8; 6],
    pub dst_mac: [u8; 6],
    pub src_ip: IpAddr,
    pub dst_ip: IpAddr,
    pub dst_port: u16,
}

/// Sum of the big-endian 16-bit words of `data` added to `acc` (an odd last byte is the
/// high byte of a word): the one's-complement checksum before folding.
pub fn sum(data: &[u8], mut acc: u64) -> u64 {
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        acc += u64::from(*last) << 8;
    }
    acc
}

fn fold(mut acc: u64) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

fn ip_bytes(ip: &IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// Ethernet + IP + UDP headers of one client's queries, with the fixed part of the UDP
/// checksum (pseudo-header addresses, protocol, ports) precomputed.
#[derive(Debug, Clone)]
pub struct HeaderTemplate {
    bytes: [u8; 62],
    len: usize,
    ipv6: bool,
    /// Sum of the pseudo-header addresses + protocol and of the UDP ports.
    fixed_sum: u64,
    /// Sum of the IPv4 header with total length and checksum zero (0 for IPv6).
    ip_sum: u64,
}

impl HeaderTemplate {
    /// Headers from `ep` and UDP source port `src_port`. Both addresses must be of the
    /// same family.
    pub fn new(ep: &Endpoints, src_port: u16) -> HeaderTemplate {
        let mut b = [0u8; 62];
        b[0..6].copy_from_slice(&ep.dst_mac);
        b[6..12].copy_from_slice(&ep.src_mac);
        let (src, dst) = (ip_bytes(&ep.src_ip), ip_bytes(&ep.dst_ip));
        let ipv6 = ep.dst_ip.is_ipv6();
        let l3 = if ipv6 {
            b[12..14].copy_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
            b[14] = 0x60;
            b[20] = PROTO_UDP;
            b[21] = 64;
            b[22..38].copy_from_slice(&src);
            b[38..54].copy_from_slice(&dst);
            40
        } else {
            b[12..14].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
            b[14] = 0x45;
            b[20] = 0x40; // DF
            b[22] = 64;
            b[23] = PROTO_UDP;
            b[26..30].copy_from_slice(&src);
            b[30..34].copy_from_slice(&dst);
            20
        };
        let l4 = ETH_LEN + l3;
        b[l4..l4 + 2].copy_from_slice(&src_port.to_be_bytes());
        b[l4 + 2..l4 + 4].copy_from_slice(&ep.dst_port.to_be_bytes());
        let fixed_sum = sum(&src, 0) + sum(&dst, 0) + u64::from(PROTO_UDP) + sum(&b[l4..l4 + 4], 0);
        let ip_sum = if ipv6 { 0 } else { sum(&b[14..34], 0) };
        HeaderTemplate {
            bytes: b,
            len: l4 + 8,
            ipv6,
            fixed_sum,
            ip_sum,
        }
    }

    /// Header bytes before the DNS payload.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Write a frame into `out`: the headers, then the DNS message `write_dns` puts at
    /// the payload offset (it returns the DNS length). Returns the frame length, or None
    /// when `out` is too short.
    pub fn write<F>(&self, out: &mut [u8], write_dns: F) -> Option<usize>
    where
        F: FnOnce(&mut [u8]) -> Option<usize>,
    {
        let hl = self.len;
        out.get_mut(..hl)?.copy_from_slice(&self.bytes[..hl]);
        let dns_len = write_dns(out.get_mut(hl..)?)?;
        let dns_sum = sum(out.get(hl..hl + dns_len)?, 0);
        Some(self.finish(out, dns_len, dns_sum))
    }

    /// Write a query frame into `out`: the headers, then `msg` (a DNS message whose ID
    /// bytes are zero, with `msg_sum` the unfolded sum of its 16-bit words) with ID `id`.
    /// Only the lengths, the ID and the checksums are computed per frame. Returns the frame
    /// length, or None when `out` is too short.
    #[inline]
    pub fn write_query(&self, out: &mut [u8], msg: &[u8], msg_sum: u64, id: u16) -> Option<usize> {
        let hl = self.len;
        let frame = out.get_mut(..hl + msg.len())?;
        frame[..hl].copy_from_slice(&self.bytes[..hl]);
        frame[hl..].copy_from_slice(msg);
        frame
            .get_mut(hl..hl + 2)?
            .copy_from_slice(&id.to_be_bytes());
        Some(self.finish(frame, msg.len(), msg_sum + u64::from(id)))
    }

    /// Fill in the lengths and checksums of a frame whose headers and DNS message of
    /// `dns_len` bytes (word sum `dns_sum`) are written; returns the frame length.
    #[inline]
    fn finish(&self, out: &mut [u8], dns_len: usize, dns_sum: u64) -> usize {
        let hl = self.len;
        let udp_len = 8 + dns_len;
        let l4 = hl - 8;
        if self.ipv6 {
            out[18..20].copy_from_slice(&(udp_len as u16).to_be_bytes());
        } else {
            let total = (20 + udp_len) as u16;
            out[16..18].copy_from_slice(&total.to_be_bytes());
            let c = !fold(self.ip_sum + u64::from(total));
            out[24..26].copy_from_slice(&c.to_be_bytes());
        }
        out[l4 + 4..l4 + 6].copy_from_slice(&(udp_len as u16).to_be_bytes());
        // Pseudo-header length + UDP length field + payload (ports are in fixed_sum).
        let acc = self.fixed_sum + 2 * udp_len as u64 + dns_sum;
        let c = match !fold(acc) {
            0 => 0xffff,
            c => c,
        };
        out[l4 + 6..l4 + 8].copy_from_slice(&c.to_be_bytes());
        hl + dns_len
    }
}

/// What a received frame is, as far as the load generator cares.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming<'a> {
    /// A UDP datagram from `src` port `src_port` to our `dst_port`.
    Udp {
        src: IpAddr,
        src_port: u16,
        dst_port: u16,
        payload: &'a [u8],
    },
    /// An ARP request asking for `target`.
    ArpRequest {
        target: [u8; 4],
    },
    /// An ARP reply: `ip` is at `mac`.
    ArpReply {
        ip: [u8; 4],
        mac: [u8; 6],
    },
    /// A neighbour advertisement: `target` is at `mac` (from the option or the frame).
    NeighborAdvert {
        target: [u8; 16],
        mac: [u8; 6],
    },
    Other,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Classify a received frame. Never panics on any input.
pub fn parse(frame: &[u8]) -> Incoming<'_> {
    if frame.len() < ETH_LEN {
        return Incoming::Other;
    }
    let (ethertype, l2) = match be16(frame, 12) {
        ETHERTYPE_VLAN if frame.len() >= 18 => (be16(frame, 16), 18),
        t => (t, ETH_LEN),
    };
    let p = &frame[l2..];
    match ethertype {
        ETHERTYPE_ARP if p.len() >= 28 && be16(p, 0) == 1 && be16(p, 2) == 0x0800 => {
            let mut ip = [0; 4];
            match be16(p, 6) {
                1 => {
                    ip.copy_from_slice(&p[24..28]);
                    Incoming::ArpRequest { target: ip }
                }
                2 => {
                    let mut mac = [0; 6];
                    mac.copy_from_slice(&p[8..14]);
                    ip.copy_from_slice(&p[14..18]);
                    Incoming::ArpReply { ip, mac }
                }
                _ => Incoming::Other,
            }
        }
        ETHERTYPE_IPV4 if p.len() >= 20 && p[0] >> 4 == 4 => {
            let hl = usize::from(p[0] & 0x0f) * 4;
            let total = usize::from(be16(p, 2));
            if p[9] != PROTO_UDP || hl < 20 || total < hl + 8 || total > p.len() {
                return Incoming::Other;
            }
            let mut src = [0u8; 4];
            src.copy_from_slice(&p[12..16]);
            udp(IpAddr::from(src), &p[hl..total])
        }
        ETHERTYPE_IPV6 if p.len() >= 40 && p[0] >> 4 == 6 => {
            let end = 40 + usize::from(be16(p, 4));
            if end > p.len() {
                return Incoming::Other;
            }
            let mut src = [0u8; 16];
            src.copy_from_slice(&p[8..24]);
            match p[6] {
                PROTO_UDP => udp(IpAddr::from(src), &p[40..end]),
                NEXT_ICMPV6 if end >= 40 + 24 && p[40] == 136 => {
                    let mut target = [0u8; 16];
                    target.copy_from_slice(&p[48..64]);
                    let mut mac = [0u8; 6];
                    mac.copy_from_slice(&frame[6..12]);
                    let mut opts = &p[64..end];
                    while opts.len() >= 8 && opts[1] != 0 {
                        let len = usize::from(opts[1]) * 8;
                        if opts[0] == 2 && len >= 8 {
                            mac.copy_from_slice(&opts[2..8]);
                        }
                        opts = opts.get(len..).unwrap_or(&[]);
                    }
                    Incoming::NeighborAdvert { target, mac }
                }
                _ => Incoming::Other,
            }
        }
        _ => Incoming::Other,
    }
}

fn udp(src: IpAddr, d: &[u8]) -> Incoming<'_> {
    if d.len() < 8 {
        return Incoming::Other;
    }
    let len = usize::from(be16(d, 4));
    if len < 8 || len > d.len() {
        return Incoming::Other;
    }
    Incoming::Udp {
        src,
        src_port: be16(d, 0),
        dst_port: be16(d, 2),
        payload: &d[8..len],
    }
}

/// Write a broadcast ARP request "who has `target`? tell `src_ip`" into `out` (>= 60
/// bytes); returns the frame length.
pub fn arp_request(src_mac: [u8; 6], src_ip: [u8; 4], target: [u8; 4], out: &mut [u8]) -> usize {
    out[..60].fill(0);
    out[0..6].copy_from_slice(&[0xff; 6]);
    out[6..12].copy_from_slice(&src_mac);
    out[12..14].copy_from_slice(&ETHERTYPE_ARP.to_be_bytes());
    out[14..22].copy_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    out[22..28].copy_from_slice(&src_mac);
    out[28..32].copy_from_slice(&src_ip);
    out[38..42].copy_from_slice(&target);
    60
}

/// Turn the ARP request in `frame` into our reply ("target is at `mac`").
pub fn arp_reply_in_place(frame: &mut [u8], mac: [u8; 6]) -> Option<usize> {
    if frame.len() < 42 || be16(frame, 12) != ETHERTYPE_ARP {
        return None;
    }
    let mut requester = [0u8; 10];
    requester.copy_from_slice(&frame[22..32]);
    let mut target = [0u8; 4];
    target.copy_from_slice(&frame[38..42]);
    frame[0..6].copy_from_slice(&requester[..6]);
    frame[6..12].copy_from_slice(&mac);
    frame[20..22].copy_from_slice(&2u16.to_be_bytes());
    frame[22..28].copy_from_slice(&mac);
    frame[28..32].copy_from_slice(&target);
    frame[32..42].copy_from_slice(&requester);
    Some(frame.len().min(60))
}

/// Write a neighbour solicitation for `target` from `src_ip` into `out` (>= 86 bytes);
/// returns the frame length.
pub fn neighbor_solicit(
    src_mac: [u8; 6],
    src_ip: [u8; 16],
    target: [u8; 16],
    out: &mut [u8],
) -> usize {
    let group: [u8; 16] = [
        0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, target[13], target[14], target[15],
    ];
    out[..86].fill(0);
    out[0..6].copy_from_slice(&[0x33, 0x33, group[12], group[13], group[14], group[15]]);
    out[6..12].copy_from_slice(&src_mac);
    out[12..14].copy_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
    let ip = &mut out[14..54];
    ip[0] = 0x60;
    ip[4..6].copy_from_slice(&32u16.to_be_bytes());
    ip[6] = NEXT_ICMPV6;
    ip[7] = 255;
    ip[8..24].copy_from_slice(&src_ip);
    ip[24..40].copy_from_slice(&group);
    let msg = &mut out[54..86];
    msg[0] = 135;
    msg[8..24].copy_from_slice(&target);
    msg[24] = 1; // source link-layer address option
    msg[25] = 1;
    msg[26..32].copy_from_slice(&src_mac);
    let acc = sum(&src_ip, 0) + sum(&group, 0) + 32 + u64::from(NEXT_ICMPV6) + sum(msg, 0);
    let c = !fold(acc);
    msg[2..4].copy_from_slice(&c.to_be_bytes());
    86
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn endpoints(v6: bool) -> Endpoints {
        let (src_ip, dst_ip) = if v6 {
            (
                IpAddr::from(Ipv6Addr::LOCALHOST),
                "fd00::1".parse().unwrap(),
            )
        } else {
            (
                IpAddr::from(Ipv4Addr::new(10, 0, 0, 2)),
                IpAddr::from(Ipv4Addr::new(10, 0, 0, 1)),
            )
        };
        Endpoints {
            src_mac: [2, 0, 0, 0, 0, 2],
            dst_mac: [2, 0, 0, 0, 0, 1],
            src_ip,
            dst_ip,
            dst_port: 53,
        }
    }

    /// The UDP checksum over pseudo-header + datagram, recomputed from scratch.
    fn udp_ok(frame: &[u8], v6: bool) -> bool {
        let (l4, pseudo) = if v6 {
            let ip = &frame[14..54];
            let mut p = ip[8..40].to_vec();
            p.extend_from_slice(&(u32::from(be16(ip, 4))).to_be_bytes());
            p.extend_from_slice(&[0, 0, 0, 17]);
            (54, p)
        } else {
            let ip = &frame[14..34];
            let mut p = ip[12..20].to_vec();
            p.extend_from_slice(&[0, 17]);
            p.extend_from_slice(&(be16(ip, 2) - 20).to_be_bytes());
            (34, p)
        };
        fold(sum(&frame[l4..], sum(&pseudo, 0))) == 0xffff
    }

    #[test]
    fn frames_round_trip_with_valid_checksums() {
        for v6 in [false, true] {
            let ep = endpoints(v6);
            let t = HeaderTemplate::new(&ep, 40000);
            let mut out = [0u8; 256];
            for dns_len in [12usize, 29, 100] {
                let len = t
                    .write(&mut out, |p| {
                        p[..dns_len].fill(0x5a);
                        Some(dns_len)
                    })
                    .unwrap();
                assert_eq!(len, t.len() + dns_len);
                let frame = &out[..len];
                assert!(udp_ok(frame, v6), "v6={v6} len={dns_len}");
                if !v6 {
                    assert_eq!(fold(sum(&frame[14..34], 0)), 0xffff);
                }
                match parse(frame) {
                    Incoming::Udp {
                        src,
                        src_port,
                        dst_port,
                        payload,
                    } => {
                        assert_eq!(src, ep.src_ip);
                        assert_eq!((src_port, dst_port), (40000, 53));
                        assert_eq!(payload, &[0x5a; 100][..dns_len]);
                    }
                    other => panic!("{other:?}"),
                }
            }
            assert!(t.write(&mut out[..10], |_| Some(0)).is_none());
        }
    }

    #[test]
    fn query_frames_from_precomputed_sums_match_the_full_computation() {
        for v6 in [false, true] {
            let t = HeaderTemplate::new(&endpoints(v6), 20001);
            for (msg_len, id) in [(12usize, 0u16), (29, 1), (45, 0xffff), (100, 0x8000)] {
                let msg: Vec<u8> = (0..msg_len)
                    .map(|i| if i < 2 { 0 } else { (i * 37 + 11) as u8 })
                    .collect();
                let (mut a, mut b) = ([0u8; 256], [0u8; 256]);
                let la = t
                    .write(&mut a, |p| {
                        p[..msg_len].copy_from_slice(&msg);
                        p[..2].copy_from_slice(&id.to_be_bytes());
                        Some(msg_len)
                    })
                    .unwrap();
                let lb = t.write_query(&mut b, &msg, sum(&msg, 0), id).unwrap();
                assert_eq!(la, lb);
                assert_eq!(a[..la], b[..lb], "v6={v6} len={msg_len} id={id}");
                assert!(udp_ok(&b[..lb], v6));
            }
            assert!(t.write_query(&mut [0u8; 50], &[0; 12], 0, 1).is_none());
        }
    }

    #[test]
    fn arp_and_nd_messages() {
        let mut f = [0u8; 64];
        let n = arp_request([2, 0, 0, 0, 0, 2], [10, 0, 0, 2], [10, 0, 0, 1], &mut f);
        assert_eq!(
            parse(&f[..n]),
            Incoming::ArpRequest {
                target: [10, 0, 0, 1]
            }
        );
        arp_reply_in_place(&mut f[..n], [2, 0, 0, 0, 0, 9]).unwrap();
        assert_eq!(
            parse(&f[..n]),
            Incoming::ArpReply {
                ip: [10, 0, 0, 1],
                mac: [2, 0, 0, 0, 0, 9]
            }
        );
        let mut f = [0u8; 90];
        let target = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let n = neighbor_solicit([2, 0, 0, 0, 0, 2], [0xfd; 16], target, &mut f);
        assert_eq!(n, 86);
        let msg = &f[54..86];
        let pseudo_sum = sum(&f[22..54], 0) + 32 + 58;
        assert_eq!(fold(sum(msg, pseudo_sum)), 0xffff);
        for cut in 0..n {
            let _ = parse(&f[..cut]);
        }
    }
}
