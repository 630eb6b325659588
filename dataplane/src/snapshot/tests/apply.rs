//! Tests of `Snapshot::apply`: replacements, ENT bookkeeping, auto-PTR
//! maintenance, sharing, and equivalence with a fresh build.

use super::support::*;
use crate::record::{rtype, Record};
use crate::snapshot::Snapshot;

#[test]
fn add_replace_delete() {
    let s = Snapshot::build(
        cfg(&["skylane.local."], false),
        vec![a("w.skylane.local.", "10.0.0.1", 60)],
    );
    let t = s.apply(&[change(
        "new.skylane.local.",
        vec![a("new.skylane.local.", "10.0.0.7", 60)],
    )]);
    assert_eq!(t.generation(), 1);
    assert_eq!(
        rdatas(&t, "new.skylane.local.", rtype::A),
        vec![vec![10, 0, 0, 7]]
    );
    assert!(
        s.node(&k("new.skylane.local.")).is_none(),
        "old snapshot unchanged"
    );
    let u = t.apply(&[change(
        "w.skylane.local.",
        vec![
            a("w.skylane.local.", "10.0.0.2", 60),
            aaaa("w.skylane.local.", "::1", 60),
        ],
    )]);
    assert_eq!(
        rdatas(&u, "w.skylane.local.", rtype::A),
        vec![vec![10, 0, 0, 2]]
    );
    assert_eq!(rdatas(&u, "w.skylane.local.", rtype::AAAA).len(), 1);
    assert_eq!(u.record_count(), 3);
    let v = u.apply(&[change("w.skylane.local.", vec![])]);
    assert!(v.node(&k("w.skylane.local.")).is_none());
    assert_eq!((v.record_count(), v.name_count()), (1, 1));
    assert_eq!(children(&v, "skylane.local."), vec!["new.skylane.local."]);
}

#[test]
fn ents_appear_and_disappear() {
    let s = Snapshot::empty(cfg(&["skylane.local."], false));
    let t = s.apply(&[change(
        "x.b.a.skylane.local.",
        vec![a("x.b.a.skylane.local.", "10.0.0.1", 60)],
    )]);
    assert!(t.node(&k("b.a.skylane.local.")).unwrap().is_empty());
    assert!(t.node(&k("a.skylane.local.")).unwrap().is_empty());
    let u = t.apply(&[change(
        "y.b.a.skylane.local.",
        vec![a("y.b.a.skylane.local.", "10.0.0.2", 60)],
    )]);
    let v = u.apply(&[change("x.b.a.skylane.local.", vec![])]);
    assert!(v.node(&k("b.a.skylane.local.")).is_some(), "y still below");
    assert_eq!(
        children(&v, "b.a.skylane.local."),
        vec!["y.b.a.skylane.local."]
    );
    let w = v.apply(&[change("y.b.a.skylane.local.", vec![])]);
    assert!(w.node(&k("b.a.skylane.local.")).is_none());
    assert!(w.node(&k("a.skylane.local.")).is_none());
    assert!(children(&w, "skylane.local.").is_empty());
    // An ENT that gets records of its own stays when its children go.
    let x = u.apply(&[change(
        "b.a.skylane.local.",
        vec![a("b.a.skylane.local.", "10.0.0.3", 60)],
    )]);
    let y = x.apply(&[
        change("x.b.a.skylane.local.", vec![]),
        change("y.b.a.skylane.local.", vec![]),
    ]);
    assert!(!y.node(&k("b.a.skylane.local.")).unwrap().is_empty());
    assert!(children(&y, "b.a.skylane.local.").is_empty());
}

#[test]
fn auto_ptr_follows_address_changes() {
    let s = Snapshot::build(
        cfg(&["skylane.local."], true),
        vec![
            a("w.skylane.local.", "10.0.0.1", 60),
            a("v.skylane.local.", "10.0.0.1", 60),
        ],
    );
    let t = s.apply(&[change(
        "w.skylane.local.",
        vec![a("W.skylane.local.", "10.0.0.2", 60)],
    )]);
    assert_eq!(
        ptr_targets(&t, "1.0.0.10.in-addr.arpa."),
        vec!["v.skylane.local."]
    );
    assert_eq!(
        ptr_targets(&t, "2.0.0.10.in-addr.arpa."),
        vec!["W.skylane.local."]
    );
    let u = t.apply(&[change("v.skylane.local.", vec![])]);
    assert!(u.node(&k("1.0.0.10.in-addr.arpa.")).is_none());
    let w = u.apply(&[change("w.skylane.local.", vec![])]);
    assert!(
        w.node(&k("0.0.10.in-addr.arpa.")).is_none(),
        "reverse ENTs go too"
    );
    assert!(
        w.zone(&k("in-addr.arpa.")).is_some(),
        "auto_ptr keeps the reverse zone"
    );
}

#[test]
fn reverse_zone_follows_explicit_records_without_auto_ptr() {
    let s = Snapshot::empty(cfg(&["skylane.local."], false));
    assert!(s.zone(&k("in-addr.arpa.")).is_none());
    let t = s.apply(&[change(
        "1.0.0.10.in-addr.arpa.",
        vec![ptr("1.0.0.10.in-addr.arpa.", "w.skylane.local.")],
    )]);
    assert!(t.zone(&k("1.0.0.10.in-addr.arpa.")).is_some());
    let u = t.apply(&[change("1.0.0.10.in-addr.arpa.", vec![])]);
    assert!(u.zone(&k("1.0.0.10.in-addr.arpa.")).is_none());
    assert!(u.node(&k("in-addr.arpa.")).is_none());
}

#[test]
fn serial_increases_for_touched_zones() {
    let s = Snapshot::empty(cfg(&["a.test.", "b.test."], false));
    let serial = |s: &Snapshot, z: &str| {
        let soa = s.zone(&k(z)).unwrap().soa();
        let d = soa.rdata(0);
        u32::from_be_bytes(d[d.len() - 20..d.len() - 16].try_into().unwrap())
    };
    let t = s.apply(&[change("x.a.test.", vec![a("x.a.test.", "10.0.0.1", 60)])]);
    assert!(serial(&t, "a.test.") > serial(&s, "a.test."));
    assert_eq!(serial(&t, "b.test."), serial(&s, "b.test."));
}

#[test]
fn ignored_changes_count_and_change_nothing() {
    let s = Snapshot::empty(cfg(&["skylane.local."], false));
    let t = s.apply(&[change("x.example.", vec![a("x.example.", "10.0.0.1", 60)])]);
    assert_eq!(t.ignored_count(), 1);
    assert_eq!(dump(&t), dump(&s));
}

fn random_records(rng: &mut Lcg, name: &str) -> Vec<Record> {
    let count = rng.next(4);
    (0..count)
        .map(|_| match rng.next(3) {
            0 => a(
                name,
                &format!("10.0.{}.{}", rng.next(2), rng.next(4)),
                10 + rng.next(3) as u32,
            ),
            1 => aaaa(name, &format!("2001:db8::{}", rng.next(3)), 30),
            _ => ptr(name, "t.skylane.local."),
        })
        .collect()
}

fn random_name(rng: &mut Lcg) -> String {
    const NAMES: [&str; 10] = [
        "a.skylane.local.",
        "b.a.skylane.local.",
        "c.b.a.skylane.local.",
        "d.skylane.local.",
        "e.d.skylane.local.",
        "skylane.local.",
        "x.other.test.",
        "3.0.0.10.in-addr.arpa.",
        "1.1.0.10.in-addr.arpa.",
        "f.b.a.skylane.local.",
    ];
    NAMES[rng.next(NAMES.len() as u64) as usize].to_string()
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    #[test]
    fn apply_matches_fresh_build(seed in 0u64..u64::MAX, auto_ptr in proptest::bool::ANY) {
        let config = cfg(&["skylane.local.", "other.test."], auto_ptr);
        let mut rng = Lcg(seed);
        let mut state: std::collections::BTreeMap<String, Vec<Record>> = Default::default();
        let mut snap = Snapshot::empty(config.clone());
        for _ in 0..30 {
            let batch: Vec<_> = (0..1 + rng.next(3)).map(|_| {
                let name = random_name(&mut rng);
                let recs = random_records(&mut rng, &name);
                state.insert(name.clone(), recs.clone());
                change(&name, recs)
            }).collect();
            snap = snap.apply(&batch);
        }
        let all: Vec<Record> = state.values().flatten().cloned().collect();
        let fresh = Snapshot::build(config, all);
        proptest::prop_assert_eq!(dump(&snap), dump(&fresh));
        proptest::prop_assert_eq!(snap.record_count(), fresh.record_count());
        proptest::prop_assert_eq!(snap.name_count(), fresh.name_count());
    }
}

#[test]
fn one_change_rebuilds_only_a_few_shards() {
    let recs: Vec<Record> = (0..20_000)
        .map(|i| {
            a(
                &format!("s{i}.n{}.skylane.local.", i % 50),
                &format!("10.0.{}.{}", i / 250, i % 250),
                60,
            )
        })
        .collect();
    let s = Snapshot::build(cfg(&["skylane.local."], true), recs);
    let t = s.apply(&[change(
        "s7.n7.skylane.local.",
        vec![a("s7.n7.skylane.local.", "10.9.9.9", 60)],
    )]);
    let shared = s
        .shards
        .iter()
        .zip(t.shards.iter())
        .filter(|(x, y)| x.ptr() == y.ptr())
        .count();
    let total = crate::snapshot::shard::SHARD_COUNT;
    assert!(
        total - shared <= 24,
        "{} of {total} shards rebuilt",
        total - shared
    );
    assert_eq!(
        ptr_targets(&t, "9.9.9.10.in-addr.arpa."),
        vec!["s7.n7.skylane.local."]
    );
}

#[test]
fn bulk_build_equals_incremental_build_on_a_larger_set() {
    let config = cfg(
        &["Skylane.Local.", "svc.skylane.local.", "10.in-addr.arpa."],
        true,
    );
    let mut recs = Vec::new();
    for i in 0..2500 {
        recs.push(a(
            &format!("x{i}.big.svc.skylane.local."),
            &format!("10.1.{}.{}", i / 200, i % 200),
            30 + (i % 3) as u32,
        ));
        if i % 7 == 0 {
            recs.push(aaaa(
                &format!("x{i}.big.svc.skylane.local."),
                &format!("2001:db8::{i:x}"),
                30,
            ));
            recs.push(a(&format!("X{i}.Other.skylane.local."), "10.1.0.5", 40));
        }
        if i % 11 == 0 {
            recs.push(ptr(
                &format!("{}.9.168.192.in-addr.arpa.", i % 256),
                "h.skylane.local.",
            ));
        }
    }
    recs.push(a("x.example.org.", "10.0.0.1", 30));
    let fresh = Snapshot::build(config.clone(), recs.clone());
    let mut by_name: std::collections::BTreeMap<Vec<u8>, (crate::name::Name, Vec<Record>)> =
        Default::default();
    for r in recs {
        by_name
            .entry(r.name.to_lowercase().as_wire().to_vec())
            .or_insert_with(|| (r.name.clone(), Vec::new()))
            .1
            .push(r);
    }
    let changes: Vec<_> = by_name
        .into_values()
        .map(|(name, records)| crate::snapshot::NameChange { name, records })
        .collect();
    let mut inc = Snapshot::empty(config);
    for batch in changes.chunks(97) {
        inc = inc.apply(batch);
    }
    assert_eq!(dump(&inc), dump(&fresh));
    assert_eq!(inc.record_count(), fresh.record_count());
    assert_eq!(inc.ignored_count(), fresh.ignored_count());
    assert!(
        fresh
            .node(&k("big.svc.skylane.local."))
            .unwrap()
            .child_chunks()
            > 1
    );
}
