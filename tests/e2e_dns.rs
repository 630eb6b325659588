//! End-to-end DNS tests: the real `skylane serve` binary on loopback, queried
//! over UDP and TCP, IPv4 and IPv6, with kdig/dig and a Rust client
//! (hickory-proto).

mod common;

use common::*;
use hickory_proto::op::{MessageType, ResponseCode};
use hickory_proto::rr::{RData, RecordType};
use std::net::IpAddr;

const ZONE: &str = r#"$ORIGIN cluster.local.
$TTL 60
@        SOA   ns1 hostmaster 1 3600 600 86400 45
@        NS    ns1
ns1      A     10.0.0.53
web      A     10.0.0.1
web      A     10.0.0.2
web      A     10.0.0.3
web      AAAA  fd00::1
alias    CNAME alias2
alias2   CNAME web
loop1    CNAME loop2
loop2    CNAME loop1
_http._tcp SRV 10 50 80 web
txt      TXT   "hello" "world"
mx       MX    10 web
big      A     10.1.0.1
big      A     10.1.0.2
big      A     10.1.0.3
big      A     10.1.0.4
big      A     10.1.0.5
big      A     10.1.0.6
big      A     10.1.0.7
big      A     10.1.0.8
big      A     10.1.0.9
big      A     10.1.0.10
big      A     10.1.0.11
big      A     10.1.0.12
big      A     10.1.0.13
big      A     10.1.0.14
big      A     10.1.0.15
big      A     10.1.0.16
big      A     10.1.0.17
big      A     10.1.0.18
big      A     10.1.0.19
big      A     10.1.0.20
big      A     10.1.0.21
big      A     10.1.0.22
big      A     10.1.0.23
big      A     10.1.0.24
big      A     10.1.0.25
big      A     10.1.0.26
big      A     10.1.0.27
big      A     10.1.0.28
big      A     10.1.0.29
big      A     10.1.0.30
big      A     10.1.0.31
big      A     10.1.0.32
big      A     10.1.0.33
big      A     10.1.0.34
big      A     10.1.0.35
big      A     10.1.0.36
big      A     10.1.0.37
big      A     10.1.0.38
big      A     10.1.0.39
big      A     10.1.0.40
sticky   A     10.2.0.1
sticky   A     10.2.0.2
sticky   A     10.2.0.3
sticky   A     10.2.0.4
sticky   A     10.2.0.5
"#;

fn addrs(m: &hickory_proto::op::Message) -> Vec<IpAddr> {
    m.answers()
        .iter()
        .filter_map(|r| match r.data() {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        })
        .collect()
}

fn start() -> Server {
    Server::start(ZONE, &["--policy", "all"])
}

#[test]
fn a_and_aaaa_over_udp_and_tcp_v4_and_v6() {
    let s = start();
    for addr in [s.addr4(), s.addr6()] {
        for via_tcp in [false, true] {
            let q = query("web.cluster.local.", RecordType::A);
            let r = if via_tcp {
                tcp(addr, &q)
            } else {
                udp(addr, &q)
            };
            assert_eq!(r.message_type(), MessageType::Response);
            assert_eq!(r.id(), q.id());
            assert_eq!(r.response_code(), ResponseCode::NoError);
            assert!(r.authoritative(), "AA set");
            assert!(r.recursion_desired(), "RD copied");
            let mut got = addrs(&r);
            got.sort();
            let want: Vec<IpAddr> = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
                .iter()
                .map(|a| a.parse().unwrap())
                .collect();
            assert_eq!(got, want, "{addr} tcp={via_tcp}");
            let r6 = udp(addr, &query("web.cluster.local.", RecordType::AAAA));
            assert_eq!(addrs(&r6), vec!["fd00::1".parse::<IpAddr>().unwrap()]);
        }
    }
    assert!(s.stop().success(), "clean exit on SIGTERM");
}

#[test]
fn kdig_and_dig_get_answers() {
    let s = start();
    let out = kdig(&s, &["+short", "web.cluster.local", "A"]);
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort();
    assert_eq!(lines, vec!["10.0.0.1", "10.0.0.2", "10.0.0.3"], "{out}");
    let out = kdig(&s, &["+tcp", "+short", "web.cluster.local", "AAAA"]);
    assert_eq!(out.trim(), "fd00::1");
    let out = dig(&s, &["nope.cluster.local", "A"]);
    assert!(out.contains("status: NXDOMAIN"), "{out}");
    assert!(out.contains("flags: qr aa rd"), "{out}");
    let out = dig(&s, &["+norec", "web.example.org", "A"]);
    assert!(out.contains("status: REFUSED"), "{out}");
}

#[test]
fn nxdomain_and_nodata_carry_the_soa() {
    let s = start();
    let r = udp(s.addr4(), &query("missing.cluster.local.", RecordType::A));
    assert_eq!(r.response_code(), ResponseCode::NXDomain);
    assert!(r.answers().is_empty());
    let soa = &r.name_servers()[0];
    assert_eq!(soa.record_type(), RecordType::SOA);
    assert_eq!(soa.ttl(), 45, "negative TTL = SOA minimum");
    let r = udp(s.addr4(), &query("txt.cluster.local.", RecordType::A));
    assert_eq!(r.response_code(), ResponseCode::NoError);
    assert!(r.answers().is_empty());
    assert_eq!(r.name_servers()[0].record_type(), RecordType::SOA);
}

#[test]
fn truncation_with_a_512_byte_limit() {
    let s = start();
    let out = kdig(&s, &["+bufsize=512", "+notcp", "big.cluster.local", "A"]);
    assert!(out.contains(" tc"), "TC flag expected: {out}");
    // Without EDNS the limit is 512 too; over TCP the whole set arrives.
    let q = query("big.cluster.local.", RecordType::A);
    let raw = udp_raw_from(
        s.addr4(),
        &q.to_vec().unwrap(),
        "127.0.0.1".parse().unwrap(),
        10_000,
    )
    .unwrap();
    assert!(raw.len() <= 512, "{} bytes", raw.len());
    let r = hickory_proto::op::Message::from_vec(&raw).unwrap();
    assert!(r.truncated());
    let r = tcp(s.addr4(), &q);
    assert!(!r.truncated());
    assert_eq!(addrs(&r).len(), 40);
    // A large EDNS buffer gets everything over UDP.
    let r = udp(s.addr4(), &with_edns(q, 4096, 0));
    assert!(!r.truncated());
    assert_eq!(addrs(&r).len(), 40);
}

#[test]
fn edns_version_1_gets_badvers_and_opcode_15_notimp() {
    let s = start();
    let out = kdig(&s, &["+edns=1", "web.cluster.local", "A"]);
    assert!(out.contains("BADVERS"), "{out}");
    let r = udp(
        s.addr4(),
        &with_edns(query("web.cluster.local.", RecordType::A), 1232, 1),
    );
    // 16 is BADVERS for OPT (hickory names the shared code BADSIG).
    assert_eq!(u16::from(r.response_code()), 16);
    assert_eq!(
        r.extensions().as_ref().unwrap().version(),
        0,
        "OPT version 0"
    );
    assert!(r.answers().is_empty());

    let q = query("web.cluster.local.", RecordType::A);
    let mut bytes = q.to_vec().unwrap();
    bytes[2] = (bytes[2] & 0x87) | (15 << 3); // opcode 15 whatever the library allows
    let raw = udp_raw_from(s.addr4(), &bytes, "127.0.0.1".parse().unwrap(), 10_000).unwrap();
    assert_eq!(raw[3] & 0x0f, 4, "NOTIMP");
    assert_eq!(raw[2] & 0x04, 0, "no AA");
    let out = dig(&s, &["+opcode=15", "web.cluster.local"]);
    assert!(out.contains("NOTIMP"), "{out}");
}

#[test]
fn qname_case_is_preserved() {
    let s = start();
    let r = udp(s.addr4(), &query("WeB.ClUsTeR.LoCaL.", RecordType::A));
    assert_eq!(r.queries()[0].name().to_ascii(), "WeB.ClUsTeR.LoCaL.");
    assert_eq!(addrs(&r).len(), 3);
    assert_eq!(r.answers()[0].name().to_ascii(), "WeB.ClUsTeR.LoCaL.");
}

#[test]
fn cname_chains_and_loops() {
    let s = start();
    let r = udp(s.addr4(), &query("alias.cluster.local.", RecordType::A));
    assert_eq!(r.response_code(), ResponseCode::NoError);
    let types: Vec<RecordType> = r.answers().iter().map(|a| a.record_type()).collect();
    assert_eq!(&types[..2], &[RecordType::CNAME, RecordType::CNAME]);
    assert_eq!(addrs(&r).len(), 3);
    let r = udp(s.addr4(), &query("loop1.cluster.local.", RecordType::A));
    assert!(matches!(
        r.response_code(),
        ResponseCode::NoError | ResponseCode::ServFail
    ));
    assert!(r.answers().len() <= 9, "loop is bounded");
}

#[test]
fn srv_with_additional_addresses() {
    let s = start();
    let out = kdig(&s, &["_http._tcp.cluster.local", "SRV"]);
    assert!(out.contains("10 50 80 web.cluster.local."), "{out}");
    let r = udp(
        s.addr4(),
        &query("_http._tcp.cluster.local.", RecordType::SRV),
    );
    assert_eq!(r.answers().len(), 1);
    let extra: Vec<RecordType> = r.additionals().iter().map(|a| a.record_type()).collect();
    assert!(
        extra.contains(&RecordType::A) && extra.contains(&RecordType::AAAA),
        "{extra:?}"
    );
}

#[test]
fn automatic_ptr_from_a_records() {
    let s = start();
    let out = dig(&s, &["-x", "10.0.0.53", "+short"]);
    assert_eq!(out.trim(), "ns1.cluster.local.");
    let out = kdig(&s, &["-x", "fd00::1", "+short"]);
    assert_eq!(out.trim(), "web.cluster.local.");
}

#[test]
fn hone_one_is_stable_per_client_and_spreads_clients() {
    let s = Server::start(ZONE, &["--policy", "hone-one"]);
    let mut seen = std::collections::HashSet::new();
    for client in 1..=20u8 {
        let from: IpAddr = format!("127.0.0.{client}").parse().unwrap();
        let q = query("sticky.cluster.local.", RecordType::A);
        let first = addrs(&udp_exchange_from(s.addr4(), &q, from, 10_000).unwrap());
        assert_eq!(first.len(), 1);
        for _ in 0..5 {
            let again = addrs(&udp_exchange_from(s.addr4(), &q, from, 10_000).unwrap());
            assert_eq!(again, first, "client {from} must keep its address");
        }
        seen.insert(first[0]);
    }
    assert!(
        seen.len() >= 3,
        "20 clients spread over 5 addresses: {seen:?}"
    );
}

#[test]
fn random_one_answers_one_address() {
    let s = Server::start(ZONE, &["--policy", "random-one"]);
    let mut seen = std::collections::HashSet::new();
    for _ in 0..40 {
        let r = udp(s.addr4(), &query("sticky.cluster.local.", RecordType::A));
        let a = addrs(&r);
        assert_eq!(a.len(), 1);
        seen.insert(a[0]);
    }
    assert!(seen.len() >= 2, "random-one varies: {seen:?}");
}

#[test]
fn malformed_packets_do_not_kill_the_server() {
    let s = start();
    let from: IpAddr = "127.0.0.1".parse().unwrap();
    for len in 0..18usize {
        let junk: Vec<u8> = (0..len as u8).map(|b| b.wrapping_mul(37)).collect();
        let _ = udp_raw_from(s.addr4(), &junk, from, 100);
    }
    // A pointer loop in the question name.
    let mut pkt = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    pkt.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
    let raw = udp_raw_from(s.addr4(), &pkt, from, 10_000).expect("FORMERR reply");
    assert_eq!(raw[3] & 0x0f, 1, "FORMERR");
    let r = udp(s.addr4(), &query("web.cluster.local.", RecordType::A));
    assert_eq!(addrs(&r).len(), 3, "still serving");
}

#[test]
fn serve_with_no_arguments_answers_the_example_records() {
    // The README's flow: defaults (port 5353 may be busy on a dev box, so only the listen
    // addresses are moved; the user's data directory is a temp dir via XDG_DATA_HOME), then
    // `skylanectl add` without a token: it finds the token the server generated.
    let dir = tempfile::tempdir().unwrap();
    let xdg = dir.path().join("xdg");
    let s = Server::launch_env(dir, None, &[("XDG_DATA_HOME", &xdg)], |port, api_port| {
        vec![
            "serve".into(),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
            "--api-listen".into(),
            format!("127.0.0.1:{api_port}"),
        ]
    });
    s.wait_until_ready();
    let r = udp(s.addr4(), &query("www.skylane.local.", RecordType::A));
    assert_eq!(addrs(&r).len(), 2);
    let token_file = xdg.join("skylane").join("api-token");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&token_file).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let addr = format!("http://127.0.0.1:{}", s.api_port);
    let ctl = |extra: &[(&str, &str)]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_skylanectl"))
            .args([
                "--addr", &addr, "add", "web2", "--type", "A", "--ip", "10.0.0.7",
            ])
            .env("XDG_DATA_HOME", &xdg)
            .env_remove("SKYLANE_API_TOKEN")
            .env_remove("SKYLANE_API_TOKEN_FILE")
            .envs(extra.iter().copied())
            .output()
            .unwrap()
    };
    // Another user (another data directory) has no token: 401, nothing written.
    let out = ctl(&[("XDG_DATA_HOME", "/nonexistent-skylane-test")]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("401"),
        "{out:?}"
    );
    let out = ctl(&[]);
    assert!(out.status.success(), "{out:?}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let r = udp(s.addr4(), &query("web2.skylane.local.", RecordType::A));
        if addrs(&r) == vec!["10.0.0.7".parse::<std::net::IpAddr>().unwrap()] {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "web2 not answered");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(!s.log_text().contains(
        &std::fs::read_to_string(&token_file)
            .unwrap()
            .trim()
            .to_string()
    ));
}
