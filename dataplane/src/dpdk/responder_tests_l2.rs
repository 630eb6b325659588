//! Tests of [`super::super::Responder`] below DNS: ARP, ICMP echo, neighbour discovery, and
//! what goes to the kernel or is dropped. Frame builders come from the parent test module.

use super::*;

/// An ARP packet (`op` 1: request, 2: reply) from the peer about `target`, padded.
fn arp_frame(dst: [u8; 6], op: u8, target: [u8; 4]) -> Vec<u8> {
    let mut f = eth(dst, PEER_MAC, None, 0x0806);
    f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, op]);
    f.extend_from_slice(&PEER_MAC);
    f.extend_from_slice(&PEER_V4);
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&target);
    f.resize(60, 0); // Ethernet padding
    f
}

#[test]
fn arp_request_for_our_address_is_answered() {
    let r = responder(HwChecksum::default());
    let f = arp_frame([0xff; 6], 1, OUR_V4);
    let (action, out, _) = run(&r, &f, None);
    assert!(matches!(
        action,
        Action::Reply {
            kind: ReplyKind::Arp,
            len: 42,
            ..
        }
    ));
    assert_eq!(&out[0..6], &PEER_MAC);
    assert_eq!(&out[6..12], &OUR_MAC);
    assert_eq!(&out[20..22], &[0, 2], "reply");
    assert_eq!(&out[22..28], &OUR_MAC);
    assert_eq!(&out[28..32], &OUR_V4);
    assert_eq!(&out[32..38], &PEER_MAC);
    assert_eq!(&out[38..42], &PEER_V4);

    // A broadcast request for someone else: dropped first, neither ours nor the
    // kernel's; sent to our MAC: the kernel's. A gratuitous announcement of our
    // address: the kernel's.
    let mut other = f.clone();
    other[38..42].copy_from_slice(&[10, 99, 0, 7]);
    assert_eq!(run(&r, &other, None).0, Action::Drop(DropCause::Unneeded));
    other[0..6].copy_from_slice(&OUR_MAC);
    assert_eq!(run(&r, &other, None).0, Action::Exception);
    let mut garp = f.clone();
    garp[28..32].copy_from_slice(&OUR_V4);
    assert_eq!(run(&r, &garp, None).0, Action::Exception);
    let mut reply = f;
    reply[21] = 2;
    assert_eq!(run(&r, &reply, None).0, Action::Exception);
}

#[test]
fn icmp_echo_v4_and_v6_answered() {
    let r = responder(HwChecksum::default());
    let body = [0x42u8; 36];
    let mut f = eth(OUR_MAC, PEER_MAC, None, 0x0800);
    f.extend(ipv4(PEER_V4, OUR_V4, 1, &icmp(8, &body, &[])));
    let (action, out, _) = run(&r, &f, None);
    assert!(matches!(
        action,
        Action::Reply {
            kind: ReplyKind::EchoV4,
            ..
        }
    ));
    assert_eq!(out.len(), f.len());
    assert_eq!(naive_sum(&[&out[14..34]]), 0xffff);
    assert_eq!(&out[26..30], &OUR_V4);
    assert_eq!(&out[30..34], &PEER_V4);
    assert_eq!(out[34], 0, "echo reply");
    assert_eq!(naive_sum(&[&out[34..]]), 0xffff);
    assert_eq!(&out[38..], &body);

    let pseudo = pseudo_v6(&PEER_V6, &OUR_V6, 58, 4 + body.len());
    let mut f = eth(OUR_MAC, PEER_MAC, None, 0x86dd);
    f.extend(ipv6(PEER_V6, OUR_V6, 58, 64, &icmp(128, &body, &pseudo)));
    let (action, out, _) = run(&r, &f, None);
    assert!(matches!(
        action,
        Action::Reply {
            kind: ReplyKind::EchoV6,
            ..
        }
    ));
    let msg = &out[54..];
    assert_eq!(msg[0], 129);
    let pseudo = pseudo_v6(&OUR_V6, &PEER_V6, 58, msg.len());
    assert_eq!(naive_sum(&[&pseudo, msg]), 0xffff);

    // A corrupted echo request is dropped, not answered.
    let mut bad = f.clone();
    let n = bad.len();
    bad[n - 1] ^= 0xff;
    assert_eq!(run(&r, &bad, None).0, Action::Drop(DropCause::Malformed));
}

#[test]
fn neighbor_solicitation_for_our_address_gets_advertisement() {
    let r = responder(HwChecksum::default());
    let (action, out, _) = run(&r, &neighbor_solicit(PEER_V6, 255, OUR_V6, true), None);
    assert!(matches!(
        action,
        Action::Reply {
            kind: ReplyKind::NeighborAdvert,
            len: 86,
            ..
        }
    ));
    assert_eq!(&out[0..6], &PEER_MAC);
    assert_eq!(&out[6..12], &OUR_MAC);
    let ip = &out[14..];
    assert_eq!(ip[7], 255, "hop limit");
    assert_eq!(&ip[8..24], &OUR_V6);
    assert_eq!(&ip[24..40], &PEER_V6);
    let na = &ip[40..];
    assert_eq!(na.len(), 32);
    assert_eq!(na[0], 136);
    assert_eq!(na[4], 0x60, "solicited + override");
    assert_eq!(&na[8..24], &OUR_V6);
    assert_eq!(&na[24..26], &[2, 1]);
    assert_eq!(&na[26..32], &OUR_MAC);
    let pseudo = pseudo_v6(&OUR_V6, &PEER_V6, 58, 32);
    assert_eq!(naive_sum(&[&pseudo, na]), 0xffff);

    // Duplicate address detection: to all nodes, not solicited.
    let (action, out, _) = run(&r, &neighbor_solicit([0; 16], 255, OUR_V6, false), None);
    assert!(matches!(
        action,
        Action::Reply {
            kind: ReplyKind::NeighborAdvert,
            ..
        }
    ));
    assert_eq!(&out[0..6], &[0x33, 0x33, 0, 0, 0, 1]);
    assert_eq!(out[14 + 24], 0xff);
    assert_eq!(out[14 + 40 + 4], 0x20);

    // Hop limit below 255 (routed), or DAD with a source link-layer option: invalid.
    assert_eq!(
        run(&r, &neighbor_solicit(PEER_V6, 64, OUR_V6, true), None).0,
        Action::Drop(DropCause::Malformed)
    );
    assert_eq!(
        run(&r, &neighbor_solicit([0; 16], 255, OUR_V6, true), None).0,
        Action::Drop(DropCause::Malformed)
    );
    // Another target: multicast, so dropped first; sent to our MAC: the kernel's.
    let mut other = neighbor_solicit(PEER_V6, 255, PEER_V6, true);
    assert_eq!(run(&r, &other, None).0, Action::Drop(DropCause::Unneeded));
    other[0..6].copy_from_slice(&OUR_MAC);
    assert_eq!(run(&r, &other, None).0, Action::Exception);
}

#[test]
fn what_is_not_answered_goes_to_the_kernel_or_is_dropped() {
    let r = responder(HwChecksum::default());
    let q = dns_query_v4(None, &[1u8; 20]);

    let mut other_mac = q.clone();
    other_mac[0..6].copy_from_slice(&[0x02, 9, 9, 9, 9, 9]);
    assert_eq!(
        run(&r, &other_mac, None).0,
        Action::Drop(DropCause::NotForUs)
    );

    let mut tcp = eth(OUR_MAC, PEER_MAC, None, 0x0800);
    tcp.extend(ipv4(PEER_V4, OUR_V4, 6, &[0u8; 20]));
    assert_eq!(run(&r, &tcp, None).0, Action::Exception);

    let mut port54 = eth(OUR_MAC, PEER_MAC, None, 0x0800);
    let pseudo = pseudo_v4(&PEER_V4, &OUR_V4, 17, 28);
    port54.extend(ipv4(PEER_V4, OUR_V4, 17, &udp(1000, 54, &[0; 20], &pseudo)));
    assert_eq!(run(&r, &port54, None).0, Action::Exception);

    let mut not_ours = eth(OUR_MAC, PEER_MAC, None, 0x0800);
    not_ours.extend(ipv4(PEER_V4, [10, 99, 0, 9], 17, &[0u8; 28]));
    assert_eq!(run(&r, &not_ours, None).0, Action::Exception);

    let mut bad_csum = q.clone();
    bad_csum[24] ^= 1;
    assert_eq!(
        run(&r, &bad_csum, None).0,
        Action::Drop(DropCause::Malformed)
    );

    let mut fragment = eth(OUR_MAC, PEER_MAC, None, 0x0800);
    let mut ip = ipv4(PEER_V4, OUR_V4, 17, &[0u8; 28]);
    ip[6] = 0x20; // more fragments
    ip[10] = 0;
    ip[11] = 0;
    let c = !naive_sum(&[&ip[..20]]);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    fragment.extend(ip);
    assert_eq!(run(&r, &fragment, None).0, Action::Exception);

    let mut zero_src = eth(OUR_MAC, PEER_MAC, None, 0x0800);
    let pseudo = pseudo_v4(&[0; 4], &OUR_V4, 17, 28);
    zero_src.extend(ipv4([0; 4], OUR_V4, 17, &udp(1000, 53, &[0; 20], &pseudo)));
    assert_eq!(
        run(&r, &zero_src, None).0,
        Action::Drop(DropCause::BadSource)
    );

    let mut v6_no_csum = dns_query_v6(&[3u8; 20]);
    v6_no_csum[14 + 40 + 6] = 0;
    v6_no_csum[14 + 40 + 7] = 0;
    assert_eq!(
        run(&r, &v6_no_csum, None).0,
        Action::Drop(DropCause::Malformed)
    );

    // The engine declined (e.g. QR=1): dropped.
    assert_eq!(run(&r, &q, None).0, Action::Drop(DropCause::NoAnswer));

    // Another ethertype to our MAC: the kernel's.
    let mut other_type = eth(OUR_MAC, PEER_MAC, None, 0x88b5);
    other_type.resize(60, 0);
    assert_eq!(run(&r, &other_type, None).0, Action::Exception);
}

#[test]
fn group_frames_other_than_arp_and_nd_for_us_are_dropped_first() {
    let r = responder(HwChecksum::default());
    let drop = Action::Drop(DropCause::Unneeded);
    // LLDP, STP: link-local multicast.
    let mut lldp = eth([0x01, 0x80, 0xc2, 0, 0, 0x0e], PEER_MAC, None, 0x88cc);
    lldp.resize(60, 0);
    assert_eq!(run(&r, &lldp, None).0, drop);
    // A DNS query, even to our address, sent to the broadcast MAC (tagged or not), or
    // to an IPv4 multicast group (mDNS-like, other ports).
    for vlan in [None, Some(7)] {
        let mut q = dns_query_v4(vlan, &[1u8; 20]);
        q[0..6].copy_from_slice(&[0xff; 6]);
        assert_eq!(run(&r, &q, Some(&[0u8; 30])).0, drop);
    }
    let mut mcast = eth([0x01, 0, 0x5e, 0, 0, 0xfb], PEER_MAC, None, 0x0800);
    let pseudo = pseudo_v4(&PEER_V4, &[224, 0, 0, 251], 17, 28);
    mcast.extend(ipv4(
        PEER_V4,
        [224, 0, 0, 251],
        17,
        &udp(5353, 5353, &[0; 20], &pseudo),
    ));
    assert_eq!(run(&r, &mcast, None).0, drop);
    // IPv6 to all nodes: a router advertisement, an echo request.
    for t in [134u8, 128] {
        let pseudo = pseudo_v6(&PEER_V6, &ipv6_all_nodes(), 58, 4 + 20);
        let mut f = eth([0x33, 0x33, 0, 0, 0, 1], PEER_MAC, None, 0x86dd);
        f.extend(ipv6(
            PEER_V6,
            ipv6_all_nodes(),
            58,
            255,
            &icmp(t, &[0; 20], &pseudo),
        ));
        assert_eq!(run(&r, &f, None).0, drop, "icmpv6 type {t}");
    }
    // Truncated group frames are dropped too (never answered, never to the kernel).
    let ns = neighbor_solicit(PEER_V6, 255, OUR_V6, true);
    for cut in 0..14 + 40 + 24 {
        let (action, _, _) = run(&r, &ns[..cut], None);
        assert!(
            matches!(action, Action::Drop(_)),
            "cut at {cut}: {action:?}"
        );
    }
    // ARP and ND for us still pass (answered; an ARP reply for us: the kernel's).
    let arp_reply = arp_frame([0xff; 6], 2, OUR_V4);
    assert_eq!(run(&r, &arp_reply, None).0, Action::Exception);
    assert!(matches!(run(&r, &ns, None).0, Action::Reply { .. }));
}

fn ipv6_all_nodes() -> [u8; 16] {
    [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
}
