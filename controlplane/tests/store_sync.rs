//! Sync against the embedded store: first snapshot, live updates, DOWN set, bad values, static
//! records, restart on an existing file, and the first list skipping the second build of an
//! unchanged start-up snapshot.

use skylane_controlplane::layout::{self, Health, SkyValue, StatusValue};
use skylane_controlplane::store::{Backend, EtcdConfig, Store, StoreConfig};
use skylane_controlplane::sync::{
    run_sync_ext, StaticBuild, StaticRecords, SyncExtras, SyncMetrics,
};
use skylane_dataplane::{Name, NameChange, RData, Record, SharedSnapshot, Snapshot, ZoneConfig};
use skylane_testkit::{eventually, SyncHarness};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

const WAIT: Duration = Duration::from_secs(30);

async fn open(path: &Path) -> Arc<Store> {
    let cfg = StoreConfig {
        backend: Backend::Embedded,
        path: Some(path.to_path_buf()),
        ..StoreConfig::default()
    };
    Arc::new(Store::open(&cfg, &EtcdConfig::default()).await.unwrap())
}

fn key(name: &str) -> String {
    layout::name_to_key("/skydns", &Name::from_ascii(name).unwrap())
}

fn host(ip: &str) -> Vec<u8> {
    SkyValue {
        host: ip.into(),
        ..SkyValue::default()
    }
    .to_json()
}

fn has_a(records: &[Record], ip: [u8; 4]) -> bool {
    records
        .iter()
        .any(|r| r.data == RData::A(Ipv4Addr::from(ip)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_changes_reach_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s.redb")).await;
    store
        .put(&key("web.skydns.local."), host("10.0.0.1"))
        .await
        .unwrap();
    let static_txt = Record::new(
        Name::from_ascii("web.skydns.local.").unwrap(),
        60,
        RData::Txt(vec![b"from zone file".to_vec()]),
    );
    let sync = SyncHarness::start(store.clone(), &["skydns.local."], vec![static_txt]);
    tokio::time::timeout(WAIT, sync.metrics.wait_ready())
        .await
        .expect("ready");
    assert!(sync.metrics.is_ready());
    // Static TXT + the store's A and its port-0 SRV (an IP host without a port, CoreDNS).
    assert_eq!(sync.records("web.skydns.local.").len(), 3, "static + store");
    let gen0 = sync.metrics.generation();

    // A new name, then a change of the existing one (static TXT must survive it).
    store
        .put(&key("api.skydns.local."), host("10.0.0.2"))
        .await
        .unwrap();
    eventually("api A record", WAIT, || {
        has_a(&sync.records("api.skydns.local."), [10, 0, 0, 2])
    })
    .await;
    store
        .put(&key("web.skydns.local."), host("10.0.0.3"))
        .await
        .unwrap();
    eventually("web moved to 10.0.0.3", WAIT, || {
        let r = sync.records("web.skydns.local.");
        has_a(&r, [10, 0, 0, 3]) && !has_a(&r, [10, 0, 0, 1]) && r.len() == 3
    })
    .await;
    assert!(sync.metrics.generation() > gen0);
    assert!(sync.metrics.propagation_quantile(0.99).is_some());

    // Health status.
    let ip: IpAddr = "10.0.0.3".parse().unwrap();
    let skey = layout::status_key("/skydns/monitor/status", &ip);
    let down = StatusValue {
        status: Health::Down,
    };
    store.put(&skey, down.to_json()).await.unwrap();
    eventually("10.0.0.3 DOWN", WAIT, || sync.is_down(ip)).await;
    store.delete(&skey).await.unwrap();
    eventually("10.0.0.3 UP again", WAIT, || !sync.is_down(ip)).await;

    // A bad value is skipped and counted; the name loses its store records.
    store
        .put(&key("api.skydns.local."), b"{broken".to_vec())
        .await
        .unwrap();
    eventually("bad value counted", WAIT, || {
        sync.metrics.parse_errors() == 1
    })
    .await;
    eventually("api gone", WAIT, || {
        sync.records("api.skydns.local.").is_empty()
    })
    .await;
    assert_eq!(sync.metrics.bad_keys(), 1);

    // Delete: only the static record remains.
    store.delete(&key("web.skydns.local.")).await.unwrap();
    eventually("web store record gone", WAIT, || {
        sync.records("web.skydns.local.").len() == 1
    })
    .await;
    sync.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_sync_sees_the_persisted_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    {
        let store = open(&path).await;
        let ip: IpAddr = "10.9.9.9".parse().unwrap();
        store
            .apply_batch(
                vec![
                    (key("db.skydns.local."), host("10.9.9.9")),
                    (
                        layout::status_key("/skydns/monitor/status", &ip),
                        StatusValue {
                            status: Health::Down,
                        }
                        .to_json(),
                    ),
                ],
                Vec::new(),
            )
            .await
            .unwrap();
    }
    let store = open(&path).await;
    let sync = SyncHarness::start(store, &["skydns.local."], Vec::new());
    tokio::time::timeout(WAIT, sync.metrics.wait_ready())
        .await
        .expect("ready");
    assert!(has_a(&sync.records("db.skydns.local."), [10, 9, 9, 9]));
    assert!(sync.is_down("10.9.9.9".parse().unwrap()));
    assert_eq!(sync.metrics.down_addresses(), 1);
    assert_eq!(sync.metrics.revision(), 1);
    sync.stop().await;
}

/// `<data-dir>/last-known` follows every applied change: after each store write the file holds
/// it (polled; no timer in the sync or the writer has to fire first).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_known_holds_every_applied_change() {
    use skylane_controlplane::sync::{last_known, run_sync_with};
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s.redb")).await;
    let file = dir.path().join("data").join("last-known");
    let zone = Arc::new(ZoneConfig {
        domains: vec![Name::from_ascii("skydns.local.").unwrap()],
        ..ZoneConfig::default()
    });
    let shared: skylane_dataplane::SharedSnapshot = Arc::new(arc_swap::ArcSwap::from_pointee(
        Snapshot::empty(zone.clone()),
    ));
    let metrics = Arc::new(SyncMetrics::new());
    let (stop, rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(run_sync_with(
        store.clone(),
        zone,
        Vec::new(),
        shared,
        metrics.clone(),
        rx,
        Some(file.clone()),
    ));
    tokio::time::timeout(WAIT, metrics.wait_ready())
        .await
        .expect("ready");
    let holds = |key: &str, value: Option<&[u8]>| {
        last_known::load(&file).ok().flatten().is_some_and(|l| {
            let found = l.kvs.iter().find(|kv| kv.key == key);
            found.map(|kv| kv.value.as_slice()) == value
        })
    };
    for i in 0..5 {
        let (k, v) = (
            key(&format!("n{i}.skydns.local.")),
            host(&format!("10.0.0.{i}")),
        );
        let revision = store.put(&k, v.clone()).await.unwrap();
        eventually("last-known holds the put", WAIT, || holds(&k, Some(&v))).await;
        let written = last_known::load(&file).unwrap().unwrap();
        assert!(
            written.revision >= revision,
            "{} < {revision}",
            written.revision
        );
    }
    let gone = key("n0.skydns.local.");
    store.delete(&gone).await.unwrap();
    eventually("last-known drops the delete", WAIT, || holds(&gone, None)).await;
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
}

// The sync's first list, started the way `skylane serve` starts it: the live snapshot is the
// start-up one built from the static records (`StaticBuild`). An empty store keeps that
// snapshot (published again without the store-pending mark, generation + 1, no second
// build); a store with keys, static records changed by a reload and a live snapshot replaced
// meanwhile all still get a full build (a fresh `Snapshot::build`: generation 0).

fn n(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn zone() -> Arc<ZoneConfig> {
    Arc::new(ZoneConfig {
        domains: vec![n("skydns.local.")],
        ..ZoneConfig::default()
    })
}

fn a(name: &str, ip: [u8; 4]) -> Record {
    Record::new(n(name), 60, RData::A(Ipv4Addr::from(ip)))
}

fn snap_has_a(snap: &Snapshot, name: &str, ip: [u8; 4]) -> bool {
    has_a(&snap.records(&n(name)), ip)
}

/// A running sync over `store` whose live snapshot starts as `first`.
struct Running {
    shared: SharedSnapshot,
    metrics: Arc<SyncMetrics>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    fn start(
        store: Arc<Store>,
        first: Arc<Snapshot>,
        statics: StaticRecords,
        proof: StaticBuild,
    ) -> Running {
        let shared: SharedSnapshot = Arc::new(arc_swap::ArcSwap::new(first));
        let metrics = Arc::new(SyncMetrics::new());
        let (stop, rx) = watch::channel(false);
        let extras = SyncExtras {
            first_build: Some(proof),
            ..SyncExtras::default()
        };
        let task = tokio::spawn(run_sync_ext(
            store,
            zone(),
            statics,
            shared.clone(),
            metrics.clone(),
            rx,
            extras,
        ));
        Running {
            shared,
            metrics,
            stop,
            task,
        }
    }

    /// The live snapshot once the first list is in.
    async fn ready(&self) -> Arc<Snapshot> {
        tokio::time::timeout(WAIT, self.metrics.wait_ready())
            .await
            .expect("first list within 30 s");
        self.shared.load_full()
    }

    async fn stop(self) {
        self.stop.send_replace(true);
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("sync stops")
            .expect("not panicked")
            .expect("ended cleanly");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_store_keeps_the_start_up_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s.redb")).await;
    let statics = vec![a("web.skydns.local.", [10, 0, 0, 1])];
    let (records, first, proof) = StaticBuild::build(zone(), statics);
    assert!(first.store_pending());
    let sync = Running::start(store.clone(), first.clone(), records, proof);
    let live = sync.ready().await;
    assert!(!live.store_pending(), "the store-pending mark is cleared");
    assert_eq!(
        live.generation(),
        first.generation() + 1,
        "the start-up table republished, not built again (a build starts at generation 0)"
    );
    assert_eq!(live.record_count(), first.record_count());
    assert!(snap_has_a(&live, "web.skydns.local.", [10, 0, 0, 1]));
    assert_eq!(sync.metrics.generation(), live.generation());

    // Watch events still reach the kept snapshot.
    store
        .put(&key("api.skydns.local."), host("10.0.0.2"))
        .await
        .unwrap();
    eventually("api A record", WAIT, || {
        snap_has_a(&sync.shared.load(), "api.skydns.local.", [10, 0, 0, 2])
    })
    .await;
    let live = sync.shared.load_full();
    assert!(snap_has_a(&live, "web.skydns.local.", [10, 0, 0, 1]));
    sync.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_with_keys_is_built() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s.redb")).await;
    store
        .put(&key("db.skydns.local."), host("10.0.0.3"))
        .await
        .unwrap();
    let statics = vec![a("web.skydns.local.", [10, 0, 0, 1])];
    let (records, first, proof) = StaticBuild::build(zone(), statics);
    let sync = Running::start(store, first, records, proof);
    let live = sync.ready().await;
    assert_eq!(live.generation(), 0, "a full build");
    assert!(!live.store_pending());
    assert!(snap_has_a(&live, "db.skydns.local.", [10, 0, 0, 3]));
    assert!(snap_has_a(&live, "web.skydns.local.", [10, 0, 0, 1]));
    sync.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_records_changed_by_a_reload_are_built() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s.redb")).await;
    // The start-up snapshot and its proof are of the first zone file; the sync runs with
    // the reloaded one (a new arena), as a sync generation restarted by a reload does.
    let (_, first, proof) = StaticBuild::build(zone(), vec![a("web.skydns.local.", [10, 0, 0, 1])]);
    let reloaded = StaticRecords::new(&[a("web.skydns.local.", [10, 0, 0, 9])]);
    let sync = Running::start(store.clone(), first.clone(), reloaded, proof.clone());
    let live = sync.ready().await;
    assert_eq!(live.generation(), 0, "a full build");
    assert!(snap_has_a(&live, "web.skydns.local.", [10, 0, 0, 9]));
    assert!(!snap_has_a(&live, "web.skydns.local.", [10, 0, 0, 1]));
    sync.stop().await;

    // Equal records in another arena prove nothing either: still built.
    let same = StaticRecords::new(&[a("web.skydns.local.", [10, 0, 0, 1])]);
    let sync = Running::start(store, first, same, proof);
    let live = sync.ready().await;
    assert_eq!(live.generation(), 0, "a full build");
    assert!(snap_has_a(&live, "web.skydns.local.", [10, 0, 0, 1]));
    sync.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_snapshot_replaced_meanwhile_is_built() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s.redb")).await;
    let (records, first, proof) =
        StaticBuild::build(zone(), vec![a("web.skydns.local.", [10, 0, 0, 1])]);
    // Another snapshot went live before the first list (e.g. one read from last-known).
    let other = Arc::new(first.apply(&[NameChange {
        name: n("old.skydns.local."),
        records: vec![a("old.skydns.local.", [10, 0, 0, 5])],
    }]));
    let sync = Running::start(store, other, records, proof);
    let live = sync.ready().await;
    assert_eq!(live.generation(), 0, "a full build");
    assert!(!snap_has_a(&live, "old.skydns.local.", [10, 0, 0, 5]));
    assert!(snap_has_a(&live, "web.skydns.local.", [10, 0, 0, 1]));
    sync.stop().await;
}
