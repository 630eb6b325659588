//! Snapshot table benchmarks: build time (100 k and 1 M records, and `build/srv_1m`: the
//! control plane's load shape, 1 M names each with an A and an SRV record), applying one
//! changed name to a 1 M-record snapshot, lookups (hit / miss / zone), and the
//! resident bytes per record (live heap bytes counted by a global allocator,
//! printed once before the timings).
//!
//! Run: `cargo bench -p skylane-dataplane --bench snapshot -- --measurement-time 3 --warm-up-time 1`

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use skylane_alloc::counting::{Counting, LIVE_BYTES as LIVE, PEAK_BYTES as PEAK};
use skylane_dataplane::record::{rtype, RData, Record};
use skylane_dataplane::snapshot::{NameChange, Snapshot, ZoneConfig};
use skylane_dataplane::Name;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

/// Counts live and peak heap bytes.
#[global_allocator]
static ALLOC: Counting = Counting;

fn config() -> Arc<ZoneConfig> {
    Arc::new(ZoneConfig {
        domains: vec![Name::from_ascii("cluster.local.").unwrap()],
        auto_ptr: true,
        ..ZoneConfig::default()
    })
}

fn svc_name(i: usize) -> String {
    format!("svc{i}.ns{}.svc.cluster.local.", i % 1000)
}

fn v4(i: usize) -> Ipv4Addr {
    Ipv4Addr::from(0x0a00_0000u32 + i as u32)
}

/// `n` records: mostly A records, every 20th an AAAA on the same name and
/// every 20th (offset 1) an SRV at `_http._tcp.<name>`.
fn records(n: usize) -> Vec<Record> {
    (0..n)
        .map(|i| {
            let name = Name::from_ascii(&svc_name(i)).unwrap();
            match i % 20 {
                0 => Record::new(
                    name,
                    30,
                    RData::Aaaa(Ipv6Addr::from(0x2001_0db8u128 << 96 | i as u128)),
                ),
                1 => Record::new(
                    name.prepend(b"_tcp").unwrap().prepend(b"_http").unwrap(),
                    30,
                    RData::Srv {
                        priority: 10,
                        weight: 10,
                        port: 8080,
                        target: name,
                    },
                ),
                _ => Record::new(name, 30, RData::A(v4(i))),
            }
        })
        .collect()
}

/// The control plane's load shape (`load_bench`): `n` values, each an A record and an SRV
/// record (priority 10, weight 0, port 0, targeting the name itself) at
/// `x<i % 100>.svc<i / 100>.cluster.local.`, so `2 n` records and every name an SRV owner.
fn srv_records(n: usize) -> Vec<Record> {
    (0..n)
        .flat_map(|i| {
            let name =
                Name::from_ascii(&format!("x{}.svc{}.cluster.local.", i % 100, i / 100)).unwrap();
            let srv = RData::Srv {
                priority: 10,
                weight: 0,
                port: 0,
                target: name.clone(),
            };
            [
                Record::new(name.clone(), 30, RData::A(v4(i))),
                Record::new(name, 30, srv),
            ]
        })
        .collect()
}

/// CPU time (user + system) of the calling thread, from /proc (10 ms ticks).
fn thread_cpu_secs() -> f64 {
    cpu_secs("/proc/thread-self/stat")
}

/// CPU time (user + system) of the whole process (all threads).
fn process_cpu_secs() -> f64 {
    cpu_secs("/proc/self/stat")
}

fn cpu_secs(path: &str) -> f64 {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn statm_resident_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// Prints build time and memory for `n` records; returns the snapshot.
fn report_memory(n: usize) -> Snapshot {
    let base = LIVE.load(Ordering::Relaxed);
    let recs = records(n);
    let rss0 = statm_resident_bytes();
    PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
    let t = Instant::now();
    let cpu = thread_cpu_secs();
    let pcpu = process_cpu_secs();
    let snap = Snapshot::build(config(), recs);
    let took = t.elapsed();
    let cpu = thread_cpu_secs() - cpu;
    let pcpu = process_cpu_secs() - pcpu;
    let live = LIVE.load(Ordering::Relaxed).saturating_sub(base);
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    println!(
        "snapshot {n} records: build {:.3} s wall ({cpu:.2} s CPU in the calling thread, {pcpu:.2} s in all threads), {} names, live heap {:.1} B/record \
         (table {:.1} B/record), peak incl. input records {:.1} B/record, RSS delta {:.1} B/record",
        took.as_secs_f64(),
        snap.name_count(),
        live as f64 / n as f64,
        snap.table_bytes() as f64 / n as f64,
        peak as f64 / n as f64,
        (statm_resident_bytes().saturating_sub(rss0)) as f64 / n as f64,
    );
    snap
}

fn build(c: &mut Criterion) {
    let mut g = c.benchmark_group("build");
    g.sample_size(10);
    for n in [100_000usize, 1_000_000] {
        g.bench_function(format!("{n}"), |b| {
            b.iter_batched(
                || records(n),
                |r| Snapshot::build(config(), r),
                BatchSize::PerIteration,
            )
        });
    }
    // Every name an SRV owner (the control plane's load of 1 M values): 2 M records.
    g.bench_function("srv_1m", |b| {
        b.iter_batched(
            || srv_records(1_000_000),
            |r| Snapshot::build(config(), r),
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn apply(c: &mut Criterion) {
    let snap = report_memory(1_000_000);
    let name = Name::from_ascii(&svc_name(12345)).unwrap();
    let mut flip = 0u32;
    c.bench_function("apply/one_name_1m", |b| {
        b.iter(|| {
            flip += 1;
            let ch = NameChange {
                name: name.clone(),
                records: vec![Record::new(
                    name.clone(),
                    30,
                    RData::A(Ipv4Addr::from(0x0b00_0000 + (flip % 1000))),
                )],
            };
            snap.apply(black_box(&[ch]))
        })
    });
    let new_name = Name::from_ascii("brand-new.ns7.svc.cluster.local.").unwrap();
    c.bench_function("apply/add_name_1m", |b| {
        b.iter(|| {
            let ch = NameChange {
                name: new_name.clone(),
                records: vec![Record::new(new_name.clone(), 30, RData::A(v4(7)))],
            };
            snap.apply(black_box(&[ch]))
        })
    });
    c.bench_function("with_down_1m", |b| {
        b.iter(|| snap.with_down(black_box(&["10.0.0.1".parse().unwrap()])))
    });
}

fn lookup(c: &mut Criterion) {
    let n = 100_000;
    let snap = report_memory(n);
    let keys: Vec<Vec<u8>> = (0..1024)
        .map(|i| {
            Name::from_ascii(&svc_name((i * 97 % (n / 20)) * 20 + 5))
                .unwrap()
                .as_wire()
                .to_vec()
        })
        .collect();
    let misses: Vec<Vec<u8>> = (0..1024)
        .map(|i| {
            Name::from_ascii(&format!("nope{i}.ns{}.svc.cluster.local.", i % 1000))
                .unwrap()
                .as_wire()
                .to_vec()
        })
        .collect();
    let mut i = 0usize;
    c.bench_function("lookup/hit_node_rrset_100k", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            let node = snap.node(black_box(&keys[i])).unwrap();
            black_box(node.rrset(rtype::A).unwrap().rdata(0));
        })
    });
    c.bench_function("lookup/miss_100k", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            black_box(snap.node(black_box(&misses[i])).is_none())
        })
    });
    c.bench_function("lookup/zone_100k", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            black_box(snap.zone(black_box(&keys[i])).unwrap().apex())
        })
    });
    let parent = Name::from_ascii("ns7.svc.cluster.local.").unwrap();
    c.bench_function("lookup/children_100_100k", |b| {
        b.iter(|| {
            let node = snap.node(black_box(parent.as_wire())).unwrap();
            black_box(node.children().count())
        })
    });
}

criterion_group!(benches, lookup, apply, build);
criterion_main!(benches);
