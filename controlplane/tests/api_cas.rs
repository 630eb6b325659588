//! No lost updates: two API instances (two appliances) on one real etcd and etcdctl write the
//! same name at the same time; every write survives and TTL replacements never duplicate a
//! value. Imports larger than etcd's `--max-txn-ops` commit in guarded chunks.
//! Skipped (with a message) when no etcd binary is installed.

use skylane_controlplane::api::{ApiConfig, ApiServer, ApiState};
use skylane_controlplane::store::{Backend, EtcdConfig, Store, StoreConfig};
use skylane_controlplane::sync::SyncMetrics;
use skylane_dataplane::name::Name;
use skylane_dataplane::snapshot::{SharedSnapshot, Snapshot, ZoneConfig};
use skylane_testkit::etcd::EtcdServer;
use std::sync::Arc;
use std::time::Duration;

const TOKEN: &str = "cas-test-token";

/// One appliance's API over its own etcd client.
struct Appliance {
    base: String,
    store: Arc<Store>,
    rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

impl Appliance {
    fn start(endpoint: &str) -> Appliance {
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let cfg = StoreConfig {
            backend: Backend::Etcd,
            ..StoreConfig::default()
        };
        let etcd = EtcdConfig {
            endpoints: vec![endpoint.to_string()],
            ..EtcdConfig::default()
        };
        let store = Arc::new(rt.block_on(Store::open(&cfg, &etcd)).unwrap());
        let zone = Arc::new(ZoneConfig {
            domains: vec![Name::from_ascii("skydns.local.").unwrap()],
            ..ZoneConfig::default()
        });
        let snapshot: SharedSnapshot = Arc::new(arc_swap::ArcSwap::from_pointee(Snapshot::empty(
            zone.clone(),
        )));
        let state = ApiState::new(store.clone(), snapshot, zone, Arc::new(SyncMetrics::new()));
        let api = ApiConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            token: Some(TOKEN.into()),
            ..ApiConfig::default()
        };
        let server = {
            let _g = rt.enter();
            ApiServer::bind(&api, dir.path(), state).unwrap()
        };
        let base = format!("http://{}", server.local_addr());
        let (_tx, rx) = tokio::sync::watch::channel(false);
        rt.spawn(async move {
            let _keep = _tx;
            server.run(rx).await
        });
        Appliance {
            base,
            store,
            rt,
            _dir: dir,
        }
    }

    fn call(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let req = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{}", self.base, path))
            .header("Authorization", format!("Bearer {TOKEN}"))
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .unwrap();
        let mut resp = agent.run(req).expect("HTTP exchange");
        let status = resp.status().as_u16();
        (status, resp.body_mut().read_to_string().unwrap_or_default())
    }

    /// Every value stored below `/skydns/local/skydns/web` (hosts).
    fn web_hosts(&self) -> Vec<String> {
        let (kvs, _) = self
            .rt
            .block_on(self.store.list("/skydns/local/skydns/web"))
            .unwrap();
        kvs.iter()
            .map(|kv| {
                let v: serde_json::Value = serde_json::from_slice(&kv.value).unwrap();
                v["host"].as_str().unwrap_or_default().to_string()
            })
            .collect()
    }
}

#[test]
fn two_appliances_and_etcdctl_lose_no_update() {
    let Some(etcd) = EtcdServer::start() else {
        return;
    };
    let a = Appliance::start(&etcd.endpoint());
    let b = Appliance::start(&etcd.endpoint());
    const ROUNDS: usize = 25;
    std::thread::scope(|scope| {
        for (app, net) in [(&a, 1), (&b, 2)] {
            // Several writers per appliance replace the same address's TTL at once
            // (each a delete + put planned from what it read) ...
            for w in 0..3 {
                scope.spawn(move || {
                    for i in 0..ROUNDS {
                        let ttl = 1000 * net + 100 * w + i;
                        let body = format!(r#"{{"type":"A","ips":["10.9.9.9"],"ttl":{ttl}}}"#);
                        let (status, text) = app.call("POST", "/v1/records/web", &body);
                        assert_eq!(status, 200, "{text}");
                    }
                });
            }
            // ... while another adds addresses of its own.
            scope.spawn(move || {
                for i in 0..ROUNDS {
                    let body = format!(r#"{{"type":"A","ips":["10.{net}.0.{i}"]}}"#);
                    let (status, text) = app.call("POST", "/v1/records/web", &body);
                    assert_eq!(status, 200, "{text}");
                }
            });
        }
        let etcd = &etcd;
        scope.spawn(move || {
            for i in 0..ROUNDS {
                let key = format!("/skydns/local/skydns/web/{:08x}", 0xab00_0000u32 + i as u32);
                let value = format!(r#"{{"host":"10.3.0.{i}"}}"#);
                etcd.etcdctl_ok(&["put", &key, &value]);
            }
        });
    });
    let hosts = a.web_hosts();
    assert_eq!(
        hosts.iter().filter(|h| *h == "10.9.9.9").count(),
        1,
        "one value per address: {hosts:?}"
    );
    for net in 1..=3 {
        for i in 0..ROUNDS {
            let ip = format!("10.{net}.0.{i}");
            assert!(hosts.contains(&ip), "{ip} lost: {hosts:?}");
        }
    }
    assert_eq!(hosts.len(), 1 + 3 * ROUNDS, "{hosts:?}");
}

#[test]
fn imports_over_max_txn_ops_commit_in_chunks() {
    let Some(etcd) = EtcdServer::start() else {
        return;
    };
    let a = Appliance::start(&etcd.endpoint());
    let records: Vec<String> = (0..300)
        .map(|i| {
            format!(
                r#"{{"name":"n{i}","type":"A","ips":["10.5.{}.{}"]}}"#,
                i / 256,
                i % 256
            )
        })
        .collect();
    let body = format!("[{}]", records.join(","));
    let (status, text) = a.call("POST", "/v1/import", &body);
    assert_eq!(status, 200, "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["names"], 300, "{v}");
    assert_eq!(v["puts"], 300, "{v}");
    let chunks = v["chunks"].as_u64().unwrap();
    assert!(
        chunks >= 3,
        "300 puts + compares in transactions of 128: {v}"
    );
    let (kvs, _) =
        a.rt.block_on(a.store.list("/skydns/local/skydns/"))
            .unwrap();
    assert_eq!(kvs.len(), 300);
    // The same import again changes nothing: no transaction.
    let (status, text) = a.call("POST", "/v1/import", &body);
    assert_eq!(status, 200, "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (v["puts"].as_u64(), v["chunks"].as_u64()),
        (Some(0), Some(0)),
        "{v}"
    );
}
