//! Unit tests of the limiter: accounting and window, slip cadence, prefixes, classes,
//! exemption, eviction and reconfiguration.

use super::classify::{self, Class};
use super::table::{Debit, Table, WAYS};
use super::*;
use crate::engine::{DropReason, Reply, Verdict};
use crate::wire::header::flags;
use std::net::{Ipv4Addr, Ipv6Addr};

/// A response to `name` (wire) with `rcode`; NXDOMAIN ones carry `zone`'s SOA in the
/// authority section, its owner a pointer into the question name at `zone_at`.
fn response(name: &[u8], rc: u16, zone_at: Option<usize>) -> Vec<u8> {
    let mut m = vec![0x12, 0x34, 0x84, 0x00, 0, 1, 0, 1, 0, 0, 0, 0];
    m[3] = rc as u8;
    m.extend_from_slice(name);
    m.extend_from_slice(&[0, 1, 0, 1]);
    match zone_at {
        Some(at) => {
            m[7] = 0; // no answer
            m[9] = 1; // one authority record
            m.extend_from_slice(&[0xc0, (12 + at) as u8, 0, 6, 0, 1, 0, 0, 0, 60, 0, 22]);
            m.extend_from_slice(&[0xc0, 12, 0xc0, 12]);
            m.extend_from_slice(&[0; 20][..18]);
        }
        None => m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 1]),
    }
    m
}

/// The engine's reply for `msg` (its name hash as the engine computes it: the QNAME,
/// the zone for NXDOMAIN).
fn reply(msg: &[u8], rc: u16) -> Reply {
    let r = classify::reply_of(msg);
    assert_eq!(r.rcode, rc);
    r
}

/// The length [`Limiter::limit`] lets out for `msg` in `buf` (`None`: rate-limited).
fn sent(l: &mut Limiter, buf: &mut [u8], msg: &[u8], client: &Client) -> Option<usize> {
    match l.limit(buf, Verdict::Reply(reply(msg, 0)), client) {
        Verdict::Reply(r) => {
            assert_eq!(r.truncated, r.len < msg.len(), "a slip is marked truncated");
            Some(r.len)
        }
        Verdict::Drop(DropReason::RateLimited) => None,
        other => panic!("unexpected {other:?}"),
    }
}

const WEB: &[u8] = b"\x03web\x07skylane\x05local\x00";
const API: &[u8] = b"\x03api\x07skylane\x05local\x00";

fn settings(rate: u32, window: u32, slip: u32) -> RrlSettings {
    RrlSettings {
        enabled: true,
        responses_per_second: rate,
        nxdomains_per_second: rate,
        errors_per_second: rate,
        window,
        slip,
        ..RrlSettings::default()
    }
}

fn limiter(s: RrlSettings) -> Limiter {
    Limiter::new(RrlHandle::new(s, 1), 0, 1024)
}

/// Outcomes of `n` responses `msg` to `addr` at the limiter's current second.
fn run(l: &mut Limiter, msg: &[u8], rc: u16, addr: IpAddr, n: usize) -> Vec<Outcome> {
    (0..n).map(|_| l.judge(&reply(msg, rc), addr)).collect()
}

fn count(v: &[Outcome], o: Outcome) -> usize {
    v.iter().filter(|&&x| x == o).count()
}

const A: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));

#[test]
fn rate_per_second_then_limited() {
    let mut l = limiter(settings(5, 15, 0));
    let msg = response(WEB, 0, None);
    let out = run(&mut l, &msg, 0, A, 20);
    assert_eq!(&out[..5], &[Outcome::Send; 5]);
    assert_eq!(count(&out, Outcome::Drop), 15);
}

#[test]
fn slip_cadence_follows_slip() {
    let msg = response(WEB, 0, None);
    for (slip, expect) in [(0u32, 0usize), (1, 10), (2, 5), (3, 4)] {
        let mut l = limiter(settings(1, 15, slip));
        let out = run(&mut l, &msg, 0, A, 11);
        assert_eq!(out[0], Outcome::Send);
        let limited = &out[1..];
        assert_eq!(
            count(limited, Outcome::Slip),
            expect,
            "slip {slip}: {out:?}"
        );
        if slip > 0 {
            assert_eq!(limited[0], Outcome::Slip, "the first limited one slips");
        }
    }
}

#[test]
fn window_bounds_the_debt_and_credit_returns() {
    let mut l = limiter(settings(10, 3, 0));
    let msg = response(WEB, 0, None);
    l.set_now(100);
    // A long flood: the debt stops at window × rate = 30.
    assert_eq!(count(&run(&mut l, &msg, 0, A, 1000), Outcome::Send), 10);
    // Two seconds later: 20 of credit against 30 of debt, still limited.
    l.set_now(102);
    assert_eq!(count(&run(&mut l, &msg, 0, A, 1), Outcome::Send), 0);
    // The debt was -30, then -31 +20 → -11; three more seconds → capped at the rate.
    l.set_now(105);
    assert_eq!(count(&run(&mut l, &msg, 0, A, 50), Outcome::Send), 10);
    // Idle for more than the window: a fresh account.
    l.set_now(200);
    assert_eq!(count(&run(&mut l, &msg, 0, A, 50), Outcome::Send), 10);
}

#[test]
fn accounts_are_per_prefix_name_and_class() {
    let mut l = limiter(settings(2, 15, 0));
    let web = response(WEB, 0, None);
    let api = response(API, 0, None);
    assert_eq!(count(&run(&mut l, &web, 0, A, 5), Outcome::Send), 2);
    // Same /24: the same account.
    let neighbour = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 200));
    assert_eq!(count(&run(&mut l, &web, 0, neighbour, 5), Outcome::Send), 0);
    // Another /24, another name: their own accounts.
    let other = IpAddr::V4(Ipv4Addr::new(192, 0, 3, 10));
    assert_eq!(count(&run(&mut l, &web, 0, other, 5), Outcome::Send), 2);
    assert_eq!(count(&run(&mut l, &api, 0, A, 5), Outcome::Send), 2);
    // Errors: one account per prefix whatever the name.
    let refused_web = response(WEB, 5, None);
    let refused_api = response(API, 5, None);
    assert_eq!(count(&run(&mut l, &refused_web, 5, A, 2), Outcome::Send), 2);
    assert_eq!(count(&run(&mut l, &refused_api, 5, A, 2), Outcome::Send), 0);
}

#[test]
fn nxdomains_are_keyed_by_zone() {
    let mut l = limiter(settings(3, 15, 0));
    // Random labels under one zone (the SOA owner points at "skylane.local.", offset 4).
    let a = response(b"\x03aaa\x07skylane\x05local\x00", 3, Some(4));
    let b = response(b"\x03bbb\x07skylane\x05local\x00", 3, Some(4));
    let other = response(b"\x03ccc\x07example\x03com\x00", 3, Some(4));
    assert_eq!(count(&run(&mut l, &a, 3, A, 2), Outcome::Send), 2);
    assert_eq!(count(&run(&mut l, &b, 3, A, 5), Outcome::Send), 1);
    assert_eq!(count(&run(&mut l, &other, 3, A, 5), Outcome::Send), 3);
    assert_eq!(Class::of(3), Class::Nxdomain);
    assert_eq!(Class::of(16), Class::Error);
}

#[test]
fn prefixes_mask_ipv4_and_ipv6() {
    let a = IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3));
    assert_eq!(classify::prefix(a, 24, 56), (4, 0x0a01_0200));
    assert_eq!(classify::prefix(a, 32, 56), (4, 0x0a01_0203));
    assert_eq!(classify::prefix(a, 0, 56), (4, 0));
    let v6: Ipv6Addr = "2001:db8:1:2ff:1::1".parse().unwrap();
    let (fam, p) = classify::prefix(IpAddr::V6(v6), 24, 56);
    assert_eq!(fam, 6);
    assert_eq!(
        Ipv6Addr::from(p),
        "2001:db8:1:200::".parse::<Ipv6Addr>().unwrap()
    );
    let (_, p) = classify::prefix(IpAddr::V6(v6), 24, 128);
    assert_eq!(Ipv6Addr::from(p), v6);
}

#[test]
fn exempt_clients_are_never_limited() {
    let mut s = settings(1, 15, 2);
    s.exempt = vec![
        ("192.0.2.0".parse().unwrap(), 28),
        ("fd00::".parse().unwrap(), 8),
    ];
    let mut l = limiter(s);
    let msg = response(WEB, 0, None);
    assert_eq!(count(&run(&mut l, &msg, 0, A, 100), Outcome::Send), 100);
    let v6 = IpAddr::V6("fd12::1".parse().unwrap());
    assert_eq!(count(&run(&mut l, &msg, 0, v6, 100), Outcome::Send), 100);
    let outside = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 16));
    assert_eq!(count(&run(&mut l, &msg, 0, outside, 100), Outcome::Send), 1);
}

#[test]
fn a_zero_rate_does_not_limit_its_class() {
    let mut s = settings(1, 15, 2);
    s.errors_per_second = 0;
    let mut l = limiter(s);
    let msg = response(WEB, 5, None);
    assert_eq!(count(&run(&mut l, &msg, 5, A, 100), Outcome::Send), 100);
}

#[test]
fn the_table_is_bounded_and_evicts_the_oldest() {
    let mut t = Table::new(64);
    assert_eq!(t.capacity(), 64);
    // Far more keys than entries, each at its own second.
    for k in 1..=10_000u64 {
        let key = k.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        assert_eq!(t.debit(key, k as u32, 1, 15), Debit::Ok);
        assert!(t.len() <= 64);
    }
    assert_eq!(t.len(), 64, "full, never grown");
    // One set: the oldest way goes first.
    let mut t = Table::new(WAYS);
    let keys: Vec<u64> = (1..=WAYS as u64 + 1).map(|k| k << 40 | k).collect();
    for (i, &k) in keys[..WAYS].iter().enumerate() {
        t.debit(k, i as u32, 1, 15);
    }
    t.debit(keys[0], 50, 1, 15); // refreshed: now the newest
    t.debit(keys[WAYS], 51, 1, 15);
    assert!(t.contains(keys[0]) && t.contains(keys[WAYS]));
    assert!(
        !t.contains(keys[1]),
        "the least recently used account was evicted"
    );
    t.clear();
    assert!(t.is_empty());
}

#[test]
fn limit_truncates_slips_counts_and_spares_tcp() {
    let handle = RrlHandle::new(settings(1, 15, 1), 2);
    let mut l = Limiter::new(handle.clone(), 1, 1024);
    let msg = response(WEB, 0, None);
    let udp = Client::new(A, Transport::Udp);
    let mut buf = msg.clone();
    assert_eq!(sent(&mut l, &mut buf, &msg, &udp), Some(msg.len()));
    let mut buf = msg.clone();
    let slipped = sent(&mut l, &mut buf, &msg, &udp).unwrap();
    assert_eq!(slipped, 12 + WEB.len() + 4, "header and question only");
    let f = u16::from_be_bytes([buf[2], buf[3]]);
    assert_ne!(f & flags::TC, 0);
    assert_eq!(&buf[6..8], &[0, 0]);
    assert_eq!(&buf[4..6], &[0, 1]);
    let tcp = Client::new(A, Transport::Tcp);
    for _ in 0..10 {
        let mut buf = msg.clone();
        assert_eq!(sent(&mut l, &mut buf, &msg, &tcp), Some(msg.len()));
    }
    assert_eq!((handle.slipped(), handle.dropped()), (1, 0));
    // Reconfigured: slip 0 drops, and the table starts empty.
    assert!(handle.set(settings(1, 15, 0)));
    assert!(!handle.set(settings(1, 15, 0)), "unchanged");
    l.tick();
    let mut buf = msg.clone();
    assert_eq!(sent(&mut l, &mut buf, &msg, &udp), Some(msg.len()));
    assert_eq!(sent(&mut l, &mut buf, &msg, &udp), None);
    assert_eq!((handle.slipped(), handle.dropped()), (1, 1));
    // Disabled: everything goes.
    handle.set(RrlSettings::default());
    l.tick();
    for _ in 0..10 {
        assert_eq!(sent(&mut l, &mut buf, &msg, &udp), Some(msg.len()));
    }
}

#[test]
fn truncate_survives_garbage() {
    for len in 0..40 {
        let mut buf = vec![0xffu8; len];
        let n = classify::truncate(&mut buf, len);
        assert!(n <= len);
    }
}

/// A query for `name` A.
fn query(name: &str) -> Vec<u8> {
    let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    q.extend_from_slice(crate::Name::from_ascii(name).unwrap().as_wire());
    q.extend_from_slice(&[0, 1, 0, 1]);
    q
}

#[test]
fn the_engine_passes_the_name_an_account_is_keyed_by() {
    use crate::engine::{answer, EngineState};
    use crate::record::{RData, Record};
    use crate::snapshot::{Snapshot, ZoneConfig};
    let config = std::sync::Arc::new(ZoneConfig {
        domains: vec![crate::Name::from_ascii("skylane.local.").unwrap()],
        auto_ptr: false,
        ..ZoneConfig::default()
    });
    let web = crate::Name::from_ascii("web.skylane.local.").unwrap();
    let a = RData::A(Ipv4Addr::new(10, 0, 0, 1));
    let snap = Snapshot::build(config, vec![Record::new(web, 30, a)]);
    let mut state = EngineState::new(1, 1232);
    let client = Client::new(A, Transport::Udp);
    let mut ask = |name: &str| {
        let q = query(name);
        let mut buf = vec![0u8; 1232];
        buf[..q.len()].copy_from_slice(&q);
        match answer(&snap, &mut buf, q.len(), &client, &mut state) {
            Verdict::Reply(r) => (r, buf[..r.len].to_vec()),
            other => panic!("{name}: {other:?}"),
        }
    };
    // An answer: the QNAME, lowercased.
    let (hit, msg) = ask("WEB.Skylane.local.");
    assert_eq!(hit.rcode, 0);
    assert_eq!(hit.name_hash, classify::name_hash(WEB));
    assert_eq!(classify::reply_of(&msg).name_hash, hit.name_hash);
    // NXDOMAIN: the zone, whatever the label.
    let zone = classify::name_hash(b"\x07skylane\x05local\x00");
    for name in ["aaa.skylane.local.", "BBB.skylane.local."] {
        let (nx, msg) = ask(name);
        assert_eq!(nx.rcode, 3);
        assert_eq!(nx.name_hash, zone, "{name}");
        assert_eq!(classify::reply_of(&msg).name_hash, zone, "read back alike");
    }
    // Outside our zones (REFUSED): the QNAME; the limiter ignores it for errors.
    let (refused, _) = ask("web.example.");
    assert_eq!(refused.rcode, 5);
    assert_eq!(
        refused.name_hash,
        classify::name_hash(b"\x03web\x07example\x00")
    );
}
