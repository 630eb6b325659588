//! Forwarding end to end: the real `skylane` binary in front of real
//! upstreams (NSD from Debian, started here on free loopback ports) and a
//! scripted fake upstream for what real servers do not do (slow answers,
//! mismatched replies). Every wait polls with a generous deadline.

mod common;

use common::nsd::{wait_for, Nsd};
use common::*;
use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const SERVED_ZONE: &str = "\
$ORIGIN cluster.local.
$TTL 30
@ IN SOA ns.cluster.local. admin.cluster.local. 1 3600 600 86400 30
web IN A 10.0.0.1
";

/// The upstream's zone: `www` (TTL 300), `short` (TTL 3), a TXT set too big
/// for UDP, and an SOA whose MINIMUM (60) bounds negative caching.
fn example_zone() -> String {
    let txt: Vec<String> = (0..12)
        .map(|i| format!("\"{}{i}\"", "x".repeat(200)))
        .collect();
    format!(
        "$ORIGIN example.test.\n$TTL 300\n\
         @ IN SOA ns1.example.test. hostmaster.example.test. 1 3600 600 86400 60\n\
         @ IN NS ns1.example.test.\nns1 IN A 127.0.0.1\n\
         www IN A 192.0.2.1\nwww IN A 192.0.2.2\nshort 3 IN A 192.0.2.5\n\
         big IN TXT {}\n",
        txt.join(" ")
    )
}

const CORP_ZONE: &str = "\
$ORIGIN corp.test.
$TTL 300
@ IN SOA ns1.corp.test. hostmaster.corp.test. 1 3600 600 86400 60
@ IN NS ns1.corp.test.
ns1 IN A 127.0.0.1
intranet IN A 198.51.100.7
";

/// Starts skylane (serving cluster.local.) with `forward` as its `[forward]`
/// section.
fn start_with_forward(forward: &str) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("skylane.toml");
    std::fs::write(
        &cfg,
        format!("[api]\ntoken = \"{TOKEN}\"\n[forward]\n{forward}\n"),
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap().to_owned();
    let s = Server::start(SERVED_ZONE, &["--config", &cfg]);
    // The config file's directory must outlive the server only until it read it.
    drop(dir);
    let health = format!("http://127.0.0.1:{}/health", s.api_port);
    wait_for("the API", || ureq::get(&health).call().is_ok());
    s
}

/// UDP query from 127.0.0.1 with a generous timeout.
fn ask(s: &Server, name: &str, t: RecordType) -> Message {
    udp_exchange_from(
        s.addr4(),
        &query(name, t),
        "127.0.0.1".parse().unwrap(),
        10_000,
    )
    .unwrap_or_else(|| panic!("no answer for {name}"))
}

/// The first answer for `name` that is NOERROR (a busy upstream may have
/// timed out once; that SERVFAIL is cached for 2 s).
fn ask_ok(s: &Server, name: &str, t: RecordType) -> Message {
    let mut got = None;
    wait_for(&format!("NOERROR for {name}"), || {
        let r = ask(s, name, t);
        let ok = r.response_code() == ResponseCode::NoError;
        got = Some(r);
        ok
    });
    got.unwrap()
}

fn first_ttl(m: &Message) -> u32 {
    m.answers().first().expect("an answer").ttl()
}

/// The API token the forwarding tests configure.
const TOKEN: &str = "forward-test-token";

fn api(s: &Server, method: &str, path: &str) -> String {
    let url = format!("http://127.0.0.1:{}{path}", s.api_port);
    let bearer = format!("Bearer {TOKEN}");
    let mut resp = match method {
        "DELETE" => ureq::delete(&url).header("Authorization", &bearer).call(),
        _ => ureq::get(&url).header("Authorization", &bearer).call(),
    }
    .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    resp.body_mut().read_to_string().unwrap()
}

fn metric(s: &Server, name: &str) -> f64 {
    let text = api(s, "GET", "/metrics");
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn forwards_caches_and_counts_down() {
    let nsd = Nsd::start("example.test.", &example_zone());
    let s = start_with_forward(&format!(
        "upstreams = [\"{}\"]\ntimeout-ms = 5000",
        nsd.addr()
    ));
    let first = ask_ok(&s, "www.example.test.", RecordType::A);
    assert_eq!(first.response_code(), ResponseCode::NoError);
    assert!(first.recursion_available(), "RA set");
    assert!(!first.authoritative(), "not AA: forwarded");
    assert_eq!(first.answers().len(), 2);
    let t1 = first_ttl(&first);
    assert!(t1 <= 300 && t1 > 200, "{t1}");
    // From the cache: the TTL counts down (slow machines: just "lower").
    wait_for("the cached TTL to count down", || {
        first_ttl(&ask(&s, "WWW.Example.TEST.", RecordType::A)) < t1
    });
    let again = ask(&s, "WWW.Example.TEST.", RecordType::A);
    assert_eq!(
        again.queries()[0].name().to_ascii(),
        "WWW.Example.TEST.",
        "case kept"
    );
    assert!(metric(&s, "skylane_cache_hits_total") >= 1.0);
    // NXDOMAIN with the SOA, TTL bounded by its MINIMUM (60).
    let nx = ask(&s, "missing.example.test.", RecordType::A);
    assert_eq!(nx.response_code(), ResponseCode::NXDomain);
    let soa = nx.name_servers().first().expect("SOA in authority");
    assert_eq!(soa.record_type(), RecordType::SOA);
    assert!(soa.ttl() <= 60, "{}", soa.ttl());
    // Served domains are never forwarded; RD=0 outside our zones: REFUSED.
    let local = ask(&s, "missing.cluster.local.", RecordType::A);
    assert_eq!(local.response_code(), ResponseCode::NXDomain);
    assert!(local.authoritative());
    let mut norec = query("www.example.test.", RecordType::A);
    norec.set_recursion_desired(false);
    let r = udp_exchange_from(s.addr4(), &norec, "127.0.0.1".parse().unwrap(), 5000).unwrap();
    assert_eq!(r.response_code(), ResponseCode::Refused);
    // Over TCP too.
    let t = tcp(s.addr4(), &query("www.example.test.", RecordType::A));
    assert_eq!(t.answers().len(), 2);
    assert!(t.recursion_available());
    // Too big for UDP: the forwarder retried upstream over TCP; the UDP
    // client gets TC=1, then the whole answer over TCP.
    let big = ask(&s, "big.example.test.", RecordType::TXT);
    assert!(big.truncated(), "TC=1 over UDP");
    let big = tcp(s.addr4(), &query("big.example.test.", RecordType::TXT));
    assert_eq!(big.answers().len(), 1);
    assert_eq!(big.response_code(), ResponseCode::NoError);
    assert!(s.stop().success());
}

#[test]
fn stale_answers_when_the_upstream_dies_and_purge() {
    let mut nsd = Nsd::start("example.test.", &example_zone());
    let s = start_with_forward(&format!(
        "upstreams = [\"{}\"]\ntimeout-ms = 2000\nprefetch = false",
        nsd.addr()
    ));
    assert!(first_ttl(&ask_ok(&s, "www.example.test.", RecordType::A)) > 200);
    assert!(first_ttl(&ask_ok(&s, "short.example.test.", RecordType::A)) <= 3);
    let shown = api(&s, "GET", "/v1/cache?name=www.example.test");
    assert!(shown.contains("\"type\":1"), "{shown}");
    nsd.kill();
    // Fresh entries still served from the cache.
    let www = ask(&s, "www.example.test.", RecordType::A);
    assert_eq!(www.response_code(), ResponseCode::NoError);
    assert_eq!(www.answers().len(), 2);
    // Once `short` expires it is served stale with TTL stale-answer-ttl.
    wait_for("a stale answer", || {
        let r = ask(&s, "short.example.test.", RecordType::A);
        r.response_code() == ResponseCode::NoError
            && r.answers().first().is_some_and(|a| a.ttl() == 30)
    });
    assert!(metric(&s, "skylane_forward_stale_answers_total") >= 1.0);
    // Purge one name, then everything.
    let purged = api(&s, "DELETE", "/v1/cache?name=www.example.test.");
    assert!(purged.contains("\"purged\":1"), "{purged}");
    let shown = api(&s, "GET", "/v1/cache?name=www.example.test");
    assert!(shown.contains("\"entries\":[]"), "{shown}");
    let www = ask(&s, "www.example.test.", RecordType::A);
    assert_eq!(
        www.response_code(),
        ResponseCode::ServFail,
        "purged and no upstream"
    );
    // The CLI: show, then purge everything.
    let ctl = |args: &[&str]| {
        let addr = format!("http://127.0.0.1:{}", s.api_port);
        let mut all = vec!["--addr", addr.as_str(), "--token", TOKEN];
        all.extend_from_slice(args);
        let out = run(env!("CARGO_BIN_EXE_skylanectl"), &all);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let shown = ctl(&["cache", "show", "short.example.test"]);
    assert!(shown.contains("short.example.test. type=1"), "{shown}");
    assert!(ctl(&["cache", "purge"]).contains("purged"));
    let shown = ctl(&["cache", "show", "short.example.test"]);
    assert!(shown.contains("not cached"), "{shown}");
    assert!(s.stop().success());
}

#[test]
fn stub_domains_go_to_their_own_servers() {
    let default = Nsd::start("example.test.", &example_zone());
    let corp = Nsd::start("corp.test.", CORP_ZONE);
    let s = start_with_forward(&format!(
        "upstreams = [\"{}\"]\ntimeout-ms = 5000\nstub-domains-list = [\"corp.test.@{}\"]\n\
         [forward.stub-domains]\n\"cluster.local.\" = [\"{}\"]",
        default.addr(),
        corp.addr(),
        corp.addr()
    ));
    let r = ask_ok(&s, "intranet.corp.test.", RecordType::A);
    assert_eq!(r.answers()[0].data(), &RData::A(A::new(198, 51, 100, 7)));
    // The default upstream does not know corp.test.
    let r = ask_ok(&s, "www.example.test.", RecordType::A);
    assert_eq!(r.answers().len(), 2);
    // A stub for a served domain never wins over the served data.
    let r = ask(&s, "web.cluster.local.", RecordType::A);
    assert!(r.authoritative());
    assert_eq!(r.answers()[0].data(), &RData::A(A::new(10, 0, 0, 1)));
    assert!(s.stop().success());
}

/// A scripted upstream: answers every query after `delay`, first with a
/// wrong ID and a wrong question (both must be ignored), then correctly.
struct FakeUpstream {
    addr: SocketAddr,
    queries: Arc<AtomicUsize>,
}

fn fake_upstream(delay: Duration) -> FakeUpstream {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = sock.local_addr().unwrap();
    let queries = Arc::new(AtomicUsize::new(0));
    let counted = queries.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            let Ok(q) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            counted.fetch_add(1, Ordering::SeqCst);
            let sock = sock.try_clone().unwrap();
            std::thread::spawn(move || {
                std::thread::sleep(delay);
                let mut r = Message::new();
                r.set_id(q.id().wrapping_add(1));
                r.set_message_type(MessageType::Response);
                r.add_queries(q.queries().to_vec());
                let _ = sock.send_to(&r.to_vec().unwrap(), from);
                let mut wrong_q = query("other.fake.test.", RecordType::A);
                wrong_q.set_id(q.id());
                wrong_q.set_message_type(MessageType::Response);
                let _ = sock.send_to(&wrong_q.to_vec().unwrap(), from);
                let mut ok = Message::new();
                ok.set_id(q.id());
                ok.set_message_type(MessageType::Response);
                ok.set_recursion_available(true);
                ok.add_queries(q.queries().to_vec());
                let name = q.queries()[0].name().clone();
                ok.add_answer(Record::from_rdata(
                    name,
                    60,
                    RData::A(A(Ipv4Addr::new(192, 0, 2, 99))),
                ));
                let _ = sock.send_to(&ok.to_vec().unwrap(), from);
            });
        }
    });
    FakeUpstream { addr, queries }
}

#[test]
fn concurrent_questions_share_one_upstream_query_and_mismatches_are_ignored() {
    let fake = fake_upstream(Duration::from_millis(500));
    let s = start_with_forward(&format!(
        "upstreams = [\"{}\"]\ntimeout-ms = 5000\nallow = [\"127.0.0.0/8\"]",
        fake.addr
    ));
    let addr = s.addr4();
    let clients: Vec<_> = (0..100)
        .map(|_| {
            std::thread::spawn(move || {
                let q = query("dedup.fake.test.", RecordType::A);
                udp_exchange_from(addr, &q, "127.0.0.1".parse().unwrap(), 15_000)
            })
        })
        .collect();
    for c in clients {
        let r = c.join().unwrap().expect("every client answered");
        assert_eq!(r.response_code(), ResponseCode::NoError);
        assert_eq!(r.answers()[0].data(), &RData::A(A::new(192, 0, 2, 99)));
    }
    assert_eq!(fake.queries.load(Ordering::SeqCst), 1, "one upstream query");
    assert!(metric(&s, "skylane_forward_mismatched_replies_total") >= 2.0);
    // ::1 is outside `allow`: REFUSED, never forwarded.
    let r = udp_exchange_from(
        s.addr6(),
        &query("dedup.fake.test.", RecordType::A),
        "::1".parse().unwrap(),
        5000,
    )
    .unwrap();
    assert_eq!(r.response_code(), ResponseCode::Refused);
    assert_eq!(fake.queries.load(Ordering::SeqCst), 1);
    assert!(s.stop().success());
}

#[test]
fn an_upstream_pointing_at_ourselves_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("loop.toml");
    std::fs::write(
        &cfg,
        "[dataplane]\nlisten = [\"127.0.0.1:5399\"]\n[forward]\nupstreams = [\"127.0.0.1:5399\"]\n",
    )
    .unwrap();
    let out = run(bin(), &["check-config", "--config", cfg.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("upstreams"), "{err}");
}
