//! The etcd store against a real etcd: paginated list at one revision, watch, compaction.
//! Skipped (with a message) when no etcd binary is installed.

use skylane_controlplane::store::{Backend, EtcdConfig, KeyValue, Store, StoreConfig, WatchEvent};
use skylane_testkit::etcd::EtcdServer;
use std::time::Duration;
use tokio::sync::mpsc::Receiver;

async fn connect(endpoint: String, page_size: i64) -> Store {
    open_etcd(EtcdConfig {
        endpoints: vec![endpoint],
        page_size,
        ..EtcdConfig::default()
    })
    .await
}

async fn open_etcd(etcd: EtcdConfig) -> Store {
    let cfg = StoreConfig {
        backend: Backend::Etcd,
        ..StoreConfig::default()
    };
    Store::open(&cfg, &etcd).await.expect("connect to etcd")
}

async fn next(rx: &mut Receiver<WatchEvent>) -> WatchEvent {
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .expect("watch event within 10 s")
            .expect("watch channel open");
        if !matches!(ev, WatchEvent::Progress { .. }) {
            return ev;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_pages_are_pinned_to_one_revision() {
    let Some(server) = EtcdServer::start() else {
        return;
    };
    let store = connect(server.endpoint(), 7).await;
    assert_eq!(store.backend_name(), "etcd");
    // 50 keys in one transaction (default --max-txn-ops is 128), plus a key outside the prefix.
    let puts: Vec<(String, Vec<u8>)> = (0..50)
        .map(|i| {
            (
                format!("/skydns/local/k{i:02}"),
                format!("v{i}").into_bytes(),
            )
        })
        .chain([("/skydnsx/other".to_string(), b"x".to_vec())])
        .collect();
    let rev = store.apply_batch(puts, Vec::new()).await.unwrap();
    assert!(store.is_connected());

    let (kvs, list_rev) = store.list("/skydns/").await.unwrap();
    assert_eq!(list_rev, rev);
    assert_eq!(kvs.len(), 50, "8 pages of 7, nothing outside the prefix");
    assert!(
        kvs.windows(2).all(|w| w[0].key < w[1].key),
        "key order, no duplicates"
    );
    assert!(kvs.iter().all(|k| k.mod_revision == rev));
    assert_eq!(kvs[49].value, b"v49");

    let got = store.get("/skydns/local/k07").await.unwrap().unwrap();
    assert_eq!(got.value, b"v7");
    assert!(store.delete("/skydns/local/k07").await.unwrap());
    assert!(!store.delete("/skydns/local/k07").await.unwrap());
    assert_eq!(store.get("/skydns/local/k07").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_streams_changes_after_the_listed_revision() {
    let Some(server) = EtcdServer::start() else {
        return;
    };
    let store = connect(server.endpoint(), 10_000).await;
    store.put("/skydns/local/a", b"1".to_vec()).await.unwrap();
    let (_, rev) = store.list("/skydns/").await.unwrap();
    let mut rx = store.watch("/skydns/", rev + 1).await.unwrap();

    server.etcdctl_ok(&["put", "/skydns/local/b", "2"]);
    server.etcdctl_ok(&["put", "/elsewhere", "x"]);
    server.etcdctl_ok(&["del", "/skydns/local/a"]);
    assert_eq!(
        next(&mut rx).await,
        WatchEvent::Put(KeyValue {
            key: "/skydns/local/b".into(),
            value: b"2".to_vec(),
            mod_revision: rev + 1,
        })
    );
    assert_eq!(
        next(&mut rx).await,
        WatchEvent::Delete {
            key: "/skydns/local/a".into(),
            revision: rev + 3,
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_from_a_compacted_revision_asks_for_resync() {
    let Some(server) = EtcdServer::start() else {
        return;
    };
    let store = connect(server.endpoint(), 10_000).await;
    let first = store.put("/skydns/local/a", b"1".to_vec()).await.unwrap();
    for i in 0..5 {
        store
            .put("/skydns/local/a", format!("{i}").into_bytes())
            .await
            .unwrap();
    }
    let last = store.put("/skydns/local/a", b"end".to_vec()).await.unwrap();
    server.etcdctl_ok(&["compact", &last.to_string()]);
    let mut rx = store.watch("/skydns/", first + 1).await.unwrap();
    assert_eq!(next(&mut rx).await, WatchEvent::Resync);
    // Listing again and watching from there works.
    let (kvs, rev) = store.list("/skydns/").await.unwrap();
    assert_eq!((kvs.len(), rev), (1, last));
    let mut rx = store.watch("/skydns/", rev + 1).await.unwrap();
    server.etcdctl_ok(&["put", "/skydns/local/z", "z"]);
    assert!(matches!(next(&mut rx).await, WatchEvent::Put(kv) if kv.key == "/skydns/local/z"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_to_a_dead_cluster_fail_and_mark_it_disconnected() {
    let Some(mut server) = EtcdServer::start() else {
        return;
    };
    let cfg = EtcdConfig {
        endpoints: vec![server.endpoint()],
        request_timeout_ms: 1000,
        ..EtcdConfig::default()
    };
    let store = Store::open(
        &StoreConfig {
            backend: Backend::Etcd,
            ..StoreConfig::default()
        },
        &cfg,
    )
    .await
    .unwrap();
    store.put("/skydns/local/a", b"1".to_vec()).await.unwrap();
    assert!(store.is_connected());
    server.kill();
    let err = store.list("/skydns/").await.expect_err("etcd is down");
    assert!(err.to_string().starts_with("etcd:"), "{err}");
    assert!(!store.is_connected());
    server.restart();
    let mut ok = false;
    for _ in 0..300 {
        if store.list("/skydns/").await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "the client reconnects after a restart");
    assert!(store.is_connected());
}

/// `range` is one limited range request: a page from a start key, `more` when keys follow,
/// and only the page's keys read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_reads_one_page_from_a_start_key() {
    let Some(server) = EtcdServer::start() else {
        return;
    };
    let store = connect(server.endpoint(), 1000).await;
    let puts: Vec<(String, Vec<u8>)> = (0..100)
        .map(|i| (format!("/skydns/local/k{i:03}"), b"v".to_vec()))
        .collect();
    let rev = store.apply_batch(puts, Vec::new()).await.unwrap();
    let end = skylane_controlplane::store::range_end("/skydns/");
    let before = store.keys_read();
    let page = store.range("/skydns/local/k050", &end, 10).await.unwrap();
    assert_eq!(store.keys_read() - before, 10, "only the page was read");
    assert!(page.more);
    assert_eq!(page.revision, rev);
    let keys: Vec<&str> = page.kvs.iter().map(|k| k.key.as_str()).collect();
    let want: Vec<String> = (50..60).map(|i| format!("/skydns/local/k{i:03}")).collect();
    assert_eq!(keys, want);
    let last = store.range("/skydns/local/k095", &end, 10).await.unwrap();
    assert_eq!((last.kvs.len(), last.more), (5, false));
}

/// A watch on a member that stops answering without closing its connection (SIGSTOP) ends
/// through the progress requests, long before the HTTP/2 keep-alive (set to 10 minutes here)
/// could notice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_member_ends_the_watch() {
    let Some(server) = EtcdServer::start() else {
        return;
    };
    let store = open_etcd(EtcdConfig {
        endpoints: vec![server.endpoint()],
        keep_alive_ms: 600_000,
        keep_alive_timeout_ms: 600_000,
        ..EtcdConfig::default()
    })
    .await;
    let rev = store.put("/skydns/local/a", b"1".to_vec()).await.unwrap();
    let mut rx = store.watch("/skydns/", rev + 1).await.unwrap();
    // The member answers progress requests (that arms the silence check).
    let first = tokio::time::timeout(Duration::from_secs(30), rx.recv()).await;
    assert!(
        matches!(first, Ok(Some(WatchEvent::Progress { .. }))),
        "{first:?}"
    );
    server.pause();
    let ended = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(ev) = rx.recv().await {
            assert!(matches!(ev, WatchEvent::Progress { .. }), "{ev:?}");
        }
    })
    .await;
    server.resume();
    assert!(ended.is_ok(), "the watch on a frozen member never ended");
    assert!(!store.is_connected());
}
