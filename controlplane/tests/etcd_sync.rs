//! Sync against a real etcd: CoreDNS-layout records written with `etcdctl` reach the snapshot,
//! health status drives the DOWN set, an etcd crash keeps the last snapshot and updates resume
//! after a restart, and compaction while disconnected is recovered by listing again.
//! Skipped (with a message) when no etcd binary is installed.

use skylane_controlplane::store::{Backend, EtcdConfig, Store, StoreConfig};
use skylane_dataplane::{Name, RData, Record};
use skylane_testkit::etcd::EtcdServer;
use skylane_testkit::proxy::TcpProxy;
use skylane_testkit::{eventually, SyncHarness};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

async fn connect(endpoint: String) -> Arc<Store> {
    let cfg = StoreConfig {
        backend: Backend::Etcd,
        ..StoreConfig::default()
    };
    let etcd = EtcdConfig {
        endpoints: vec![endpoint],
        request_timeout_ms: 2000,
        dial_timeout_ms: 1000,
        keep_alive_ms: 1000,
        keep_alive_timeout_ms: 1000,
        ..EtcdConfig::default()
    };
    Arc::new(Store::open(&cfg, &etcd).await.expect("connect to etcd"))
}

fn has_a(records: &[Record], ip: [u8; 4]) -> bool {
    records
        .iter()
        .any(|r| r.data == RData::A(Ipv4Addr::from(ip)))
}

async fn ready(sync: &SyncHarness) {
    tokio::time::timeout(WAIT, sync.metrics.wait_ready())
        .await
        .expect("first snapshot");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcdctl_writes_in_coredns_layout_reach_the_snapshot() {
    let Some(server) = EtcdServer::start() else {
        return;
    };
    server.etcdctl_ok(&[
        "put",
        "/skydns/local/skydns/web/x1",
        r#"{"host":"10.0.0.1","port":8080}"#,
    ]);
    let sync = SyncHarness::start(
        connect(server.endpoint()).await,
        &["skydns.local."],
        Vec::new(),
    );
    ready(&sync).await;
    let x1 = sync.records("x1.web.skydns.local.");
    assert!(has_a(&x1, [10, 0, 0, 1]), "{x1:?}");
    assert!(
        x1.iter().any(
            |r| matches!(&r.data, RData::Srv { port: 8080, priority: 10, weight: 0, target, .. }
            if *target == Name::from_ascii("x1.web.skydns.local.").unwrap())
        ),
        "{x1:?}"
    );
    assert!(sync.metrics.store_connected());

    // A second value for the same service: a sibling key. Records keep their raw weights; DNS
    // answers normalise them per answer (dataplane `snapshot::edit::subtree`).
    server.etcdctl_ok(&[
        "put",
        "/skydns/local/skydns/web/x2",
        r#"{"host":"10.0.0.2","port":8080,"weight":300,"ttl":5}"#,
    ]);
    eventually("x2 live with weight 300", WAIT, || {
        sync.records("x2.web.skydns.local.")
            .iter()
            .any(|r| matches!(r.data, RData::Srv { weight: 300, .. }) && r.ttl == 5)
    })
    .await;
    assert!(sync
        .records("x1.web.skydns.local.")
        .iter()
        .any(|r| matches!(r.data, RData::Srv { weight: 0, .. })));

    // CNAME and TXT.
    server.etcdctl_ok(&[
        "put",
        "/skydns/local/skydns/alias",
        r#"{"host":"web.skydns.local"}"#,
    ]);
    server.etcdctl_ok(&["put", "/skydns/local/skydns/info", r#"{"text":"hello"}"#]);
    eventually("alias CNAME", WAIT, || {
        sync.records("alias.skydns.local.")
            .iter()
            .any(|r| r.data == RData::Cname(Name::from_ascii("web.skydns.local.").unwrap()))
    })
    .await;
    eventually("info TXT", WAIT, || {
        sync.records("info.skydns.local.")
            .iter()
            .any(|r| r.data == RData::Txt(vec![b"hello".to_vec()]))
    })
    .await;

    // Delete.
    server.etcdctl_ok(&["del", "/skydns/local/skydns/web/x2"]);
    eventually("x2 gone", WAIT, || {
        sync.records("x2.web.skydns.local.").is_empty()
    })
    .await;

    // Health: DOWN, then UP, then DOWN and the key deleted (missing = UP).
    let ip: IpAddr = "10.0.0.1".parse().unwrap();
    let status = "/skydns/monitor/status/10.0.0.1";
    server.etcdctl_ok(&["put", status, r#"{"status":"DOWN"}"#]);
    eventually("10.0.0.1 DOWN", WAIT, || sync.is_down(ip)).await;
    server.etcdctl_ok(&["put", status, r#"{"status":"UP"}"#]);
    eventually("10.0.0.1 UP", WAIT, || !sync.is_down(ip)).await;
    server.etcdctl_ok(&["put", status, r#"{"status":"DOWN"}"#]);
    eventually("10.0.0.1 DOWN again", WAIT, || sync.is_down(ip)).await;
    server.etcdctl_ok(&["del", status]);
    eventually("10.0.0.1 UP after delete", WAIT, || !sync.is_down(ip)).await;
    assert!(
        sync.records("10.0.0.1.status.monitor.skydns.").is_empty(),
        "status keys are not names"
    );

    // Garbage is skipped and counted, never fatal.
    server.etcdctl_ok(&["put", "/skydns/local/skydns/junk", "not json"]);
    eventually("parse error counted", WAIT, || {
        sync.metrics.parse_errors() == 1
    })
    .await;
    server.etcdctl_ok(&[
        "put",
        "/skydns/local/skydns/after",
        r#"{"host":"10.0.0.9"}"#,
    ]);
    eventually("updates continue after garbage", WAIT, || {
        has_a(&sync.records("after.skydns.local."), [10, 0, 0, 9])
    })
    .await;
    sync.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_snapshot_survives_an_etcd_crash_and_updates_resume_after_restart() {
    let Some(mut server) = EtcdServer::start() else {
        return;
    };
    server.etcdctl_ok(&["put", "/skydns/local/skydns/a", r#"{"host":"10.1.0.1"}"#]);
    let sync = SyncHarness::start(
        connect(server.endpoint()).await,
        &["skydns.local."],
        Vec::new(),
    );
    ready(&sync).await;
    assert!(has_a(&sync.records("a.skydns.local."), [10, 1, 0, 1]));
    // Make sure the watch is established before the crash.
    server.etcdctl_ok(&["put", "/skydns/local/skydns/w", r#"{"host":"10.1.0.9"}"#]);
    eventually("watch established", WAIT, || {
        has_a(&sync.records("w.skydns.local."), [10, 1, 0, 9])
    })
    .await;

    server.kill();
    eventually("store marked disconnected", WAIT, || {
        !sync.metrics.store_connected()
    })
    .await;
    assert!(
        has_a(&sync.records("a.skydns.local."), [10, 1, 0, 1]),
        "last snapshot still served"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(has_a(&sync.records("a.skydns.local."), [10, 1, 0, 1]));

    server.restart();
    server.etcdctl_ok(&["put", "/skydns/local/skydns/b", r#"{"host":"10.1.0.2"}"#]);
    server.etcdctl_ok(&["del", "/skydns/local/skydns/a"]);
    eventually("b live after restart", WAIT, || {
        has_a(&sync.records("b.skydns.local."), [10, 1, 0, 2])
    })
    .await;
    eventually("a deleted after restart", WAIT, || {
        sync.records("a.skydns.local.").is_empty()
    })
    .await;
    eventually("store marked connected", WAIT, || {
        sync.metrics.store_connected()
    })
    .await;
    assert!(
        sync.metrics.reconnects() >= 1,
        "reconnects {} resyncs {}",
        sync.metrics.reconnects(),
        sync.metrics.resyncs()
    );
    sync.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_while_disconnected_is_recovered_by_listing_again() {
    let Some(server) = EtcdServer::start() else {
        return;
    };
    let mut proxy = TcpProxy::start(server.client_addr()).await.unwrap();
    server.etcdctl_ok(&["put", "/skydns/local/skydns/keep", r#"{"host":"10.2.0.1"}"#]);
    server.etcdctl_ok(&["put", "/skydns/local/skydns/gone", r#"{"host":"10.2.0.2"}"#]);
    let sync = SyncHarness::start(
        connect(proxy.endpoint()).await,
        &["skydns.local."],
        Vec::new(),
    );
    ready(&sync).await;
    assert!(has_a(&sync.records("gone.skydns.local."), [10, 2, 0, 2]));

    // Cut the sync off, change things behind its back and compact the history away.
    proxy.cut().await;
    eventually("store marked disconnected", WAIT, || {
        !sync.metrics.store_connected()
    })
    .await;
    server.etcdctl_ok(&["del", "/skydns/local/skydns/gone"]);
    server.etcdctl_ok(&["put", "/skydns/local/skydns/new", r#"{"host":"10.2.0.3"}"#]);
    let rev_out = server.etcdctl_ok(&[
        "put",
        "/skydns/local/skydns/keep",
        r#"{"host":"10.2.0.4"}"#,
        "-w",
        "json",
    ]);
    let rev: i64 = serde_json::from_str::<serde_json::Value>(&rev_out).unwrap()["header"]
        ["revision"]
        .as_i64()
        .unwrap();
    server.etcdctl_ok(&["compact", &rev.to_string()]);
    server.etcdctl_ok(&["defrag"]);
    assert!(
        has_a(&sync.records("gone.skydns.local."), [10, 2, 0, 2]),
        "old snapshot served while disconnected"
    );

    proxy.restore().await.unwrap();
    eventually("resync after compaction", WAIT, || {
        sync.metrics.resyncs() >= 1
    })
    .await;
    eventually("state caught up", WAIT, || {
        sync.records("gone.skydns.local.").is_empty()
            && has_a(&sync.records("new.skydns.local."), [10, 2, 0, 3])
            && has_a(&sync.records("keep.skydns.local."), [10, 2, 0, 4])
    })
    .await;
    assert_eq!(sync.metrics.revision(), rev);
    // And the watch continues after the re-list.
    server.etcdctl_ok(&[
        "put",
        "/skydns/local/skydns/later",
        r#"{"host":"10.2.0.5"}"#,
    ]);
    eventually("watch resumed after resync", WAIT, || {
        has_a(&sync.records("later.skydns.local."), [10, 2, 0, 5])
    })
    .await;
    sync.stop().await;
}
