//! Unit tests of the SkyDNS / CoreDNS record layout.

use super::*;
use std::net::{Ipv4Addr, Ipv6Addr};

fn n(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn records(name: &str, json: &str) -> Vec<Record> {
    let v = SkyValue::from_json(json.as_bytes()).unwrap();
    value_to_records(&n(name), &v, 30).unwrap()
}

#[test]
fn keys_are_reversed_labels() {
    assert_eq!(
        name_to_key("/skydns", &n("a.b.skydns.local.")),
        "/skydns/local/skydns/b/a"
    );
    assert_eq!(name_to_key("/skydns/", &n("A.Local.")), "/skydns/local/a");
    assert_eq!(
        key_to_name("/skydns", "/skydns/local/skydns/b/a"),
        Some(n("a.b.skydns.local."))
    );
    assert_eq!(
        key_to_name("/skydns", "/skydns/local/skydns/b/a/x1"),
        Some(n("x1.a.b.skydns.local."))
    );
    assert_eq!(key_to_name("/skydns", "/skydns"), None);
    assert_eq!(key_to_name("/skydns", "/skydnsx/local"), None);
    assert_eq!(key_to_name("/skydns", "/skydns/local//a"), None);
    assert_eq!(key_to_name("/skydns", "/other/local/a"), None);
    // Keys aliasing another key's name are not names.
    assert_eq!(key_to_name("/skydns", "/skydns/local/skydns/Web"), None);
    assert_eq!(key_to_name("/skydns", "/skydns/local/skydns/b.a"), None);
    assert_eq!(key_to_name("/skydns", "/skydns/local/skydns/b\\097"), None);
}

#[test]
fn odd_labels_round_trip() {
    let name = Name::from_wire(b"\x03a.b\x03c/d\x02\x01z\x05local\x00").unwrap();
    let key = name_to_key("/skydns", &name);
    assert_eq!(key, "/skydns/local/\\001z/c\\047d/a\\.b");
    assert_eq!(key_to_name("/skydns", &key), Some(name));
}

#[test]
fn monitor_keys_are_not_names() {
    let ip: IpAddr = "10.0.0.1".parse().unwrap();
    let key = status_key("/skydns/monitor/status/", &ip);
    assert_eq!(key, "/skydns/monitor/status/10.0.0.1");
    let m = "/skydns/monitor/status";
    assert_eq!(classify_key("/skydns", m, &key), KeyKind::Status(ip));
    let v6: IpAddr = "fd00::1".parse().unwrap();
    assert_eq!(
        classify_key("/skydns", m, &status_key(m, &v6)),
        KeyKind::Status(v6)
    );
    assert_eq!(
        classify_key("/skydns", m, "/skydns/monitor/status/garbage"),
        KeyKind::Other
    );
    assert_eq!(
        classify_key("/skydns", m, "/skydns/local/a"),
        KeyKind::Name(n("a.local."))
    );
    // Siblings in the monitor tree (health heart and report keys) are not names...
    assert_eq!(
        classify_key("/skydns", m, "/skydns/monitor/heart/agent-1"),
        KeyKind::Other
    );
    assert_eq!(
        classify_key("/skydns", m, "/skydns/monitor/statusx"),
        KeyKind::Other
    );
    // ...but a key that merely shares the tree's text prefix is.
    assert_eq!(
        classify_key("/skydns", m, "/skydns/monitorx/a"),
        KeyKind::Name(n("a.monitorx."))
    );
    // A monitor prefix directly under the record prefix leaves its siblings alone.
    assert_eq!(
        classify_key("/skydns", "/skydns/status", "/skydns/local/a"),
        KeyKind::Name(n("a.local."))
    );
}

#[test]
fn status_values() {
    assert!(StatusValue::from_json(br#"{"status":"DOWN"}"#)
        .unwrap()
        .is_down());
    assert!(!StatusValue::from_json(br#"{"status":"UP"}"#)
        .unwrap()
        .is_down());
    assert!(StatusValue::from_json(br#"{"status":"maybe"}"#).is_err());
    let v = StatusValue {
        status: Health::Down,
    };
    assert_eq!(v.to_json(), br#"{"status":"DOWN"}"#);
}

#[test]
fn ip_hosts_make_addresses() {
    let r = records("a.skydns.local.", r#"{"host":"10.0.0.1","ttl":60}"#);
    assert_eq!(
        r,
        vec![Record::new(
            n("a.skydns.local."),
            60,
            RData::A(Ipv4Addr::new(10, 0, 0, 1))
        )]
    );
    let r = records("a.skydns.local.", r#"{"host":"fd00::2"}"#);
    assert_eq!(
        r[0].data,
        RData::Aaaa("fd00::2".parse::<Ipv6Addr>().unwrap())
    );
    assert_eq!(r[0].ttl, 30, "missing ttl takes the default");
}

#[test]
fn ip_host_with_port_is_srv_to_itself() {
    let r = records(
        "x1.web.skydns.local.",
        r#"{"host":"10.0.0.1","port":8080,"priority":10,"weight":5,"targetstrip":1}"#,
    );
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].data, RData::A(Ipv4Addr::new(10, 0, 0, 1)));
    assert_eq!(
        r[1].data,
        RData::Srv {
            priority: 10,
            weight: 5,
            port: 8080,
            target: n("web.skydns.local.")
        }
    );
}

#[test]
fn name_hosts() {
    let r = records("a.skydns.local.", r#"{"host":"b.example.org"}"#);
    assert_eq!(r[0].data, RData::Cname(n("b.example.org.")));
    let r = records("a.skydns.local.", r#"{"host":"b.example.org","port":53}"#);
    assert_eq!(r.len(), 1);
    assert!(
        matches!(&r[0].data, RData::Srv { port: 53, target, .. } if *target == n("b.example.org."))
    );
    let r = records(
        "a.skydns.local.",
        r#"{"host":"mx.example.org","mail":true,"priority":20}"#,
    );
    assert_eq!(
        r[0].data,
        RData::Mx {
            preference: 20,
            exchange: n("mx.example.org.")
        }
    );
    let r = records("1.0.0.10.in-addr.arpa.", r#"{"host":"a.skydns.local"}"#);
    assert_eq!(r[0].data, RData::Ptr(n("a.skydns.local.")));
}

#[test]
fn text_becomes_txt_split_at_255() {
    let long = "x".repeat(300);
    let r = records("t.skydns.local.", &format!(r#"{{"text":"{long}"}}"#));
    match &r[0].data {
        RData::Txt(strings) => {
            assert_eq!(strings.len(), 2);
            assert_eq!(strings[0].len(), 255);
            assert_eq!(strings[1].len(), 45);
        }
        other => panic!("not TXT: {other:?}"),
    }
    let r = records("t.skydns.local.", r#"{"host":"10.1.1.1","text":"hi"}"#);
    assert_eq!(r.len(), 2);
}

#[test]
fn bad_values_are_errors() {
    let bad = |json: &str| {
        SkyValue::from_json(json.as_bytes())
            .and_then(|v| value_to_records(&n("a.local."), &v, 30))
            .is_err()
    };
    assert!(bad("not json"));
    assert!(bad(r#"{"host":"10.0.0.1","port":70000}"#));
    assert!(bad(r#"{"port":80}"#));
    assert!(bad(r#"{"host":"a..b"}"#));
    assert!(bad(r#"{"host":"b.example.org","text":"x"}"#));
    assert!(!bad(r#"{"host":"10.0.0.1","unknown":1}"#));
}

#[test]
fn srv_weights_follow_coredns() {
    let mk = |prio: u16, weight: u16| {
        Record::new(
            n("s.local."),
            30,
            RData::Srv {
                priority: prio,
                weight,
                port: 1,
                target: n("t.local."),
            },
        )
    };
    let weights = |rs: &[Record]| -> Vec<u16> {
        rs.iter()
            .map(|r| match r.data {
                RData::Srv { weight, .. } => weight,
                _ => unreachable!(),
            })
            .collect()
    };
    let mut rs = vec![mk(10, 200), mk(10, 100), mk(20, 0), mk(10, 0)];
    normalize_srv_weights(&mut rs);
    // priority 10: sum 400 → 50, 25, 25; priority 20 alone → 100.
    assert_eq!(weights(&rs), vec![50, 25, 100, 25]);
    let mut rs = vec![mk(0, 97)];
    normalize_srv_weights(&mut rs);
    assert_eq!(weights(&rs), vec![99], "floating point floor as in CoreDNS");
}

#[test]
fn values_serialise_compactly() {
    let v = SkyValue {
        host: "10.0.0.1".into(),
        port: 80,
        ..SkyValue::default()
    };
    assert_eq!(v.to_json(), br#"{"host":"10.0.0.1","port":80}"#);
    assert_eq!(SkyValue::from_json(&v.to_json()).unwrap(), v);
}

#[test]
fn coredns_defaults_priority_10_and_port_0_services() {
    // No priority: 10 for SRV and MX (CoreDNS's etcd plugin default).
    let r = records(
        "s.skydns.local.",
        r#"{"host":"t.skydns.local.","port":80,"mail":true}"#,
    );
    assert!(r
        .iter()
        .any(|r| matches!(r.data, RData::Srv { priority: 10, .. })));
    assert!(r
        .iter()
        .any(|r| matches!(r.data, RData::Mx { preference: 10, .. })));
    let r = records(
        "s.skydns.local.",
        r#"{"host":"t.skydns.local.","port":80,"priority":3}"#,
    );
    assert!(matches!(r[0].data, RData::Srv { priority: 3, .. }));
    // An IP host without a port is served as an SRV with port 0, target the key's name
    // (minus targetstrip labels); the API's view of the value stays the A record.
    let name = n("x1.east.skydns.local.");
    let v = SkyValue::from_json(br#"{"host":"10.0.0.1","targetstrip":1}"#).unwrap();
    assert_eq!(value_to_records(&name, &v, 30).unwrap().len(), 1);
    let served = served_records(&name, &v, 30).unwrap();
    assert_eq!(
        served[1].data,
        RData::Srv {
            priority: 10,
            weight: 0,
            port: 0,
            target: n("east.skydns.local.")
        }
    );
    // A name host without a port stays a CNAME only (no SRV beside a CNAME, RFC 1034).
    let v = SkyValue::from_json(br#"{"host":"t.example.org."}"#).unwrap();
    assert_eq!(served_records(&name, &v, 30).unwrap().len(), 1);
    // A host name under a reverse zone is a PTR.
    let r = records("1.0.0.10.in-addr.arpa.", r#"{"host":"web.skydns.local."}"#);
    assert!(matches!(r[0].data, RData::Ptr(_)));
}

#[test]
fn normalised_weights_are_at_least_one() {
    let mk = |w: u16| {
        Record::new(
            n("s.local."),
            30,
            RData::Srv {
                priority: 10,
                weight: w,
                port: 80,
                target: n("t.local."),
            },
        )
    };
    let mut rs = vec![mk(1), mk(60000)];
    normalize_srv_weights(&mut rs);
    assert!(matches!(rs[0].data, RData::Srv { weight: 1, .. }));
}

#[test]
fn the_group_goes_with_every_record_of_a_value() {
    let v = SkyValue::from_json(br#"{"host":"10.0.0.1","group":"g1","text":"t"}"#).unwrap();
    let recs = served_records(&n("a.skydns.local."), &v, 30).unwrap();
    assert_eq!(recs.len(), 3, "A, TXT and the port-0 SRV");
    assert!(recs.iter().all(|r| r.group.as_deref() == Some("g1")));
    assert!(records("a.skydns.local.", r#"{"host":"10.0.0.1"}"#)
        .iter()
        .all(|r| r.group.is_none()));
}
