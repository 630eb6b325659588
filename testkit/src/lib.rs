//! Test support shared by Skylane's integration tests and benches: a throw-away etcd
//! ([`etcd`]), a cuttable TCP proxy ([`proxy`]), an in-process API server ([`api`]) and a
//! sync harness. A dev-dependency only,
//! never part of a public API.

pub mod api;
pub mod cluster;
pub mod etcd;
pub mod kubeapi;
pub mod proxy;

use std::time::{Duration, Instant};

/// Polls `check` every 5 ms until it holds; panics naming `what` after `timeout`.
pub async fn eventually(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A running [`run_sync`](skylane_controlplane::sync::run_sync) task with its snapshot, metrics and shutdown.
pub struct SyncHarness {
    pub shared: skylane_dataplane::SharedSnapshot,
    pub metrics: std::sync::Arc<skylane_controlplane::sync::SyncMetrics>,
    shutdown: tokio::sync::watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl SyncHarness {
    /// Spawns the sync for `store`, serving `domains` (empty snapshot live until the first list).
    pub fn start(
        store: std::sync::Arc<skylane_controlplane::store::Store>,
        domains: &[&str],
        static_records: Vec<skylane_dataplane::Record>,
    ) -> SyncHarness {
        use skylane_dataplane::{Name, Snapshot, ZoneConfig};
        let zone = std::sync::Arc::new(ZoneConfig {
            domains: domains
                .iter()
                .map(|d| Name::from_ascii(d).expect("valid domain"))
                .collect(),
            ..ZoneConfig::default()
        });
        let shared: skylane_dataplane::SharedSnapshot = std::sync::Arc::new(
            arc_swap::ArcSwap::from_pointee(Snapshot::empty(zone.clone())),
        );
        let metrics = std::sync::Arc::new(skylane_controlplane::sync::SyncMetrics::new());
        let (shutdown, rx) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(skylane_controlplane::sync::run_sync(
            store,
            zone,
            static_records,
            shared.clone(),
            metrics.clone(),
            rx,
        ));
        SyncHarness {
            shared,
            metrics,
            shutdown,
            task: Some(task),
        }
    }

    /// The live snapshot's records for `name`.
    pub fn records(&self, name: &str) -> Vec<skylane_dataplane::Record> {
        let name = skylane_dataplane::Name::from_ascii(name).expect("valid name");
        self.shared.load().records(&name)
    }

    /// True when `ip` is in the live snapshot's DOWN set.
    pub fn is_down(&self, ip: std::net::IpAddr) -> bool {
        let snap = self.shared.load();
        match ip {
            std::net::IpAddr::V4(v4) => snap.is_down(&v4.octets()),
            std::net::IpAddr::V6(v6) => snap.is_down(&v6.octets()),
        }
    }

    /// Asks the sync to stop and waits for it (panics if it failed or hangs).
    pub async fn stop(mut self) {
        self.shutdown.send_replace(true);
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .expect("sync stops within 30 s")
                .expect("sync task not panicked")
                .expect("sync ended cleanly");
        }
    }
}

impl Drop for SyncHarness {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
