//! Response rate limiting through the real binary: `[rrl]` enabled by `skylane reload`,
//! one client flooding one name gets at most `responses-per-second` full answers plus
//! TC=1 slips, kdig over TCP still answers it, a second client is unaffected, and
//! `skylane_rrl_dropped_total` / `skylane_rrl_slipped_total` count. A dropped response is
//! counted as dropped, not under its rcode; forwarded answers (from an upstream) are
//! limited too.

mod common;
mod ops_support;

use common::{kdig, query};
use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};
use ops_support::{config_text, text, wait_for, Appliance, TOKEN};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// The rate the test configures.
const RATE: usize = 5;
/// Queries in one burst (their replies fit the client socket's default receive buffer).
const BURST: usize = 150;

/// What one burst got back.
#[derive(Debug, Default)]
struct Burst {
    full: usize,
    slipped: usize,
    /// Seconds the burst's replies span (rounded up).
    seconds: usize,
}

/// The name the tests flood (served: `a.ex.test.` → 10.1.1.1).
const NAME: &str = "a.ex.test.";

/// `[rrl]` as the tests enable it: per /32 so that 127.0.0.2 and 127.0.0.3 are separate
/// clients.
fn rrl_section() -> String {
    format!(
        "[rrl]\nenabled = true\nresponses-per-second = {RATE}\nwindow = 2\nslip = 2\n\
         ipv4-prefix-length = 32\n"
    )
}

/// Sends [`BURST`] queries for `name` A from `from` as fast as possible and collects the
/// replies until none has come for 2 s.
fn burst(server: SocketAddr, from: &str, name: &str) -> Burst {
    let sock = UdpSocket::bind((from, 0)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut q = query(name, RecordType::A);
    let started = Instant::now();
    for id in 0..BURST {
        q.set_id(id as u16);
        sock.send_to(&q.to_vec().unwrap(), server).unwrap();
    }
    let mut got = Burst::default();
    let mut buf = [0u8; 4096];
    let mut last = started;
    while let Ok((n, _)) = sock.recv_from(&mut buf) {
        last = Instant::now();
        let m = Message::from_vec(&buf[..n]).expect("a DNS reply");
        assert_eq!(m.response_code(), ResponseCode::NoError);
        if m.truncated() {
            assert!(m.answers().is_empty(), "a slip carries no records: {m:?}");
            got.slipped += 1;
        } else {
            assert_eq!(m.answers().len(), 1, "{m:?}");
            got.full += 1;
        }
    }
    got.seconds = last.duration_since(started).as_secs() as usize + 1;
    got
}

/// A few queries from `from`, spaced out, all answered in full.
fn polite(server: SocketAddr, from: &str) {
    for _ in 0..3 {
        let r = common::udp_exchange_from(
            server,
            &query("a.ex.test.", RecordType::A),
            from.parse().unwrap(),
            10_000,
        )
        .unwrap_or_else(|| panic!("{from} got no answer"));
        assert!(!r.truncated(), "{from} was limited: {r:?}");
        assert_eq!(r.answers().len(), 1);
    }
}

/// The `/metrics` page.
fn metrics_page(app: &Appliance) -> String {
    let url = format!("http://127.0.0.1:{}/metrics", app.server.api_port);
    let mut resp = ureq::get(&url)
        .header("Authorization", &format!("Bearer {TOKEN}"))
        .call()
        .expect("GET /metrics");
    resp.body_mut().read_to_string().unwrap()
}

fn metric(app: &Appliance, name: &str) -> u64 {
    let body = metrics_page(app);
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} not in /metrics:\n{body}"))
}

/// The sum of the `/metrics` samples whose line starts with `prefix` (a family and the
/// first labels).
fn metric_sum(app: &Appliance, prefix: &str) -> u64 {
    metrics_page(app)
        .lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[test]
fn a_flooding_client_is_limited_and_slipped_others_are_not() {
    let app = Appliance::start(&[]);
    let server = app.server.addr4();
    // Off by default: a burst is answered in full.
    let b = burst(server, "127.0.0.2", NAME);
    assert_eq!((b.full, b.slipped), (BURST, 0), "{b:?}");
    assert_eq!(metric(&app, "skylane_rrl_dropped_total"), 0);

    // Enabled live.
    app.rewrite_config(app.server.port, &rrl_section());
    let out = app.reload();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("rrl"), "{}", text(&out));

    let mut b = Burst::default();
    wait_for("the burst limited", || {
        b = burst(server, "127.0.0.2", NAME);
        b.full < BURST
    });
    assert!(b.full >= 1, "the first answers are within the rate: {b:?}");
    // At most the rate per second the burst lasted, plus the first second's credit.
    assert!(b.full <= RATE * (b.seconds + 1), "{b:?}");
    assert!(b.slipped >= 1, "every 2nd limited response slips: {b:?}");
    let limited = BURST - b.full;
    // The first and every 2nd limited response slips; the count starts afresh in each
    // second that had credit again.
    assert!(b.slipped * 2 >= limited, "{b:?}");
    assert!(b.slipped <= limited / 2 + b.seconds + 1, "{b:?}");

    // TCP is never limited: kdig over TCP from the flooding address answers.
    for _ in 0..3 {
        let out = kdig(&app.server, &["-b", "127.0.0.2", "+tcp", "a.ex.test.", "A"]);
        assert!(out.contains("10.1.1.1"), "kdig +tcp: {out}");
    }
    // A second client is unaffected.
    polite(server, "127.0.0.3");

    let dropped = metric(&app, "skylane_rrl_dropped_total");
    let slipped = metric(&app, "skylane_rrl_slipped_total");
    assert!(slipped >= b.slipped as u64, "{slipped} < {b:?}");
    assert!(dropped >= (limited - b.slipped) as u64, "{dropped}: {b:?}");

    // Disabled again live: answered in full once more.
    app.rewrite_config(app.server.port, "");
    let out = app.reload();
    assert!(out.status.success(), "{}", text(&out));
    wait_for("the burst answered in full", || {
        let b = burst(server, "127.0.0.2", NAME);
        b.full == BURST
    });
}

#[test]
fn limited_responses_are_counted_as_dropped_not_under_their_rcode() {
    let app = Appliance::start(&[]);
    let server = app.server.addr4();
    app.rewrite_config(app.server.port, &rrl_section());
    let out = app.reload();
    assert!(out.status.success(), "{}", text(&out));
    let noerror = "skylane_dns_responses_total{rcode=\"NOERROR\",backend=\"socket\"";
    let dropped = "skylane_dns_dropped_total{backend=\"socket\"";
    let counts = || {
        (
            metric_sum(&app, noerror),
            metric_sum(&app, dropped),
            metric(&app, "skylane_rrl_dropped_total"),
            metric(&app, "skylane_rrl_slipped_total"),
        )
    };
    let (mut b, mut before, mut after) = (Burst::default(), (0, 0, 0, 0), (0, 0, 0, 0));
    wait_for("a limited burst", || {
        before = counts();
        b = burst(server, "127.0.0.4", NAME);
        after = counts();
        b.full < BURST
    });
    let rrl_dropped = after.2 - before.2;
    let rrl_slipped = after.3 - before.3;
    assert_eq!(rrl_slipped, b.slipped as u64, "{b:?}");
    assert_eq!(rrl_dropped, (BURST - b.full - b.slipped) as u64, "{b:?}");
    // By rcode: what left the box (full answers and TC=1 slips), nothing else.
    assert_eq!(after.0 - before.0, (b.full + b.slipped) as u64, "{b:?}");
    assert_eq!(
        after.1 - before.1,
        rrl_dropped,
        "dropped: the rate-limited ones"
    );
}

/// An upstream that answers every query with one A record of TTL `ttl` (0: never cached).
fn upstream(ttl: u32) -> SocketAddr {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = sock.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            let Ok(q) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let mut r = Message::new();
            r.set_id(q.id());
            r.set_message_type(MessageType::Response);
            r.set_recursion_available(true);
            r.add_queries(q.queries().to_vec());
            let name = q.queries()[0].name().clone();
            let a = RData::A(A(Ipv4Addr::new(192, 0, 2, 99)));
            r.add_answer(Record::from_rdata(name, ttl, a));
            let _ = sock.send_to(&r.to_vec().unwrap(), from);
        }
    });
    addr
}

/// The name the forwarding tests flood (answered by [`upstream`]).
const FORWARDED: &str = "www.fwd.test.";

/// Starts a server forwarding with `forward` (TOML) and `[rrl]` on; with `warm`, first
/// waits until a core answers [`FORWARDED`] from its cache replica. Floods it, checks that
/// it is limited, and returns the server and the cores' cache hits during the last flood.
fn forwarded_flood_is_limited(forward: &str, warm: bool) -> (Appliance, u64) {
    let app = Appliance::start_forwarding(&[], forward);
    let server = app.server.addr4();
    if warm {
        wait_for("a core cache hit", || {
            let q = query(FORWARDED, RecordType::A);
            common::udp_exchange_from(server, &q, "127.0.0.5".parse().unwrap(), 10_000);
            metric(&app, "skylane_cache_hits_total") > 0
        });
    }
    let (dir, port, api) = (app.server.dir(), app.server.port, app.server.api_port);
    let cfg = config_text(dir, port, api, &rrl_section(), forward);
    std::fs::write(&app.config, cfg).unwrap();
    let out = app.reload();
    assert!(out.status.success(), "{}", text(&out));
    let (mut b, mut hits) = (Burst::default(), 0);
    wait_for("the forwarded burst limited", || {
        let before = metric(&app, "skylane_cache_hits_total");
        b = burst(server, "127.0.0.2", FORWARDED);
        hits = metric(&app, "skylane_cache_hits_total") - before;
        b.full < BURST
    });
    assert!(b.full <= RATE * (b.seconds + 1), "{b:?}");
    assert!(b.slipped >= 1, "every 2nd limited response slips: {b:?}");
    assert!(metric(&app, "skylane_rrl_slipped_total") >= b.slipped as u64);
    (app, hits)
}

#[test]
fn forwarded_answers_are_limited_too() {
    // No cache: every answer comes from the upstream, sent by the forwarder.
    let upstream = upstream(0);
    let forward = format!("upstreams = [\"{upstream}\"]\ncache-size-mb = 0\n");
    let (_, hits) = forwarded_flood_is_limited(&forward, false);
    assert_eq!(hits, 0);
}

#[test]
fn answers_from_the_forward_cache_are_limited_too() {
    // Cached (TTL 300), and in the cores' replicas before the flood: they answer it.
    let upstream = upstream(300);
    let forward = format!("upstreams = [\"{upstream}\"]\n");
    let (_, hits) = forwarded_flood_is_limited(&forward, true);
    assert_eq!(
        hits, BURST as u64,
        "every query of the flood was a core cache hit"
    );
}
