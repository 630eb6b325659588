//! Conditional batches (`apply_batch_if`): the same compare-the-revisions-read guarantee from
//! the embedded store and from a real etcd (skipped without an etcd binary).

use skylane_controlplane::store::{Backend, EtcdConfig, Guard, Store, StoreConfig};
use skylane_testkit::etcd::EtcdServer;

fn kv(k: &str, v: &str) -> (String, Vec<u8>) {
    (k.to_string(), v.as_bytes().to_vec())
}

async fn guards_hold_or_fail(store: &Store) {
    let rev_a = store.put("/t/a", b"1".to_vec()).await.unwrap();
    // The key as read: commits.
    let guard = Guard {
        keys: vec![("/t/a".into(), rev_a), ("/t/absent".into(), 0)],
        unchanged_since: vec![("/t/sub/".into(), rev_a)],
    };
    let rev = store
        .apply_batch_if(&guard, vec![kv("/t/a", "2")], Vec::new())
        .await
        .unwrap()
        .expect("guard holds");
    assert!(rev > rev_a);
    // Stale mod_revision: conflict, nothing written.
    let stale = Guard {
        keys: vec![("/t/a".into(), rev_a)],
        unchanged_since: Vec::new(),
    };
    let r = store
        .apply_batch_if(&stale, vec![kv("/t/a", "3")], Vec::new())
        .await
        .unwrap();
    assert_eq!(r, None);
    assert_eq!(store.get("/t/a").await.unwrap().unwrap().value, b"2");
    // A key that appeared since the read: conflict for "absent" and for the range.
    store.put("/t/sub/new", b"x".to_vec()).await.unwrap();
    let absent = Guard {
        keys: vec![("/t/sub/new".into(), 0)],
        unchanged_since: Vec::new(),
    };
    assert_eq!(
        store
            .apply_batch_if(&absent, vec![kv("/t/b", "1")], Vec::new())
            .await
            .unwrap(),
        None
    );
    let range = Guard {
        keys: Vec::new(),
        unchanged_since: vec![("/t/sub/".into(), rev)],
    };
    assert_eq!(
        store
            .apply_batch_if(&range, Vec::new(), vec!["/t/a".into()])
            .await
            .unwrap(),
        None
    );
    // A deleted key no longer has its revision: conflict.
    let (now, _) = store.list("/t/").await.unwrap();
    let sub_rev = now
        .iter()
        .find(|k| k.key == "/t/sub/new")
        .unwrap()
        .mod_revision;
    store.delete("/t/sub/new").await.unwrap();
    let gone = Guard {
        keys: vec![("/t/sub/new".into(), sub_rev)],
        unchanged_since: Vec::new(),
    };
    assert_eq!(
        store
            .apply_batch_if(&gone, vec![kv("/t/c", "1")], Vec::new())
            .await
            .unwrap(),
        None
    );
    assert!(store.get("/t/b").await.unwrap().is_none());
    assert!(store.get("/t/c").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_guards() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        path: Some(dir.path().join("s.redb")),
        ..StoreConfig::default()
    };
    let store = Store::open(&cfg, &EtcdConfig::default()).await.unwrap();
    guards_hold_or_fail(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_guards() {
    let Some(etcd) = EtcdServer::start() else {
        return;
    };
    let cfg = StoreConfig {
        backend: Backend::Etcd,
        ..StoreConfig::default()
    };
    let ecfg = EtcdConfig {
        endpoints: vec![etcd.endpoint()],
        ..EtcdConfig::default()
    };
    let store = Store::open(&cfg, &ecfg).await.unwrap();
    guards_hold_or_fail(&store).await;
}
