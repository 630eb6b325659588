//! Answer-engine benchmarks: cost per query (parse → zone/node lookup →
//! policy → in-place response) on one core, for snapshots of 100 k and 1 M
//! names (built once per group).
//!
//! - `a_hit_1`: A query, name with 1 address, cycling over 4096 distinct names;
//! - `a_hit_3`: same, names with 3 addresses (policy `all`);
//! - `a_hit_1_hot`: one name asked again and again (best case, all in cache);
//! - `nxdomain`: names that do not exist (closest-encloser walk + SOA);
//! - `subtree_3`: a name without records of its own over 3 services (every 100th
//!   service name has such a group `grp<N>` with `a0..a2` below it): the SkyDNS
//!   answer of everything at or below the name;
//! - `subtree_1000`: `ns<K>.svc.cluster.local.`, 1000 services (and groups) below it:
//!   the answer is cut by the UDP size (TC);
//! - `lookups_only`: just the zone + node lookups of `a_hit_1` (reference);
//! - `<case>_burst` (for `a_hit_1`, `a_hit_3`, `a_hit_1_hot` and `nxdomain`): the same
//!   queries answered as the DPDK and socket backends answer them, in bursts of 32
//!   ([`BURST`]): every query of a burst warmed first ([`engine::warm`]: name hashed in place,
//!   shard, index slot and entry loaded), then each answered. The cost per query
//!   includes the warm-up stage; the cache misses of a burst's lookups overlap.
//!
//! `rrl_100k` (response rate limiting, `[rrl]`): the engine's answer followed by the
//! core's limiter, as the UDP loops run them, for `a_hit` and `nxdomain` queries from
//! 4096 client /24s (every response accounted, none limited):
//! - `<kind>_rrl_off`: `[rrl]` disabled (the limiter returns at once);
//! - `<kind>_rrl_engine_hash`: enabled, keyed by the name hash the engine passes;
//! - `<kind>_rrl_reparse`: enabled, keyed by reading the response again (the question
//!   name, and for NXDOMAIN the authority SOA's owner) as the limiter did before the
//!   engine passed the hash: the old cost, measured in the same run;
//! - `<kind>_key_engine_hash` / `<kind>_key_reparse`: the limiter's step alone on
//!   responses already written (1024 of them), keyed either way: the difference
//!   without the engine's cost around it.
//!
//! Timings are THREAD CPU time (`CLOCK_THREAD_CPUTIME_ID`) per query, not
//! wall time: the figure is the processing cost on one core, and time the
//! thread spends preempted on a shared machine is not counted. On an idle
//! machine both are the same.
//!
//! Run: `cargo bench -p skylane-dataplane --bench engine -- --measurement-time 3 --warm-up-time 1`
//! (`-- rrl` for the RRL cases alone)

/// The server's allocator (mimalloc, as `skylane` installs it), so the snapshot's table lies
/// in memory as it does in the server: on transparent huge pages where the kernel allows
/// them (`MIMALLOC_ALLOW_THP=0` in the environment measures small pages instead).
#[global_allocator]
static GLOBAL: skylane_alloc::MiMalloc = skylane_alloc::MiMalloc;

mod fixture;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use fixture::{build, group_name, queries, spread, svc_name};
use nix::time::{clock_gettime, ClockId};
use skylane_dataplane::engine::{self, answer, Client, EngineState, Reply, Transport, Verdict};
use skylane_dataplane::rrl::{classify, RrlHandle, RrlSettings};
use skylane_dataplane::snapshot::Snapshot;
use skylane_dataplane::Name;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

/// CPU time consumed by this thread so far.
fn thread_cpu() -> Duration {
    clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(Duration::from)
        .unwrap_or_default()
}

/// Runs `f` `iters` times and returns the thread CPU time it took.
fn cpu_timed<R>(iters: u64, mut f: impl FnMut() -> R) -> Duration {
    let start = thread_cpu();
    for _ in 0..iters {
        black_box(f());
    }
    thread_cpu().saturating_sub(start)
}

/// Queries per burst in the `_burst` cases (the DPDK backend's burst size).
const BURST: usize = 32;

/// Answers `iters` queries taken in turn from `qs` in bursts of [`BURST`] (warm the
/// whole burst, then answer each, as the backends do); returns the thread CPU time.
fn burst_timed(
    snap: &Snapshot,
    qs: &[Vec<u8>],
    bufs: &mut [Vec<u8>],
    next: &mut usize,
    iters: u64,
    client: &Client,
    state: &mut EngineState,
) -> Duration {
    let start = thread_cpu();
    let mut left = iters as usize;
    while left > 0 {
        let n = left.min(BURST);
        let mut lens = [0usize; BURST];
        for (k, (buf, len)) in bufs.iter_mut().zip(lens.iter_mut()).take(n).enumerate() {
            let q = &qs[(*next + k) & 4095];
            buf[..q.len()].copy_from_slice(q);
            *len = q.len();
        }
        *next = next.wrapping_add(n);
        engine::warm::<BURST>(snap, bufs.iter().zip(lens).take(n).map(|(b, l)| &b[..l]));
        for (buf, len) in bufs.iter_mut().zip(lens).take(n) {
            black_box(answer(snap, black_box(&mut buf[..]), len, client, state));
        }
        left -= n;
    }
    thread_cpu().saturating_sub(start)
}

fn bench_queries(c: &mut Criterion, group: &str, snap: &Snapshot, names: usize) {
    let client = fixture::client();
    // Spread over the whole table: multiplicative hash of k.
    let spread = |k: usize| spread(k, names);
    let sets: [(&str, Vec<Vec<u8>>, u16); 6] = [
        ("a_hit_1", fixture::a_hit_1(names), 0),
        ("a_hit_3", queries(|k| svc_name((spread(k) / 10) * 10)), 0),
        ("a_hit_1_hot", fixture::a_hit_1_hot(), 0),
        ("nxdomain", fixture::nxdomain(), 3),
        (
            "subtree_3",
            queries(|k| group_name((spread(k) / 100) * 100)),
            0,
        ),
        (
            "subtree_1000",
            queries(|k| format!("ns{}.svc.cluster.local.", spread(k) % 1000)),
            0,
        ),
    ];
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(1));
    for (label, qs, want_rcode) in &sets {
        let mut state = EngineState::new(1, 1232);
        let mut buf = vec![0u8; 4096];
        // Sanity: the engine answers these as expected.
        for q in qs.iter().take(16) {
            buf[..q.len()].copy_from_slice(q);
            match answer(snap, &mut buf, q.len(), &client, &mut state) {
                Verdict::Reply(r) => assert_eq!(r.rcode, *want_rcode, "{label}"),
                Verdict::Drop(d) => panic!("{label}: dropped {d:?}"),
                Verdict::Forward(f) => panic!("{label}: forwarded {f:?}"),
            }
        }
        let mut i = 0usize;
        g.bench_function(*label, |b| {
            b.iter_custom(|iters| {
                cpu_timed(iters, || {
                    let q = &qs[i & 4095];
                    i = i.wrapping_add(1);
                    buf[..q.len()].copy_from_slice(q);
                    answer(snap, black_box(&mut buf), q.len(), &client, &mut state)
                })
            })
        });
        if *label == "subtree_3" || *label == "subtree_1000" {
            continue;
        }
        let mut bufs = vec![vec![0u8; 4096]; BURST];
        let mut next = 0usize;
        g.bench_function(format!("{label}_burst"), |b| {
            b.iter_custom(|iters| {
                burst_timed(snap, qs, &mut bufs, &mut next, iters, &client, &mut state)
            })
        });
    }
    // For comparison: the two snapshot lookups every A hit makes (zone +
    // node), without parsing or writing.
    let keys: Vec<Vec<u8>> = (0..4096)
        .map(|k| {
            let n = Name::from_ascii(&fixture::a_hit_1_name(k, names)).unwrap();
            n.to_lowercase().as_wire().to_vec()
        })
        .collect();
    let mut i = 0usize;
    g.bench_function("lookups_only", |b| {
        b.iter_custom(|iters| {
            cpu_timed(iters, || {
                let k = &keys[i & 4095];
                i = i.wrapping_add(1);
                let z = snap.zone(black_box(k)).map(|z| z.apex().len());
                (z, snap.node(k).map(|n| n.is_empty()))
            })
        })
    });
    g.finish();
}

fn engine_100k(c: &mut Criterion) {
    let snap = build(100_000);
    bench_queries(c, "engine_100k", &snap, 100_000);
}

fn engine_1m(c: &mut Criterion) {
    let snap = build(1_000_000);
    bench_queries(c, "engine_1m", &snap, 1_000_000);
}

/// The answer and the limiter of one UDP response (see the module docs, `rrl_100k`).
fn engine_rrl(c: &mut Criterion) {
    let names = 100_000;
    let snap = build(names);
    let kinds = [
        ("a_hit", fixture::a_hit_1(names)),
        ("nxdomain", fixture::nxdomain()),
    ];
    let clients: Vec<Client> = (0..4096u32)
        .map(|k| Client {
            addr: IpAddr::V4(Ipv4Addr::from(0xc000_0000 + (k << 8))),
            transport: Transport::Udp,
            port: 0,
            via: 0,
        })
        .collect();
    let on = RrlSettings {
        enabled: true,
        responses_per_second: 1_000_000,
        nxdomains_per_second: 1_000_000,
        ..RrlSettings::default()
    };
    let modes = [
        ("rrl_off", RrlSettings::default(), false),
        ("rrl_engine_hash", on.clone(), false),
        ("rrl_reparse", on, true),
    ];
    let mut g = c.benchmark_group("rrl_100k");
    g.throughput(Throughput::Elements(1));
    for (kind, qs) in &kinds {
        for (mode, settings, reparse) in &modes {
            let rrl = RrlHandle::new(settings.clone(), 1);
            let mut limiter = rrl.limiter(0);
            limiter.tick();
            let mut state = EngineState::new(1, 1232);
            let mut buf = vec![0u8; 4096];
            let mut i = 0usize;
            g.bench_function(format!("{kind}_{mode}"), |b| {
                b.iter_custom(|iters| {
                    cpu_timed(iters, || {
                        let (q, client) = (&qs[i & 4095], &clients[(i >> 3) & 4095]);
                        i = i.wrapping_add(1);
                        buf[..q.len()].copy_from_slice(q);
                        let mut v = answer(&snap, black_box(&mut buf), q.len(), client, &mut state);
                        if let (Verdict::Reply(r), true) = (&mut v, reparse) {
                            r.name_hash = classify::reply_of(&buf[..r.len]).name_hash;
                        }
                        limiter.limit(&mut buf, v, client)
                    })
                })
            });
            assert_eq!(
                rrl.dropped() + rrl.slipped(),
                0,
                "{kind}_{mode}: nothing limited"
            );
        }
        bench_keys(&mut g, kind, &written(&snap, qs), &clients, &modes[1].1);
    }
    g.finish();
}

/// The engine's replies to the first 1024 of `qs`, as written.
fn written(snap: &Snapshot, qs: &[Vec<u8>]) -> Vec<(Vec<u8>, Reply)> {
    let mut state = EngineState::new(1, 1232);
    let client = fixture::client();
    qs.iter()
        .take(1024)
        .map(|q| {
            let mut buf = vec![0u8; 4096];
            buf[..q.len()].copy_from_slice(q);
            match answer(snap, &mut buf, q.len(), &client, &mut state) {
                Verdict::Reply(r) => (buf[..r.len].to_vec(), r),
                other => panic!("{other:?}"),
            }
        })
        .collect()
}

/// The limiter's step alone on `replies`: keyed by the engine's hash, or by reading the
/// response again.
fn bench_keys(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    kind: &str,
    replies: &[(Vec<u8>, Reply)],
    clients: &[Client],
    on: &RrlSettings,
) {
    for (mode, reparse) in [("key_engine_hash", false), ("key_reparse", true)] {
        let rrl = RrlHandle::new(on.clone(), 1);
        let mut limiter = rrl.limiter(0);
        let mut i = 0usize;
        g.bench_function(format!("{kind}_{mode}"), |b| {
            b.iter_custom(|iters| {
                cpu_timed(iters, || {
                    let (msg, mut r) = (&replies[i & 1023].0, replies[i & 1023].1);
                    let client = &clients[(i >> 3) & 4095];
                    i = i.wrapping_add(1);
                    if reparse {
                        r.name_hash = classify::reply_of(black_box(msg)).name_hash;
                    }
                    limiter.judge(black_box(&r), client.addr)
                })
            })
        });
    }
}

criterion_group!(benches, engine_100k, engine_1m, engine_rrl);
criterion_main!(benches);
