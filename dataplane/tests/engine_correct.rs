//! DNS correctness rules of issue 10, checked through the engine: the
//! negative TTL (RFC 2308 §3), reverse zones, delegations, the header and
//! OPT rules, the advertised EDNS size, the cost bound and NSID (RFC 5001).

mod engine_support;

use engine_support::*;
use skylane_dataplane::record::rtype;
use skylane_dataplane::snapshot::ZoneConfig;
use skylane_dataplane::{RData, Record, Snapshot};
use std::sync::Arc;

const A: u16 = rtype::A;

fn soa(apex: &str, ttl: u32, minimum: u32) -> Record {
    Record::new(
        n(apex),
        ttl,
        RData::Soa {
            mname: n(&format!("ns.{apex}")),
            rname: n(&format!("hostmaster.{apex}")),
            serial: 1,
            refresh: 3600,
            retry: 600,
            expire: 86400,
            minimum,
        },
    )
}

/// A snapshot serving `zf.test.` with the given records (plus `host.zf.test. A`).
fn zone_snapshot(config: ZoneConfig, mut records: Vec<Record>) -> Snapshot {
    records.push(a("host.zf.test.", "192.0.2.80"));
    let config = ZoneConfig {
        domains: vec![n("zf.test.")],
        ..config
    };
    Snapshot::build(Arc::new(config), records)
}

#[test]
fn negative_ttl_is_the_smaller_of_soa_ttl_and_minimum() {
    // A zone file's `3600 … 86400`: a day of negative caching before the fix.
    let s = zone_snapshot(ZoneConfig::default(), vec![soa("zf.test.", 3600, 86400)]);
    for (qname, qt, rc) in [("nope.zf.test.", A, 3), ("host.zf.test.", rtype::AAAA, 0)] {
        let (r, m) = ask(&s, &query(qname, qt, None));
        assert_eq!(r.rcode, rc, "{qname}");
        let neg = &m.authority[0];
        assert_eq!((neg.rtype, neg.ttl), (rtype::SOA, 3600), "{qname}: {neg:?}");
    }
    // MINIMUM below the SOA TTL: the minimum.
    let s = zone_snapshot(ZoneConfig::default(), vec![soa("zf.test.", 3600, 300)]);
    let (_, m) = ask(&s, &query("nope.zf.test.", A, None));
    assert_eq!(m.authority[0].ttl, 300);
    // The synthetic SOA: its TTL is `[dns] ttl`, its MINIMUM `[dns.soa] minimum`.
    let mut cfg = ZoneConfig {
        default_ttl: 20,
        ..ZoneConfig::default()
    };
    cfg.soa.minimum = 600;
    let s = zone_snapshot(cfg, Vec::new());
    let (_, m) = ask(&s, &query("nope.zf.test.", A, None));
    assert_eq!(m.authority[0].ttl, 20);
}

#[test]
fn cd_is_copied_into_the_response() {
    let s = snapshot();
    // Answers, NXDOMAIN, REFUSED: CD (0x0010) comes back iff it was sent; AD and Z never do.
    for qname in ["web.skylane.local.", "nope.skylane.local.", "example.org."] {
        for flags in [0x0010u16, 0x0070, 0x0000, 0x0160] {
            let (_, m) = ask(&s, &query_with(flags, qname, A, 1, None, &[]));
            assert_eq!(m.flags & 0x0070, flags & 0x0010, "{qname} {flags:#06x}");
        }
    }
}

#[test]
fn formerr_keeps_a_parsed_opt() {
    let s = snapshot();
    // A good OPT, then a record ARCOUNT promises but the message lacks.
    let mut q = query("web.skylane.local.", A, Some((1232, 0, true)));
    q[11] = 2;
    let (r, m) = ask(&s, &q);
    assert_eq!(r.rcode, 1);
    let opt = m.opt.expect("OPT kept in FORMERR");
    assert_eq!((opt.0 >= 512, opt.3 & 0x8000), (true, 0x8000), "{opt:?}");
    // Records in the answer section with an OPT in the additional: FORMERR with OPT.
    let mut q = query("web.skylane.local.", A, None);
    q[7] = 1; // ANCOUNT
    q[11] = 1; // ARCOUNT
    q.extend_from_slice(b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x0a\x00\x00\x01");
    q.extend_from_slice(b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00");
    let (r, m) = ask(&s, &q);
    assert_eq!(r.rcode, 1);
    assert!(m.opt.is_some(), "OPT kept");
    // No OPT parsed (the record is cut short): no OPT in the FORMERR.
    let q = query("web.skylane.local.", A, Some((1232, 0, false)));
    let (r, m) = ask(&s, &q[..q.len() - 3]);
    assert_eq!(r.rcode, 1);
    assert!(m.opt.is_none());
}

/// The NSID option of a query (RFC 5001: empty in requests).
const NSID_REQUEST: &[u8] = b"\x00\x03\x00\x00";

#[test]
fn nsid_is_returned_to_clients_that_ask() {
    let with_id = |id: Option<&[u8]>| {
        let cfg = ZoneConfig {
            nsid: id.map(<[u8]>::to_vec),
            ..(*config()).clone()
        };
        Snapshot::build(Arc::new(cfg), records())
    };
    let s = with_id(Some(b"sky-a"));
    let q = query_with(
        0x0100,
        "web.skylane.local.",
        A,
        1,
        Some((1232, 0, false)),
        NSID_REQUEST,
    );
    for client in [udp("192.0.2.1"), tcp("192.0.2.1")] {
        let mut st = skylane_dataplane::engine::EngineState::new(1, 1232);
        let (v, bytes) = run(&s, &mut st, &q, &client);
        let m = Msg::parse(&bytes).unwrap();
        assert!(matches!(v, skylane_dataplane::engine::Verdict::Reply(_)));
        assert_eq!(m.answer_data(A), vec!["10.0.0.1"]);
        assert_eq!(
            m.opt.unwrap().4,
            9,
            "{client:?}: one NSID option of 5 bytes"
        );
        assert!(
            bytes.ends_with(b"\x00\x03\x00\x05sky-a"),
            "{client:?}: {bytes:?}"
        );
    }
    // Error answers carry it too.
    let q = query_with(
        0x0100,
        "example.org.",
        A,
        1,
        Some((1232, 0, false)),
        NSID_REQUEST,
    );
    let (r, m) = ask(&s, &q);
    assert_eq!((r.rcode, m.opt.unwrap().4), (5, 9));
    // Not asked: no option; asked with no identifier configured: no option.
    let (_, m) = ask(&s, &query("web.skylane.local.", A, Some((1232, 0, false))));
    assert_eq!(m.opt.unwrap().4, 0);
    let q = query_with(
        0x0100,
        "web.skylane.local.",
        A,
        1,
        Some((1232, 0, false)),
        NSID_REQUEST,
    );
    let (_, m) = ask(&with_id(None), &q);
    assert_eq!(m.opt.unwrap().4, 0);
}

/// Answers `q` from `client` in a `room`-byte buffer with `dns.max-udp-size` = `max_udp`.
fn answer_in(
    room: usize,
    max_udp: u16,
    q: &[u8],
    client: &skylane_dataplane::engine::Client,
) -> (Msg, usize) {
    use skylane_dataplane::engine::{answer, EngineState, Verdict};
    let mut buf = vec![0u8; room];
    buf[..q.len()].copy_from_slice(q);
    let mut st = EngineState::new(3, max_udp);
    let Verdict::Reply(r) = answer(&snapshot(), &mut buf, q.len(), client, &mut st) else {
        panic!("no reply");
    };
    (Msg::parse(&buf[..r.len]).unwrap(), r.len)
}

#[test]
fn each_path_advertises_what_it_can_carry() {
    let big = query("big.skylane.local.", A, Some((65000, 0, false)));
    let v4 = udp("192.0.2.1");
    // Socket backend: 4096-byte buffers; a larger max-udp-size is not advertised.
    let (m, len) = answer_in(4096, 8192, &big, &v4);
    assert_eq!(m.opt.unwrap().0, 4096);
    assert!(len <= 4096);
    // DPDK at MTU 1500: the room is 1472 bytes (IPv4) — advertised and kept.
    let (m, len) = answer_in(1472, 4096, &big, &v4);
    assert_eq!(m.opt.unwrap().0, 1472);
    assert!(len <= 1472, "{len} bytes");
    // A configured size below the room: the configured size.
    let (m, len) = answer_in(1472, 1232, &big, &v4);
    assert_eq!(m.opt.unwrap().0, 1232);
    assert!(len <= 1232);
    // TCP: the configured size, whatever the buffer.
    let (m, _) = answer_in(65537, 1232, &big, &tcp("192.0.2.1"));
    assert_eq!(m.opt.unwrap().0, 1232);
    assert!(!m.tc());
}

/// `zf.test.` delegating `sub.zf.test.` to an in-bailiwick and an outside server.
fn delegated() -> Snapshot {
    let ns = |owner: &str, target: &str| rec(owner, RData::Ns(n(target)));
    zone_snapshot(
        ZoneConfig::default(),
        vec![
            soa("zf.test.", 3600, 300),
            ns("zf.test.", "ns1.zf.test."),
            a("ns1.zf.test.", "192.0.2.1"),
            ns("sub.zf.test.", "ns.sub.zf.test."),
            ns("sub.zf.test.", "ns.other.test."),
            a("ns.sub.zf.test.", "192.0.2.53"),
            aaaa("ns.sub.zf.test.", "2001:db8::53"),
            // Occluded by the cut.
            a("www.sub.zf.test.", "10.9.9.9"),
        ],
    )
}

#[test]
fn names_at_or_below_a_cut_get_a_referral() {
    let s = delegated();
    for (qname, qt) in [
        ("www.sub.zf.test.", A),
        ("deep.missing.sub.zf.test.", A),
        ("sub.zf.test.", A),
        ("sub.zf.test.", rtype::NS),
        ("sub.zf.test.", 255),
        ("www.sub.zf.test.", 43),
        ("ns.sub.zf.test.", A),
    ] {
        let (r, m) = ask(&s, &query(qname, qt, None));
        assert_eq!(r.rcode, 0, "{qname} {qt}");
        assert!(!m.aa(), "{qname} {qt}: AA cleared");
        assert!(m.answer.is_empty(), "{qname} {qt}: {:?}", m.answer);
        let mut ns: Vec<_> = m
            .authority
            .iter()
            .map(|r| (r.name.as_str(), r.rtype, r.data.as_str()))
            .collect();
        ns.sort();
        assert_eq!(
            ns,
            vec![
                ("sub.zf.test.", rtype::NS, "ns.other.test."),
                ("sub.zf.test.", rtype::NS, "ns.sub.zf.test."),
            ],
            "{qname} {qt}"
        );
        let mut glue: Vec<_> = m
            .additional
            .iter()
            .map(|r| (r.name.as_str(), r.data.as_str()))
            .collect();
        glue.sort();
        assert_eq!(
            glue,
            vec![
                ("ns.sub.zf.test.", "192.0.2.53"),
                ("ns.sub.zf.test.", "2001:db8::53")
            ],
            "{qname} {qt}: in-bailiwick glue only"
        );
    }
    // DS at the cut is the parent's: NODATA, authoritative, with the SOA.
    let (r, m) = ask(&s, &query("sub.zf.test.", 43, None));
    assert_eq!((r.rcode, m.aa(), m.answer.len()), (0, true, 0));
    assert_eq!(m.authority[0].rtype, rtype::SOA);
    // A union over the apex's children leaves the delegation out.
    let (r, m) = ask(&s, &query("*.zf.test.", A, None));
    assert_eq!((r.rcode, m.aa()), (0, true));
    let mut got = m.answer_data(A);
    got.sort();
    assert_eq!(got, vec!["192.0.2.1", "192.0.2.80"]);
    // Above the cut: authoritative as before.
    let (r, m) = ask(&s, &query("host.zf.test.", A, None));
    assert_eq!((r.rcode, m.aa()), (0, true));
    assert_eq!(m.answer_data(A), vec!["192.0.2.80"]);
    let (r, m) = ask(&s, &query("nope.zf.test.", A, None));
    assert_eq!((r.rcode, m.aa()), (3, true));
}

const PTR: u16 = rtype::PTR;

#[test]
fn reverse_names_are_ours_only_in_served_reverse_zones() {
    // Derived: the /24 and /64 zones of the addresses served (10.0.0.1, 2001:db8::1, ...).
    let s = snapshot();
    let (r, m) = ask(&s, &query("1.0.0.10.in-addr.arpa.", PTR, None));
    assert_eq!((r.rcode, m.aa()), (0, true));
    assert_eq!(m.answer_data(PTR), vec!["web.skylane.local."]);
    let (r, m) = ask(&s, &query("200.0.0.10.IN-ADDR.arpa.", PTR, None));
    assert_eq!((r.rcode, m.aa()), (3, true), "inside 0.0.10.in-addr.arpa.");
    let soa = &m.authority[0];
    assert_eq!(
        (soa.rtype, soa.name.as_str()),
        (rtype::SOA, "0.0.10.IN-ADDR.arpa.")
    );
    let v6_same_64 = "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.";
    let (r, m) = ask(&s, &query(v6_same_64, PTR, None));
    assert_eq!((r.rcode, m.aa()), (3, true));
    for other in [
        "4.3.2.1.in-addr.arpa.",
        "0.10.in-addr.arpa.",
        "in-addr.arpa.",
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",
    ] {
        let (r, m) = ask(&s, &query(other, PTR, None));
        assert_eq!((r.rcode, m.aa()), (5, false), "{other}: REFUSED");
        assert!(m.authority.is_empty(), "{other}: no made-up SOA");
    }
    // Configured: exactly those zones.
    let cfg = ZoneConfig {
        reverse_zones: Some(vec![n("10.in-addr.arpa.")]),
        ..(*config()).clone()
    };
    let s = Snapshot::build(Arc::new(cfg), records());
    let (r, m) = ask(&s, &query("1.0.0.10.in-addr.arpa.", PTR, None));
    assert_eq!((r.rcode, m.answer_data(PTR).len()), (0, 1));
    let (r, m) = ask(&s, &query("9.9.9.10.in-addr.arpa.", PTR, None));
    assert_eq!((r.rcode, m.aa()), (3, true));
    assert_eq!(m.authority[0].name, "10.in-addr.arpa.");
    let (r, _) = ask(&s, &query("1.2.0.192.in-addr.arpa.", PTR, None));
    assert_eq!(r.rcode, 5);
}

/// Lookups one query costs (the engine's own counter).
fn cost_of(s: &Snapshot, q: &[u8]) -> (u64, Msg) {
    let mut st = skylane_dataplane::engine::EngineState::new(1, 1232);
    let before = st.lookups();
    // TCP: nothing is cut short by the size limit.
    let (_, m) = ask_from(s, &mut st, q, &tcp("192.0.2.1"));
    (st.lookups() - before, m)
}

#[test]
fn the_cost_of_any_one_query_is_bounded() {
    use skylane_dataplane::engine::{MAX_CHILDREN, MAX_CNAME_HOPS, MAX_QUERY_LOOKUPS};
    let bound = u64::from(MAX_QUERY_LOOKUPS);
    // A union name with more children than are ever visited, holding only MX (the
    // last type ANY prefers among theirs), below a deep chain of CNAMEs with long names.
    let mut records = Vec::new();
    for i in 0..MAX_CHILDREN + 100 {
        records.push(rec(
            &format!("c{i}.grp.zf.test."),
            RData::Mx {
                preference: 10,
                exchange: n("mail.zf.test."),
            },
        ));
    }
    let deep = |i: usize| format!("{}h{i}.zf.test.", "x.".repeat(100));
    for i in 0..MAX_CNAME_HOPS - 1 {
        records.push(cname(&deep(i), &deep(i + 1)));
    }
    records.push(cname(&deep(MAX_CNAME_HOPS - 1), "*.grp.zf.test."));
    let s = zone_snapshot(ZoneConfig::default(), records);
    let mut measured = Vec::new();
    for (qname, qt) in [
        ("grp.zf.test.", 255),
        ("*.grp.zf.test.", 255),
        ("*.grp.zf.test.", rtype::MX),
        ("c1.*.zf.test.", 255),
        (deep(0).as_str(), rtype::MX),
        (&format!("{}nope.zf.test.", "y.".repeat(120)), A),
    ] {
        let (cost, m) = cost_of(&s, &query(qname, qt, None));
        assert!(cost <= bound, "{qname} {qt}: {cost} lookups > {bound}");
        measured.push((qname.len(), qt, cost, m.rcode(), m.answer.len()));
    }
    eprintln!(
        "worst cases (qname length, qtype, lookups, rcode, answers): {measured:?}, bound {bound}"
    );
    // ANY on the union: one pass to choose the type, one to answer (it was one pass
    // per preferred type before: A, AAAA, SRV, TXT, then MX).
    let (cost, m) = cost_of(&s, &query("*.grp.zf.test.", 255, None));
    assert_eq!(m.answer[0].rtype, rtype::MX);
    let members = MAX_CHILDREN as u64;
    assert!(cost <= 2 * members + 8, "ANY on a union: {cost} lookups");
    assert!(
        cost >= members,
        "every member visited once at least: {cost}"
    );
}

#[test]
fn reverse_zones_are_real_authoritative_zones() {
    // Derived /24 zone of 10.0.0.1: SOA and NS at its apex (as Knot and NSD answer a
    // minimal reverse zone), and negative answers carry that zone's own SOA.
    let s = snapshot();
    let (r, m) = ask(&s, &query("0.0.10.in-addr.arpa.", rtype::SOA, None));
    assert_eq!((r.rcode, m.aa()), (0, true));
    let soa = &m.answer[0];
    assert_eq!(
        (soa.rtype, soa.name.as_str()),
        (rtype::SOA, "0.0.10.in-addr.arpa.")
    );
    assert!(
        soa.data
            .starts_with("ns.0.0.10.in-addr.arpa. hostmaster.0.0.10.in-addr.arpa. "),
        "{}",
        soa.data
    );
    let (r, m) = ask(&s, &query("0.0.10.in-addr.arpa.", rtype::NS, None));
    assert_eq!((r.rcode, m.aa()), (0, true));
    assert_eq!(m.answer_data(rtype::NS), vec!["ns.0.0.10.in-addr.arpa."]);
    // Other types at the apex: NODATA with the zone's SOA, not a union of its PTRs.
    for qt in [A, PTR] {
        let (r, m) = ask(&s, &query("0.0.10.in-addr.arpa.", qt, None));
        assert_eq!(
            (r.rcode, m.answer.len()),
            (0, 0),
            "{qt} at the apex: NODATA"
        );
        assert_eq!(m.authority[0].name, "0.0.10.in-addr.arpa.");
    }
    let (r, m) = ask(&s, &query("200.0.0.10.in-addr.arpa.", PTR, None));
    assert_eq!(r.rcode, 3);
    let neg = &m.authority[0];
    assert!(
        neg.data
            .starts_with("ns.0.0.10.in-addr.arpa. hostmaster.0.0.10.in-addr.arpa. "),
        "negative SOA of the reverse zone itself: {}",
        neg.data
    );
    // auto-ptr off, no PTR records: a configured reverse zone is still ours.
    let cfg = ZoneConfig {
        auto_ptr: false,
        reverse_zones: Some(vec![n("2.0.192.in-addr.arpa.")]),
        ..(*config()).clone()
    };
    let s = Snapshot::build(Arc::new(cfg), records());
    let (r, m) = ask(&s, &query("5.2.0.192.in-addr.arpa.", PTR, None));
    assert_eq!((r.rcode, m.aa()), (3, true), "NXDOMAIN, not REFUSED");
    assert_eq!(m.authority[0].name, "2.0.192.in-addr.arpa.");
    let (r, m) = ask(&s, &query("2.0.192.in-addr.arpa.", rtype::SOA, None));
    assert_eq!((r.rcode, m.answer.len()), (0, 1));
    let (r, _) = ask(&s, &query("1.0.0.10.in-addr.arpa.", PTR, None));
    assert_eq!(r.rcode, 5, "outside the configured zones");
    // The same through `apply` (the incremental path).
    let s = s.apply(&[]);
    let (r, _) = ask(&s, &query("5.2.0.192.in-addr.arpa.", PTR, None));
    assert_eq!(r.rcode, 3);
}

#[test]
fn the_ns_cut_walk_is_free_in_zones_without_cuts() {
    use skylane_dataplane::NameChange;
    let deep = "_http._tcp.web.default.svc.zf.test.";
    let s = zone_snapshot(ZoneConfig::default(), vec![a(deep, "10.1.1.1")]);
    // The zone, then the exact node: no lookup per label between apex and name.
    let (cost, m) = cost_of(&s, &query(deep, A, None));
    assert_eq!(m.answer_data(A), vec!["10.1.1.1"]);
    assert_eq!(cost, 2, "lookups for {deep} in a zone without cuts");
    // A cut elsewhere in the zone, added incrementally: one lookup more at most, and a
    // name below the cut gets its referral.
    let ns = |owner: &str| NameChange {
        name: n(owner),
        records: vec![rec(owner, RData::Ns(n("ns.other.test.")))],
    };
    let s = s.apply(&[ns("sub.zf.test.")]);
    let (cost, m) = cost_of(&s, &query(deep, A, None));
    assert_eq!(m.answer_data(A), vec!["10.1.1.1"]);
    assert!(cost <= 3, "{cost} lookups with one cut elsewhere");
    let (r, m) = ask(&s, &query("www.sub.zf.test.", A, None));
    assert_eq!(
        (r.rcode, m.aa(), m.authority[0].rtype),
        (0, false, rtype::NS)
    );
    // Many cuts (built in bulk): referrals still found.
    let mut records: Vec<Record> = (0..40)
        .map(|i| rec(&format!("d{i}.zf.test."), RData::Ns(n("ns.other.test."))))
        .collect();
    records.push(a(deep, "10.1.1.1"));
    let many = zone_snapshot(ZoneConfig::default(), records);
    let (r, m) = ask(&many, &query("x.y.d39.zf.test.", A, None));
    assert_eq!(
        (r.rcode, m.aa(), m.authority[0].name.as_str()),
        (0, false, "d39.zf.test.")
    );
    // Removing the cut (incremental) makes the names below it ours again.
    let s = s.apply(&[NameChange {
        name: n("sub.zf.test."),
        records: Vec::new(),
    }]);
    let (r, m) = ask(&s, &query("www.sub.zf.test.", A, None));
    assert_eq!((r.rcode, m.aa()), (3, true));
    let (cost, _) = cost_of(&s, &query(deep, A, None));
    assert_eq!(cost, 2, "free again once the last cut is gone");
}

#[test]
fn a_missing_name_costs_no_closest_encloser_walk_in_zones_without_wildcards() {
    use skylane_dataplane::NameChange;
    let s = zone_snapshot(
        ZoneConfig::default(),
        vec![soa("zf.test.", 300, 60), a("web.sub.zf.test.", "10.1.1.1")],
    );
    let (apex_soa, _) = cost_of(&s, &query("zf.test.", rtype::SOA, None));
    assert_eq!(apex_soa, 1, "the zone alone");
    let (_, soa_answer) = ask(&s, &query("zf.test.", rtype::SOA, None));
    // The zone, then the name: no encloser walk, no `*` probe.
    let (cost, m) = cost_of(&s, &query("Nope.SUB.zf.test.", A, None));
    assert_eq!((m.rcode(), m.aa(), cost), (3, true, 2));
    // The SOA rendered with the snapshot: owner the apex (a pointer into the question,
    // in its case), the zone's SOA data, the negative TTL.
    let auth = &m.authority;
    assert_eq!(auth.len(), 1);
    assert_eq!(
        (
            auth[0].name.to_ascii_lowercase().as_str(),
            auth[0].rtype,
            auth[0].ttl
        ),
        ("zf.test.", rtype::SOA, 60)
    );
    assert_eq!(auth[0].data, soa_answer.answer[0].data);
    // NODATA carries the same SOA.
    let (r, m) = ask(&s, &query("web.sub.zf.test.", rtype::TXT, None));
    assert_eq!(
        (r.rcode, m.authority[0].data.as_str()),
        (0, soa_answer.answer[0].data.as_str())
    );
    // A wildcard added incrementally: the walk is back and the wildcard answers.
    let wild = |owner: &str, ip: &str| NameChange {
        name: n(owner),
        records: if ip.is_empty() {
            Vec::new()
        } else {
            vec![a(owner, ip)]
        },
    };
    let s2 = s.apply(&[wild("*.sub.zf.test.", "10.9.9.9")]);
    let (r, m) = ask(&s2, &query("nope.sub.zf.test.", A, None));
    assert_eq!(
        (r.rcode, m.answer_data(A)),
        (0, vec!["10.9.9.9".to_string()])
    );
    // Only a name below a `*` label (the wildcard an empty non-terminal): the same
    // answer as the same records built in bulk, not an NXDOMAIN.
    let s3 = s.apply(&[wild("x.*.sub.zf.test.", "10.8.8.8")]);
    let bulk = zone_snapshot(
        ZoneConfig::default(),
        vec![
            soa("zf.test.", 300, 60),
            a("web.sub.zf.test.", "10.1.1.1"),
            a("x.*.sub.zf.test.", "10.8.8.8"),
        ],
    );
    let (r3, m3) = ask(&s3, &query("nope.sub.zf.test.", A, None));
    let (rb, mb) = ask(&bulk, &query("nope.sub.zf.test.", A, None));
    assert_ne!(rb.rcode, 3, "the `*.sub` node exists");
    assert_eq!((r3.rcode, m3.answer_data(A)), (rb.rcode, mb.answer_data(A)));
    // The wildcard removed again: NXDOMAIN, and free again.
    let s4 = s2.apply(&[wild("*.sub.zf.test.", "")]);
    let (cost, m) = cost_of(&s4, &query("nope.sub.zf.test.", A, None));
    assert_eq!((m.rcode(), cost), (3, 2));
}
