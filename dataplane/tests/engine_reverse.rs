//! Auto-PTR answers (kept by address outside the table, `snapshot::autoptr`) against the
//! same PTR records given explicitly (ordinary table nodes with their empty non-terminals):
//! every question about the reverse trees gets the same answer from both, after a build
//! and after updates.

mod engine_support;

use engine_support::*;
use skylane_dataplane::record::rtype;
use skylane_dataplane::snapshot::{NameChange, ZoneConfig};
use skylane_dataplane::{RData, Record, Snapshot};
use std::net::IpAddr;
use std::sync::Arc;

fn cfg(auto_ptr: bool) -> Arc<ZoneConfig> {
    Arc::new(ZoneConfig {
        domains: vec![n("rev.test.")],
        auto_ptr,
        ..ZoneConfig::default()
    })
}

fn addr_rec(name: &str, ip: &str, ttl: u32) -> Record {
    let data = match ip.parse::<IpAddr>().unwrap() {
        IpAddr::V4(a) => RData::A(a),
        IpAddr::V6(a) => RData::Aaaa(a),
    };
    Record::new(n(name), ttl, data)
}

/// The reverse name of an address, presentation form.
fn rname(ip: &str) -> String {
    match ip.parse::<IpAddr>().unwrap() {
        IpAddr::V4(a) => {
            let o = a.octets();
            format!("{}.{}.{}.{}.in-addr.arpa.", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(a) => {
            let mut s = String::new();
            for b in a.octets().iter().rev() {
                s.push_str(&format!("{:x}.{:x}.", b & 15, b >> 4));
            }
            s + "ip6.arpa."
        }
    }
}

/// (owner, address, TTL) of the forward records.
type Fwd = Vec<(String, String, u32)>;

fn forward() -> Fwd {
    let mut v: Fwd = Vec::new();
    for i in 0..300u32 {
        let ip = format!("10.{}.{}.{}", 1 + i / 200, (i / 50) % 4, i % 50 * 3);
        v.push((format!("h{i}.rev.test."), ip, 60 + i % 7));
        if i % 9 == 0 {
            v.push((
                format!("h{i}.rev.test."),
                format!("fd00:1::{:x}", i * 17),
                90,
            ));
        }
    }
    // Two owners of one address, one written in upper case.
    v.push(("Twin.REV.test.".into(), "10.1.0.3".into(), 45));
    v.push(("other.rev.test.".into(), "fd00:1::11".into(), 50));
    v
}

/// The snapshot's records: the forward ones (plus a CNAME into the reverse tree), and
/// their PTR records given explicitly when `explicit`.
fn records(fwd: &Fwd, explicit: bool) -> Vec<Record> {
    let mut out: Vec<Record> = fwd.iter().map(|(o, ip, t)| addr_rec(o, ip, *t)).collect();
    out.push(Record::new(
        n("toptr.rev.test."),
        60,
        RData::Cname(n(&rname("10.1.0.3"))),
    ));
    if explicit {
        for (o, ip, t) in fwd {
            // An auto-PTR names its owner as the name keeps it: the case of its first record.
            let first = fwd
                .iter()
                .find(|f| f.0.eq_ignore_ascii_case(o))
                .map_or(o, |f| &f.0);
            out.push(Record::new(n(&rname(ip)), *t, RData::Ptr(n(first))));
        }
    }
    out
}

/// Every question asked: each address's reverse name and each of its ancestors, the
/// neighbours, names below an address, wildcards, other prefixes, with several types.
fn questions(fwd: &Fwd) -> Vec<(String, u16)> {
    let mut names: Vec<String> = vec![
        "in-addr.arpa.".into(),
        "ip6.arpa.".into(),
        "11.in-addr.arpa.".into(),
        "5.1.10.in-addr.arpa.".into(),
        "*.0.1.10.in-addr.arpa.".into(),
        "x.3.0.1.10.in-addr.arpa.".into(),
        "03.0.1.10.in-addr.arpa.".into(),
        "toptr.rev.test.".into(),
    ];
    for (_, ip, _) in fwd {
        let r = rname(ip);
        let mut p = r.as_str();
        while let Some((_, rest)) = p.split_once('.') {
            names.push(p.to_string());
            p = rest;
        }
        names.push(format!("x.{r}"));
        if let Ok(IpAddr::V4(a)) = ip.parse() {
            let u = u32::from(a);
            names.push(rname(&std::net::Ipv4Addr::from(u + 1).to_string()));
            names.push(rname(&std::net::Ipv4Addr::from(u - 1).to_string()));
        }
        if let Ok(IpAddr::V6(a)) = ip.parse() {
            let u = u128::from(a);
            names.push(rname(&std::net::Ipv6Addr::from(u + 1).to_string()));
            names.push(rname(&std::net::Ipv6Addr::from(u ^ (1 << 12)).to_string()));
        }
    }
    names.sort();
    names.dedup();
    let types = [rtype::PTR, rtype::A, rtype::SOA, rtype::NS, 255];
    names
        .iter()
        .flat_map(|nm| types.iter().map(move |&t| (nm.clone(), t)))
        .collect()
}

/// An answer in comparable form: rcode, AA, sorted answer and authority records (SOA
/// serials left out: they are the build's clock).
fn answer(s: &Snapshot, name: &str, t: u16) -> String {
    let (r, m) = ask(s, &query(name, t, None));
    let show = |rrs: &[Rr]| {
        let mut v: Vec<String> = rrs
            .iter()
            .map(|x| {
                let mut d: Vec<&str> = x.data.split_whitespace().collect();
                if x.rtype == rtype::SOA && d.len() > 2 {
                    d.remove(2);
                }
                format!("{} {} {} {}", x.name, x.rtype, x.ttl, d.join(" "))
            })
            .collect();
        v.sort();
        v
    };
    format!(
        "rcode={} aa={} an={:?} ns={:?}",
        r.rcode,
        m.aa(),
        show(&m.answer),
        show(&m.authority)
    )
}

fn assert_same(auto: &Snapshot, explicit: &Snapshot, fwd: &Fwd) {
    let mut checked = 0;
    let mut ptr_answers = 0;
    for (name, t) in questions(fwd) {
        let (x, y) = (answer(auto, &name, t), answer(explicit, &name, t));
        assert_eq!(x, y, "{name} type {t}");
        checked += 1;
        ptr_answers += usize::from(t == rtype::PTR && x.contains(" 12 "));
    }
    assert!(checked > 3000, "{checked} questions");
    assert!(ptr_answers > 300, "{ptr_answers} PTR answers");
}

#[test]
fn auto_ptr_answers_as_explicit_ptr_records() {
    let fwd = forward();
    let auto = Snapshot::build(cfg(true), records(&fwd, false));
    let explicit = Snapshot::build(cfg(false), records(&fwd, true));
    assert_same(&auto, &explicit, &fwd);
}

#[test]
fn auto_ptr_updates_answer_as_a_fresh_build() {
    let mut fwd = forward();
    let mut auto = Snapshot::build(cfg(true), records(&fwd, false));
    // Rounds of changes: names removed, addresses moved to another /24 or family, a TTL
    // changed, a name added in a new /16, an owner's case changed.
    for round in 0..4u32 {
        let mut changed: Vec<String> = Vec::new();
        for (i, (owner, ip, ttl)) in fwd.iter_mut().enumerate() {
            let i = i as u32;
            match (i + round) % 23 {
                0 => *ip = format!("10.7.{}.{}", round, i % 250),
                1 => *ttl += 1,
                2 => *ip = format!("fd00:2::{:x}", i + round),
                3 => *owner = owner.to_uppercase(),
                _ => continue,
            }
            changed.push(owner.to_lowercase());
        }
        let removed: Vec<String> = fwd
            .iter()
            .filter(|(o, _, _)| o.starts_with(&format!("h{}", 40 + round)))
            .map(|(o, _, _)| o.to_lowercase())
            .collect();
        fwd.retain(|(o, _, _)| !removed.contains(&o.to_lowercase()));
        fwd.push((
            format!("new{round}.rev.test."),
            format!("10.200.{round}.1"),
            30,
        ));
        changed.push(format!("new{round}.rev.test."));
        changed.extend(removed);
        changed.sort();
        changed.dedup();
        let changes: Vec<NameChange> = changed
            .iter()
            .map(|c| NameChange {
                name: n(c),
                records: fwd
                    .iter()
                    .filter(|(o, _, _)| o.eq_ignore_ascii_case(c))
                    .map(|(o, ip, t)| addr_rec(o, ip, *t))
                    .collect(),
            })
            .collect();
        auto = auto.apply(&changes);
        let explicit = Snapshot::build(cfg(false), records(&fwd, true));
        assert_same(&auto, &explicit, &fwd);
    }
}
