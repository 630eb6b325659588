//! Tests of `Snapshot::build` and the read API.

use super::support::*;
use crate::name::Name;
use crate::record::{rtype, Policy, RData, Record};
use crate::snapshot::{Snapshot, ZoneConfig};
use std::net::IpAddr;
use std::sync::Arc;

#[test]
fn lookup_hit_miss_case_and_ttl() {
    let s = Snapshot::build(
        cfg(&["skylane.local."], false),
        vec![
            a("Web.Skylane.Local.", "10.0.0.1", 60),
            a("web.skylane.local.", "10.0.0.2", 20),
            a("web.skylane.local.", "10.0.0.1", 90), // duplicate
            a("zero.skylane.local.", "10.0.0.3", 0),
        ],
    );
    let node = s.node(&k("web.skylane.local.")).expect("node");
    assert_eq!(node.owner(), n("Web.Skylane.Local.").as_wire());
    let rr = node.rrset(rtype::A).expect("A");
    assert_eq!(rr.ttl(), 20);
    assert_eq!(rr.len(), 2);
    assert_eq!(rr.rdata(0), &[10, 0, 0, 1]);
    assert_eq!(rr.rdata(1), &[10, 0, 0, 2]);
    assert!(node.rrset(rtype::AAAA).is_none());
    assert!(!node.is_empty());
    assert!(s.node(&k("nope.skylane.local.")).is_none());
    assert!(
        s.node(n("Web.Skylane.Local.").as_wire()).is_none(),
        "lookups take lowercased names"
    );
    assert_eq!(rdatas(&s, "zero.skylane.local.", rtype::A).len(), 1);
    let zero = s.node(&k("zero.skylane.local.")).unwrap();
    assert_eq!(zero.rrset(rtype::A).unwrap().ttl(), s.config().default_ttl);
    assert_eq!(s.record_count(), 3);
    assert_eq!(s.name_count(), 2);
    assert_eq!(s.generation(), 0);
}

#[test]
fn zones_longest_match_and_synthetic_soa_ns() {
    let s = Snapshot::build(
        cfg(&["cluster.local.", "svc.Cluster.Local."], false),
        vec![a("x.svc.cluster.local.", "10.0.0.1", 60)],
    );
    assert_eq!(
        s.zone(&k("x.svc.cluster.local.")).unwrap().apex(),
        k("svc.cluster.local.")
    );
    assert_eq!(
        s.zone(&k("y.cluster.local.")).unwrap().apex(),
        k("cluster.local.")
    );
    assert_eq!(
        s.zone(&k("cluster.local.")).unwrap().apex(),
        k("cluster.local.")
    );
    assert!(s.zone(&k("xcluster.local.")).is_none());
    assert!(s.zone(&k("local.")).is_none());
    assert!(
        s.zone(&k("1.0.0.10.in-addr.arpa.")).is_none(),
        "no reverse zone without auto_ptr"
    );
    let z = s.zone(&k("svc.cluster.local.")).unwrap();
    let soa = z.soa();
    assert_eq!((soa.rtype(), soa.len(), soa.ttl()), (rtype::SOA, 1, 30));
    let Some(RData::Soa {
        mname,
        rname,
        minimum,
        refresh,
        ..
    }) = crate::snapshot::decode::decode_rdata(rtype::SOA, soa.rdata(0))
    else {
        panic!("bad SOA");
    };
    assert_eq!(mname.to_string(), "ns.svc.Cluster.Local.");
    assert_eq!(rname.to_string(), "hostmaster.svc.Cluster.Local.");
    assert_eq!((minimum, refresh), (30, 3600));
    assert_eq!(z.negative_ttl(), 30);
    assert_eq!(z.ns().rdata(0), n("ns.svc.Cluster.Local.").as_wire());
    // The apex node answers SOA/NS queries too, and the inner apex is a child
    // of the outer one.
    let apex = s.node(&k("svc.cluster.local.")).unwrap();
    assert!(apex.rrset(rtype::SOA).is_some() && apex.rrset(rtype::NS).is_some());
    assert_eq!(children(&s, "cluster.local."), vec!["svc.cluster.local."]);
    // Synthetic records are not "records".
    assert_eq!(s.record_count(), 1);
    assert!(s.records(&n("svc.cluster.local.")).is_empty());
}

#[test]
fn explicit_soa_and_ns_win() {
    let soa = Record::new(
        n("skylane.local."),
        100,
        RData::Soa {
            mname: n("a.example."),
            rname: n("b.example."),
            serial: 9,
            refresh: 1,
            retry: 2,
            expire: 3,
            minimum: 77,
        },
    );
    let ns = Record::new(n("skylane.local."), 100, RData::Ns(n("ns1.example.")));
    let s = Snapshot::build(
        cfg(&["skylane.local."], false),
        vec![soa.clone(), ns.clone()],
    );
    let z = s.zone(&k("skylane.local.")).unwrap();
    assert_eq!(z.negative_ttl(), 77);
    assert_eq!(z.soa().len(), 1);
    assert_eq!(z.ns().rdata(0), n("ns1.example.").as_wire());
    assert_eq!(z.apex_node().rrsets().count(), 2);
    // Removing them brings the synthetic ones back.
    let t = s.apply(&[change("skylane.local.", vec![])]);
    let z = t.zone(&k("skylane.local.")).unwrap();
    assert_eq!(z.negative_ttl(), 30);
    assert_eq!(z.ns().rdata(0), n("ns.skylane.local.").as_wire());
}

#[test]
fn outside_records_are_ignored_except_reverse_ptr() {
    let s = Snapshot::build(
        cfg(&["skylane.local."], false),
        vec![
            a("a.skylane.local.", "10.0.0.1", 60),
            a("a.example.com.", "10.0.0.2", 60),
            a("1.0.0.10.in-addr.arpa.", "10.0.0.3", 60),
            ptr("9.0.0.10.in-addr.arpa.", "a.skylane.local."),
        ],
    );
    assert_eq!(s.ignored_count(), 2);
    assert_eq!(s.record_count(), 2);
    assert!(s.node(&k("a.example.com.")).is_none());
    assert_eq!(
        ptr_targets(&s, "9.0.0.10.in-addr.arpa."),
        vec!["a.skylane.local."]
    );
    // An explicit reverse record brings the in-addr.arpa zone, not ip6.arpa.
    assert_eq!(
        s.zone(&k("9.0.0.10.in-addr.arpa.")).unwrap().apex(),
        k("in-addr.arpa.")
    );
    assert!(s.zone(&k("ip6.arpa.")).is_none());
}

#[test]
fn empty_non_terminals_and_children() {
    let s = Snapshot::build(
        cfg(&["skylane.local."], false),
        vec![
            a("x1.web.prod.skylane.local.", "10.0.0.1", 60),
            a("x2.web.prod.skylane.local.", "10.0.0.2", 60),
            a("*.wild.skylane.local.", "10.0.0.9", 60),
        ],
    );
    for ent in [
        "web.prod.skylane.local.",
        "prod.skylane.local.",
        "wild.skylane.local.",
    ] {
        let node = s.node(&k(ent)).expect(ent);
        assert!(node.is_empty(), "{ent} is an ENT");
    }
    // Subtree answers: the ENTs above x1/x2 show both addresses; `*` owners are not part
    // of a subtree.
    for ent in ["web.prod.skylane.local.", "prod.skylane.local."] {
        assert_eq!(
            rdatas(&s, ent, rtype::A),
            vec![vec![10, 0, 0, 1], vec![10, 0, 0, 2]],
            "{ent}"
        );
    }
    assert_eq!(
        s.node(&k("wild.skylane.local.")).unwrap().rrsets().count(),
        0
    );
    assert_eq!(
        children(&s, "web.prod.skylane.local."),
        vec!["x1.web.prod.skylane.local.", "x2.web.prod.skylane.local."]
    );
    assert_eq!(
        children(&s, "skylane.local."),
        vec!["prod.skylane.local.", "wild.skylane.local."]
    );
    assert!(children(&s, "x1.web.prod.skylane.local.").is_empty());
    assert_eq!(
        rdatas(&s, "*.wild.skylane.local.", rtype::A),
        vec![vec![10, 0, 0, 9]]
    );
    assert!(s.node(&k("other.skylane.local.")).is_none());
}

#[test]
fn many_children_are_chunked_and_all_listed() {
    let recs: Vec<Record> = (0..3000)
        .map(|i| a(&format!("x{i}.big.skylane.local."), "10.0.0.1", 60))
        .collect();
    let s = Snapshot::build(cfg(&["skylane.local."], false), recs);
    let big = s.node(&k("big.skylane.local.")).unwrap();
    assert!(big.child_chunks() > 1);
    assert_eq!(big.child_count(), 3000);
    let mut names: Vec<Vec<u8>> = big.children().map(|c| c.key().to_vec()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 3000);
    // Deleting most of them shrinks the list accordingly.
    let changes: Vec<_> = (0..2990)
        .map(|i| change(&format!("x{i}.big.skylane.local."), vec![]))
        .collect();
    let t = s.apply(&changes);
    assert_eq!(children(&t, "big.skylane.local.").len(), 10);
    assert_eq!(t.node(&k("big.skylane.local.")).unwrap().child_count(), 10);
}

#[test]
fn auto_ptr_v4_v6_multiple_owners_and_explicit_wins() {
    let s = Snapshot::build(
        cfg(&["skylane.local."], true),
        vec![
            a("web.skylane.local.", "10.0.0.1", 60),
            a("Api.skylane.local.", "10.0.0.1", 40),
            aaaa("v6.skylane.local.", "2001:db8::1", 60),
            a("own.skylane.local.", "10.0.0.5", 60),
            ptr("5.0.0.10.in-addr.arpa.", "explicit.example."),
        ],
    );
    assert_eq!(
        ptr_targets(&s, "1.0.0.10.in-addr.arpa."),
        vec!["Api.skylane.local.", "web.skylane.local."]
    );
    let rr = s
        .node(&k("1.0.0.10.in-addr.arpa."))
        .unwrap()
        .rrset(rtype::PTR)
        .unwrap();
    assert_eq!(rr.ttl(), 40);
    let v6 = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.";
    assert_eq!(ptr_targets(&s, v6), vec!["v6.skylane.local."]);
    assert_eq!(
        ptr_targets(&s, "5.0.0.10.in-addr.arpa."),
        vec!["explicit.example."]
    );
    assert_eq!(s.zone(&k(v6)).unwrap().apex(), k("ip6.arpa."));
    assert_eq!(
        s.zone(&k("in-addr.arpa.")).unwrap().apex(),
        k("in-addr.arpa.")
    );
    assert!(s.node(&k("0.0.10.in-addr.arpa.")).unwrap().is_empty());
    // Generated PTRs are not given records.
    assert_eq!(s.record_count(), 5);
    assert_eq!(s.records(&n("1.0.0.10.in-addr.arpa.")), vec![]);
    // Removing the explicit PTR brings back the generated one.
    let t = s.apply(&[change("5.0.0.10.in-addr.arpa.", vec![])]);
    assert_eq!(
        ptr_targets(&t, "5.0.0.10.in-addr.arpa."),
        vec!["own.skylane.local."]
    );
}

#[test]
fn auto_ptr_off_makes_none() {
    let s = Snapshot::build(
        cfg(&["skylane.local."], false),
        vec![a("w.skylane.local.", "10.0.0.1", 60)],
    );
    assert!(s.node(&k("1.0.0.10.in-addr.arpa.")).is_none());
    assert!(s.zone(&k("1.0.0.10.in-addr.arpa.")).is_none());
}

#[test]
fn policies_override_default() {
    let config = Arc::new(ZoneConfig {
        domains: vec![n("skylane.local.")],
        default_policy: Policy::RandomOne,
        policies: vec![(n("Hone.skylane.local."), Policy::HoneOne)],
        auto_ptr: false,
        ..ZoneConfig::default()
    });
    let s = Snapshot::build(
        config,
        vec![
            a("hone.skylane.local.", "10.0.0.1", 60),
            a("r.skylane.local.", "10.0.0.2", 60),
        ],
    );
    assert_eq!(
        s.node(&k("hone.skylane.local.")).unwrap().policy(),
        Policy::HoneOne
    );
    assert_eq!(
        s.node(&k("r.skylane.local.")).unwrap().policy(),
        Policy::RandomOne
    );
    assert_eq!(s.policy(&k("hone.skylane.local.")), Policy::HoneOne);
    assert_eq!(s.policy(&k("other.skylane.local.")), Policy::RandomOne);
}

#[test]
fn down_set_is_replaced_and_shares_the_table() {
    let s = Snapshot::build(
        cfg(&["skylane.local."], false),
        vec![a("w.skylane.local.", "10.0.0.1", 60)],
    );
    assert!(!s.has_down());
    let d: Vec<IpAddr> = vec!["10.0.0.1".parse().unwrap(), "2001:db8::2".parse().unwrap()];
    let t = s.with_down(&d);
    assert_eq!(t.generation(), 1);
    assert!(t.has_down());
    assert!(t.is_down(&[10, 0, 0, 1]));
    assert!(!t.is_down(&[10, 0, 0, 2]));
    let v6: std::net::Ipv6Addr = "2001:db8::2".parse().unwrap();
    assert!(t.is_down(&v6.octets()));
    assert!(!s.is_down(&[10, 0, 0, 1]));
    assert_eq!(
        rdatas(&t, "w.skylane.local.", rtype::A),
        vec![vec![10, 0, 0, 1]]
    );
    let u = t.with_down(&[]);
    assert!(!u.has_down() && !u.is_down(&[10, 0, 0, 1]));
}

#[test]
fn records_round_trip_with_original_ttls_and_case() {
    let given = vec![
        a("Web.skylane.local.", "10.0.0.1", 60),
        a("web.skylane.local.", "10.0.0.2", 20),
        Record::new(n("web.skylane.local."), 5, RData::Txt(vec![b"hi".to_vec()])),
    ];
    let s = Snapshot::build(cfg(&["skylane.local."], true), given.clone());
    let mut got = s.records(&n("WEB.skylane.local."));
    got.sort_by_key(|r| (r.data.rtype(), r.ttl));
    let mut want: Vec<Record> = given
        .into_iter()
        .map(|mut r| {
            r.name = n("Web.skylane.local.");
            r
        })
        .collect();
    want.sort_by_key(|r| (r.data.rtype(), r.ttl));
    assert_eq!(got, want);
    assert!(s.records(&Name::root()).is_empty());
}

#[test]
fn empty_snapshot_serves_apexes() {
    let s = Snapshot::empty(cfg(&["a.test.", "b.test."], true));
    assert_eq!(s.record_count(), 0);
    assert_eq!(s.zones().count(), 4);
    assert!(s.node(&k("a.test.")).unwrap().rrset(rtype::SOA).is_some());
    assert!(s
        .node(&k("in-addr.arpa."))
        .unwrap()
        .rrset(rtype::NS)
        .is_some());
}
