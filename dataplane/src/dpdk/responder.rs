//! What the DPDK loop does with one received frame, decided and carried out in place.
//!
//! [`Responder::handle`] looks at an Ethernet frame (optionally 802.1Q-tagged) and either
//! rewrites it into a reply in the same buffer — ARP reply, IPv6 neighbour advertisement,
//! ICMP/ICMPv6 echo reply, or the DNS answer to a UDP query for port 53 on one of our
//! addresses — or says the frame belongs to the kernel (exception path) or must be
//! dropped. DNS answers come from a caller-supplied function (the loop passes the shared
//! answer engine), so this module only deals with headers and checksums. Nothing here
//! allocates, locks or panics.

use super::net::arp::{self, ArpPacket};
use super::net::checksum;
use super::net::ethernet::{self, EthernetFrame};
use super::net::icmp;
use super::net::ipv4::{self, Ipv4Packet};
use super::net::ipv6::{self, Ipv6Packet};
use super::net::udp::{self, UdpDatagram};
use super::net::{put16, Truncated};
use dpdk_sys::consts;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The DNS port.
pub const DNS_PORT: u16 = 53;
/// Largest IP packet we send (the Ethernet MTU).
pub const IP_MTU: usize = 1500;

/// Checksums the port computes on transmit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HwChecksum {
    /// IPv4 header checksum offload.
    pub ipv4: bool,
    /// UDP checksum offload (IPv4 and IPv6).
    pub udp: bool,
}

/// Checksum work left to the NIC for a reply: the mbuf header lengths and TX flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxOffload {
    pub l2_len: u16,
    pub l3_len: u16,
    /// `RTE_MBUF_F_TX_*` flags; 0 when everything was computed in software.
    pub flags: u64,
}

/// Which kind of reply was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyKind {
    Arp,
    NeighborAdvert,
    EchoV4,
    EchoV6,
    Dns,
}

/// Why a frame was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropCause {
    /// Unicast to another MAC address.
    NotForUs,
    /// A header is truncated, inconsistent or has a bad checksum.
    Malformed,
    /// Source address we must not answer (multicast, broadcast, unspecified, port 0).
    BadSource,
    /// The engine produced no response (QR=1 or unreadable query).
    NoAnswer,
    /// Multicast or broadcast that is not ARP or neighbour discovery for one of our
    /// addresses: nothing we or the kernel behind the TAP need.
    Unneeded,
}

/// The decision for one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The buffer now holds a reply of `len` bytes to send back out the port.
    Reply {
        len: usize,
        kind: ReplyKind,
        offload: TxOffload,
    },
    /// Not ours to answer: hand the unchanged frame to the kernel.
    Exception,
    /// Free the frame.
    Drop(DropCause),
}

impl From<Truncated> for Action {
    fn from(_: Truncated) -> Action {
        Action::Drop(DropCause::Malformed)
    }
}

/// The addresses we own and what the port can offload. Built once, shared read-only by
/// every lcore.
#[derive(Debug, Clone)]
pub struct Responder {
    mac: [u8; 6],
    v4: Vec<[u8; 4]>,
    v6: Vec<[u8; 16]>,
    hw: HwChecksum,
}

macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return Action::from(e),
        }
    };
}

impl Responder {
    /// A responder for `mac`, owning `addresses`.
    pub fn new(mac: [u8; 6], addresses: &[IpAddr], hw: HwChecksum) -> Responder {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for a in addresses {
            match a {
                IpAddr::V4(a) => v4.push(a.octets()),
                IpAddr::V6(a) => v6.push(a.octets()),
            }
        }
        Responder { mac, v4, v6, hw }
    }

    /// The port MAC address replies are sent from.
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// Decide what to do with the frame in `buf[..len]`, rewriting it in place into a
    /// reply when we answer it. `buf` may extend past `len` (the mbuf tailroom): DNS
    /// responses longer than the query use it. `dns(payload, query_len, client, headers)`
    /// answers the DNS query in `payload[..query_len]` in place and returns the response
    /// length; `headers` are the frame's bytes before the payload (kept by the caller when
    /// the query is forwarded, see [`Responder::finish_forwarded`]).
    #[inline]
    pub fn handle<F>(&self, buf: &mut [u8], len: usize, dns: &mut F) -> Action
    where
        F: FnMut(&mut [u8], usize, SocketAddr, &[u8]) -> Option<usize>,
    {
        let len = len.min(buf.len());
        let eth = tri!(EthernetFrame::new_checked(&buf[..len]));
        let dst = eth.dst();
        let l2 = eth.header_len();
        let ethertype = eth.ethertype();
        if dst != self.mac {
            if !ethernet::is_group(&dst) {
                return Action::Drop(DropCause::NotForUs);
            }
            if !self.group_frame_wanted(buf.get(l2..len).unwrap_or_default(), ethertype) {
                return Action::Drop(DropCause::Unneeded);
            }
        }
        match ethertype {
            ethernet::ETHERTYPE_ARP => self.arp(buf, len, l2),
            ethernet::ETHERTYPE_IPV4 => self.ipv4(buf, len, l2, dns),
            ethernet::ETHERTYPE_IPV6 => self.ipv6(buf, len, l2, dns),
            _ => Action::Exception,
        }
    }

    /// Whether a multicast or broadcast frame with payload `l3` is one we keep: an ARP
    /// packet whose target is one of our IPv4 addresses, or an ICMPv6 neighbour
    /// solicitation or advertisement (no extension headers) whose target is one of our
    /// IPv6 addresses. Everything else sent to a group address is dropped first.
    #[inline]
    fn group_frame_wanted(&self, l3: &[u8], ethertype: u16) -> bool {
        match ethertype {
            ethernet::ETHERTYPE_ARP => {
                ArpPacket::new_checked(l3).is_ok_and(|p| self.v4.contains(&p.target_ip()))
            }
            ethernet::ETHERTYPE_IPV6 => {
                let msg = l3.get(ipv6::HEADER_LEN..).unwrap_or_default();
                let nd = matches!(
                    msg.first(),
                    Some(&(icmp::V6_NEIGHBOR_SOLICIT | icmp::V6_NEIGHBOR_ADVERT))
                );
                let target = msg.get(icmp::ND_TARGET_OFFSET..icmp::ND_FIXED_LEN);
                l3.get(6) == Some(&ipv6::NEXT_ICMPV6)
                    && nd
                    && target.is_some_and(|t| self.v6.iter().any(|a| a[..] == *t))
            }
            _ => false,
        }
    }

    fn arp(&self, buf: &mut [u8], len: usize, l2: usize) -> Action {
        let Ok(mut pkt) = ArpPacket::new_checked(&mut buf[l2..len]) else {
            return Action::Exception;
        };
        let target = pkt.target_ip();
        // A request for one of our addresses, but not a gratuitous announcement of it
        // (sender == target): that is someone else claiming it, the kernel's business.
        if pkt.operation() != arp::OP_REQUEST
            || !self.v4.contains(&target)
            || pkt.sender_ip() == target
        {
            return Action::Exception;
        }
        pkt.make_reply(&self.mac);
        EthernetFrame::new_checked(&mut buf[..len])
            .map(|mut e| e.reply_from(&self.mac))
            .ok();
        Action::Reply {
            len: l2 + arp::PACKET_LEN,
            kind: ReplyKind::Arp,
            offload: TxOffload::default(),
        }
    }

    fn ipv4<F>(&self, buf: &mut [u8], len: usize, l2: usize, dns: &mut F) -> Action
    where
        F: FnMut(&mut [u8], usize, SocketAddr, &[u8]) -> Option<usize>,
    {
        let ip = tri!(Ipv4Packet::new_checked(&buf[l2..len]));
        if !self.v4.contains(&ip.dst()) || ip.is_fragment() {
            return Action::Exception;
        }
        if !ip.verify_checksum() {
            return Action::Drop(DropCause::Malformed);
        }
        let (hl, total, src, proto) = (ip.header_len(), ip.total_len(), ip.src(), ip.protocol());
        let l4 = l2 + hl;
        match proto {
            ipv4::PROTO_UDP => {
                let udp = tri!(UdpDatagram::new_checked(&buf[l4..l2 + total]));
                if udp.dst_port() != DNS_PORT {
                    return Action::Exception;
                }
                if ipv4::is_bad_source(&src) || udp.src_port() == 0 {
                    return Action::Drop(DropCause::BadSource);
                }
                let query_len = udp.len() - udp::HEADER_LEN;
                let payload = l4 + udp::HEADER_LEN;
                let end = buf.len().min(l2 + IP_MTU);
                if payload + query_len > end {
                    // Larger than our MTU: the engine would read a cut query.
                    return Action::Drop(DropCause::Malformed);
                }
                let client = SocketAddr::new(IpAddr::V4(Ipv4Addr::from(src)), udp.src_port());
                let (headers, room) = buf.split_at_mut(payload);
                let room = &mut room[..end - payload];
                let Some(rlen) = dns(room, query_len, client, headers) else {
                    return Action::Drop(DropCause::NoAnswer);
                };
                let rlen = rlen.min(end - payload);
                self.finish_udp_v4(buf, l2, hl, rlen)
            }
            ipv4::PROTO_ICMP => {
                let msg_end = l2 + total;
                let msg = &buf[l4..msg_end];
                if msg.len() < icmp::ECHO_MIN_LEN || msg[0] != icmp::V4_ECHO_REQUEST {
                    return Action::Exception;
                }
                if ipv4::is_bad_source(&src) {
                    return Action::Drop(DropCause::BadSource);
                }
                if checksum::fold(checksum::sum(msg, 0)) != 0xffff {
                    return Action::Drop(DropCause::Malformed);
                }
                let msg = &mut buf[l4..msg_end];
                msg[0] = icmp::V4_ECHO_REPLY;
                put16(msg, icmp::CHECKSUM_OFFSET, 0);
                let c = checksum::finish(checksum::sum(msg, 0));
                put16(msg, icmp::CHECKSUM_OFFSET, c);
                tri!(Ipv4Packet::new_checked(&mut buf[l2..msg_end])).make_reply(total - hl, false);
                tri!(EthernetFrame::new_checked(&mut buf[..l2])).reply_from(&self.mac);
                Action::Reply {
                    len: msg_end,
                    kind: ReplyKind::EchoV4,
                    offload: TxOffload::default(),
                }
            }
            _ => Action::Exception,
        }
    }

    /// Turns a frame rebuilt from a forwarded query's saved headers (`buf[..headers]`)
    /// and the forwarder's `rlen`-byte reply right after them into the reply frame:
    /// the same address swap and checksums as an answer made in place.
    pub fn finish_forwarded(&self, buf: &mut [u8], headers: usize, rlen: usize) -> Action {
        let eth = tri!(EthernetFrame::new_checked(&buf[..headers.min(buf.len())]));
        let l2 = eth.header_len();
        match eth.ethertype() {
            ethernet::ETHERTYPE_IPV4 => {
                let hl = tri!(Ipv4Packet::new_checked(&buf[l2..])).header_len();
                self.finish_udp_v4(buf, l2, hl, rlen)
            }
            ethernet::ETHERTYPE_IPV6 => {
                let ip = tri!(Ipv6Packet::new_checked(&buf[l2..]));
                let (client, ours) = (ip.src(), ip.dst());
                self.finish_udp_v6(buf, l2, &ours, &client, rlen)
            }
            _ => Action::Drop(DropCause::Malformed),
        }
    }

    /// Headers of a DNS reply over IPv4 whose `rlen`-byte payload is in place.
    #[inline]
    fn finish_udp_v4(&self, buf: &mut [u8], l2: usize, hl: usize, rlen: usize) -> Action {
        let l4 = l2 + hl;
        let udp_len = udp::HEADER_LEN + rlen;
        let end = l4 + udp_len;
        tri!(EthernetFrame::new_checked(&mut buf[..l2])).reply_from(&self.mac);
        // Views over the whole room: the query's lengths may exceed the response's.
        let mut ip = tri!(Ipv4Packet::new_checked(&mut buf[l2..]));
        ip.make_reply(udp_len, self.hw.ipv4);
        let (src, dst) = (ip.src(), ip.dst());
        let mut udp = tri!(UdpDatagram::new_checked(&mut buf[l4..]));
        udp.make_reply(rlen);
        let pseudo = checksum::pseudo_v4(&src, &dst, ipv4::PROTO_UDP, udp_len as u16);
        let mut flags = 0;
        if self.hw.udp {
            // The NIC wants the folded, uncomplemented pseudo-header sum in the field.
            udp.set_checksum(checksum::fold(pseudo));
            flags |= consts::RTE_MBUF_F_TX_UDP_CKSUM;
        } else {
            let c = checksum::udp_field(checksum::sum(&buf[l4..end], pseudo));
            put16(&mut buf[l4..end], 6, c);
        }
        if self.hw.ipv4 {
            flags |= consts::RTE_MBUF_F_TX_IP_CKSUM;
        }
        if flags != 0 {
            flags |= consts::RTE_MBUF_F_TX_IPV4;
        }
        Action::Reply {
            len: end,
            kind: ReplyKind::Dns,
            offload: TxOffload {
                l2_len: l2 as u16,
                l3_len: hl as u16,
                flags,
            },
        }
    }

    fn ipv6<F>(&self, buf: &mut [u8], len: usize, l2: usize, dns: &mut F) -> Action
    where
        F: FnMut(&mut [u8], usize, SocketAddr, &[u8]) -> Option<usize>,
    {
        let ip = tri!(Ipv6Packet::new_checked(&buf[l2..len]));
        let (src, dst, next, hops) = (ip.src(), ip.dst(), ip.next_header(), ip.hop_limit());
        let l4 = l2 + ipv6::HEADER_LEN;
        let end = l4 + ip.payload_len();
        match next {
            ipv6::NEXT_ICMPV6 => self.icmpv6(buf, l2, end, src, dst, hops),
            ipv6::NEXT_UDP if self.v6.contains(&dst) => {
                let udp = tri!(UdpDatagram::new_checked(&buf[l4..end]));
                if udp.dst_port() != DNS_PORT {
                    return Action::Exception;
                }
                if ipv6::is_multicast(&src) || ipv6::is_unspecified(&src) || udp.src_port() == 0 {
                    return Action::Drop(DropCause::BadSource);
                }
                if udp.checksum() == 0 {
                    // Mandatory over IPv6 (RFC 8200 section 8.1).
                    return Action::Drop(DropCause::Malformed);
                }
                let query_len = udp.len() - udp::HEADER_LEN;
                let payload = l4 + udp::HEADER_LEN;
                let room_end = buf.len().min(l2 + IP_MTU);
                if payload + query_len > room_end {
                    return Action::Drop(DropCause::Malformed);
                }
                let client = SocketAddr::new(IpAddr::V6(Ipv6Addr::from(src)), udp.src_port());
                let (headers, room) = buf.split_at_mut(payload);
                let room = &mut room[..room_end - payload];
                let Some(rlen) = dns(room, query_len, client, headers) else {
                    return Action::Drop(DropCause::NoAnswer);
                };
                let rlen = rlen.min(room_end - payload);
                self.finish_udp_v6(buf, l2, &dst, &src, rlen)
            }
            _ => Action::Exception,
        }
    }

    #[inline]
    fn finish_udp_v6(
        &self,
        buf: &mut [u8],
        l2: usize,
        ours: &[u8; 16],
        client: &[u8; 16],
        rlen: usize,
    ) -> Action {
        let l4 = l2 + ipv6::HEADER_LEN;
        let udp_len = udp::HEADER_LEN + rlen;
        let end = l4 + udp_len;
        tri!(EthernetFrame::new_checked(&mut buf[..l2])).reply_from(&self.mac);
        // Views over the whole room: the query's lengths may exceed the response's.
        tri!(Ipv6Packet::new_checked(&mut buf[l2..])).set_header(
            ours,
            client,
            ipv6::NEXT_UDP,
            ipv6::DEFAULT_HOP_LIMIT,
            udp_len,
        );
        let mut udp = tri!(UdpDatagram::new_checked(&mut buf[l4..]));
        udp.make_reply(rlen);
        let pseudo = checksum::pseudo_v6(ours, client, ipv6::NEXT_UDP, udp_len as u32);
        let mut flags = 0;
        if self.hw.udp {
            udp.set_checksum(checksum::fold(pseudo));
            flags = consts::RTE_MBUF_F_TX_IPV6 | consts::RTE_MBUF_F_TX_UDP_CKSUM;
        } else {
            let c = checksum::udp_field(checksum::sum(&buf[l4..end], pseudo));
            put16(&mut buf[l4..end], 6, c);
        }
        Action::Reply {
            len: end,
            kind: ReplyKind::Dns,
            offload: TxOffload {
                l2_len: l2 as u16,
                l3_len: ipv6::HEADER_LEN as u16,
                flags,
            },
        }
    }

    fn icmpv6(
        &self,
        buf: &mut [u8],
        l2: usize,
        end: usize,
        src: [u8; 16],
        dst: [u8; 16],
        hops: u8,
    ) -> Action {
        let l4 = l2 + ipv6::HEADER_LEN;
        let msg = &buf[l4..end];
        if msg.len() < 4 {
            return Action::Drop(DropCause::Malformed);
        }
        let pseudo = checksum::pseudo_v6(&src, &dst, ipv6::NEXT_ICMPV6, msg.len() as u32);
        let checksum_ok = || checksum::fold(checksum::sum(msg, pseudo)) == 0xffff;
        match msg[0] {
            icmp::V6_NEIGHBOR_SOLICIT => {
                if msg.len() < icmp::ND_FIXED_LEN {
                    return Action::Drop(DropCause::Malformed);
                }
                let mut target = [0u8; 16];
                target.copy_from_slice(&msg[icmp::ND_TARGET_OFFSET..icmp::ND_FIXED_LEN]);
                if !self.v6.contains(&target) {
                    return Action::Exception;
                }
                // RFC 4861 section 7.1.1 validity checks.
                let options = &msg[icmp::ND_FIXED_LEN..];
                let dad = ipv6::is_unspecified(&src);
                if hops != 255
                    || msg[1] != 0
                    || !checksum_ok()
                    || !icmp::nd_options_valid(options)
                    || (dad && icmp::nd_has_source_ll(options))
                {
                    return Action::Drop(DropCause::Malformed);
                }
                if ipv6::is_multicast(&src) {
                    return Action::Drop(DropCause::BadSource);
                }
                self.neighbor_advert(buf, l2, &target, if dad { None } else { Some(&src) })
            }
            icmp::V6_ECHO_REQUEST if self.v6.contains(&dst) => {
                if msg.len() < icmp::ECHO_MIN_LEN {
                    return Action::Drop(DropCause::Malformed);
                }
                if ipv6::is_multicast(&src) || ipv6::is_unspecified(&src) {
                    return Action::Drop(DropCause::BadSource);
                }
                if !checksum_ok() {
                    return Action::Drop(DropCause::Malformed);
                }
                let msg_len = msg.len();
                tri!(Ipv6Packet::new_checked(&mut buf[l2..end])).set_header(
                    &dst,
                    &src,
                    ipv6::NEXT_ICMPV6,
                    ipv6::DEFAULT_HOP_LIMIT,
                    msg_len,
                );
                let msg = &mut buf[l4..end];
                msg[0] = icmp::V6_ECHO_REPLY;
                put16(msg, icmp::CHECKSUM_OFFSET, 0);
                // Same pseudo-header: addresses swapped, same sum.
                let c = checksum::finish(checksum::sum(msg, pseudo));
                put16(msg, icmp::CHECKSUM_OFFSET, c);
                tri!(EthernetFrame::new_checked(&mut buf[..l2])).reply_from(&self.mac);
                Action::Reply {
                    len: end,
                    kind: ReplyKind::EchoV6,
                    offload: TxOffload::default(),
                }
            }
            _ => Action::Exception,
        }
    }

    /// Write "`target` is at our MAC" over the solicitation in `buf`, to `solicitor`
    /// (solicited) or to all nodes (reply to duplicate address detection).
    fn neighbor_advert(
        &self,
        buf: &mut [u8],
        l2: usize,
        target: &[u8; 16],
        solicitor: Option<&[u8; 16]>,
    ) -> Action {
        let l4 = l2 + ipv6::HEADER_LEN;
        let end = l4 + icmp::NA_LEN;
        if buf.len() < end {
            return Action::Drop(DropCause::Malformed);
        }
        let (ip_dst, flags) = match solicitor {
            Some(s) => (*s, icmp::NA_FLAG_SOLICITED | icmp::NA_FLAG_OVERRIDE),
            None => (ipv6::ALL_NODES, icmp::NA_FLAG_OVERRIDE),
        };
        let mut eth = tri!(EthernetFrame::new_checked(&mut buf[..l2]));
        let eth_dst = match solicitor {
            Some(_) => eth.src(),
            None => ipv6::multicast_mac(&ipv6::ALL_NODES),
        };
        eth.set_dst(&eth_dst);
        eth.set_src(&self.mac);
        // Write the header fields directly: the buffer may be longer than the NS was.
        let ip = &mut buf[l2..l4];
        ip[0..4].copy_from_slice(&[0x60, 0, 0, 0]);
        put16(ip, 4, icmp::NA_LEN as u16);
        ip[6] = ipv6::NEXT_ICMPV6;
        ip[7] = 255;
        ip[8..24].copy_from_slice(target);
        ip[24..40].copy_from_slice(&ip_dst);
        let msg = &mut buf[l4..end];
        msg[0] = icmp::V6_NEIGHBOR_ADVERT;
        msg[1] = 0;
        msg[2..8].copy_from_slice(&[0, 0, flags, 0, 0, 0]);
        msg[8..24].copy_from_slice(target);
        msg[24] = icmp::OPT_TARGET_LL_ADDR;
        msg[25] = 1;
        msg[26..32].copy_from_slice(&self.mac);
        let pseudo = checksum::pseudo_v6(target, &ip_dst, ipv6::NEXT_ICMPV6, icmp::NA_LEN as u32);
        let c = checksum::finish(checksum::sum(msg, pseudo));
        put16(msg, icmp::CHECKSUM_OFFSET, c);
        Action::Reply {
            len: end,
            kind: ReplyKind::NeighborAdvert,
            offload: TxOffload::default(),
        }
    }
}

#[cfg(test)]
#[path = "responder_tests.rs"]
mod tests;
