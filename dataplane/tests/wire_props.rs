//! Property tests on hostile input: the engine never panics, never answers
//! past the client's limit, and everything it sends parses back.

mod engine_support;

use engine_support::*;
use proptest::prelude::*;
use skylane_dataplane::engine::{Client, EngineState, Transport, Verdict};
use skylane_dataplane::Snapshot;
use std::sync::OnceLock;

const MAX_UDP: u16 = 1232;

fn snap() -> &'static Snapshot {
    static S: OnceLock<Snapshot> = OnceLock::new();
    S.get_or_init(snapshot)
}

/// Runs one packet and checks the invariants every reply must meet.
fn check(packet: &[u8], transport: Transport) -> Result<Option<Msg>, TestCaseError> {
    let client = Client {
        addr: "192.0.2.55".parse().unwrap(),
        transport,
        port: 0,
        via: 0,
    };
    let mut st = EngineState::new(9, MAX_UDP);
    let (v, bytes) = run(snap(), &mut st, packet, &client);
    match v {
        Verdict::Forward(f) => Err(TestCaseError::fail(format!(
            "forwarded without forwarding: {f:?}"
        ))),
        Verdict::Drop(_) => {
            prop_assert!(
                packet.len() < 12 || packet[2] & 0x80 != 0,
                "dropped a packet with an echoable header"
            );
            Ok(None)
        }
        Verdict::Reply(r) => {
            prop_assert!(packet.len() >= 12);
            prop_assert_eq!(r.len, bytes.len());
            let m = Msg::parse(&bytes)
                .map_err(|e| TestCaseError::fail(format!("unparsable reply: {e}")))?;
            prop_assert!(m.qr());
            prop_assert_eq!(&bytes[..2], &packet[..2], "ID echoed");
            prop_assert_eq!(m.rd(), packet[2] & 1 != 0, "RD copied");
            prop_assert_eq!(m.flags & 0x0060, 0, "Z/AD not echoed");
            prop_assert_eq!(m.flags & 0x0010, u16::from(packet[3]) & 0x0010, "CD copied");
            prop_assert!(m.opt_count <= 1);
            prop_assert!(m.question.len() <= 1);
            prop_assert_eq!(m.tc(), r.truncated);
            prop_assert_eq!(m.rcode(), r.rcode);
            match transport {
                Transport::Udp => {
                    prop_assert!(r.len <= MAX_UDP as usize);
                    if m.opt.is_none() {
                        prop_assert!(r.len <= 512, "no EDNS, {} bytes", r.len);
                    }
                }
                Transport::Tcp => prop_assert!(r.len <= 65535),
            }
            Ok(Some(m))
        }
    }
}

const NAMES: &[&str] = &[
    "web.skylane.local.",
    "multi.skylane.local.",
    "big.skylane.local.",
    "chain1.skylane.local.",
    "loop1.skylane.local.",
    "_http._tcp.svc.skylane.local.",
    "x.wild.skylane.local.",
    "db.skylane.local.",
    "*.db.skylane.local.",
    "nope.skylane.local.",
    "skylane.local.",
    "www.example.org.",
    "1.0.0.10.in-addr.arpa.",
];
const TYPES: &[u16] = &[1, 2, 5, 6, 12, 15, 16, 28, 33, 41, 251, 252, 255, 0, 65535];

fn valid_query() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(NAMES),
        prop::sample::select(TYPES),
        any::<u64>(),
        prop::option::of((any::<u16>(), 0u8..3, any::<bool>())),
        any::<u16>(),
    )
        .prop_map(|(name, t, case_bits, edns, id)| {
            // Random 0x20 case.
            let mixed: String = name
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    if case_bits >> (i % 64) & 1 == 1 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect();
            let mut q = query(&mixed, t, edns);
            q[..2].copy_from_slice(&id.to_be_bytes());
            q
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        check(&bytes, Transport::Udp)?;
        check(&bytes, Transport::Tcp)?;
    }

    #[test]
    fn runts_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..18)) {
        let m = check(&bytes, Transport::Udp)?;
        if let Some(m) = m {
            // Nothing sensible can be in 12..17 bytes: an error, no answers.
            prop_assert!(m.answer.is_empty());
        }
    }

    #[test]
    fn random_header_with_question_never_panics(
        header in prop::collection::vec(any::<u8>(), 12),
        body in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut p = header;
        p.extend_from_slice(b"\x03web\x07skylane\x05local\x00\x00\x01\x00\x01");
        p.extend_from_slice(&body);
        check(&p, Transport::Udp)?;
    }

    #[test]
    fn pointer_games_never_panic(
        labels in prop::collection::vec((0u8..4, any::<u8>(), any::<u8>()), 1..12),
        in_additional in any::<bool>(),
    ) {
        // Names made of labels and pointers anywhere, including loops.
        let mut name = Vec::new();
        for (kind, a, b) in labels {
            match kind {
                0 => name.extend_from_slice(&[0xc0 | (a & 0x3f), b]),
                1 => name.extend_from_slice(&[0xc0, 12 + (b % 40)]),
                2 => { name.push(a % 64); name.extend(std::iter::repeat_n(b'a', (a % 64) as usize)); }
                _ => name.push(0),
            }
        }
        let mut p = vec![0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, u8::from(in_additional)];
        if in_additional {
            p.extend_from_slice(b"\x03web\x07skylane\x05local\x00\x00\x01\x00\x01");
            p.extend_from_slice(&name);
            p.extend_from_slice(b"\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00");
        } else {
            p.extend_from_slice(&name);
            p.extend_from_slice(b"\x00\x01\x00\x01");
        }
        let m = check(&p, Transport::Udp)?;
        prop_assert!(m.is_some());
    }

    #[test]
    fn giant_counts_never_panic(q in valid_query(), counts in prop::array::uniform4(any::<u16>())) {
        let mut p = q;
        for (i, c) in counts.iter().enumerate() {
            p[4 + 2 * i..6 + 2 * i].copy_from_slice(&c.to_be_bytes());
        }
        let m = check(&p, Transport::Udp)?.expect("header echoable");
        if counts[0] != 1 || counts[1] != 0 || counts[2] != 0 {
            prop_assert_eq!(m.rcode(), 1);
        }
    }

    #[test]
    fn mutated_queries_never_panic(
        q in valid_query(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6),
    ) {
        let mut p = q;
        for (at, byte, op) in edits {
            if p.is_empty() { break; }
            let i = at.index(p.len());
            match op {
                0 => p[i] = byte,
                1 => p.truncate(i),
                _ => p.insert(i, byte),
            }
        }
        check(&p, Transport::Udp)?;
        check(&p, Transport::Tcp)?;
    }

    #[test]
    fn valid_queries_get_well_formed_bounded_answers(q in valid_query()) {
        let m = check(&q, Transport::Udp)?.expect("answered");
        // The question comes back byte for byte (0x20 case included).
        let qlen = q.len() - if q[11] == 1 { 11 } else { 0 };
        let rcode = m.rcode();
        if rcode != 1 {
            let reply_q = &run(snap(), &mut EngineState::new(9, MAX_UDP), &q, &udp("192.0.2.55")).1[12..qlen];
            prop_assert_eq!(reply_q, &q[12..qlen]);
        }
        prop_assert_eq!(m.opt.is_some(), q[11] == 1);
        if let Some(opt) = m.opt {
            prop_assert_eq!(opt.2, 0, "we answer with version 0");
            prop_assert_eq!(opt.0, MAX_UDP);
        }
    }
}
