//! An in-process API server for tests: an embedded store in a temp dir, the real
//! store → snapshot sync, and the API on 127.0.0.1:0, all on a private tokio runtime;
//! tests talk HTTP to it with a blocking client (the `api_*` tests, tests/skylanectl.rs).

use arc_swap::ArcSwap;
use skylane_controlplane::api::{ApiConfig, ApiServer, ApiState};
use skylane_controlplane::store::{Backend, EtcdConfig, KeyValue, Store, StoreConfig};
use skylane_controlplane::sync::{run_sync, SyncMetrics};
use skylane_dataplane::name::Name;
use skylane_dataplane::snapshot::{SharedSnapshot, Snapshot, ZoneConfig};
use skylane_dataplane::stats::{Backend as StatsBackend, Stats};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const TOKEN: &str = "T0ken-for-tests";

pub struct TestServer {
    pub base: String,
    pub zone: Arc<ZoneConfig>,
    pub stats: Arc<Stats>,
    pub store: Arc<Store>,
    pub snapshot: SharedSnapshot,
    pub sync: Arc<SyncMetrics>,
    pub rt: tokio::runtime::Runtime,
    pub agent: ureq::Agent,
    shutdown: tokio::sync::watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

pub fn zone() -> ZoneConfig {
    ZoneConfig {
        domains: vec![
            Name::from_ascii("skydns.local.").unwrap(),
            Name::from_ascii("skylane.local.").unwrap(),
        ],
        default_ttl: 30,
        ..ZoneConfig::default()
    }
}

/// A plain HTTP agent that returns 4xx/5xx as responses.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

impl TestServer {
    /// A server requiring [`TOKEN`].
    pub fn start() -> TestServer {
        TestServer::start_with(ApiConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            token: Some(TOKEN.into()),
            ..ApiConfig::default()
        })
    }

    pub fn start_with(cfg: ApiConfig) -> TestServer {
        let s = TestServer::start_without_sync(cfg);
        s.start_sync();
        s
    }

    /// The API without the store → snapshot sync (`/ready` stays 503 until
    /// [`TestServer::start_sync`]).
    pub fn start_without_sync(cfg: ApiConfig) -> TestServer {
        TestServer::start_extended(cfg, |state| state)
    }

    /// [`TestServer::start_without_sync`] with `extend` adding parts to the state
    /// (a forwarder, health metrics) before the server binds.
    pub fn start_extended(cfg: ApiConfig, extend: impl FnOnce(ApiState) -> ApiState) -> TestServer {
        TestServer::start_on(cfg, None, extend)
    }

    /// The API (requiring [`TOKEN`], no sync) over an etcd store at `endpoint`.
    pub fn start_on_etcd(endpoint: &str) -> TestServer {
        let store = StoreConfig {
            backend: Backend::Etcd,
            ..StoreConfig::default()
        };
        let etcd = EtcdConfig {
            endpoints: vec![endpoint.to_string()],
            ..EtcdConfig::default()
        };
        let cfg = ApiConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            token: Some(TOKEN.into()),
            ..ApiConfig::default()
        };
        TestServer::start_on(cfg, Some((store, etcd)), |state| state)
    }

    /// The API over `store` (default: an embedded store in the temp dir), without sync.
    pub fn start_on(
        cfg: ApiConfig,
        store: Option<(StoreConfig, EtcdConfig)>,
        extend: impl FnOnce(ApiState) -> ApiState,
    ) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (store_cfg, etcd_cfg) = store.unwrap_or_else(|| {
            let embedded = StoreConfig {
                backend: Backend::Embedded,
                path: Some(dir.path().join("store.redb")),
                ..StoreConfig::default()
            };
            (embedded, EtcdConfig::default())
        });
        let store = Arc::new(rt.block_on(Store::open(&store_cfg, &etcd_cfg)).unwrap());
        let zone = Arc::new(zone());
        let snapshot: SharedSnapshot =
            Arc::new(ArcSwap::from_pointee(Snapshot::empty(zone.clone())));
        let sync = Arc::new(SyncMetrics::new());
        let (shutdown, rx) = tokio::sync::watch::channel(false);
        let stats = Arc::new(Stats::with_sampling(StatsBackend::Socket, &[0, 1], 1));
        let state = ApiState::new(store.clone(), snapshot.clone(), zone.clone(), sync.clone())
            .with_stats(stats.clone());
        let state = extend(state);
        let tls = cfg.tls_cert.is_some();
        let server = {
            let _guard = rt.enter();
            ApiServer::bind(&cfg, dir.path(), state).unwrap()
        };
        let scheme = if tls { "https" } else { "http" };
        let base = format!("{scheme}://{}", server.local_addr());
        rt.spawn(server.run(rx.clone()));
        TestServer {
            zone,
            stats,
            base,
            store,
            snapshot,
            sync,
            rt,
            agent: agent(),
            shutdown,
            _dir: dir,
        }
    }

    /// Sends a request (a body as `application/json`, as every API client must);
    /// `token` None = no credentials. Returns status and body.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        token: Option<&str>,
    ) -> (u16, String) {
        self.call_typed(method, path, body, token, Some("application/json"))
    }

    /// [`TestServer::call`] with this Content-Type (`None`: no header).
    pub fn call_typed(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        token: Option<&str>,
        content_type: Option<&str>,
    ) -> (u16, String) {
        let url = format!("{}{}", self.base, path);
        let mut req = ureq::http::Request::builder().method(method).uri(&url);
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        if let (Some(_), Some(ct)) = (body, content_type) {
            req = req.header("Content-Type", ct);
        }
        let req = req.body(body.unwrap_or("").to_string()).unwrap();
        let mut resp = self.agent.run(req).expect("HTTP exchange");
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        (status, text)
    }

    /// An authenticated call.
    pub fn auth(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        self.call(method, path, body, Some(TOKEN))
    }

    /// An authenticated call answering JSON, asserting the status.
    pub fn json(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        want: u16,
    ) -> serde_json::Value {
        let (status, text) = self.auth(method, path, body);
        assert_eq!(status, want, "{method} {path} {body:?} -> {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    /// The data directory the server was bound with (its generated `api-token`).
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// The API's address (`127.0.0.1:port`).
    pub fn addr(&self) -> std::net::SocketAddr {
        let hostport = self.base.split("://").nth(1).unwrap();
        hostport.parse().unwrap()
    }

    /// Every key in the store (records and statuses).
    pub fn keys(&self) -> Vec<KeyValue> {
        self.rt.block_on(self.store.list("/")).unwrap().0
    }

    /// Runs the store → snapshot sync until the server is dropped.
    pub fn start_sync(&self) {
        self.rt.spawn(run_sync(
            self.store.clone(),
            self.zone.clone(),
            Vec::new(),
            self.snapshot.clone(),
            self.sync.clone(),
            self.shutdown.subscribe(),
        ));
    }

    pub fn wait_ready(&self) {
        let sync = self.sync.clone();
        self.rt.block_on(async move {
            tokio::time::timeout(Duration::from_secs(30), sync.wait_ready())
                .await
                .expect("sync ready within 30 s")
        });
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// One answer record of a DNS response: type and raw RDATA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub rtype: u16,
    pub rdata: Vec<u8>,
}

/// Asks the live snapshot through the real answer engine: (rcode, answers).
pub fn dns(snapshot: &SharedSnapshot, name: &str, qtype: u16) -> (u16, Vec<Answer>) {
    use skylane_dataplane::engine::{answer, Client, EngineState, Transport, Verdict};
    let mut buf = vec![0u8; 4096];
    let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    q.extend_from_slice(Name::from_ascii(name).unwrap().as_wire());
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    buf[..q.len()].copy_from_slice(&q);
    let client = Client {
        addr: "127.0.0.1".parse().unwrap(),
        transport: Transport::Udp,
        port: 0,
        via: 0,
    };
    let mut state = EngineState::new(7, 1232);
    let snap = snapshot.load();
    let Verdict::Reply(reply) = answer(&snap, &mut buf, q.len(), &client, &mut state) else {
        panic!("query dropped");
    };
    let msg = &buf[..reply.len];
    let ancount = u16::from_be_bytes([msg[6], msg[7]]);
    let mut pos = q.len(); // the question is echoed as sent
    let mut out = Vec::new();
    for _ in 0..ancount {
        // Owner name: labels or a compression pointer.
        loop {
            let len = msg[pos];
            if len & 0xc0 == 0xc0 {
                pos += 2;
                break;
            }
            pos += 1 + len as usize;
            if len == 0 {
                break;
            }
        }
        let rtype = u16::from_be_bytes([msg[pos], msg[pos + 1]]);
        let rdlen = u16::from_be_bytes([msg[pos + 8], msg[pos + 9]]) as usize;
        pos += 10;
        out.push(Answer {
            rtype,
            rdata: msg[pos..pos + rdlen].to_vec(),
        });
        pos += rdlen;
    }
    (reply.rcode, out)
}

/// The IPv4 addresses among `answers`, sorted.
pub fn a_addrs(answers: &[Answer]) -> Vec<std::net::Ipv4Addr> {
    let mut v: Vec<_> = answers
        .iter()
        .filter(|a| a.rtype == 1)
        .map(|a| std::net::Ipv4Addr::new(a.rdata[0], a.rdata[1], a.rdata[2], a.rdata[3]))
        .collect();
    v.sort();
    v
}

impl TestServer {
    /// Waits until a DNS query for `name`/`qtype` satisfies `pred`.
    pub fn wait_dns(
        &self,
        name: &str,
        qtype: u16,
        pred: impl Fn(u16, &[Answer]) -> bool,
    ) -> Vec<Answer> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (rcode, answers) = dns(&self.snapshot, name, qtype);
            if pred(rcode, &answers) {
                return answers;
            }
            assert!(
                Instant::now() < deadline,
                "DNS never matched for {name}/{qtype}: rcode {rcode}, {answers:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
