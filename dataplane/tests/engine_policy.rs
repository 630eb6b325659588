//! Answer policies through the whole engine: `all` rotation, `random-one`,
//! `hone-one` stability / minimal movement / return, DOWN exclusion and
//! fail-open.

mod engine_support;

use engine_support::*;
use skylane_dataplane::engine::EngineState;
use skylane_dataplane::record::rtype::A;
use skylane_dataplane::Snapshot;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn answers(s: &Snapshot, st: &mut EngineState, name: &str, client: &str) -> Vec<String> {
    let (_, m) = ask_from(s, st, &query(name, A, None), &udp(client));
    m.answer_data(A)
}

fn hone_picks(s: &Snapshot, seed: u64) -> HashMap<String, String> {
    let mut st = EngineState::new(seed, 1232);
    (0..300)
        .map(|i| {
            let c = format!("198.51.{}.{}", i / 200, i % 200);
            let got = answers(s, &mut st, "hone.skylane.local.", &c);
            assert_eq!(got.len(), 1);
            (c, got[0].clone())
        })
        .collect()
}

#[test]
fn all_returns_every_address_rotated() {
    let s = snapshot();
    let mut st = EngineState::new(0, 1232);
    let first = answers(&s, &mut st, "multi.skylane.local.", "192.0.2.1");
    let second = answers(&s, &mut st, "multi.skylane.local.", "192.0.2.1");
    assert_eq!(first.len(), 3);
    let (mut a, mut b) = (first.clone(), second.clone());
    a.sort();
    b.sort();
    assert_eq!(a, b);
    assert_ne!(first, second, "order rotates between queries");
    let firsts: HashSet<String> = (0..3)
        .map(|_| answers(&s, &mut st, "multi.skylane.local.", "192.0.2.1")[0].clone())
        .collect();
    assert_eq!(firsts.len(), 3, "each address comes first in turn");
}

#[test]
fn all_excludes_down_addresses() {
    let s = snapshot().with_down(&[ip("10.0.1.2")]);
    let mut st = EngineState::new(0, 1232);
    for _ in 0..5 {
        let mut got = answers(&s, &mut st, "multi.skylane.local.", "192.0.2.1");
        got.sort();
        assert_eq!(got, vec!["10.0.1.1", "10.0.1.3"]);
    }
}

#[test]
fn random_one_gives_one_healthy_address_and_covers_them() {
    let s = snapshot().with_down(&[ip("10.0.5.3")]);
    let mut st = EngineState::new(42, 1232);
    let mut seen = HashSet::new();
    for _ in 0..300 {
        let got = answers(&s, &mut st, "rnd.skylane.local.", "192.0.2.1");
        assert_eq!(got.len(), 1);
        assert_ne!(got[0], "10.0.5.3");
        seen.insert(got[0].clone());
    }
    assert_eq!(seen.len(), 3);
}

#[test]
fn hone_one_is_stable_across_states_and_processes() {
    let s = snapshot();
    let a = hone_picks(&s, 1);
    let b = hone_picks(&s, 0xdead_beef);
    assert_eq!(a, b);
    // A rebuilt snapshot (another process, another machine) agrees too.
    let s2 = Snapshot::build(config(), records().into_iter().rev().collect());
    assert_eq!(hone_picks(&s2, 7), a);
    let spread: HashSet<&String> = a.values().collect();
    assert_eq!(spread.len(), 5, "clients spread over every address");
}

#[test]
fn hone_one_moves_only_the_down_address_clients_and_brings_them_back() {
    let s = snapshot();
    let before = hone_picks(&s, 1);
    let down = "10.0.4.3";
    let during = hone_picks(&s.with_down(&[ip(down)]), 1);
    let mut moved = 0;
    for (c, addr) in &before {
        if addr == down {
            assert_ne!(&during[c], down);
            moved += 1;
        } else {
            assert_eq!(
                &during[c], addr,
                "client {c} moved although its address stayed up"
            );
        }
    }
    assert!(moved > 0);
    let after = hone_picks(&s.with_down(&[]), 1);
    assert_eq!(after, before);
}

#[test]
fn fail_open_when_every_address_is_down() {
    let s = snapshot().with_down(&[
        ip("10.0.1.1"),
        ip("10.0.1.2"),
        ip("10.0.1.3"),
        ip("10.0.0.1"),
    ]);
    let mut st = EngineState::new(0, 1232);
    let (r, m) = ask_from(
        &s,
        &mut st,
        &query("multi.skylane.local.", A, None),
        &udp("192.0.2.1"),
    );
    assert!(r.fail_open);
    let mut got = m.answer_data(A);
    got.sort();
    assert_eq!(got, vec!["10.0.1.1", "10.0.1.2", "10.0.1.3"]);
    // One-address name: still answered, flagged.
    let (r, m) = ask_from(
        &s,
        &mut st,
        &query("web.skylane.local.", A, None),
        &udp("192.0.2.1"),
    );
    assert!(r.fail_open);
    assert_eq!(m.answer_data(A), vec!["10.0.0.1"]);
    // Other names are unaffected.
    let (r, _) = ask_from(
        &s,
        &mut st,
        &query("rnd.skylane.local.", A, None),
        &udp("192.0.2.1"),
    );
    assert!(!r.fail_open);
}

#[test]
fn down_exclusion_applies_to_unions() {
    let s = snapshot().with_down(&[ip("10.0.3.1")]);
    let mut st = EngineState::new(0, 1232);
    for c in 0..32 {
        let got = answers(&s, &mut st, "db.skylane.local.", &format!("192.0.2.{c}"));
        assert_eq!(got, vec!["10.0.3.2"]);
    }
}

#[test]
fn down_exclusion_applies_after_cname() {
    let mut recs = records();
    recs.push(cname("m.skylane.local.", "multi.skylane.local."));
    let s2 = Snapshot::build(config(), recs).with_down(&[ip("10.0.1.1")]);
    let mut st = EngineState::new(0, 1232);
    let got = answers(&s2, &mut st, "m.skylane.local.", "192.0.2.1");
    assert_eq!(got.len(), 2);
    assert!(!got.contains(&"10.0.1.1".to_string()));
}
