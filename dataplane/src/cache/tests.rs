use super::entry::TtlLimits;
use super::*;
use crate::wire::rcode;

const LIMITS: TtlLimits = TtlLimits {
    min_ttl: 0,
    max_ttl: 86400,
    negative_max_ttl: 3600,
    failure_ttl: 2,
    stale_max_age: 86400,
};

fn key(name: &[u8], qtype: u16) -> Key {
    Key {
        name: name.into(),
        qtype,
        qclass: 1,
        dnssec_ok: false,
    }
}

/// A response to `www.example.test. A` with two A records (TTL 300, 200),
/// the name compressed, and an OPT at the end.
fn response(rc: u8) -> Vec<u8> {
    let mut m = vec![0x12, 0x34, 0x81, 0x80 | rc, 0, 1, 0, 2, 0, 0, 0, 1];
    m.extend_from_slice(b"\x03www\x07example\x04test\x00\x00\x01\x00\x01");
    for (ttl, ip) in [(300u32, 1u8), (200, 2)] {
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        m.extend_from_slice(&ttl.to_be_bytes());
        m.extend_from_slice(&[0, 4, 10, 0, 0, ip]);
    }
    m.extend_from_slice(&[0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0]);
    m
}

fn client_query(id: u16, name: &[u8]) -> Vec<u8> {
    let mut q = id.to_be_bytes().to_vec();
    q.extend_from_slice(&[1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    q.extend_from_slice(name);
    q.extend_from_slice(&[0, 1, 0, 1]);
    q
}

fn params(now: u32) -> ReplyParams {
    ReplyParams {
        id: 0xbeef,
        query_flags: 0x0100,
        edns: None,
        max_udp: 1232,
        limit: 512,
        now,
        stale_ttl: None,
    }
}

#[test]
fn positive_answer_keeps_records_and_counts_down() {
    let e = Entry::from_response(
        key(b"\x03www\x07example\x04test\x00", 1),
        &response(0),
        &LIMITS,
        100,
    )
    .unwrap();
    assert_eq!(e.ttl, 200);
    assert_eq!(e.remaining(150), Some(150));
    let mut buf = client_query(0xbeef, b"\x03WwW\x07example\x04test\x00");
    buf.resize(512, 0);
    let len = e.write_reply(&mut buf, &params(110)).unwrap();
    let msg = &buf[..len];
    assert_eq!(&msg[..2], &[0xbe, 0xef]);
    assert_eq!(msg[2] & 0x80, 0x80, "QR");
    assert_eq!(msg[3] & 0x80, 0x80, "RA");
    assert_eq!(&msg[6..8], &[0, 2]);
    assert_eq!(
        &msg[10..12],
        &[0, 0],
        "OPT dropped for a client without EDNS"
    );
    assert_eq!(&msg[13..16], b"WwW", "case as sent");
    // First record's TTL: min(300, entry 200) - 10.
    let ttl_at = 12 + 22 + 6;
    assert_eq!(&msg[ttl_at..ttl_at + 4], &190u32.to_be_bytes());
    assert_eq!(len, 12 + 22 + 32);
}

#[test]
fn too_big_reply_is_truncated_and_stale_ttl_used() {
    let e = Entry::from_response(
        key(b"\x03www\x07example\x04test\x00", 1),
        &response(0),
        &LIMITS,
        0,
    )
    .unwrap();
    let mut buf = client_query(1, b"\x03www\x07example\x04test\x00");
    buf.resize(512, 0);
    let mut p = params(10_000);
    p.limit = 40;
    let len = e.write_reply(&mut buf, &p).unwrap();
    assert_eq!(len, 34);
    assert_eq!(buf[2] & 0x02, 0x02, "TC");
    p.limit = 512;
    p.stale_ttl = Some(30);
    assert!(e.remaining(10_000).is_none() && e.stale_usable(10_000));
    let len = e.write_reply(&mut buf, &p).unwrap();
    assert_eq!(&buf[40..44], &30u32.to_be_bytes());
    assert_eq!(len, 66);
}

#[test]
fn negative_ttl_is_min_of_soa_ttl_and_minimum() {
    let mut m = vec![0, 1, 0x81, 0x83, 0, 1, 0, 0, 0, 1, 0, 0];
    m.extend_from_slice(b"\x02no\x04test\x00\x00\x01\x00\x01");
    m.extend_from_slice(&[0xc0, 15, 0, 6, 0, 1, 0, 0, 0x0e, 0x10]); // TTL 3600
    let rdata: Vec<u8> = [&[0u8, 0][..], &[0; 20][..]]
        .concat()
        .into_iter()
        .chain(60u32.to_be_bytes())
        .collect();
    let mut rd = rdata.clone();
    rd.truncate(2 + 16);
    rd.extend_from_slice(&60u32.to_be_bytes());
    m.extend_from_slice(&(rd.len() as u16).to_be_bytes());
    m.extend_from_slice(&rd);
    let e = Entry::from_response(key(b"\x02no\x04test\x00", 1), &m, &LIMITS, 0).unwrap();
    assert_eq!(e.rcode, rcode::NXDOMAIN);
    assert_eq!(e.ttl, 60);
}

#[test]
fn wrong_question_is_rejected() {
    let r = Entry::from_response(
        key(b"\x03ww2\x07example\x04test\x00", 1),
        &response(0),
        &LIMITS,
        0,
    );
    assert_eq!(r.unwrap_err(), EntryError::QuestionMismatch);
}

#[test]
fn allow_prefixes() {
    let p = ForwardPolicy {
        allow: vec![
            ("10.0.0.0".parse().unwrap(), 8),
            ("fd00::".parse().unwrap(), 8),
        ],
        serve_stale: true,
        prefetch: true,
    };
    assert!(p.allows("10.9.9.9".parse().unwrap()));
    assert!(p.allows("::ffff:10.1.2.3".parse().unwrap()));
    assert!(p.allows("fd12::1".parse().unwrap()));
    assert!(!p.allows("11.0.0.1".parse().unwrap()));
    assert!(!p.allows("2001:db8::1".parse().unwrap()));
}

#[test]
fn replica_hits_after_insert_and_forgets_after_purge() {
    let shared = CacheShared::new(1);
    let ring = Arc::new(crossbeam::queue::ArrayQueue::new(16));
    let (tx, _rx) = crossbeam::channel::bounded(4);
    let policy = Arc::new(ForwardPolicy {
        allow: vec![],
        serve_stale: true,
        prefetch: true,
    });
    let mut r = Replica::new(0, 16, ring.clone(), shared.clone(), tx, policy);
    let name = b"\x03www\x07example\x04test\x00";
    let e =
        Arc::new(Entry::from_response(key(name, 1), &response(0), &LIMITS, now_secs()).unwrap());
    ring.push(Command::Insert(e.clone())).unwrap();
    r.maintain();
    assert!(matches!(
        r.lookup(name, 1, 1, false, now_secs()),
        replica::Lookup::Hit { .. }
    ));
    assert!(matches!(
        r.lookup(name, 1, 1, true, now_secs()),
        replica::Lookup::Miss
    ));
    shared
        .generation
        .fetch_add(1, std::sync::atomic::Ordering::Release);
    r.maintain();
    assert!(r.is_empty());
}
