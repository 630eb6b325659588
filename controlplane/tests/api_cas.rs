//! No lost updates: two API instances (two appliances) on one real etcd and etcdctl write the
//! same name at the same time; every write survives and TTL replacements never duplicate a
//! value. Imports larger than etcd's `--max-txn-ops` commit in guarded chunks.
//! Skipped (with a message) when no etcd binary is installed.

use skylane_testkit::api::TestServer;
use skylane_testkit::etcd::EtcdServer;

/// One appliance's API over its own etcd client (the testkit's in-process server).
struct Appliance(TestServer);

impl Appliance {
    fn start(endpoint: &str) -> Appliance {
        Appliance(TestServer::start_on_etcd(endpoint))
    }

    fn call(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        self.0.auth(method, path, Some(body))
    }

    /// Every value stored below `/skydns/local/skydns/web` (hosts).
    fn web_hosts(&self) -> Vec<String> {
        let (kvs, _) = self
            .0
            .rt
            .block_on(self.0.store.list("/skydns/local/skydns/web"))
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
        a.0.rt
            .block_on(a.0.store.list("/skydns/local/skydns/"))
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
