//! The bodies of the frame and engine fuzz targets, as functions that also report which
//! path an input took, so `tests/corpus.rs` can check that the committed seed corpora
//! reach the paths worth fuzzing (the DNS answer path of the DPDK responder, referrals,
//! truncation, EDNS...).

use crate::{answer, dns_frame, fix_checksums, sum, OUR_MAC, OUR_V4, OUR_V6};
use skylane_dataplane::dpdk::{Action, HwChecksum, ReplyKind, Responder};
use std::net::{IpAddr, SocketAddr};

/// An mbuf's data room.
const ROOM: usize = 2048;

/// Where a frame went: the responder's decision, and whether it was IPv6 or VLAN-tagged
/// (for the wrapped modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameOutcome {
    pub action: Action,
    pub v6: bool,
    pub vlan: bool,
}

/// `dpdk::Responder::handle` on one frame built from `data`. The first byte picks how the
/// rest becomes a frame: a raw frame (sent to our MAC unless bit 7 is set) as is or with
/// its IPv4/UDP checksums fixed up, or a DNS payload wrapped in a valid IPv4/IPv6
/// (optionally VLAN-tagged) UDP frame to port 53; bit 6 picks hardware checksums.
/// Panics when a reply breaks the responder's promises.
pub fn dpdk_responder(data: &[u8]) -> Option<FrameOutcome> {
    let (&mode, rest) = data.split_first()?;
    let m = mode % 6;
    let frame = match m {
        0 | 1 => {
            let mut f = rest.to_vec();
            if f.len() >= 6 && mode & 0x80 == 0 {
                f[..6].copy_from_slice(&OUR_MAC);
            }
            if m == 1 {
                fix_checksums(&mut f);
            }
            f
        }
        _ => {
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
        return None;
    }
    let hw = HwChecksum {
        ipv4: mode & 0x40 != 0,
        udp: mode & 0x40 != 0,
    };
    let r = Responder::new(OUR_MAC, &[IpAddr::from(OUR_V4), IpAddr::from(OUR_V6)], hw);
    let mut buf = vec![0u8; ROOM];
    buf[..frame.len()].copy_from_slice(&frame);
    let mut dns = |payload: &mut [u8], qlen: usize, peer: SocketAddr, headers: &[u8]| {
        assert!(qlen <= payload.len() && !headers.is_empty());
        answer(payload, qlen, peer.ip(), false, 1)
    };
    let action = r.handle(&mut buf, frame.len(), &mut dns);
    if let Action::Reply { len, kind, offload } = action {
        assert!((14..=ROOM).contains(&len));
        assert_eq!(&buf[6..12], &OUR_MAC, "replies come from our MAC");
        if kind == ReplyKind::Dns && offload.flags == 0 {
            // The checksums of a software-checksummed DNS reply verify.
            check_udp(&buf[..len]);
        }
    }
    let l2 = if frame.get(12..14) == Some(&[0x81, 0x00]) {
        18
    } else {
        14
    };
    Some(FrameOutcome {
        action,
        v6: frame.get(l2 - 2..l2) == Some(&[0x86, 0xdd]),
        vlan: l2 == 18,
    })
}

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

/// A response's header fields that tell the engine's paths apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    pub rcode: u8,
    pub aa: bool,
    pub tc: bool,
    pub answers: u16,
    pub authority: u16,
    /// The response carries an OPT record (EDNS).
    pub additional: u16,
}

/// `engine::answer` on the query in `data[1..]`; the first byte picks the buffer size
/// (512, 1232, 4096, 65535), the peer's family (bit 2) and UDP or TCP (bit 3).
pub fn engine_answer(data: &[u8]) -> Option<Reply> {
    let (&mode, query) = data.split_first()?;
    let room = [512usize, 1232, 4096, 65535][usize::from(mode & 3)].max(query.len());
    let mut buf = vec![0u8; room];
    buf[..query.len()].copy_from_slice(query);
    let peer = if mode & 4 == 0 {
        IpAddr::from([10, 0, 0, 9])
    } else {
        IpAddr::from([0xfd00, 0, 0, 0, 0, 0, 0, 9])
    };
    let len = answer(&mut buf, query.len(), peer, mode & 8 != 0, u64::from(mode))?;
    let h = &buf[..len];
    let count = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
    Some(Reply {
        rcode: h[3] & 0x0f,
        aa: h[2] & 0x04 != 0,
        tc: h[2] & 0x02 != 0,
        answers: count(6),
        authority: count(8),
        additional: count(10),
    })
}
