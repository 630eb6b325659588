//! Subtree answers (SkyDNS / CoreDNS etcd rule): checked against a brute-force model of the
//! rule, and bulk build against incremental apply (including the bound and apex rules).

use super::support::*;
use crate::name::Name;
use crate::record::{rtype, RData, Record};
use crate::snapshot::{Snapshot, MAX_SUBTREE_RRS};
use std::collections::{BTreeMap, BTreeSet};

fn srv(name: &str, prio: u16, weight: u16, port: u16, target: &str) -> Record {
    Record::new(
        n(name),
        60,
        RData::Srv {
            priority: prio,
            weight,
            port,
            target: n(target),
        },
    )
}

fn txt(name: &str, text: &str) -> Record {
    Record::new(n(name), 60, RData::Txt(vec![text.as_bytes().to_vec()]))
}

/// SRV (priority, weight, port) of the shown SRV RRset, sorted.
fn srv_fields(s: &Snapshot, name: &str) -> Vec<(u16, u16, u16)> {
    let mut v: Vec<_> = rdatas(s, name, rtype::SRV)
        .iter()
        .map(|d| {
            let f = |i: usize| u16::from_be_bytes([d[i], d[i + 1]]);
            (f(0), f(2), f(4))
        })
        .collect();
    v.sort();
    v
}

#[test]
fn names_answer_with_everything_at_or_below() {
    let s = Snapshot::build(
        cfg(&["skydns.local."], false),
        vec![
            a("a.east.region1.skydns.local.", "10.0.0.1", 60),
            a("b.west.region1.skydns.local.", "10.0.0.2", 30),
            a("region1.skydns.local.", "10.0.0.3", 60),
            a("*.region1.skydns.local.", "10.9.9.9", 60),
            txt("c.west.region1.skydns.local.", "hello"),
        ],
    );
    let mut got = rdatas(&s, "region1.skydns.local.", rtype::A);
    got.sort();
    assert_eq!(
        got,
        vec![vec![10, 0, 0, 1], vec![10, 0, 0, 2], vec![10, 0, 0, 3]]
    );
    let node = s.node(&k("region1.skydns.local.")).unwrap();
    assert_eq!(node.rrset(rtype::A).unwrap().ttl(), 30, "smallest TTL");
    assert!(!node.is_empty(), "own record");
    assert_eq!(
        rdatas(&s, "west.region1.skydns.local.", rtype::TXT),
        vec![b"\x05hello".to_vec()]
    );
    // The apex answers with the zone's subtree; its given records stay its own.
    assert_eq!(rdatas(&s, "skydns.local.", rtype::A).len(), 3);
    assert_eq!(
        s.records(&n("region1.skydns.local.")),
        vec![a("region1.skydns.local.", "10.0.0.3", 60)]
    );
}

#[test]
fn srv_weights_are_normalised_per_answer_and_priority() {
    let s = Snapshot::build(
        cfg(&["skydns.local."], false),
        vec![
            srv("a.x.skydns.local.", 10, 0, 80, "t1.skydns.local."),
            srv("b.x.skydns.local.", 10, 0, 80, "t2.skydns.local."),
            srv("c.y.x.skydns.local.", 10, 0, 80, "t3.skydns.local."),
            srv("d.y.x.skydns.local.", 10, 0, 80, "t4.skydns.local."),
            srv("e.x.skydns.local.", 20, 300, 0, "t5.skydns.local."),
        ],
    );
    // Four services of priority 10 (raw 0 = 100 each): 25 each; alone at 20: 100.
    assert_eq!(
        srv_fields(&s, "x.skydns.local."),
        vec![
            (10, 25, 80),
            (10, 25, 80),
            (10, 25, 80),
            (10, 25, 80),
            (20, 100, 0)
        ]
    );
    assert_eq!(
        srv_fields(&s, "y.x.skydns.local."),
        vec![(10, 50, 80), (10, 50, 80)]
    );
    assert_eq!(srv_fields(&s, "e.x.skydns.local."), vec![(20, 100, 0)]);
    // Given records keep their raw weights.
    assert_eq!(
        s.records(&n("e.x.skydns.local.")),
        vec![srv("e.x.skydns.local.", 20, 300, 0, "t5.skydns.local.")]
    );
}

#[test]
fn zone_file_srv_records_are_served_as_written() {
    let zone = |r: Record| r.as_written();
    let records = vec![
        zone(srv(
            "_http._tcp.z.skydns.local.",
            10,
            50,
            80,
            "web.skydns.local.",
        )),
        zone(srv("a.w.skydns.local.", 10, 30, 80, "t1.skydns.local.")),
        srv("b.w.skydns.local.", 10, 10, 80, "t2.skydns.local."),
        srv("lone.skydns.local.", 10, 50, 80, "t3.skydns.local."),
    ];
    let config = cfg(&["skydns.local."], false);
    let built = Snapshot::build(config.clone(), records.clone());
    let applied = Snapshot::empty(config).apply(
        &records
            .iter()
            .map(|r| change(&r.name.to_string(), vec![r.clone()]))
            .collect::<Vec<_>>(),
    );
    assert_eq!(dump(&built), dump(&applied), "bulk == incremental");
    for s in [&built, &applied] {
        // Zone file: as written (Knot/NSD); store: normalised per answer (CoreDNS).
        assert_eq!(
            srv_fields(s, "_http._tcp.z.skydns.local."),
            vec![(10, 50, 80)]
        );
        assert_eq!(srv_fields(s, "a.w.skydns.local."), vec![(10, 30, 80)]);
        assert_eq!(srv_fields(s, "lone.skydns.local."), vec![(10, 100, 80)]);
        // A store union composes the zone-file record with its raw weight: 30 + 10.
        assert_eq!(
            srv_fields(s, "w.skydns.local."),
            vec![(10, 25, 80), (10, 75, 80)]
        );
        assert_eq!(
            s.records(&n("a.w.skydns.local.")),
            vec![zone(srv(
                "a.w.skydns.local.",
                10,
                30,
                80,
                "t1.skydns.local."
            ))]
        );
    }
}

#[test]
fn apex_ns_and_addresses_from_the_dns_names() {
    let cfg = cfg(&["skydns.local."], false);
    let s = Snapshot::build(
        cfg.clone(),
        vec![
            a("ns1.ns.dns.skydns.local.", "10.0.0.53", 60),
            a("ns2.ns.dns.skydns.local.", "10.0.0.54", 60),
            a("svc.skydns.local.", "10.0.0.1", 60),
        ],
    );
    let mut ns = rdatas(&s, "skydns.local.", rtype::NS);
    ns.sort();
    assert_eq!(
        ns,
        vec![
            k("ns1.ns.dns.skydns.local.").to_vec(),
            k("ns2.ns.dns.skydns.local.").to_vec()
        ]
    );
    assert_eq!(
        rdatas(&s, "skydns.local.", rtype::A).len(),
        3,
        "zone subtree"
    );
    let t = s.apply(&[change(
        "apex.dns.skydns.local.",
        vec![a("apex.dns.skydns.local.", "10.1.1.1", 60)],
    )]);
    assert_eq!(
        rdatas(&t, "skydns.local.", rtype::A),
        vec![vec![10, 1, 1, 1]]
    );
    let u = t.apply(&[
        change("ns1.ns.dns.skydns.local.", vec![]),
        change("ns2.ns.dns.skydns.local.", vec![]),
    ]);
    assert_eq!(
        rdatas(&u, "skydns.local.", rtype::NS),
        vec![k("ns.skydns.local.").to_vec()],
        "synthetic again"
    );
}

#[test]
fn the_bound_holds_and_agrees_after_removals() {
    let config = cfg(&["skydns.local."], false);
    let total = MAX_SUBTREE_RRS + 40;
    let recs: Vec<Record> = (0..total)
        .map(|i| {
            a(
                &format!("h{i}.big.skydns.local."),
                &format!("10.1.{}.{}", i / 256, i % 256),
                60,
            )
        })
        .collect();
    let full = Snapshot::build(config.clone(), recs.clone());
    let got = rdatas(&full, "big.skydns.local.", rtype::A);
    assert_eq!(got.len(), MAX_SUBTREE_RRS);
    assert!(
        got.windows(2).all(|w| w[0] < w[1]),
        "smallest RDATAs, in order"
    );
    // Remove the 60 smallest: the answer refills from the rest, as a fresh build does.
    let removed: Vec<_> = (0..60)
        .map(|i| change(&format!("h{i}.big.skydns.local."), vec![]))
        .collect();
    let after = full.apply(&removed);
    let fresh = Snapshot::build(config, recs[60..].to_vec());
    assert_eq!(dump(&after), dump(&fresh));
    assert_eq!(
        rdatas(&after, "big.skydns.local.", rtype::A).len(),
        total - 60
    );
}

/// The bulk pass computes a depth of more than `PARALLEL_LEVEL` (512) names on several
/// threads: 700 parents at one depth, with SRV owners, shared addresses and TTLs, a group and
/// a wildcard, give the same table (hidden sets included) as a smaller build brought to the
/// same records by incremental updates.
#[test]
fn a_parallel_bulk_pass_agrees_with_incremental_updates() {
    let config = cfg(&["skydns.local."], true);
    let recs: Vec<Record> = (0..2100usize)
        .map(|i| {
            let name = format!("h{i}.p{}.big.skydns.local.", i % 700);
            match i % 7 {
                0 => srv(&name, 10, (i % 3) as u16, 80, "t.skydns.local."),
                1 => txt(&name, ["x", "y", "z"][i % 3]),
                2 => a(&format!("*.p{}.big.skydns.local.", i % 700), "10.9.9.9", 60),
                3 => a(&name, "10.3.0.1", 20 + (i % 5) as u32).with_group("g1"),
                _ => a(
                    &name,
                    &format!("10.3.{}.{}", i % 9, i % 251),
                    20 + (i % 4) as u32,
                ),
            }
        })
        .collect();
    let fresh = Snapshot::build(config.clone(), recs.clone());
    // The names of odd length arrive by `apply`, in batches of 50 names.
    let (early, late): (Vec<Record>, Vec<Record>) = recs
        .iter()
        .cloned()
        .partition(|r| r.name.to_string().len() % 2 == 0);
    let mut snap = Snapshot::build(config, early);
    let mut by_name: BTreeMap<String, Vec<Record>> = BTreeMap::new();
    for r in late {
        by_name.entry(r.name.to_string()).or_default().push(r);
    }
    let changes: Vec<_> = by_name.into_iter().map(|(n, r)| change(&n, r)).collect();
    for batch in changes.chunks(50) {
        snap = snap.apply(batch);
    }
    assert_eq!(dump(&snap), dump(&fresh));
    for p in [
        "p0.big.skydns.local.",
        "p3.big.skydns.local.",
        "big.skydns.local.",
    ] {
        assert_eq!(stored(&snap, p), stored(&fresh, p), "{p}");
    }
}

const NAMES: [&str; 12] = [
    "a.skydns.local.",
    "b.a.skydns.local.",
    "c.b.a.skydns.local.",
    "d.b.a.skydns.local.",
    "*.b.a.skydns.local.",
    "e.skydns.local.",
    "skydns.local.",
    "ns1.ns.dns.skydns.local.",
    "x.ns1.ns.dns.skydns.local.",
    "apex.dns.skydns.local.",
    "f.apex.dns.skydns.local.",
    "g.e.skydns.local.",
];

fn random_records(rng: &mut Lcg, name: &str) -> Vec<Record> {
    (0..rng.next(4))
        .map(|_| match rng.next(5) {
            0 => a(
                name,
                &format!("10.0.0.{}", rng.next(5)),
                10 + rng.next(3) as u32,
            ),
            1 => aaaa(name, &format!("2001:db8::{}", rng.next(3)), 30),
            2 => {
                let r = srv(
                    name,
                    10 * rng.next(2) as u16,
                    rng.next(3) as u16 * 50,
                    80,
                    "t.skydns.local.",
                );
                // Some from a zone file: served as written, composed raw by parents.
                if rng.next(3) == 0 {
                    r.as_written()
                } else {
                    r
                }
            }
            3 => txt(name, ["x", "y"][rng.next(2) as usize]),
            _ => Record::new(
                n(name),
                60,
                RData::Mx {
                    preference: 10,
                    exchange: n(["m1.skydns.local.", "m2.skydns.local."][rng.next(2) as usize]),
                },
            ),
        })
        .collect()
}

/// The model: A RDATAs of every non-wildcard name at or below `name` (the apex: from
/// `apex.dns` when that has names below or at it).
fn model_a(state: &BTreeMap<String, Vec<Record>>, name: &str) -> BTreeSet<Vec<u8>> {
    let apex_dns = n("apex.dns.skydns.local.");
    let from_apex_dns = name == "skydns.local."
        && state
            .iter()
            .any(|(o, r)| !r.is_empty() && n(o).is_subdomain_of(&apex_dns));
    let base = n(name);
    let below = |o: &Name| {
        if from_apex_dns && o != &base {
            o.is_subdomain_of(&apex_dns)
        } else {
            o.is_subdomain_of(&base)
        }
    };
    let wild = |o: &Name| o.labels().any(|l| l == b"*") && !base.labels().any(|l| l == b"*");
    let mut out = BTreeSet::new();
    for (o, recs) in state {
        let on = n(o);
        if below(&on) && !wild(&on) {
            for r in recs.iter().filter(|r| r.data.rtype() == rtype::A) {
                let mut w = Vec::new();
                r.data.write_wire(&mut w);
                out.insert(w);
            }
        }
    }
    out
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
    #[test]
    fn subtree_answers_agree_with_the_model_and_fresh_builds(seed in 0u64..u64::MAX) {
        let config = cfg(&["skydns.local."], false);
        let mut rng = Lcg(seed);
        let mut state: BTreeMap<String, Vec<Record>> = Default::default();
        let mut snap = Snapshot::empty(config.clone());
        for _ in 0..25 {
            let batch: Vec<_> = (0..1 + rng.next(3)).map(|_| {
                let name = NAMES[rng.next(NAMES.len() as u64) as usize];
                (name.to_string(), random_records(&mut rng, name))
            }).collect();
            snap = apply_batch(&snap, &mut state, batch);
        }
        let all: Vec<Record> = state.values().flatten().cloned().collect();
        let fresh = Snapshot::build(config, all);
        proptest::prop_assert_eq!(dump(&snap), dump(&fresh));
        for name in NAMES.iter().filter(|n| !n.starts_with('*')) {
            let got: BTreeSet<Vec<u8>> = rdatas(&snap, name, rtype::A).into_iter().collect();
            proptest::prop_assert_eq!(got, model_a(&state, name), "{}", name);
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(12))]
    /// Incremental updates past the bound (`edit::delta`): 320 names over two parents share
    /// addresses and TTLs, so removals hit RDATAs other names still give, RDATAs at the
    /// bound's edge, and TTLs given by one name only. After every batch the applied snapshot
    /// equals a fresh build.
    #[test]
    fn updates_past_the_bound_agree_with_fresh_builds(seed in 0u64..u64::MAX) {
        let config = cfg(&["skydns.local."], false);
        let mut rng = Lcg(seed);
        let name = |i: u64| format!("h{i}.p{}.big.skydns.local.", i % 2);
        let rec = |rng: &mut Lcg, i: u64| {
            let ip = format!("10.2.{}.{}", rng.next(2), rng.next(200));
            vec![a(&name(i), &ip, 20 + rng.next(3) as u32)]
        };
        let mut state: BTreeMap<String, Vec<Record>> = Default::default();
        for i in 0..320 {
            state.insert(name(i), rec(&mut rng, i));
        }
        let all = |s: &BTreeMap<String, Vec<Record>>| s.values().flatten().cloned().collect();
        let mut snap = Snapshot::build(config.clone(), all(&state));
        for _ in 0..6 {
            let batch: Vec<_> = (0..1 + rng.next(4)).map(|_| {
                let i = rng.next(330);
                (name(i), if rng.next(3) == 0 { vec![] } else { rec(&mut rng, i) })
            }).collect();
            snap = apply_batch(&snap, &mut state, batch);
            let fresh = Snapshot::build(config.clone(), all(&state));
            proptest::prop_assert_eq!(dump(&snap), dump(&fresh));
            for p in ["p0.big.skydns.local.", "p1.big.skydns.local.", "big.skydns.local."] {
                proptest::prop_assert_eq!(stored(&snap, p), stored(&fresh, p), "{}", p);
            }
        }
    }
}

/// `snap` with `batch` applied (each name's records replaced), recorded in `state`.
fn apply_batch(
    snap: &Snapshot,
    state: &mut BTreeMap<String, Vec<Record>>,
    batch: Vec<(String, Vec<Record>)>,
) -> Snapshot {
    let changes: Vec<_> = batch.iter().map(|(n, r)| change(n, r.clone())).collect();
    state.extend(batch);
    snap.apply(&changes)
}

/// One stored RRset: type, kind, and each record's (TTL, RDATA).
type StoredSet = (u16, u8, Vec<(u32, Vec<u8>)>);

/// Every RRset stored at `name`, hidden ones included, with each record's own TTL.
fn stored(s: &Snapshot, name: &str) -> Vec<StoredSet> {
    let node = s.node(&k(name)).expect("node");
    let mut v: Vec<_> = node
        .all_rrsets()
        .map(|r| {
            let items = (0..r.len()).map(|i| (r.record_ttl(i), r.rdata(i).to_vec()));
            (r.rtype(), r.kind(), items.collect())
        })
        .collect();
    v.sort();
    v
}

/// A parent of more than 65,536 children has them read on several threads (`edit::batch`),
/// each part into its own bounded sets, merged at the end: the answer is still the smallest
/// [`MAX_SUBTREE_RRS`] RDATAs of all children, each with its smallest TTL, wherever in the
/// child list they sit (addresses given in descending order; the smallest one in eight
/// children spread over the list, one of them with a smaller TTL).
#[test]
fn a_parent_of_very_many_children_keeps_the_smallest_records() {
    let total = 70_000usize;
    let name = |i: usize| format!("h{i}.big.skydns.local.");
    let ip = |v: usize| format!("10.{}.{}.{}", v >> 16, (v >> 8) & 255, v & 255);
    let mut recs: Vec<Record> = (0..total)
        .map(|i| a(&name(i), &ip(total - i), 60))
        .collect();
    for i in 0..8 {
        let ttl = if i == 5 { 30 } else { 90 };
        recs.push(a(&name(i * (total / 8)), &ip(0), ttl));
    }
    let s = Snapshot::build(cfg(&["skydns.local."], false), recs);
    let got = rdatas(&s, "big.skydns.local.", rtype::A);
    let want: Vec<Vec<u8>> = (0..MAX_SUBTREE_RRS)
        .map(|v| (0x0a00_0000u32 + v as u32).to_be_bytes().to_vec())
        .collect();
    assert_eq!(got, want);
    let ttl = s
        .node(&k("big.skydns.local."))
        .and_then(|nd| nd.rrset(rtype::A))
        .map(|r| r.record_ttl(0));
    assert_eq!(
        ttl,
        Some(30),
        "the smallest TTL of a record found in several parts"
    );
}
