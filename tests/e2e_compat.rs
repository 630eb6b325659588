//! Drop-in compatibility with SkyDNS and CoreDNS's etcd plugin: a table of cases in the spirit
//! of CoreDNS's own plugin tests, written from its documented rules (subtree answers, `*`/`any`
//! labels anywhere, SRV priority 10 / weight normalisation / port 0 / targetstrip, apex NS from
//! `ns.dns` with glue, apex A from `apex.dns`, PTR from host names, `group`). Keys are put with
//! `etcdctl` (API v3) into a real etcd; answers are read from the real `skylane` binary with
//! `kdig`, over UDP and over TCP. Skipped (with a message) when no etcd binary is installed.

mod common;

use common::*;
use skylane_testkit::etcd::EtcdServer;
use std::time::{Duration, Instant};

/// (key under /skydns, value).
const KEYS: &[(&str, &str)] = &[
    (
        "local/skydns/region1/prod/server1/a",
        r#"{"host":"10.0.0.1","port":8080}"#,
    ),
    (
        "local/skydns/region1/prod/server1/b",
        r#"{"host":"10.0.0.2","port":8080}"#,
    ),
    (
        "local/skydns/region1/prod/server6/b",
        r#"{"host":"::1","port":8080}"#,
    ),
    (
        "local/skydns/region1/prod/cname",
        r#"{"host":"unresolvable.example.net"}"#,
    ),
    (
        "local/skydns/region1/priority",
        r#"{"host":"10.0.0.9","port":8080,"priority":333}"#,
    ),
    (
        "local/skydns/weighted/x1",
        r#"{"host":"10.0.1.1","port":80,"weight":300}"#,
    ),
    (
        "local/skydns/weighted/x2",
        r#"{"host":"10.0.1.2","port":80}"#,
    ),
    ("local/skydns/noport", r#"{"host":"10.0.0.7"}"#),
    (
        "local/skydns/strip/x",
        r#"{"host":"10.0.0.8","port":80,"targetstrip":1}"#,
    ),
    ("local/skydns/txt/t", r#"{"text":"hello"}"#),
    (
        "local/skydns/mail/m",
        r#"{"host":"mx.example.net","mail":true}"#,
    ),
    ("local/skydns/dns/ns/a", r#"{"host":"10.0.0.53"}"#),
    ("local/skydns/dns/ns/b", r#"{"host":"10.0.0.54"}"#),
    ("local/skydns/dns/apex/x", r#"{"host":"10.0.0.100"}"#),
    // `group` (CoreDNS's group tests): one group at two depths; the shortest key's group
    // plus group-less services; another group deeper (left out); two groups at one depth.
    (
        "local/skydns/grp/dom/a",
        r#"{"host":"10.3.0.1","group":"g1"}"#,
    ),
    (
        "local/skydns/grp/dom/sub/b",
        r#"{"host":"10.3.0.2","group":"g1"}"#,
    ),
    (
        "local/skydns/grp/dom2/a",
        r#"{"host":"10.3.2.1","group":"g1"}"#,
    ),
    ("local/skydns/grp/dom2/sub/b", r#"{"host":"10.3.2.2"}"#),
    (
        "local/skydns/grp/dom1/a",
        r#"{"host":"10.3.1.1","group":"g1"}"#,
    ),
    (
        "local/skydns/grp/dom1/sub/b",
        r#"{"host":"10.3.1.2","group":"g2"}"#,
    ),
    (
        "local/skydns/grp/dom3/a",
        r#"{"host":"10.3.3.1","group":"g1"}"#,
    ),
    (
        "local/skydns/grp/dom3/b",
        r#"{"host":"10.3.3.2","group":"g2"}"#,
    ),
    (
        "arpa/in-addr/10/0/0/1",
        r#"{"host":"reverse.skydns.local"}"#,
    ),
];

/// (query name, type, status, answer RDATAs sorted, additional RDATAs sorted or `None` when
/// not checked).
type Case = (
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    Option<&'static [&'static str]>,
);

const CASES: &[Case] = &[
    // A key's own service.
    (
        "a.server1.prod.region1.skydns.local.",
        "A",
        "NOERROR",
        &["10.0.0.1"],
        None,
    ),
    // Every service at or below a name.
    (
        "server1.prod.region1.skydns.local.",
        "A",
        "NOERROR",
        &["10.0.0.1", "10.0.0.2"],
        None,
    ),
    (
        "prod.region1.skydns.local.",
        "AAAA",
        "NOERROR",
        &["::1"],
        None,
    ),
    // SRV: IP hosts get their key's name as target, the address in the additional section;
    // weights normalised per priority over the answer (equal shares when unset).
    (
        "server1.prod.region1.skydns.local.",
        "SRV",
        "NOERROR",
        &[
            "10 50 8080 a.server1.prod.region1.skydns.local.",
            "10 50 8080 b.server1.prod.region1.skydns.local.",
        ],
        Some(&["10.0.0.1", "10.0.0.2"]),
    ),
    (
        "region1.skydns.local.",
        "SRV",
        "NOERROR",
        &[
            "10 33 8080 a.server1.prod.region1.skydns.local.",
            "10 33 8080 b.server1.prod.region1.skydns.local.",
            "10 33 8080 b.server6.prod.region1.skydns.local.",
            "333 100 8080 priority.region1.skydns.local.",
        ],
        None,
    ),
    // Raw weights 300 and unset (100): 75 and 25.
    (
        "weighted.skydns.local.",
        "SRV",
        "NOERROR",
        &[
            "10 25 80 x2.weighted.skydns.local.",
            "10 75 80 x1.weighted.skydns.local.",
        ],
        None,
    ),
    // A service without a port is listed with port 0.
    (
        "noport.skydns.local.",
        "SRV",
        "NOERROR",
        &["10 100 0 noport.skydns.local."],
        None,
    ),
    // targetstrip: one label off the target.
    (
        "x.strip.skydns.local.",
        "SRV",
        "NOERROR",
        &["10 100 80 strip.skydns.local."],
        None,
    ),
    // `*` and `any` match one label, in any position.
    (
        "*.prod.region1.skydns.local.",
        "A",
        "NOERROR",
        &["10.0.0.1", "10.0.0.2"],
        None,
    ),
    (
        "server1.*.region1.skydns.local.",
        "A",
        "NOERROR",
        &["10.0.0.1", "10.0.0.2"],
        None,
    ),
    (
        "server1.any.region1.skydns.local.",
        "A",
        "NOERROR",
        &["10.0.0.1", "10.0.0.2"],
        None,
    ),
    (
        "a.server1.*.*.skydns.local.",
        "A",
        "NOERROR",
        &["10.0.0.1"],
        None,
    ),
    (
        "server2.*.region1.skydns.local.",
        "A",
        "NXDOMAIN",
        &[],
        None,
    ),
    // TXT and MX at or below.
    ("txt.skydns.local.", "TXT", "NOERROR", &["\"hello\""], None),
    (
        "mail.skydns.local.",
        "MX",
        "NOERROR",
        &["10 mx.example.net."],
        None,
    ),
    // A host name without port or mail: a CNAME.
    (
        "cname.prod.region1.skydns.local.",
        "A",
        "NOERROR",
        &["unresolvable.example.net."],
        None,
    ),
    // Apex: NS from ns.dns with glue, A from apex.dns.
    (
        "skydns.local.",
        "NS",
        "NOERROR",
        &["a.ns.dns.skydns.local.", "b.ns.dns.skydns.local."],
        Some(&["10.0.0.53", "10.0.0.54"]),
    ),
    ("skydns.local.", "A", "NOERROR", &["10.0.0.100"], None),
    // PTR from a host name under in-addr.arpa.
    (
        "1.0.0.10.in-addr.arpa.",
        "PTR",
        "NOERROR",
        &["reverse.skydns.local."],
        None,
    ),
    // `group`: services of the shortest key's group plus those without one; all when two
    // groups meet at the shortest depth.
    (
        "dom.grp.skydns.local.",
        "A",
        "NOERROR",
        &["10.3.0.1", "10.3.0.2"],
        None,
    ),
    (
        "dom2.grp.skydns.local.",
        "A",
        "NOERROR",
        &["10.3.2.1", "10.3.2.2"],
        None,
    ),
    (
        "dom1.grp.skydns.local.",
        "A",
        "NOERROR",
        &["10.3.1.1"],
        None,
    ),
    (
        "dom1.grp.skydns.local.",
        "SRV",
        "NOERROR",
        &["10 100 0 a.dom1.grp.skydns.local."],
        Some(&["10.3.1.1"]),
    ),
    (
        "dom3.grp.skydns.local.",
        "A",
        "NOERROR",
        &["10.3.3.1", "10.3.3.2"],
        None,
    ),
    // NXDOMAIN only when nothing exists at or below; NODATA otherwise.
    ("nothere.region1.skydns.local.", "A", "NXDOMAIN", &[], None),
    ("region1.skydns.local.", "TXT", "NOERROR", &[], None),
];

/// (status, answer RDATAs of type `t` or CNAME sorted, additional RDATAs sorted) from kdig's
/// output.
fn parse(out: &str, t: &str) -> (String, Vec<String>, Vec<String>) {
    let status = out
        .split("status: ")
        .nth(1)
        .and_then(|r| r.split(';').next())
        .unwrap_or("")
        .trim()
        .to_string();
    let section = |name: &str, only: Option<&str>| -> Vec<String> {
        let mut v: Vec<String> = out
            .split(name)
            .nth(1)
            .unwrap_or("")
            .lines()
            .skip(1)
            .take_while(|l| !l.trim().is_empty())
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                let ok = f.len() >= 5
                    && only.is_none_or(|t| f[3] == t || f[3] == "CNAME")
                    && f[3] != "OPT";
                ok.then(|| f[4..].join(" "))
            })
            .collect();
        v.sort();
        v
    };
    (
        status,
        section(";; ANSWER SECTION:", Some(t)),
        section(";; ADDITIONAL SECTION:", None),
    )
}

fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn ask(s: &Server, name: &str, t: &str, tcp: bool) -> (String, Vec<String>, Vec<String>) {
    let transport = if tcp { "+tcp" } else { "+notcp" };
    let out = kdig(s, &[transport, "+bufsize=4096", name, t]);
    parse(&out, t)
}

#[test]
fn coredns_etcd_cases_over_udp_and_tcp() {
    let Some(etcd) = EtcdServer::start() else {
        eprintln!("skipped: no etcd binary");
        return;
    };
    for (key, value) in KEYS {
        etcd.etcdctl_ok(&["put", &format!("/skydns/{key}"), value]);
    }
    let data = tempfile::tempdir().unwrap();
    let s = Server::start_etcd(&[etcd.endpoint()], data.path());
    s.wait_until_ready();
    // The last key is served: the whole list is in.
    eventually("the store is served", || {
        ask(&s, "1.0.0.10.in-addr.arpa.", "PTR", false).1 == ["reverse.skydns.local."]
    });
    let mut failures = Vec::new();
    for &(name, t, status, answer, additional) in CASES {
        for tcp in [false, true] {
            let (got_status, got_answer, got_add) = ask(&s, name, t, tcp);
            let want_answer: Vec<String> = answer.iter().map(|s| s.to_string()).collect();
            let add_ok = additional
                .is_none_or(|a| got_add == a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            if got_status != status || got_answer != want_answer || !add_ok {
                failures.push(format!(
                    "{name} {t} tcp={tcp}: got {got_status} {got_answer:?} add {got_add:?}, want {status} {answer:?} add {additional:?}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // Health: a DOWN address leaves the subtree answer; all DOWN answers all (fail open).
    etcd.etcdctl_ok(&[
        "put",
        "/skydns/monitor/status/10.0.0.1",
        r#"{"status":"DOWN"}"#,
    ]);
    eventually("10.0.0.1 is left out", || {
        ask(&s, "server1.prod.region1.skydns.local.", "A", false).1 == ["10.0.0.2"]
    });
    etcd.etcdctl_ok(&[
        "put",
        "/skydns/monitor/status/10.0.0.2",
        r#"{"status":"DOWN"}"#,
    ]);
    eventually("all DOWN: all answered", || {
        ask(&s, "server1.prod.region1.skydns.local.", "A", true).1 == ["10.0.0.1", "10.0.0.2"]
    });
    // A change below a name shows in its subtree answer.
    etcd.etcdctl_ok(&["del", "/skydns/local/skydns/region1/prod/server1/b"]);
    eventually("b gone from the subtree", || {
        ask(&s, "prod.region1.skydns.local.", "A", false).1 == ["10.0.0.1"]
    });
    // Groups follow updates; health filtering applies after the group rule.
    etcd.etcdctl_ok(&[
        "put",
        "/skydns/local/skydns/grp/dom1/sub/b",
        r#"{"host":"10.3.1.2","group":"g1"}"#,
    ]);
    eventually("dom1 agrees on g1: both", || {
        ask(&s, "dom1.grp.skydns.local.", "A", false).1 == ["10.3.1.1", "10.3.1.2"]
    });
    etcd.etcdctl_ok(&[
        "put",
        "/skydns/monitor/status/10.3.1.1",
        r#"{"status":"DOWN"}"#,
    ]);
    eventually("10.3.1.1 is left out of the group's answer", || {
        ask(&s, "dom1.grp.skydns.local.", "A", true).1 == ["10.3.1.2"]
    });
}
