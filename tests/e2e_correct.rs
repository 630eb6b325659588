//! DNS correctness through the real `skylane serve` binary (issue 10): NSID
//! (RFC 5001) with kdig over UDP and TCP and its live reload, reverse zones
//! (their apex SOA/NS and own negative SOA),
//! delegations and the advertised EDNS sizes.

mod common;
mod ops_support;

use common::{kdig, Server};
use ops_support::{text, wait_for, Appliance};

/// kdig's `; NSID: …` line of an answer to `args`, if any.
fn nsid_line(server: &Server, args: &[&str]) -> Option<String> {
    kdig(server, args)
        .lines()
        .find(|l| l.contains("NSID:"))
        .map(str::to_owned)
}

#[test]
fn nsid_is_returned_on_udp_and_tcp_and_reloads_live() {
    let app = Appliance::start(&[]);
    let (udp, tcp) = (
        ["+nsid", "a.ex.test.", "A"],
        ["+tcp", "+nsid", "a.ex.test.", "A"],
    );
    assert_eq!(nsid_line(&app.server, &udp), None, "unset by default");

    app.rewrite_config(app.server.port, "nsid = \"sky-1\"");
    let out = app.reload();
    assert!(out.status.success(), "{}", text(&out));
    wait_for("NSID sky-1 over UDP", || {
        nsid_line(&app.server, &udp).is_some_and(|l| l.contains("\"sky-1\""))
    });
    let line = nsid_line(&app.server, &tcp).expect("NSID over TCP");
    assert!(line.contains("\"sky-1\""), "{line}");
    // Not asked for: not sent.
    assert!(nsid_line(&app.server, &["a.ex.test.", "A"]).is_none());

    // The hex form gives raw bytes.
    app.rewrite_config(app.server.port, "nsid = \"0x736b7932\"");
    assert!(app.reload().status.success());
    wait_for("NSID sky2 from hex", || {
        nsid_line(&app.server, &udp).is_some_and(|l| l.contains("\"sky2\""))
    });
    // A bad value is rejected, the running one kept.
    app.rewrite_config(app.server.port, "nsid = \"0xabc\"");
    let out = app.reload();
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("nsid"), "{}", text(&out));
    let line = nsid_line(&app.server, &tcp).expect("NSID kept");
    assert!(line.contains("\"sky2\""), "{line}");
    assert!(app.server.stop().success());
}

/// kdig's advertised `UDP size: N B` of the server's OPT.
fn advertised(server: &Server, args: &[&str]) -> Option<u32> {
    let out = kdig(server, args);
    let at = out.find("UDP size: ")? + "UDP size: ".len();
    out[at..].split(' ').next()?.parse().ok()
}

#[test]
fn udp_and_tcp_advertise_the_configured_size() {
    let app = Appliance::start(&[]);
    for args in [
        &["+bufsize=4096", "a.ex.test.", "A"][..],
        &["+tcp", "+bufsize=4096", "a.ex.test.", "A"][..],
    ] {
        // The default max-udp-size (1232): TCP advertised 65535 before.
        assert_eq!(advertised(&app.server, args), Some(1232), "{args:?}");
    }
    assert!(app.server.stop().success());
}

/// kdig's status (`NOERROR`, `NXDOMAIN`, `REFUSED`, …) for a PTR query of `name`.
fn ptr_status(server: &Server, name: &str) -> String {
    let out = kdig(server, &[name, "PTR"]);
    let at = out.find("status: ").map_or(0, |i| i + "status: ".len());
    out[at..]
        .split(|c: char| !c.is_ascii_uppercase())
        .next()
        .unwrap_or("")
        .to_string()
}

#[test]
fn reverse_names_outside_served_reverse_zones_are_refused() {
    let app = Appliance::start(&[]);
    let s = &app.server;
    // a.ex.test. → 10.1.1.1 (auto-PTR): its /24 is ours.
    assert!(kdig(s, &["1.1.1.10.in-addr.arpa.", "PTR"]).contains("a.ex.test."));
    assert_eq!(ptr_status(s, "2.1.1.10.in-addr.arpa."), "NXDOMAIN");
    assert_eq!(ptr_status(s, "4.3.2.1.in-addr.arpa."), "REFUSED");
    assert_eq!(ptr_status(s, "1.2.1.10.in-addr.arpa."), "REFUSED");
    // Configured: the whole 10/8.
    app.rewrite_config(s.port, "reverse-zones = [\"10.in-addr.arpa.\"]");
    assert!(app.reload().status.success());
    wait_for("10/8 served", || {
        ptr_status(s, "1.2.1.10.in-addr.arpa.") == "NXDOMAIN"
    });
    assert_eq!(ptr_status(s, "4.3.2.1.in-addr.arpa."), "REFUSED");
    assert!(app.server.stop().success());
}

#[test]
fn a_served_reverse_zone_answers_soa_and_ns_at_its_apex() {
    let app = Appliance::start(&[]);
    let s = &app.server;
    // As Knot and NSD answer a minimal reverse zone: SOA and NS at the apex, the
    // negative answers' SOA owned and named by that zone.
    let zone = "1.1.10.in-addr.arpa.";
    let soa = kdig(s, &[zone, "SOA"]);
    assert!(
        soa.contains("status: NOERROR") && soa.contains(" aa"),
        "{soa}"
    );
    let answer = soa.split(";; ANSWER SECTION:").nth(1).unwrap_or("");
    assert!(
        answer.contains(&format!("{zone} ")) && answer.contains(&format!("ns.{zone}")),
        "{soa}"
    );
    let ns = kdig(s, &[zone, "NS"]);
    let answer = ns.split(";; ANSWER SECTION:").nth(1).unwrap_or("");
    assert!(answer.contains(&format!("{zone}\t")), "{ns}");
    assert!(answer.contains(&format!("NS\tns.{zone}")), "{ns}");
    let nx = kdig(s, &[&format!("2.{zone}"), "PTR"]);
    assert!(nx.contains("status: NXDOMAIN"), "{nx}");
    let authority = nx.split(";; AUTHORITY SECTION:").nth(1).unwrap_or("");
    assert!(
        authority.contains(&format!("hostmaster.{zone}"))
            && !authority.contains("ns.in-addr.arpa."),
        "{nx}"
    );
    assert!(app.server.stop().success());
}

/// The minimal reverse zone Skylane derives for `a.ex.test. A 10.1.1.1`, written for NSD
/// (`ns1` is what the harness probes).
const REVERSE: &str = "$ORIGIN 1.1.10.in-addr.arpa.
@ 30 IN SOA ns hostmaster 1 3600 600 86400 30
@ 30 IN NS ns
1 30 IN PTR a.ex.test.
ns1 30 IN TXT \"probe\"
";

/// Rcode, AA and each section as sorted texts of its records (`text` renders one).
type Summary = (String, bool, [Vec<String>; 3]);

fn summary(
    m: &hickory_proto::op::Message,
    text: fn(&hickory_proto::rr::Record) -> String,
) -> Summary {
    let texts = |rrs: &[hickory_proto::rr::Record]| {
        let mut v: Vec<String> = rrs.iter().map(text).collect();
        v.sort();
        v
    };
    (
        format!("{:?}", m.response_code()),
        m.authoritative(),
        [
            texts(m.answers()),
            texts(m.name_servers()),
            texts(m.additionals()),
        ],
    )
}

/// Owners and types only: what is compared with NSD where serials and TTLs differ by design.
fn layout(m: &hickory_proto::op::Message) -> Summary {
    summary(m, |r| {
        format!("{} {}", r.name().to_lowercase(), r.record_type())
    })
}

#[test]
fn a_derived_reverse_zone_is_laid_out_as_nsd_serves_it() {
    use hickory_proto::rr::RecordType;
    let nsd = common::nsd::Nsd::start("1.1.10.in-addr.arpa.", REVERSE);
    let app = Appliance::start(&[]);
    let ask = |name: &str, t: RecordType| {
        let q = common::query(name, t);
        let theirs = layout(&common::udp(nsd.addr(), &q));
        (layout(&common::udp(app.server.addr4(), &q)), theirs)
    };
    // Positive answers: the same answer section (NSD adds the apex NS in authority, by design).
    for t in [RecordType::SOA, RecordType::NS] {
        let (ours, theirs) = ask("1.1.10.in-addr.arpa.", t);
        assert_eq!(
            (&ours.0, ours.1, &ours.2[0]),
            (&theirs.0, theirs.1, &theirs.2[0]),
            "apex {t}: Skylane vs NSD"
        );
    }
    for (name, t) in [
        ("1.1.10.in-addr.arpa.", RecordType::A),
        ("2.1.1.10.in-addr.arpa.", RecordType::PTR),
        ("1.1.1.10.in-addr.arpa.", RecordType::TXT),
    ] {
        let (ours, theirs) = ask(name, t);
        assert_eq!(ours, theirs, "{name} {t}: Skylane vs NSD");
    }
    assert!(app.server.stop().success());
}

/// A zone with a delegation (in- and out-of-bailiwick servers) and occluded data.
const DELEGATING: &str = "$ORIGIN zf.test.
@ 3600 IN SOA ns1 hostmaster 1 3600 600 86400 300
@ 3600 IN NS ns1
ns1 3600 IN A 192.0.2.1
host 60 IN A 192.0.2.80
sub 3600 IN NS ns.sub
sub 3600 IN NS ns.other.test.
ns.sub 3600 IN A 192.0.2.53
ns.sub 3600 IN AAAA 2001:db8::53
www.sub 60 IN A 10.9.9.9
";

/// What a comparison looks at: rcode, AA and each section as sorted record texts.
fn shape(m: &hickory_proto::op::Message) -> Summary {
    summary(m, |r| r.to_string().to_lowercase())
}

#[test]
fn referrals_and_negative_answers_match_nsd_on_the_same_zone() {
    use hickory_proto::rr::RecordType;
    let nsd = common::nsd::Nsd::start("zf.test.", DELEGATING);
    let sky = Server::start(DELEGATING, &[]);
    for (name, t) in [
        ("www.sub.zf.test.", RecordType::A),
        ("deep.missing.sub.zf.test.", RecordType::AAAA),
        ("sub.zf.test.", RecordType::NS),
        ("sub.zf.test.", RecordType::DS),
        // (Positive answers differ by design: NSD adds the apex NS RRset and its glue.)
        ("nope.zf.test.", RecordType::A),
        ("host.zf.test.", RecordType::TXT),
    ] {
        let q = common::query(name, t);
        let (theirs, ours) = (common::udp(nsd.addr(), &q), common::udp(sky.addr4(), &q));
        assert_eq!(shape(&ours), shape(&theirs), "{name} {t}: Skylane vs NSD");
    }
    assert!(sky.stop().success());
}
