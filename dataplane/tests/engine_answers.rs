//! Engine answers over a small fixture snapshot: hits, negative answers,
//! CNAME chains, SRV additionals, wildcards, SkyDNS unions, and the message
//! rules (REFUSED, NOTIMP, FORMERR, BADVERS, truncation, EDNS echo).

mod engine_support;

use engine_support::*;
use skylane_dataplane::engine::{DropReason, EngineState, Verdict};
use skylane_dataplane::record::rtype;

const A: u16 = rtype::A;
const AAAA: u16 = rtype::AAAA;

#[test]
fn a_hit_is_authoritative_with_one_answer() {
    let s = snapshot();
    let (r, m) = ask(&s, &query("web.skylane.local.", A, None));
    assert_eq!(
        (r.rcode, r.qtype, r.truncated, r.fail_open),
        (0, A, false, false)
    );
    assert!(m.qr() && m.aa() && m.rd() && !m.tc());
    assert_eq!(m.id, 0x1234);
    assert_eq!(m.answer_data(A), vec!["10.0.0.1"]);
    assert_eq!(m.answer[0].name, "web.skylane.local.");
    assert_eq!((m.answer[0].class, m.answer[0].ttl), (1, 60));
    assert!(m.authority.is_empty() && m.additional.is_empty() && m.opt.is_none());
}

#[test]
fn aaaa_hit() {
    let (_, m) = ask(&snapshot(), &query("v6.skylane.local.", AAAA, None));
    assert_eq!(m.answer_data(AAAA), vec!["2001:db8::1"]);
}

#[test]
fn qname_case_is_preserved_and_lookup_ignores_it() {
    let q = query("WeB.SkYlAnE.LoCaL.", A, None);
    let (_, m) = ask(&snapshot(), &q);
    assert_eq!(m.question[0].0, "WeB.SkYlAnE.LoCaL.");
    assert_eq!(m.answer[0].name, "WeB.SkYlAnE.LoCaL.");
    assert_eq!(m.answer_data(A), vec!["10.0.0.1"]);
}

#[test]
fn nxdomain_carries_soa_with_negative_ttl() {
    let (r, m) = ask(&snapshot(), &query("nope.skylane.local.", A, None));
    assert_eq!(r.rcode, 3);
    assert!(m.aa() && m.answer.is_empty());
    assert_eq!(m.authority.len(), 1);
    let soa = &m.authority[0];
    assert_eq!(
        (soa.rtype, soa.name.as_str(), soa.ttl),
        (rtype::SOA, "skylane.local.", 30)
    );
    // The SOA minimum is the negative TTL.
    assert!(soa.data.ends_with(" 30"), "{}", soa.data);
}

#[test]
fn nodata_carries_soa() {
    let (r, m) = ask(&snapshot(), &query("web.skylane.local.", AAAA, None));
    assert_eq!(r.rcode, 0);
    assert!(m.aa() && m.answer.is_empty());
    assert_eq!(m.authority[0].rtype, rtype::SOA);
}

#[test]
fn cname_chain_is_followed() {
    let (r, m) = ask(&snapshot(), &query("chain1.skylane.local.", A, None));
    assert_eq!(r.rcode, 0);
    let got: Vec<(String, u16, String)> = m
        .answer
        .iter()
        .map(|r| (r.name.clone(), r.rtype, r.data.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "chain1.skylane.local.".into(),
                rtype::CNAME,
                "chain2.skylane.local.".into()
            ),
            (
                "chain2.skylane.local.".into(),
                rtype::CNAME,
                "web.skylane.local.".into()
            ),
            ("web.skylane.local.".into(), A, "10.0.0.1".into()),
        ]
    );
}

#[test]
fn cname_target_keeps_its_case_and_is_found() {
    let (_, m) = ask(&snapshot(), &query("alias.skylane.local.", A, None));
    assert_eq!(m.answer.len(), 2);
    // The target's own label keeps its case; its suffix may be compressed
    // against the question's.
    assert!(m.answer[1].name.starts_with("Web."));
    assert!(m.answer[1].name.eq_ignore_ascii_case("web.skylane.local."));
    assert_eq!(m.answer[1].data, "10.0.0.1");
}

#[test]
fn cname_loop_is_cut() {
    let (r, m) = ask(&snapshot(), &query("loop1.skylane.local.", A, None));
    assert_eq!(r.rcode, 0);
    assert_eq!(
        m.answer_data(rtype::CNAME),
        vec!["loop2.skylane.local.", "loop1.skylane.local."]
    );
    assert_eq!(m.answer.len(), 2);
}

#[test]
fn cname_out_of_our_zones_stops_there() {
    let (r, m) = ask(&snapshot(), &query("ext.skylane.local.", A, None));
    assert_eq!(r.rcode, 0);
    assert_eq!(m.answer_data(rtype::CNAME), vec!["www.example.org."]);
    assert_eq!(m.answer.len(), 1);
    assert!(m.authority.is_empty());
}

#[test]
fn cname_into_another_zone_of_ours() {
    let (_, m) = ask(&snapshot(), &query("intozone.skylane.local.", A, None));
    assert_eq!(m.answer_data(A), vec!["192.0.2.10"]);
    assert_eq!(m.answer[1].name, "host.example.test.");
}

#[test]
fn dangling_cname_is_nxdomain_with_the_chain() {
    let (r, m) = ask(&snapshot(), &query("dangling.skylane.local.", A, None));
    assert_eq!(r.rcode, 3);
    assert_eq!(m.answer_data(rtype::CNAME), vec!["nothere.skylane.local."]);
    assert_eq!(m.authority[0].rtype, rtype::SOA);
}

#[test]
fn cname_query_is_not_chased() {
    let (_, m) = ask(
        &snapshot(),
        &query("chain1.skylane.local.", rtype::CNAME, None),
    );
    assert_eq!(m.answer_data(rtype::CNAME), vec!["chain2.skylane.local."]);
    assert_eq!(m.answer.len(), 1);
}

#[test]
fn long_cname_chains_are_bounded() {
    let mut recs = records();
    for i in 0..20 {
        recs.push(cname(
            &format!("c{i}.skylane.local."),
            &format!("c{}.skylane.local.", i + 1),
        ));
    }
    let s = skylane_dataplane::Snapshot::build(config(), recs);
    let (_, m) = ask(&s, &query("c0.skylane.local.", A, None));
    assert_eq!(
        m.answer.len(),
        skylane_dataplane::engine::MAX_CNAME_HOPS + 1
    );
}

#[test]
fn srv_gets_addresses_of_known_targets() {
    let (_, m) = ask(
        &snapshot(),
        &query(
            "_http._tcp.svc.skylane.local.",
            rtype::SRV,
            Some((1232, 0, false)),
        ),
    );
    assert_eq!(m.answer.len(), 3);
    assert!(m
        .answer_data(rtype::SRV)
        .contains(&"10 100 80 multi.skylane.local.".to_string()));
    let mut add: Vec<(String, String)> = m
        .additional
        .iter()
        .map(|r| (r.name.clone(), r.data.clone()))
        .collect();
    add.sort();
    assert_eq!(
        add,
        vec![
            ("multi.skylane.local.".into(), "10.0.1.1".into()),
            ("multi.skylane.local.".into(), "10.0.1.2".into()),
            ("multi.skylane.local.".into(), "10.0.1.3".into()),
            ("v6.skylane.local.".into(), "2001:db8::1".into()),
        ]
    );
}

#[test]
fn srv_additionals_skip_down_addresses() {
    let s = snapshot().with_down(&["10.0.1.2".parse().unwrap()]);
    let (_, m) = ask(
        &s,
        &query(
            "_http._tcp.svc.skylane.local.",
            rtype::SRV,
            Some((1232, 0, false)),
        ),
    );
    let add: Vec<String> = m.additional.iter().map(|r| r.data.clone()).collect();
    assert!(add.contains(&"10.0.1.1".to_string()) && add.contains(&"10.0.1.3".to_string()));
    assert!(!add.contains(&"10.0.1.2".to_string()));
}

#[test]
fn rfc4592_wildcard_synthesizes_with_the_qname_as_owner() {
    let s = snapshot();
    for q in ["Foo.wild.skylane.local.", "a.b.wild.skylane.local."] {
        let (r, m) = ask(&s, &query(q, A, None));
        assert_eq!(r.rcode, 0, "{q}");
        assert_eq!(m.answer_data(A), vec!["10.0.2.1"]);
        assert_eq!(m.answer[0].name, q);
    }
    // Wildcard owner exists, type does not: NODATA.
    let (r, m) = ask(&s, &query("foo.wild.skylane.local.", AAAA, None));
    assert_eq!((r.rcode, m.answer.len(), m.authority.len()), (0, 0, 1));
    // An existing name is not covered by the wildcard...
    let (_, m) = ask(&s, &query("sub.wild.skylane.local.", A, None));
    assert_eq!(m.answer_data(A), vec!["10.0.2.9"]);
    // ...and neither are names below it (closest encloser has no `*`).
    let (r, _) = ask(&s, &query("x.sub.wild.skylane.local.", A, None));
    assert_eq!(r.rcode, 3);
    // No wildcard at the closest encloser: NXDOMAIN.
    let (r, _) = ask(&s, &query("x.web.skylane.local.", A, None));
    assert_eq!(r.rcode, 3);
}

#[test]
fn skydns_name_without_data_answers_the_union_of_its_children() {
    let s = snapshot();
    let mut st = EngineState::new(3, 1232);
    // db.skylane.local is hone-one: one address of the union, stable per client.
    let (_, m) = ask_from(
        &s,
        &mut st,
        &query("db.skylane.local.", A, None),
        &udp("192.0.2.7"),
    );
    assert_eq!(m.answer.len(), 1);
    assert!(["10.0.3.1", "10.0.3.2"].contains(&m.answer[0].data.as_str()));
    assert_eq!(m.answer[0].name, "db.skylane.local.");
    let mut seen = std::collections::HashSet::new();
    for c in 0..64 {
        let (_, m) = ask_from(
            &s,
            &mut st,
            &query("db.skylane.local.", A, None),
            &udp(&format!("192.0.2.{c}")),
        );
        seen.insert(m.answer[0].data.clone());
    }
    assert_eq!(seen.len(), 2, "both children's addresses take part");
    let (_, m) = ask(&s, &query("db.skylane.local.", AAAA, None));
    assert_eq!(m.answer_data(AAAA), vec!["2001:db8::32"]);
    // A name with no data and no matching children: NODATA (it exists).
    let (r, m) = ask(&s, &query("db.skylane.local.", rtype::TXT, None));
    assert_eq!((r.rcode, m.answer.len(), m.authority.len()), (0, 0, 1));
}

#[test]
fn skydns_leftmost_star_answers_the_union_over_children() {
    let s = snapshot();
    let (r, m) = ask(&s, &query("*.multi.skylane.local.", A, None));
    // multi has no children: the wildcard union is empty → NXDOMAIN? No: the
    // parent exists, so NODATA.
    assert_eq!((r.rcode, m.answer.len()), (0, 0));
    let mut recs = records();
    recs.push(a("a.pool.skylane.local.", "10.0.7.1"));
    recs.push(a("b.pool.skylane.local.", "10.0.7.2"));
    recs.push(a("pool.skylane.local.", "10.0.7.99"));
    let s = skylane_dataplane::Snapshot::build(config(), recs);
    let (_, m) = ask(&s, &query("*.Pool.skylane.local.", A, None));
    let mut got = m.answer_data(A);
    got.sort();
    assert_eq!(got, vec!["10.0.7.1", "10.0.7.2"]);
    assert_eq!(m.answer[0].name, "*.Pool.skylane.local.");
    // The pool name answers with everything at or below it (its own record too).
    let (_, m) = ask(&s, &query("pool.skylane.local.", A, None));
    let mut got = m.answer_data(A);
    got.sort();
    assert_eq!(got, vec!["10.0.7.1", "10.0.7.2", "10.0.7.99"]);
}

#[test]
fn names_outside_our_domains_are_refused() {
    let (r, m) = ask(&snapshot(), &query("www.example.org.", A, None));
    assert_eq!(r.rcode, 5);
    assert!(!m.aa() && m.answer.is_empty() && m.authority.is_empty());
    assert_eq!(m.question[0].0, "www.example.org.");
}

#[test]
fn apex_ns_and_soa_come_from_the_zone() {
    let s = snapshot();
    let (_, m) = ask(&s, &query("skylane.local.", rtype::NS, None));
    assert_eq!(m.answer_data(rtype::NS), vec!["ns.skylane.local."]);
    let (_, m) = ask(&s, &query("Skylane.Local.", rtype::SOA, None));
    assert_eq!(m.answer.len(), 1);
    let soa = m.answer[0].data.to_ascii_lowercase();
    assert!(
        soa.starts_with("ns.skylane.local. hostmaster.skylane.local. "),
        "{soa}"
    );
}

#[test]
fn ptr_is_served_from_auto_ptr() {
    let (r, m) = ask(
        &snapshot(),
        &query("1.0.0.10.in-addr.arpa.", rtype::PTR, None),
    );
    assert_eq!(r.rcode, 0);
    assert_eq!(m.answer_data(rtype::PTR), vec!["web.skylane.local."]);
}

#[test]
fn any_gets_one_rrset() {
    let s = snapshot();
    let (_, m) = ask(&s, &query("multi.skylane.local.", 255, None));
    assert_eq!(m.answer.len(), 3);
    assert!(m.answer.iter().all(|r| r.rtype == A));
    let (_, m) = ask(&s, &query("txt.skylane.local.", 255, None));
    assert_eq!(m.answer.len(), 1);
    assert_eq!(m.answer[0].rtype, rtype::TXT);
    let (r, _) = ask(&s, &query("nope.skylane.local.", 255, None));
    assert_eq!(r.rcode, 3);
}

#[test]
fn udp_without_edns_is_truncated_at_512() {
    let s = snapshot();
    let q = query("big.skylane.local.", A, None);
    let (r, m) = ask(&s, &q);
    assert!(r.truncated && m.tc());
    assert!(r.len <= 512, "{}", r.len);
    // Whole records only: 512 - 12 - 23 (question) = 477 → 29 records of 16 bytes.
    assert_eq!(m.answer.len(), 29);
}

#[test]
fn edns_size_is_clamped_to_max_udp() {
    let s = snapshot();
    let mut st = EngineState::new(1, 600);
    let (r, m) = ask_from(
        &s,
        &mut st,
        &query("big.skylane.local.", A, Some((4096, 0, false))),
        &udp("192.0.2.1"),
    );
    assert!(r.truncated && r.len <= 600);
    assert_eq!(m.opt.unwrap().0, 600);
    // Below 512 is taken as 512.
    let (r, _) = ask_from(
        &s,
        &mut st,
        &query("big.skylane.local.", A, Some((100, 0, false))),
        &udp("192.0.2.1"),
    );
    assert!(r.truncated && r.len <= 512 && r.len > 400);
    // Large enough: everything.
    let (r, m) = ask(&s, &query("big.skylane.local.", A, Some((1232, 0, false))));
    assert!(!r.truncated && m.answer.len() == 60 && r.len <= 1232);
}

#[test]
fn tcp_is_not_truncated() {
    let s = snapshot();
    let mut st = EngineState::new(1, 1232);
    let (r, m) = ask_from(
        &s,
        &mut st,
        &query("big.skylane.local.", A, None),
        &tcp("192.0.2.1"),
    );
    assert!(!r.truncated);
    assert_eq!(m.answer.len(), 60);
}

#[test]
fn edns_version_above_zero_is_badvers() {
    let (r, m) = ask(
        &snapshot(),
        &query("web.skylane.local.", A, Some((1232, 1, true))),
    );
    assert_eq!(r.rcode, 16);
    assert_eq!(m.rcode(), 16);
    assert_eq!(m.flags & 0xf, 0);
    let opt = m.opt.unwrap();
    assert_eq!((opt.1, opt.2), (1, 0), "ext rcode 1, version 0");
    assert!(m.answer.is_empty());
}

#[test]
fn edns_echo_rules() {
    // Unknown option (65001) and cookie: never echoed; DO echoed.
    let q = query_with(
        0x0100,
        "web.skylane.local.",
        A,
        1,
        Some((1232, 0, true)),
        b"\xfd\xe9\x00\x02xy\x00\x0a\x00\x08abcdefgh",
    );
    let (_, m) = ask(&snapshot(), &q);
    let opt = m.opt.unwrap();
    assert_eq!((opt.0, opt.2, opt.3, opt.4), (1232, 0, 0x8000, 0));
    assert_eq!(m.opt_count, 1);
    let (_, m) = ask(
        &snapshot(),
        &query("web.skylane.local.", A, Some((1232, 0, false))),
    );
    assert_eq!(m.opt.unwrap().3, 0);
}

#[test]
fn header_flags_rd_cd_copied_z_ad_not_echoed() {
    let s = snapshot();
    let (_, m) = ask(
        &s,
        &query_with(0x0170, "web.skylane.local.", A, 1, None, &[]),
    );
    assert!(m.rd());
    assert_eq!(m.flags & 0x0070, 0x0010, "Z, AD cleared, CD copied");
    let (_, m) = ask(
        &s,
        &query_with(0x0000, "web.skylane.local.", A, 1, None, &[]),
    );
    assert!(!m.rd());
}

#[test]
fn opcode_15_is_notimp_without_aa() {
    let q = query_with(15 << 11, "web.skylane.local.", A, 1, None, &[]);
    let (r, m) = ask(&snapshot(), &q);
    assert_eq!(r.rcode, 4);
    assert!(!m.aa() && m.answer.is_empty());
    assert_eq!(m.opcode(), 15);
    assert_eq!(m.question.len(), 1);
}

#[test]
fn responses_and_runts_are_dropped() {
    let s = snapshot();
    let mut st = EngineState::new(1, 1232);
    let q = query_with(0x8000, "web.skylane.local.", A, 1, None, &[]);
    assert!(matches!(
        run(&s, &mut st, &q, &udp("192.0.2.1")).0,
        Verdict::Drop(DropReason::NotAQuery)
    ));
    for n in 0..12 {
        assert!(matches!(
            run(&s, &mut st, &q[..n], &udp("192.0.2.1")).0,
            Verdict::Drop(DropReason::Malformed)
        ));
    }
}

#[test]
fn malformed_queries_get_formerr_with_header() {
    let s = snapshot();
    let q = query("web.skylane.local.", A, None);
    // Truncated question: header echoed, no question.
    let (r, m) = ask(&s, &q[..20]);
    assert_eq!((r.rcode, r.qtype), (1, 0));
    assert!(m.question.is_empty() && m.id == 0x1234);
    // QDCOUNT 2.
    let mut two = q.clone();
    two[5] = 2;
    let (r, _) = ask(&s, &two);
    assert_eq!(r.rcode, 1);
    // Answer records in a query.
    let mut an = q.clone();
    an[7] = 1;
    assert_eq!(ask(&s, &an).0.rcode, 1);
    // OPT as the question type.
    assert_eq!(
        ask(&s, &query("web.skylane.local.", rtype::OPT, None))
            .0
            .rcode,
        1
    );
}

#[test]
fn class_and_transfer_rules() {
    let s = snapshot();
    let (r, m) = ask(
        &s,
        &query_with(0x0100, "web.skylane.local.", A, 3, None, &[]),
    );
    assert_eq!(r.rcode, 5);
    assert!(!m.aa());
    assert_eq!(ask(&s, &query("skylane.local.", 252, None)).0.rcode, 5);
    assert_eq!(ask(&s, &query("skylane.local.", 251, None)).0.rcode, 5);
}

#[test]
fn opt_present_iff_in_query() {
    let s = snapshot();
    for (q, has) in [
        (query("web.skylane.local.", A, None), false),
        (query("web.skylane.local.", A, Some((512, 0, false))), true),
        (query("nope.skylane.local.", A, Some((512, 0, false))), true),
        (query("www.example.org.", A, Some((512, 0, false))), true),
        (
            query_with(
                4 << 11,
                "web.skylane.local.",
                A,
                1,
                Some((512, 0, false)),
                &[],
            ),
            true,
        ),
        (
            query_with(4 << 11, "web.skylane.local.", A, 1, None, &[]),
            false,
        ),
    ] {
        let (_, m) = ask(&s, &q);
        assert_eq!(m.opt.is_some(), has, "{q:?}");
    }
}

#[test]
fn before_the_store_is_loaded_negative_answers_are_servfail() {
    let s = snapshot().with_store_pending();
    // Data that is there (static records) is answered...
    let (r, m) = ask(&s, &query("web.skylane.local.", A, None));
    assert_eq!(
        (r.rcode, m.answer_data(A)),
        (0, vec!["10.0.0.1".to_string()])
    );
    // ...but a missing name or type may exist in the store: SERVFAIL, never NXDOMAIN/NODATA.
    let (r, m) = ask(&s, &query("nothing-here.skylane.local.", A, None));
    assert_eq!((r.rcode, m.authority.len()), (2, 0));
    let (r, _) = ask(&s, &query("web.skylane.local.", AAAA, None));
    assert_eq!(r.rcode, 2);
    // Outside the served domains nothing changes: REFUSED.
    let (r, _) = ask(&s, &query("www.example.org.", A, None));
    assert_eq!(r.rcode, 5);
    // apply and with_down keep the mark; a fresh build (the store's data) clears it.
    let next = s.apply(&[]).with_down(&[]);
    assert!(next.store_pending());
    let (r, _) = ask(&snapshot(), &query("nothing-here.skylane.local.", A, None));
    assert_eq!(r.rcode, 3);
}
