//! The `group` rule (CoreDNS `msg.Group`) in subtree answers: CoreDNS's documented shapes,
//! the unfiltered union kept for parents, and bulk build against incremental apply with
//! random groups (checked against a model written from CoreDNS's code).

use super::support::*;
use crate::record::{rtype, Record};
use crate::snapshot::Snapshot;
use std::collections::{BTreeMap, BTreeSet};

fn ga(name: &str, ip: &str, group: &str) -> Record {
    a(name, ip, 60).with_group(group)
}

fn addrs(s: &Snapshot, name: &str) -> Vec<String> {
    let mut v: Vec<String> = rdatas(s, name, rtype::A)
        .iter()
        .map(|d| format!("{}.{}.{}.{}", d[0], d[1], d[2], d[3]))
        .collect();
    v.sort();
    v
}

#[test]
fn coredns_group_shapes() {
    let s = Snapshot::build(
        cfg(&["skydns.test."], false),
        vec![
            // One group at two depths: both.
            ga("a.dom.skydns.test.", "127.0.0.1", "g1"),
            ga("b.sub.dom.skydns.test.", "127.0.0.2", "g1"),
            // The shortest key's group plus group-less services.
            ga("a.dom2.skydns.test.", "127.0.0.1", "g1"),
            ga("b.sub.dom2.skydns.test.", "127.0.0.2", ""),
            // Another group deeper than the shortest key's: left out.
            ga("a.dom1.skydns.test.", "127.0.0.1", "g1"),
            ga("b.sub.dom1.skydns.test.", "127.0.0.2", "g2"),
            // Two groups at the shortest depth: all.
            ga("a.dom3.skydns.test.", "127.0.0.1", "g1"),
            ga("b.dom3.skydns.test.", "127.0.0.2", "g2"),
        ],
    );
    let both = ["127.0.0.1", "127.0.0.2"];
    assert_eq!(addrs(&s, "dom.skydns.test."), both);
    assert_eq!(addrs(&s, "dom2.skydns.test."), both);
    assert_eq!(addrs(&s, "dom1.skydns.test."), ["127.0.0.1"]);
    assert_eq!(addrs(&s, "dom3.skydns.test."), both);
    // The apex: the first key in order (`/test/skydns/dom/a`) starts g1 at depth 4, and
    // b.dom3 holds g2 at that depth: all.
    assert_eq!(addrs(&s, "skydns.test."), both);
    // A change that makes dom1 agree shows incrementally, as in a fresh build.
    let after = s.apply(&[change(
        "b.sub.dom1.skydns.test.",
        vec![ga("b.sub.dom1.skydns.test.", "127.0.0.3", "g1")],
    )]);
    assert_eq!(
        addrs(&after, "dom1.skydns.test."),
        ["127.0.0.1", "127.0.0.3"]
    );
    // Groups removed: the union again.
    let none = after.apply(&[change(
        "a.dom1.skydns.test.",
        vec![a("a.dom1.skydns.test.", "127.0.0.1", 60)],
    )]);
    let fresh = Snapshot::build(
        cfg(&["skydns.test."], false),
        vec![
            a("a.dom1.skydns.test.", "127.0.0.1", 60),
            ga("b.sub.dom1.skydns.test.", "127.0.0.3", "g1"),
        ],
    );
    assert_eq!(
        addrs(&none, "dom1.skydns.test."),
        addrs(&fresh, "dom1.skydns.test.")
    );
}

#[test]
fn a_name_group_is_the_one_its_values_share() {
    let s = Snapshot::build(
        cfg(&["skydns.test."], false),
        vec![
            ga("a.d.skydns.test.", "127.0.0.1", "g1"),
            ga("a.d.skydns.test.", "127.0.0.5", "g2"),
            ga("b.x.d.skydns.test.", "127.0.0.2", "g2"),
        ],
    );
    // `a` has no group (its values disagree): nothing filters.
    assert_eq!(
        addrs(&s, "d.skydns.test."),
        ["127.0.0.1", "127.0.0.2", "127.0.0.5"]
    );
}

const NAMES: [&str; 7] = [
    "a.skydns.test.",
    "b.a.skydns.test.",
    "c.a.skydns.test.",
    "d.c.a.skydns.test.",
    "e.b.a.skydns.test.",
    "f.skydns.test.",
    "g.f.skydns.test.",
];

/// CoreDNS `msg.Group` written again over the model's state: the A RDATAs answered at
/// `name`.
fn model(state: &BTreeMap<String, (String, String)>, name: &str) -> BTreeSet<String> {
    let base = n(name);
    // (etcd key, depth, group, address) in key order.
    let mut sx: Vec<(String, usize, String, String)> = state
        .iter()
        .filter(|(o, _)| n(o).is_subdomain_of(&base))
        .map(|(o, (ip, g))| {
            let labels: Vec<&str> = o.trim_end_matches('.').split('.').collect();
            let key: Vec<&str> = labels.iter().rev().copied().collect();
            (
                format!("/{}", key.join("/")),
                labels.len(),
                g.clone(),
                ip.clone(),
            )
        })
        .collect();
    sx.sort();
    let Some(first) = sx.first() else {
        return BTreeSet::new();
    };
    let (mut group, mut slashes) = (first.2.clone(), first.1);
    let mut length = vec![0; sx.len()];
    for (i, s) in sx.iter().enumerate() {
        length[i] = s.1;
        if s.1 < slashes {
            if s.2.is_empty() {
                break;
            }
            slashes = s.1;
            group = s.2.clone();
        }
    }
    let all: BTreeSet<String> = sx.iter().map(|s| s.3.clone()).collect();
    if group.is_empty() {
        return all;
    }
    let mut out = BTreeSet::new();
    for (i, s) in sx.iter().enumerate() {
        if s.2.is_empty() {
            out.insert(s.3.clone());
        } else if length[i] == slashes && s.2 != group {
            return all;
        } else if s.2 == group {
            out.insert(s.3.clone());
        }
    }
    out
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
    /// Random names, addresses and groups applied in batches: the result equals a fresh
    /// build, and every name answers what the CoreDNS model says.
    #[test]
    fn groups_agree_with_the_model_and_fresh_builds(seed in 0u64..u64::MAX) {
        let config = cfg(&["skydns.test."], false);
        let mut rng = Lcg(seed);
        let mut state: BTreeMap<String, (String, String)> = Default::default();
        let mut snap = Snapshot::empty(config.clone());
        for _ in 0..20 {
            let name = NAMES[rng.next(NAMES.len() as u64) as usize];
            let recs = if rng.next(5) == 0 {
                state.remove(name);
                vec![]
            } else {
                let ip = format!("10.0.0.{}", rng.next(6));
                let g = ["", "g1", "g2"][rng.next(3) as usize].to_string();
                state.insert(name.to_string(), (ip.clone(), g.clone()));
                vec![ga(name, &ip, &g)]
            };
            snap = snap.apply(&[change(name, recs)]);
        }
        let all: Vec<Record> = state.iter().map(|(o, (ip, g))| ga(o, ip, g)).collect();
        let fresh = Snapshot::build(config, all);
        proptest::prop_assert_eq!(dump(&snap), dump(&fresh));
        for name in NAMES.iter().chain(&["skydns.test."]) {
            let got: BTreeSet<String> = addrs(&snap, name).into_iter().collect();
            proptest::prop_assert_eq!(got, model(&state, name), "{}", name);
        }
    }
}
