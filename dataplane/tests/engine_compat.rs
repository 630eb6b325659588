//! Engine answers under the SkyDNS / CoreDNS etcd plugin rules: subtree answers, wildcard
//! labels in any position, SRV weights, apex NS (with glue) and A from `ns.dns` / `apex.dns`,
//! and Skylane's health filtering and policies applied to those unions.

mod engine_support;

use engine_support::*;
use skylane_dataplane::engine::{EngineState, MAX_PATTERN_NODES};
use skylane_dataplane::record::{rtype, Policy, RData, Record};
use skylane_dataplane::snapshot::ZoneConfig;
use skylane_dataplane::Snapshot;
use std::sync::Arc;

fn srvw(name: &str, prio: u16, weight: u16, port: u16, target: &str) -> Record {
    rec(
        name,
        RData::Srv {
            priority: prio,
            weight,
            port,
            target: n(target),
        },
    )
}

fn cfg() -> Arc<ZoneConfig> {
    Arc::new(ZoneConfig {
        domains: vec![n("skydns.local.")],
        policies: vec![(n("hone.skydns.local."), Policy::HoneOne)],
        auto_ptr: false,
        ..ZoneConfig::default()
    })
}

/// The layout of CoreDNS's etcd plugin examples, as the control plane hands it over.
fn fixture() -> Snapshot {
    Snapshot::build(
        cfg(),
        vec![
            a("x1.east.region1.skydns.local.", "10.0.0.1"),
            a("x2.west.region1.skydns.local.", "10.0.0.2"),
            srvw(
                "x1.east.region1.skydns.local.",
                10,
                0,
                8080,
                "x1.east.region1.skydns.local.",
            ),
            srvw(
                "x2.west.region1.skydns.local.",
                10,
                0,
                8080,
                "x2.west.region1.skydns.local.",
            ),
            a("web.prod.east.skydns.local.", "10.1.0.1"),
            a("db.prod.west.skydns.local.", "10.1.0.2"),
            a("web.dev.west.skydns.local.", "10.1.0.3"),
            a("ns1.ns.dns.skydns.local.", "10.0.0.53"),
            a("h1.hone.skydns.local.", "10.2.0.1"),
            a("h2.hone.skydns.local.", "10.2.0.2"),
            a("h3.hone.skydns.local.", "10.2.0.3"),
        ],
    )
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn a_name_answers_with_every_service_at_or_below_it() {
    let s = fixture();
    let (r, m) = ask(
        &s,
        &query("region1.skydns.local.", rtype::SRV, Some((4096, 0, false))),
    );
    assert_eq!(r.rcode, 0);
    assert_eq!(
        sorted(m.answer_data(rtype::SRV)),
        vec![
            "10 50 8080 x1.east.region1.skydns.local.",
            "10 50 8080 x2.west.region1.skydns.local."
        ]
    );
    // The targets' addresses come along.
    let add: Vec<String> = sorted(m.additional.iter().map(|r| r.data.clone()).collect());
    assert_eq!(add, vec!["10.0.0.1", "10.0.0.2"]);
    let (_, m) = ask(&s, &query("region1.skydns.local.", rtype::A, None));
    assert_eq!(
        sorted(m.answer_data(rtype::A)),
        vec!["10.0.0.1", "10.0.0.2"]
    );
    // Nothing at or below: NXDOMAIN; something below but not of this type: NODATA.
    let (r, _) = ask(&s, &query("nothere.region1.skydns.local.", rtype::A, None));
    assert_eq!(r.rcode, 3);
    let (r, m) = ask(&s, &query("region1.skydns.local.", rtype::TXT, None));
    assert_eq!((r.rcode, m.answer.len(), m.authority.len()), (0, 0, 1));
}

#[test]
fn wildcard_labels_match_one_label_in_any_position() {
    let s = fixture();
    for q in [
        "prod.*.skydns.local.",
        "prod.any.skydns.local.",
        "PROD.ANY.skydns.local.",
    ] {
        let (r, m) = ask(&s, &query(q, rtype::A, None));
        assert_eq!(r.rcode, 0, "{q}");
        assert_eq!(
            sorted(m.answer_data(rtype::A)),
            vec!["10.1.0.1", "10.1.0.2"],
            "{q}"
        );
        assert_eq!(m.answer[0].name, q, "owner is the query name");
    }
    let (_, m) = ask(
        &s,
        &query("*.*.skydns.local.", rtype::A, Some((4096, 0, false))),
    );
    assert_eq!(
        m.answer_data(rtype::A).len(),
        9,
        "every address two labels down or deeper"
    );
    let (_, m) = ask(&s, &query("web.*.*.skydns.local.", rtype::A, None));
    assert_eq!(
        sorted(m.answer_data(rtype::A)),
        vec!["10.1.0.1", "10.1.0.3"]
    );
    let (_, m) = ask(&s, &query("any.region1.skydns.local.", rtype::A, None));
    assert_eq!(
        sorted(m.answer_data(rtype::A)),
        vec!["10.0.0.1", "10.0.0.2"]
    );
    // A pattern matching nothing does not exist.
    let (r, _) = ask(&s, &query("nope.*.skydns.local.", rtype::A, None));
    assert_eq!(r.rcode, 3);
}

#[test]
fn wildcard_work_is_bounded() {
    let recs: Vec<Record> = (0..100)
        .map(|i| a(&format!("svc.h{i}.skydns.local."), &format!("10.3.0.{i}")))
        .collect();
    let s = Snapshot::build(cfg(), recs);
    let (r, m) = ask(
        &s,
        &query("svc.*.skydns.local.", rtype::A, Some((65000, 0, false))),
    );
    assert_eq!(r.rcode, 0);
    assert_eq!(
        m.answer.len(),
        MAX_PATTERN_NODES,
        "at most MAX_PATTERN_NODES names"
    );
    // More than MAX_WILDCARD_LABELS wildcard labels match nothing.
    let (r, _) = ask(&s, &query("*.*.*.*.*.skydns.local.", rtype::A, None));
    assert_eq!(r.rcode, 3);
}

#[test]
fn apex_ns_from_ns_dns_with_glue_and_apex_addresses() {
    let s = fixture();
    let (_, m) = ask(&s, &query("skydns.local.", rtype::NS, None));
    assert_eq!(m.answer_data(rtype::NS), vec!["ns1.ns.dns.skydns.local."]);
    assert_eq!(
        m.additional
            .iter()
            .map(|r| (r.name.clone(), r.data.clone()))
            .collect::<Vec<_>>(),
        vec![(
            "ns1.ns.dns.skydns.local.".to_string(),
            "10.0.0.53".to_string()
        )]
    );
    // No apex.dns: the zone's subtree.
    let (_, m) = ask(
        &s,
        &query("skydns.local.", rtype::A, Some((4096, 0, false))),
    );
    assert_eq!(m.answer_data(rtype::A).len(), 9);
    let t = s.apply(&[skylane_dataplane::snapshot::NameChange {
        name: n("apex.dns.skydns.local."),
        records: vec![a("apex.dns.skydns.local.", "10.9.0.1")],
    }]);
    let (_, m) = ask(&t, &query("skydns.local.", rtype::A, None));
    assert_eq!(m.answer_data(rtype::A), vec!["10.9.0.1"]);
    let (_, m) = ask(&t, &query("skydns.local.", rtype::AAAA, None));
    assert!(m.answer.is_empty());
}

#[test]
fn health_and_policies_apply_to_the_union() {
    let s = fixture().with_down(&["10.0.0.1".parse().unwrap()]);
    let (r, m) = ask(&s, &query("region1.skydns.local.", rtype::A, None));
    assert_eq!(m.answer_data(rtype::A), vec!["10.0.0.2"]);
    assert!(!r.fail_open);
    // Every address DOWN: all are answered (fail open), never an empty answer.
    let s = fixture().with_down(&["10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap()]);
    let (r, m) = ask(&s, &query("region1.skydns.local.", rtype::A, None));
    assert_eq!(m.answer_data(rtype::A).len(), 2);
    assert!(r.fail_open);
    // hone-one at hone.skydns.local.: one address of the subtree, stable per client.
    let s = fixture();
    let mut st = EngineState::new(7, 1232);
    let first = ask_from(
        &s,
        &mut st,
        &query("hone.skydns.local.", rtype::A, None),
        &udp("192.0.2.7"),
    )
    .1;
    assert_eq!(first.answer.len(), 1);
    for _ in 0..5 {
        let again = ask_from(
            &s,
            &mut st,
            &query("hone.skydns.local.", rtype::A, None),
            &udp("192.0.2.7"),
        )
        .1;
        assert_eq!(again.answer_data(rtype::A), first.answer_data(rtype::A));
    }
}
