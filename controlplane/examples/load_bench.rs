//! Store → snapshot benchmark: initial load of N records from etcd and from the embedded store,
//! and etcd put → snapshot live propagation delay with those records loaded.
//!
//! ```text
//! cargo run --release -p skylane-controlplane --example load_bench -- \
//!     [--records 1000000] [--backend both|etcd|embedded] [--samples 300] [--phases] [--page-size N]
//! ```
//! Starts its own etcd (system binary) in a temp dir; needs a few GB of disk for 1 M keys.

use skylane_controlplane::layout::{name_to_key, SkyValue};
use skylane_controlplane::store::{Backend, EtcdConfig, Store, StoreConfig};
use skylane_controlplane::sync::SyncState;
use skylane_dataplane::{Name, Snapshot, ZoneConfig};
use skylane_testkit::etcd::EtcdServer;
use skylane_testkit::SyncHarness;
use std::sync::Arc;
use std::time::{Duration, Instant};

const BATCH: usize = 10_000;

struct Args {
    records: usize,
    backend: String,
    samples: usize,
    phases: bool,
    page_size: i64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        records: 1_000_000,
        backend: "both".into(),
        samples: 300,
        phases: false,
        page_size: EtcdConfig::default().page_size,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--records" => {
                args.records = value()?.parse().map_err(|e| format!("--records: {e}"))?
            }
            "--samples" => {
                args.samples = value()?.parse().map_err(|e| format!("--samples: {e}"))?
            }
            "--backend" => args.backend = value()?,
            "--phases" => args.phases = true,
            "--page-size" => {
                args.page_size = value()?.parse().map_err(|e| format!("--page-size: {e}"))?
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if !["both", "etcd", "embedded"].contains(&args.backend.as_str()) {
        return Err("--backend must be both, etcd or embedded".into());
    }
    Ok(args)
}

/// Key/value of the i-th synthetic record: 100 instances per service name.
fn record(i: usize) -> (String, Vec<u8>) {
    let name = Name::from_ascii(&format!("x{}.svc{}.bench.skydns.local.", i % 100, i / 100))
        .expect("valid name");
    let value = SkyValue {
        host: format!("10.{}.{}.{}", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff),
        ..SkyValue::default()
    };
    (name_to_key("/skydns", &name), value.to_json())
}

async fn load(store: &Store, records: usize) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut i = 0;
    while i < records {
        let end = (i + BATCH).min(records);
        store
            .apply_batch((i..end).map(record).collect(), Vec::new())
            .await?;
        i = end;
    }
    Ok(started.elapsed())
}

fn quantiles(label: &str, mut v: Vec<Duration>) {
    if v.is_empty() {
        return;
    }
    v.sort();
    let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    println!(
        "  {label}: n={} p50={:?} p90={:?} p99={:?} max={:?}",
        v.len(),
        q(0.5),
        q(0.9),
        q(0.99),
        v[v.len() - 1]
    );
}

/// Times the phases of a full load separately: list, records from values, snapshot build.
async fn phases(store: &Store) -> anyhow::Result<()> {
    let started = Instant::now();
    let (kvs, _) = store.list("/skydns/").await?;
    let listed = started.elapsed();
    let started = Instant::now();
    let mut state = SyncState::new("/skydns", "/skydns/monitor/status", 30, Vec::new());
    let records = state.full_records(&kvs);
    let parsed = started.elapsed();
    let zone = Arc::new(ZoneConfig {
        domains: vec![Name::from_ascii("skydns.local.").expect("valid")],
        ..ZoneConfig::default()
    });
    let started = Instant::now();
    let snap = Snapshot::build(zone, records);
    println!(
        "  phases: list {listed:?}, parse {parsed:?}, snapshot build {:?} ({} records)",
        started.elapsed(),
        snap.record_count()
    );
    Ok(())
}

/// Starts a sync, waits for the first snapshot and reports how long it took.
async fn initial_load(store: Arc<Store>, records: usize) -> anyhow::Result<SyncHarness> {
    let started = Instant::now();
    let sync = SyncHarness::start(store, &["skydns.local."], Vec::new());
    sync.metrics.wait_ready().await;
    let snap = sync.shared.load();
    println!(
        "  initial load: {:?} to first live snapshot (sync list+build {:?}); {} records, {} names",
        started.elapsed(),
        sync.metrics.last_build(),
        snap.record_count(),
        snap.name_count()
    );
    // Each value (a host, no port) gives an A record and an SRV record with port 0 (the
    // CoreDNS etcd rule, docs/api.md "Storage layout").
    anyhow::ensure!(
        snap.record_count() == 2 * records,
        "expected {} records (A + SRV per value) in the snapshot, got {}",
        2 * records,
        snap.record_count()
    );
    Ok(sync)
}

/// put → snapshot live, measured end to end (the put call included) by polling the snapshot.
async fn propagation(store: &Store, sync: &SyncHarness, samples: usize) -> anyhow::Result<()> {
    let mut delays = Vec::with_capacity(samples);
    for i in 0..samples {
        let name = Name::from_ascii(&format!("p{i}.prop.skydns.local.")).expect("valid name");
        let lname = name.to_lowercase();
        let key = name_to_key("/skydns", &name);
        let value = SkyValue {
            host: format!("10.200.{}.{}", i / 256, i % 256),
            ..SkyValue::default()
        }
        .to_json();
        let started = Instant::now();
        store.put(&key, value).await?;
        loop {
            if sync.shared.load().node(lname.as_wire()).is_some() {
                break;
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(10),
                "record {i} did not propagate"
            );
            tokio::task::yield_now().await;
        }
        delays.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    quantiles("put -> live (end to end, put call included)", delays);
    if let (Some(p50), Some(p99)) = (
        sync.metrics.propagation_quantile(0.5),
        sync.metrics.propagation_quantile(0.99),
    ) {
        println!("  watch event received -> live (sync histogram): p50={p50:?} p99={p99:?}");
    }
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = parse_args().map_err(anyhow::Error::msg)?;
    if args.backend != "embedded" {
        println!("etcd, {} records:", args.records);
        let Some(server) = EtcdServer::start_with(&[
            "--quota-backend-bytes=8589934592",
            "--max-txn-ops=20000",
            "--max-request-bytes=67108864",
        ]) else {
            anyhow::bail!("no etcd binary");
        };
        let cfg = StoreConfig {
            backend: Backend::Etcd,
            ..StoreConfig::default()
        };
        let etcd = EtcdConfig {
            endpoints: vec![server.endpoint()],
            request_timeout_ms: 120_000,
            page_size: args.page_size,
            ..EtcdConfig::default()
        };
        let store = Arc::new(Store::open(&cfg, &etcd).await?);
        println!("  loading: {:?}", load(&store, args.records).await?);
        if args.phases {
            phases(&store).await?;
        }
        let sync = initial_load(store.clone(), args.records).await?;
        propagation(&store, &sync, args.samples).await?;
        sync.stop().await;
    }
    if args.backend != "etcd" {
        println!("embedded, {} records:", args.records);
        let dir = std::env::temp_dir().join(format!("skylane-bench-{}", std::process::id()));
        let cfg = StoreConfig {
            path: Some(dir.join("store.redb")),
            ..StoreConfig::default()
        };
        {
            let store = Store::open(&cfg, &EtcdConfig::default()).await?;
            println!("  loading: {:?}", load(&store, args.records).await?);
        }
        // A fresh handle, as after a restart.
        let store = Arc::new(Store::open(&cfg, &EtcdConfig::default()).await?);
        if args.phases {
            phases(&store).await?;
        }
        let sync = initial_load(store.clone(), args.records).await?;
        propagation(&store, &sync, args.samples).await?;
        sync.stop().await;
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}
