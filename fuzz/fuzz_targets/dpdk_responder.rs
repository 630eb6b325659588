//! The DPDK responder on whole Ethernet frames, answering with the real engine. The
//! first byte picks how the rest becomes a frame: a raw frame (sent to our MAC) as is
//! or with its IPv4/UDP checksums fixed up, or a DNS payload wrapped in a valid
//! IPv4/IPv6 (optionally VLAN-tagged) UDP frame to port 53, so the DNS path is reached.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skylane_dataplane::dpdk::{Action, HwChecksum, ReplyKind, Responder};
use skylane_fuzz::{answer, dns_frame, fix_checksums, sum, OUR_MAC, OUR_V4, OUR_V6};
use std::net::{IpAddr, SocketAddr};

/// An mbuf's data room.
const ROOM: usize = 2048;

fn responder(hw: HwChecksum) -> Responder {
    Responder::new(OUR_MAC, &[IpAddr::from(OUR_V4), IpAddr::from(OUR_V6)], hw)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let frame = match mode % 6 {
        0 | 1 => {
            let mut f = rest.to_vec();
            if f.len() >= 6 && mode & 0x80 == 0 {
                f[..6].copy_from_slice(&OUR_MAC);
            }
            if mode % 6 == 1 {
                fix_checksums(&mut f);
            }
            f
        }
        m => {
            let (src, sport) = match rest {
                [a, b, c, ..] => (*a, u16::from_be_bytes([*b, *c])),
                _ => (2, 40000),
            };
            let payload = rest.get(3..).unwrap_or_default();
            let vlan = (m >= 4).then_some(u16::from(mode >> 3));
            dns_frame(m % 2 == 1, vlan, src, sport, payload)
        }
    };
    if frame.len() > ROOM {
        return;
    }
    let hw = HwChecksum {
        ipv4: mode & 0x40 != 0,
        udp: mode & 0x40 != 0,
    };
    let r = responder(hw);
    let mut buf = vec![0u8; ROOM];
    buf[..frame.len()].copy_from_slice(&frame);
    let mut dns = |payload: &mut [u8], qlen: usize, peer: SocketAddr, headers: &[u8]| {
        assert!(qlen <= payload.len() && !headers.is_empty());
        answer(payload, qlen, peer.ip(), false, 1)
    };
    let action = r.handle(&mut buf, frame.len(), &mut dns);
    if let Action::Reply { len, kind, offload } = action {
        assert!(len <= ROOM && len >= 14);
        assert_eq!(&buf[6..12], &OUR_MAC, "replies come from our MAC");
        if kind == ReplyKind::Dns && offload.flags == 0 {
            // The checksums of a software-checksummed DNS reply verify.
            check_udp(&buf[..len]);
        }
    }
});

/// The reply's transport checksum verifies over its final length.
fn check_udp(f: &[u8]) {
    let l2 = if f[12..14] == [0x81, 0x00] { 18 } else { 14 };
    if f[l2 - 2..l2] == [0x86, 0xdd] {
        let l4 = l2 + 40;
        let mut pseudo = [0u8; 40];
        pseudo[..32].copy_from_slice(&f[l2 + 8..l2 + 40]);
        pseudo[32..36].copy_from_slice(&((f.len() - l4) as u32).to_be_bytes());
        pseudo[39] = 17;
        assert_eq!(sum(&[&pseudo, &f[l4..]]), 0xffff, "UDP/IPv6 checksum");
    } else {
        let hl = usize::from(f[l2] & 0x0f) * 4;
        assert_eq!(sum(&[&f[l2..l2 + hl]]), 0xffff, "IPv4 header checksum");
        let l4 = l2 + hl;
        let mut pseudo = [0u8; 12];
        pseudo[..8].copy_from_slice(&f[l2 + 12..l2 + 20]);
        pseudo[9] = 17;
        pseudo[10..12].copy_from_slice(&((f.len() - l4) as u16).to_be_bytes());
        if f[l4 + 6..l4 + 8] != [0, 0] {
            assert_eq!(sum(&[&pseudo, &f[l4..]]), 0xffff, "UDP/IPv4 checksum");
        }
    }
}
