//! The embedded (redb) store: revisions, list, watch (replay, live, progress, resync), durability.

use skylane_controlplane::store::{Backend, EtcdConfig, KeyValue, Store, StoreConfig, WatchEvent};
use std::path::Path;
use std::time::Duration;
use tokio::sync::mpsc::Receiver;

async fn open(path: &Path) -> Store {
    let cfg = StoreConfig {
        backend: Backend::Embedded,
        path: Some(path.to_path_buf()),
        ..StoreConfig::default()
    };
    Store::open(&cfg, &EtcdConfig::default())
        .await
        .expect("open embedded store")
}

async fn next(rx: &mut Receiver<WatchEvent>) -> WatchEvent {
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .expect("watch event within 5 s")
            .expect("watch channel open");
        if !matches!(ev, WatchEvent::Progress { .. }) {
            return ev;
        }
    }
}

fn put(key: &str, value: &str, rev: i64) -> WatchEvent {
    WatchEvent::Put(KeyValue {
        key: key.into(),
        value: value.as_bytes().to_vec(),
        mod_revision: rev,
    })
}

#[tokio::test]
async fn writes_bump_revisions_and_list_reads_one_revision() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("nested/dir/store.redb")).await;
    assert_eq!(store.backend_name(), "embedded");
    assert!(store.is_connected());
    assert_eq!(store.list("/skydns/").await.unwrap(), (Vec::new(), 0));

    assert_eq!(
        store.put("/skydns/local/a", b"1".to_vec()).await.unwrap(),
        1
    );
    let rev = store
        .apply_batch(
            vec![
                ("/skydns/local/b".into(), b"2".to_vec()),
                ("/other/x".into(), b"3".to_vec()),
            ],
            vec!["/skydns/local/missing".into()],
        )
        .await
        .unwrap();
    assert_eq!(rev, 2, "one transaction = one revision");

    let (kvs, rev) = store.list("/skydns/").await.unwrap();
    assert_eq!(rev, 2);
    let keys: Vec<(&str, i64)> = kvs
        .iter()
        .map(|k| (k.key.as_str(), k.mod_revision))
        .collect();
    assert_eq!(keys, vec![("/skydns/local/a", 1), ("/skydns/local/b", 2)]);

    assert!(!store.delete("/skydns/local/missing").await.unwrap());
    assert_eq!(
        store.list("/").await.unwrap().1,
        2,
        "no-op delete keeps the revision"
    );
    assert!(store.delete("/skydns/local/a").await.unwrap());
    assert_eq!(store.get("/skydns/local/a").await.unwrap(), None);
    let b = store.get("/skydns/local/b").await.unwrap().unwrap();
    assert_eq!((b.value.as_slice(), b.mod_revision), (&b"2"[..], 2));
}

#[tokio::test]
async fn watch_replays_from_a_revision_then_follows_live_changes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s.redb")).await;
    store.put("/skydns/local/a", b"1".to_vec()).await.unwrap(); // rev 1
    store.put("/other/x", b"x".to_vec()).await.unwrap(); // rev 2
    store.put("/skydns/local/b", b"2".to_vec()).await.unwrap(); // rev 3

    // From revision 2: the /other put is filtered out, b is replayed.
    let mut rx = store.watch("/skydns/", 2).await.unwrap();
    assert_eq!(next(&mut rx).await, put("/skydns/local/b", "2", 3));

    store.put("/skydns/local/c", b"3".to_vec()).await.unwrap(); // rev 4
    store.delete("/skydns/local/a").await.unwrap(); // rev 5
    assert_eq!(next(&mut rx).await, put("/skydns/local/c", "3", 4));
    assert_eq!(
        next(&mut rx).await,
        WatchEvent::Delete {
            key: "/skydns/local/a".into(),
            revision: 5
        }
    );

    // An idle watch reports progress at the current revision.
    let progress = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Some(WatchEvent::Progress { revision }) = rx.recv().await {
                return revision;
            }
        }
    })
    .await
    .expect("progress notification");
    assert_eq!(progress, 5);
}

#[tokio::test]
async fn writes_survive_reopen_and_old_revisions_need_a_resync() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    {
        let store = open(&path).await;
        store.put("/skydns/local/a", b"1".to_vec()).await.unwrap();
        store
            .apply_batch(vec![("/skydns/local/b".into(), b"2".to_vec())], Vec::new())
            .await
            .unwrap();
    }
    let store = open(&path).await;
    let (kvs, rev) = store.list("/skydns/").await.unwrap();
    assert_eq!(rev, 2, "revision persisted");
    assert_eq!(kvs.len(), 2);
    assert_eq!(
        store.put("/skydns/local/c", b"3".to_vec()).await.unwrap(),
        3
    );

    // History before the reopen is gone: the watcher must list again.
    let mut rx = store.watch("/skydns/", 1).await.unwrap();
    assert_eq!(next(&mut rx).await, WatchEvent::Resync);
    // From the listed revision + 1 everything later arrives.
    let mut rx = store.watch("/skydns/", 3).await.unwrap();
    assert_eq!(next(&mut rx).await, put("/skydns/local/c", "3", 3));
}

#[tokio::test]
async fn a_second_handle_cannot_open_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let _first = open(&path).await;
    let cfg = StoreConfig {
        path: Some(path),
        ..StoreConfig::default()
    };
    let err = Store::open(&cfg, &EtcdConfig::default())
        .await
        .err()
        .expect("second open must fail while the first is live");
    assert!(err.to_string().contains("embedded store"), "{err}");
}
