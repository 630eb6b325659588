//! Tests of [`super::Responder`]: hand-built frames in, replies checked field by field
//! with an independent (naive) checksum.

use super::*;
use proptest::prelude::*;
use std::net::Ipv6Addr;

#[path = "responder_tests_l2.rs"]
mod l2;

const OUR_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const PEER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
const OUR_V4: [u8; 4] = [10, 99, 0, 1];
const PEER_V4: [u8; 4] = [10, 99, 0, 2];
const OUR_V6: [u8; 16] = [0xfd, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const PEER_V6: [u8; 16] = [0xfd, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
/// Buffer size handed to the responder (an mbuf's data room).
const ROOM: usize = 2048;

fn responder(hw: HwChecksum) -> Responder {
    Responder::new(OUR_MAC, &[IpAddr::from(OUR_V4), IpAddr::from(OUR_V6)], hw)
}

/// Plain RFC 1071 checksum, written independently of `net::checksum`.
fn naive_sum(parts: &[&[u8]]) -> u16 {
    let mut bytes = Vec::new();
    for p in parts {
        bytes.extend_from_slice(p);
    }
    if bytes.len() % 2 == 1 {
        bytes.push(0);
    }
    let mut s: u32 = 0;
    for w in bytes.chunks(2) {
        s += u32::from(w[0]) << 8 | u32::from(w[1]);
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

fn eth(dst: [u8; 6], src: [u8; 6], vlan: Option<u16>, ethertype: u16) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    if let Some(tci) = vlan {
        f.extend_from_slice(&0x8100u16.to_be_bytes());
        f.extend_from_slice(&tci.to_be_bytes());
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    f
}

fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 61, proto, 0, 0];
    h[2..4].copy_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    let c = !naive_sum(&[&h]);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h.extend_from_slice(payload);
    h
}

fn ipv6(src: [u8; 16], dst: [u8; 16], next: u8, hops: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0];
    h.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    h.extend_from_slice(&[next, hops]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    h.extend_from_slice(payload);
    h
}

fn pseudo_v4(src: &[u8; 4], dst: &[u8; 4], proto: u8, len: usize) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(src);
    p.extend_from_slice(dst);
    p.extend_from_slice(&[0, proto]);
    p.extend_from_slice(&(len as u16).to_be_bytes());
    p
}

fn pseudo_v6(src: &[u8; 16], dst: &[u8; 16], next: u8, len: usize) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(src);
    p.extend_from_slice(dst);
    p.extend_from_slice(&(len as u32).to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, next]);
    p
}

fn udp(sport: u16, dport: u16, payload: &[u8], pseudo: &[u8]) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    let c = !naive_sum(&[pseudo, &u]);
    u[6..8].copy_from_slice(&(if c == 0 { 0xffff } else { c }).to_be_bytes());
    u
}

fn icmp(msg_type: u8, body: &[u8], pseudo: &[u8]) -> Vec<u8> {
    let mut m = vec![msg_type, 0, 0, 0];
    m.extend_from_slice(body);
    let c = !naive_sum(&[pseudo, &m]);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

fn dns_query_v4(vlan: Option<u16>, query: &[u8]) -> Vec<u8> {
    let pseudo = pseudo_v4(&PEER_V4, &OUR_V4, 17, 8 + query.len());
    let mut f = eth(OUR_MAC, PEER_MAC, vlan, 0x0800);
    f.extend(ipv4(PEER_V4, OUR_V4, 17, &udp(40000, 53, query, &pseudo)));
    f
}

fn dns_query_v6(query: &[u8]) -> Vec<u8> {
    let pseudo = pseudo_v6(&PEER_V6, &OUR_V6, 17, 8 + query.len());
    let mut f = eth(OUR_MAC, PEER_MAC, None, 0x86dd);
    f.extend(ipv6(
        PEER_V6,
        OUR_V6,
        17,
        64,
        &udp(40001, 53, query, &pseudo),
    ));
    f
}

/// What the fake DNS function was given: the query and the client address.
type Seen = (Vec<u8>, IpAddr);

/// Run the responder over `frame` in a room-sized buffer with a fake DNS function that
/// replaces the payload by `response` and records what it saw.
fn run(r: &Responder, frame: &[u8], response: Option<&[u8]>) -> (Action, Vec<u8>, Option<Seen>) {
    let mut buf = vec![0u8; ROOM];
    buf[..frame.len()].copy_from_slice(frame);
    let mut seen = None;
    let mut dns = |payload: &mut [u8], qlen: usize, peer: std::net::SocketAddr, _: &[u8]| {
        seen = Some((payload[..qlen].to_vec(), peer.ip()));
        let resp = response?;
        payload[..resp.len()].copy_from_slice(resp);
        Some(resp.len())
    };
    let action = r.handle(&mut buf, frame.len(), &mut dns);
    let out = match action {
        Action::Reply { len, .. } => buf[..len].to_vec(),
        _ => buf[..frame.len()].to_vec(),
    };
    (action, out, seen)
}

fn check_dns_reply_v4(out: &[u8], l2: usize, response: &[u8]) {
    assert_eq!(&out[0..6], &PEER_MAC);
    assert_eq!(&out[6..12], &OUR_MAC);
    let ip = &out[l2..];
    assert_eq!(&ip[12..16], &OUR_V4, "source is our address");
    assert_eq!(&ip[16..20], &PEER_V4);
    assert_eq!(
        usize::from(u16::from_be_bytes([ip[2], ip[3]])),
        28 + response.len()
    );
    assert_eq!(naive_sum(&[&ip[..20]]), 0xffff, "IPv4 header checksum");
    let u = &ip[20..];
    assert_eq!(u16::from_be_bytes([u[0], u[1]]), 53);
    assert_eq!(u16::from_be_bytes([u[2], u[3]]), 40000);
    assert_eq!(
        usize::from(u16::from_be_bytes([u[4], u[5]])),
        8 + response.len()
    );
    let pseudo = pseudo_v4(&OUR_V4, &PEER_V4, 17, u.len());
    assert_eq!(naive_sum(&[&pseudo, u]), 0xffff, "UDP checksum");
    assert_eq!(&u[8..], response);
    assert_eq!(out.len(), l2 + 28 + response.len());
}

#[test]
fn dns_over_ipv4_answered_in_place_longer_and_shorter() {
    let r = responder(HwChecksum::default());
    let query =
        b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x00\x00\x01\x00\x01";
    for response in [&[0xabu8; 300][..], &[0xcd; 13][..], &[0x11; 1][..]] {
        for vlan in [None, Some(0x0064)] {
            let frame = dns_query_v4(vlan, query);
            let (action, out, seen) = run(&r, &frame, Some(response));
            let l2 = if vlan.is_some() { 18 } else { 14 };
            match action {
                Action::Reply { len, kind, offload } => {
                    assert_eq!(kind, ReplyKind::Dns);
                    assert_eq!(len, out.len());
                    assert_eq!(offload.flags, 0);
                }
                other => panic!("expected a reply, got {other:?}"),
            }
            let (q, client) = seen.expect("engine called");
            assert_eq!(q, query);
            assert_eq!(client, IpAddr::from(PEER_V4));
            check_dns_reply_v4(&out, l2, response);
            if vlan.is_some() {
                assert_eq!(&out[12..16], &[0x81, 0x00, 0x00, 0x64], "VLAN tag kept");
            }
        }
    }
}

/// Found by the dpdk_responder fuzz target: a (VLAN-tagged) query in an IP packet larger
/// than the MTU reached the engine with a query longer than its room, cut short.
#[test]
fn dns_query_larger_than_the_mtu_is_dropped_before_the_engine() {
    let r = responder(HwChecksum::default());
    let query = vec![0u8; IP_MTU - 20 - 8 + 1];
    for frame in [
        dns_query_v4(None, &query),
        dns_query_v4(Some(7), &query),
        dns_query_v6(&query[40 - 20..]),
    ] {
        assert!(frame.len() <= ROOM);
        let (action, _, seen) = run(&r, &frame, Some(&[0u8; 12]));
        assert_eq!(action, Action::Drop(DropCause::Malformed));
        assert!(seen.is_none(), "the engine saw a cut query");
    }
    // At the MTU exactly, it is answered.
    let (action, _, seen) = run(&r, &dns_query_v4(Some(7), &query[1..]), Some(&[0u8; 12]));
    assert!(matches!(
        action,
        Action::Reply {
            kind: ReplyKind::Dns,
            ..
        }
    ));
    assert_eq!(seen.unwrap().0.len(), query.len() - 1);
}

#[test]
fn dns_over_ipv6_has_valid_mandatory_checksum() {
    let r = responder(HwChecksum::default());
    let query = [7u8; 29];
    let response = [9u8; 77];
    let (action, out, seen) = run(&r, &dns_query_v6(&query), Some(&response));
    assert!(matches!(
        action,
        Action::Reply {
            kind: ReplyKind::Dns,
            ..
        }
    ));
    assert_eq!(seen.unwrap().1, IpAddr::from(PEER_V6));
    let ip = &out[14..];
    assert_eq!(ip[0] >> 4, 6);
    assert_eq!(
        usize::from(u16::from_be_bytes([ip[4], ip[5]])),
        8 + response.len()
    );
    assert_eq!(&ip[8..24], &OUR_V6);
    assert_eq!(&ip[24..40], &PEER_V6);
    let u = &ip[40..];
    assert_ne!(u16::from_be_bytes([u[6], u[7]]), 0);
    let pseudo = pseudo_v6(&OUR_V6, &PEER_V6, 17, u.len());
    assert_eq!(naive_sum(&[&pseudo, u]), 0xffff);
    assert_eq!(&u[8..], &response);
}

/// A forwarded query's reply, rebuilt later from the saved headers, is the
/// same frame the responder makes when it answers in place.
#[test]
fn forwarded_reply_from_saved_headers_equals_the_in_place_reply() {
    let r = responder(HwChecksum::default());
    let query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01a\x00\x00\x01\x00\x01";
    let response = b"\x12\x34\x81\x80\x00\x01\x00\x00\x00\x00\x00\x00\x01a\x00\x00\x01\x00\x01";
    for frame in [dns_query_v4(Some(7), query), dns_query_v6(query)] {
        let (_, in_place, _) = run(&r, &frame, Some(response));
        let mut buf = vec![0u8; ROOM];
        buf[..frame.len()].copy_from_slice(&frame);
        let mut saved = Vec::new();
        let mut forward = |_: &mut [u8], _: usize, peer: std::net::SocketAddr, headers: &[u8]| {
            assert!(matches!(peer.port(), 40000 | 40001), "{peer}");
            saved = headers.to_vec();
            None
        };
        assert_eq!(
            r.handle(&mut buf, frame.len(), &mut forward),
            Action::Drop(DropCause::NoAnswer)
        );
        let mut rebuilt = vec![0u8; ROOM];
        rebuilt[..saved.len()].copy_from_slice(&saved);
        rebuilt[saved.len()..saved.len() + response.len()].copy_from_slice(response);
        let Action::Reply { len, kind, .. } =
            r.finish_forwarded(&mut rebuilt, saved.len(), response.len())
        else {
            panic!("no reply");
        };
        assert_eq!(kind, ReplyKind::Dns);
        assert_eq!(&rebuilt[..len], &in_place[..]);
    }
}

#[test]
fn hardware_checksum_leaves_pseudo_header_sum_and_flags() {
    let r = responder(HwChecksum {
        ipv4: true,
        udp: true,
    });
    let response = [5u8; 40];
    let (action, out, _) = run(&r, &dns_query_v4(None, &[1u8; 20]), Some(&response));
    let Action::Reply { offload, .. } = action else {
        panic!("expected a reply")
    };
    assert_eq!((offload.l2_len, offload.l3_len), (14, 20));
    let want = dpdk_sys::consts::RTE_MBUF_F_TX_IPV4
        | dpdk_sys::consts::RTE_MBUF_F_TX_IP_CKSUM
        | dpdk_sys::consts::RTE_MBUF_F_TX_UDP_CKSUM;
    assert_eq!(offload.flags, want);
    assert_eq!(&out[24..26], &[0, 0], "IP checksum left to the NIC");
    let pseudo = pseudo_v4(&OUR_V4, &PEER_V4, 17, 48);
    assert_eq!(
        u16::from_be_bytes([out[40], out[41]]),
        naive_sum(&[&pseudo])
    );
}

fn neighbor_solicit(src: [u8; 16], hops: u8, target: [u8; 16], sll: bool) -> Vec<u8> {
    let solicited: [u8; 16] = [
        0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, target[13], target[14], target[15],
    ];
    let mut body = vec![0, 0, 0, 0];
    body.extend_from_slice(&target);
    if sll {
        body.extend_from_slice(&[1, 1]);
        body.extend_from_slice(&PEER_MAC);
    }
    let pseudo = pseudo_v6(&src, &solicited, 58, 4 + body.len());
    let mut f = eth([0x33, 0x33, 0xff, 0, 0, 1], PEER_MAC, None, 0x86dd);
    f.extend(ipv6(src, solicited, 58, hops, &icmp(135, &body, &pseudo)));
    f
}

#[test]
fn every_truncation_of_valid_frames_is_handled() {
    let r = responder(HwChecksum::default());
    let frames = [
        dns_query_v4(Some(5), &[1u8; 30]),
        dns_query_v6(&[2u8; 30]),
        neighbor_solicit(PEER_V6, 255, OUR_V6, true),
    ];
    for f in &frames {
        for cut in 0..f.len() {
            // Never panics; a truncated frame is never answered.
            let (action, _, _) = run(&r, &f[..cut], Some(&[0u8; 50]));
            assert!(
                !matches!(action, Action::Reply { .. }),
                "truncated at {cut}: {action:?}"
            );
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_frames_never_panic(
        mut bytes in proptest::collection::vec(any::<u8>(), 0..200),
        kind in 0u8..4,
    ) {
        // Steer some inputs past the first checks.
        if bytes.len() >= 14 {
            bytes[0..6].copy_from_slice(&OUR_MAC);
            let et: u16 = [0x0800, 0x86dd, 0x0806, 0x8100][kind as usize];
            bytes[12..14].copy_from_slice(&et.to_be_bytes());
        }
        let r = responder(HwChecksum::default());
        let (action, out, _) = run(&r, &bytes, Some(&[0u8; 700]));
        if let Action::Reply { len, .. } = action {
            prop_assert!(len <= ROOM);
            prop_assert_eq!(out.len(), len);
        }
    }
}

/// A wire query for `name`/`qtype` with ID 0x4242, RD set, no EDNS.
fn wire_query(name: &str, qtype: u16) -> Vec<u8> {
    let mut q = vec![0x42, 0x42, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.trim_end_matches('.').split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    q
}

/// The frame path with the real answer engine and snapshot: what the lcore loop runs.
#[test]
fn real_engine_answers_through_the_responder() {
    use crate::engine::{self, Client, EngineState, Transport, Verdict};
    use crate::name::Name;
    use crate::record::{rtype, RData, Record};
    use crate::snapshot::{Snapshot, ZoneConfig};
    use std::sync::Arc;

    let zone = ZoneConfig {
        domains: vec![Name::from_ascii("svc.test.").unwrap()],
        ..ZoneConfig::default()
    };
    let name = Name::from_ascii("api.svc.test.").unwrap();
    let records = vec![
        Record::new(name.clone(), 30, RData::A("10.1.2.3".parse().unwrap())),
        Record::new(name, 30, RData::Aaaa("fd00::123".parse().unwrap())),
    ];
    let snap = Snapshot::build(Arc::new(zone), records);
    let mut state = EngineState::new(7, 1232);
    let r = responder(HwChecksum::default());
    let mut dns = |payload: &mut [u8], qlen: usize, peer: std::net::SocketAddr, _: &[u8]| {
        let client = Client {
            addr: peer.ip(),
            transport: Transport::Udp,
            port: 0,
            via: 0,
        };
        match engine::answer(&snap, payload, qlen, &client, &mut state) {
            Verdict::Reply(reply) => Some(reply.len),
            Verdict::Drop(_) | Verdict::Forward(_) => None,
        }
    };
    let cases = [
        (
            dns_query_v4(None, &wire_query("api.svc.test", rtype::A)),
            0u8,
            &[10u8, 1, 2, 3][..],
        ),
        (
            dns_query_v6(&wire_query("API.svc.test", rtype::AAAA)),
            0,
            &"fd00::123".parse::<Ipv6Addr>().unwrap().octets()[..],
        ),
        (
            dns_query_v4(Some(9), &wire_query("nope.svc.test", rtype::A)),
            3,
            &[][..],
        ),
    ];
    for (frame, rcode, rdata) in cases {
        let mut buf = vec![0u8; ROOM];
        buf[..frame.len()].copy_from_slice(&frame);
        let Action::Reply { len, kind, .. } = r.handle(&mut buf, frame.len(), &mut dns) else {
            panic!("no reply")
        };
        assert_eq!(kind, ReplyKind::Dns);
        let l2 = if frame[12] == 0x81 { 18 } else { 14 };
        let v6 = frame[l2 - 2..l2] == [0x86, 0xdd];
        let dns_at = l2 + if v6 { 48 } else { 28 };
        let msg = &buf[dns_at..len];
        assert_eq!(&msg[0..2], &[0x42, 0x42], "ID echoed");
        assert_eq!(msg[2] & 0x84, 0x84, "QR and AA set");
        assert_eq!(msg[3] & 0x0f, rcode);
        if !rdata.is_empty() {
            assert!(
                msg.windows(rdata.len()).any(|w| w == rdata),
                "answer present"
            );
        }
        // Transport checksums are valid over the final lengths.
        let l4 = dns_at - 8;
        let pseudo = if v6 {
            let mut src = [0u8; 16];
            src.copy_from_slice(&buf[l2 + 8..l2 + 24]);
            let mut dst = [0u8; 16];
            dst.copy_from_slice(&buf[l2 + 24..l2 + 40]);
            pseudo_v6(&src, &dst, 17, len - l4)
        } else {
            let mut src = [0u8; 4];
            src.copy_from_slice(&buf[l2 + 12..l2 + 16]);
            let mut dst = [0u8; 4];
            dst.copy_from_slice(&buf[l2 + 16..l2 + 20]);
            pseudo_v4(&src, &dst, 17, len - l4)
        };
        assert_eq!(naive_sum(&[&pseudo, &buf[l4..len]]), 0xffff);
    }
}
