//! Unit tests of the Service/EndpointSlice → record mapping and of the cluster model's
//! per-name changes.

use super::*;
use crate::k8s::model::Cluster;
use skylane_testkit::kubeapi::objects::{self as obj, Ep};

fn ctx(source: AddressSource, pods: PodMode) -> MapCtx {
    MapCtx {
        zone: Name::from_ascii("cluster.local.").unwrap(),
        ttl: 5,
        address_source: source,
        pods,
    }
}

fn n(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn a(ip: &str) -> RData {
    match ip.parse::<IpAddr>().unwrap() {
        IpAddr::V4(v4) => RData::A(v4),
        IpAddr::V6(v6) => RData::Aaaa(v6),
    }
}

fn data(out: &NameRecords, name: &str) -> Vec<RData> {
    let mut v: Vec<RData> = out
        .get(&n(name))
        .map(|r| r.iter().map(|r| r.data.clone()).collect())
        .unwrap_or_default();
    v.sort_by_key(|d| format!("{d:?}"));
    v
}

#[test]
fn cluster_ip_service_has_address_srv_for_named_ports_and_ptr() {
    let svc = obj::cluster_ip(
        "default",
        "web",
        &["10.96.0.10", "fd00::10"],
        vec![
            obj::port("http", 80, "TCP"),
            obj::port("", 81, "TCP"),
            obj::port("dns", 53, "UDP"),
        ],
    );
    let out = service_records(&ctx(AddressSource::ClusterIp, PodMode::Disabled), &svc, &[]);
    let base = n("web.default.svc.cluster.local.");
    assert_eq!(
        data(&out, "web.default.svc.cluster.local."),
        vec![a("10.96.0.10"), a("fd00::10")]
    );
    let srv = |port| RData::Srv {
        priority: 0,
        weight: 100,
        port,
        target: base.clone(),
    };
    assert_eq!(
        data(&out, "_http._tcp.web.default.svc.cluster.local."),
        vec![srv(80)]
    );
    assert_eq!(
        data(&out, "_dns._udp.web.default.svc.cluster.local."),
        vec![srv(53)]
    );
    assert_eq!(
        out.len(),
        5,
        "A name, two SRV names, two PTR names: {out:?}"
    );
    assert_eq!(
        data(&out, "10.0.96.10.in-addr.arpa."),
        vec![RData::Ptr(base.clone())]
    );
    let v6 = reverse_name("fd00::10".parse().unwrap());
    assert!(v6.to_string().ends_with(".0.0.d.f.ip6.arpa."), "{v6}");
    assert_eq!(out.get(&v6).unwrap()[0].data, RData::Ptr(base));
}

#[test]
fn headless_service_answers_ready_endpoints_with_hostnames_and_srv() {
    let svc = obj::headless("db", "pg", vec![obj::port("sql", 5432, "TCP")]);
    let eps = [
        Ep {
            ip: "10.1.0.1",
            hostname: Some("pg-0"),
            ready: true,
        },
        obj::ep("10.1.0.2"),
        Ep {
            ip: "10.1.0.3",
            hostname: Some("pg-2"),
            ready: false,
        },
    ];
    let s = obj::slice(
        "db",
        "pg-abc",
        "pg",
        &eps,
        &[("sql", 5432, "TCP"), ("", 9, "TCP")],
    );
    let out = service_records(
        &ctx(AddressSource::ClusterIp, PodMode::Disabled),
        &svc,
        &[&s],
    );
    assert_eq!(
        data(&out, "pg.db.svc.cluster.local."),
        vec![a("10.1.0.1"), a("10.1.0.2")],
        "not-ready endpoints are left out"
    );
    assert_eq!(
        data(&out, "pg-0.pg.db.svc.cluster.local."),
        vec![a("10.1.0.1")]
    );
    assert_eq!(
        data(&out, "10-1-0-2.pg.db.svc.cluster.local."),
        vec![a("10.1.0.2")]
    );
    assert!(!out.contains_key(&n("pg-2.pg.db.svc.cluster.local.")));
    let srv = data(&out, "_sql._tcp.pg.db.svc.cluster.local.");
    assert_eq!(srv.len(), 2);
    assert!(srv.contains(&RData::Srv {
        priority: 0,
        weight: 100,
        port: 5432,
        target: n("pg-0.pg.db.svc.cluster.local.")
    }));
    assert_eq!(
        data(&out, "1.0.1.10.in-addr.arpa."),
        vec![RData::Ptr(n("pg-0.pg.db.svc.cluster.local."))]
    );
}

#[test]
fn external_name_is_a_cname_and_dns_version_is_spec_1_1_0() {
    let c = ctx(AddressSource::ClusterIp, PodMode::Disabled);
    let svc = obj::external_name("default", "search", "www.example.com");
    let out = service_records(&c, &svc, &[]);
    assert_eq!(
        data(&out, "search.default.svc.cluster.local."),
        vec![RData::Cname(n("www.example.com."))]
    );
    assert_eq!(out.len(), 1);
    let v = dns_version(&c);
    assert_eq!(v.name, n("dns-version.cluster.local."));
    assert_eq!(v.data, RData::Txt(vec![b"1.1.0".to_vec()]));
}

#[test]
fn address_source_selects_cluster_external_or_both() {
    let svc = obj::load_balancer(
        "default",
        "lb",
        "10.96.0.5",
        &["192.0.2.7"],
        &["198.51.100.9"],
    );
    let name = "lb.default.svc.cluster.local.";
    let get = |s| {
        data(
            &service_records(&ctx(s, PodMode::Disabled), &svc, &[]),
            name,
        )
    };
    assert_eq!(get(AddressSource::ClusterIp), vec![a("10.96.0.5")]);
    assert_eq!(
        get(AddressSource::ExternalIp),
        vec![a("192.0.2.7"), a("198.51.100.9")]
    );
    assert_eq!(get(AddressSource::Both).len(), 3);
}

#[test]
fn insecure_pods_get_dashed_names() {
    let svc = obj::headless("db", "pg", vec![]);
    let s = obj::slice("db", "pg-1", "pg", &[obj::ep("10.1.0.9")], &[]);
    let out = service_records(
        &ctx(AddressSource::ClusterIp, PodMode::Insecure),
        &svc,
        &[&s],
    );
    assert_eq!(
        data(&out, "10-1-0-9.db.pod.cluster.local."),
        vec![a("10.1.0.9")]
    );
}

fn changed(changes: &[(Name, Vec<Record>)], name: &str) -> Option<Vec<RData>> {
    changes
        .iter()
        .rev()
        .find(|(nm, _)| *nm == n(name))
        .map(|(_, r)| r.iter().map(|r| r.data.clone()).collect())
}

#[test]
fn model_applies_endpoint_deletion_readiness_and_service_deletion() {
    let mut cl = Cluster::new(ctx(AddressSource::ClusterIp, PodMode::Disabled));
    let base = "pg.db.svc.cluster.local.";
    assert!(cl
        .apply_service(obj::headless("db", "pg", vec![]))
        .is_empty());
    let two = [obj::ep("10.1.0.1"), obj::ep("10.1.0.2")];
    let ch = cl.apply_slice(obj::slice("db", "s1", "pg", &two, &[]));
    assert_eq!(changed(&ch, base).unwrap().len(), 2);
    // Readiness: 10.1.0.2 no longer ready.
    let eps = [
        obj::ep("10.1.0.1"),
        Ep {
            ip: "10.1.0.2",
            hostname: None,
            ready: false,
        },
    ];
    let ch = cl.apply_slice(obj::slice("db", "s1", "pg", &eps, &[]));
    assert_eq!(changed(&ch, base).unwrap(), vec![a("10.1.0.1")]);
    assert_eq!(
        changed(&ch, "10-1-0-2.pg.db.svc.cluster.local."),
        Some(vec![])
    );
    // Deleting the slice removes every endpoint record.
    let ch = cl.delete_slice(&obj::slice("db", "s1", "pg", &[], &[]));
    assert_eq!(changed(&ch, base), Some(vec![]));
    // Unchanged objects produce no changes.
    cl.apply_slice(obj::slice("db", "s1", "pg", &two, &[]));
    assert!(cl
        .apply_slice(obj::slice("db", "s1", "pg", &two, &[]))
        .is_empty());
    let ch = cl.delete_service(&obj::headless("db", "pg", vec![]));
    assert_eq!(changed(&ch, base), Some(vec![]));
    assert_eq!(
        cl.all().len(),
        1,
        "only dns-version is left: {:?}",
        cl.all()
    );
}

#[test]
fn model_relist_replaces_only_its_scope_and_shared_names_merge() {
    let mut cl = Cluster::new(ctx(AddressSource::ExternalIp, PodMode::Disabled));
    // Two Services sharing one external IP share its PTR name.
    let one = obj::load_balancer("a", "one", "10.96.0.1", &["192.0.2.1"], &[]);
    let two = obj::load_balancer("b", "two", "10.96.0.2", &["192.0.2.1"], &[]);
    cl.replace_services(None, vec![one, two]);
    assert_eq!(
        cl.all().get(&n("1.2.0.192.in-addr.arpa.")).unwrap().len(),
        2
    );
    // A relist of namespace `b` without `two` removes only `two`.
    let ch = cl.replace_services(Some("b"), vec![]);
    assert_eq!(changed(&ch, "two.b.svc.cluster.local."), Some(vec![]));
    assert_eq!(changed(&ch, "1.2.0.192.in-addr.arpa.").unwrap().len(), 1);
    assert!(cl.all().contains_key(&n("one.a.svc.cluster.local.")));
}
