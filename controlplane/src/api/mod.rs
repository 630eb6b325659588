//! The REST API (axum): records, health status, bulk import, stats, metrics.
//!
//! Routes (docs/api.md is the reference; `/v1/openapi.json` the machine form):
//! - `/v1/records`, `/v1/records/{name}`: record sets per name (SkyDNS layout in the store).
//! - `/v1/status`, `/v1/status/{ip}`: UP/DOWN health status of backend addresses.
//! - `/v1/health`, `/v1/health/agents`: the health scanners' view (docs/health.md).
//! - `/v1/import`: many names in one atomic store batch.
//! - `/v1/reload`: re-read the config file and zone files (live reload, see [`reload`]).
//! - `/v1/cache`: the forward cache (show a name's entries, purge).
//! - `/v1/stats`, `/metrics`, `/health`, `/ready`, `/v1/openapi.json`.
//! - `/skydns/api/{name}`: ContainerDNS-compatible record calls (text answers).
//!
//! `/v1/*` and `/skydns/api/*` need the bearer token (configured, or generated
//! in `<data-dir>/api-token`) unless `[api] auth = "none"`; `/health`, `/ready`,
//! `/metrics` and `/v1/openapi.json` never do. Every route refuses a foreign
//! Host header (421) and writes without a JSON body (415), see [`guard`].

pub mod auth;
pub mod body;
pub mod book;
mod cache;
mod cas;
mod compat;
pub mod config;
mod conn_limit;
pub mod error;
pub mod fields;
pub mod guard;
mod health;
mod import;
mod list;
pub mod names;
pub mod openapi;
mod oversize;
mod records;
pub mod reload;
pub mod schema;
mod server;
mod stats;
mod status;
pub mod token_file;

pub use config::{ApiConfig, ApiConfigError, AuthMode};
pub use error::ApiError;
pub use server::{router, serve_api, ApiServer};

use crate::forward::Forwarder;
use crate::health::{HealthConfig, HealthMetrics};
use crate::store::Store;
use crate::sync::SyncMetrics;
use arc_swap::ArcSwap;
use skylane_dataplane::snapshot::{SharedSnapshot, ZoneConfig};
use skylane_dataplane::stats::Stats;
use std::sync::Arc;

/// Everything the handlers share. Cheap to clone.
#[derive(Clone)]
pub struct ApiState {
    pub store: Arc<Store>,
    pub snapshot: SharedSnapshot,
    /// The served zones' configuration; swapped by a live reload (read it with [`ApiState::zone`]).
    pub zone: Arc<ArcSwap<ZoneConfig>>,
    /// Record key prefix (`[store] prefix`, from the store).
    pub prefix: Arc<str>,
    /// Health status key prefix (`[store] monitor-prefix`).
    pub monitor_prefix: Arc<str>,
    /// Store → snapshot sync health (`/ready`, `/metrics`).
    pub sync: Arc<SyncMetrics>,
    /// Data-plane counters (`/v1/stats`, `/metrics`); `None` without a data plane.
    pub stats: Option<Arc<Stats>>,
    /// Where health scanners report, and the in-process agent's metrics.
    pub health: HealthView,
    /// The forwarder and its cache (`/v1/cache`, `/metrics`); `None` when off.
    pub forwarder: Option<Arc<Forwarder>>,
    /// Where `POST /v1/reload` sends its requests; `None`: no live reload (503).
    pub reload: Option<reload::ReloadSender>,
    /// The running data plane's own `/metrics` families (RRL, DPDK).
    pub dataplane: crate::metrics::DataplaneSources,
    pub(crate) token: Option<Arc<str>>,
    /// Host header values accepted (421 otherwise).
    pub(crate) hosts: Arc<guard::HostPolicy>,
    /// One import at a time (409 for a second).
    pub(crate) import_slot: Arc<tokio::sync::Semaphore>,
}

impl ApiState {
    /// State over a store, the live snapshot and the sync's metrics; `/ready`
    /// answers 503 until the sync reports its first snapshot live.
    pub fn new(
        store: Arc<Store>,
        snapshot: SharedSnapshot,
        zone: Arc<ZoneConfig>,
        sync: Arc<SyncMetrics>,
    ) -> ApiState {
        let prefixes = store.prefixes().clone();
        ApiState {
            store,
            snapshot,
            zone: Arc::new(ArcSwap::new(zone)),
            prefix: prefixes.prefix.trim_end_matches('/').into(),
            monitor_prefix: prefixes.monitor_prefix.trim_end_matches('/').into(),
            sync,
            stats: None,
            health: HealthView::from_config(&HealthConfig::default(), None),
            forwarder: None,
            reload: None,
            dataplane: Default::default(),
            token: None,
            hosts: Arc::new(guard::HostPolicy::default()),
            import_slot: Arc::new(tokio::sync::Semaphore::new(1)),
        }
    }

    /// Adds the data plane's statistics (written by the socket / DPDK / TCP loops).
    pub fn with_stats(mut self, stats: Arc<Stats>) -> ApiState {
        self.stats = Some(stats);
        self
    }

    /// Sets the `[health]` prefixes (and the in-process agent's metrics, if one runs).
    pub fn with_health(mut self, cfg: &HealthConfig, metrics: Option<Arc<HealthMetrics>>) -> Self {
        self.health = HealthView::from_config(cfg, metrics);
        self
    }

    /// Adds the forwarder (its cache is shown and purged by `/v1/cache`).
    pub fn with_forwarder(mut self, forwarder: Option<Arc<Forwarder>>) -> ApiState {
        self.forwarder = forwarder;
        self
    }

    /// Adds the running data plane's counter sources to `/metrics`.
    pub fn with_dataplane_metrics(mut self, sources: crate::metrics::DataplaneSources) -> Self {
        self.dataplane = sources;
        self
    }

    /// Serves `POST /v1/reload` through `sender` (the process's reloader answers).
    pub fn with_reload(mut self, sender: reload::ReloadSender) -> ApiState {
        self.reload = Some(sender);
        self
    }

    /// The zone configuration in force now.
    pub fn zone(&self) -> Arc<ZoneConfig> {
        self.zone.load_full()
    }

    /// Requires this bearer token (normally set by [`serve_api`] from the config).
    pub fn with_token(mut self, token: Option<String>) -> ApiState {
        self.token = token.map(Into::into);
        self
    }

    /// Accepts these Host header values (normally set by [`serve_api`] from the config).
    pub fn with_hosts(mut self, hosts: guard::HostPolicy) -> ApiState {
        self.hosts = Arc::new(hosts);
        self
    }

    /// True once the first snapshot is live.
    pub fn is_ready(&self) -> bool {
        self.sync.is_ready()
    }
}

/// The health scanner's key prefixes and (in-process) metrics, for `/v1/health*` and `/metrics`.
#[derive(Clone)]
pub struct HealthView {
    pub report_prefix: Arc<str>,
    pub heart_prefix: Arc<str>,
    pub metrics: Option<Arc<HealthMetrics>>,
}

impl HealthView {
    pub fn from_config(cfg: &HealthConfig, metrics: Option<Arc<HealthMetrics>>) -> HealthView {
        HealthView {
            report_prefix: cfg.report_prefix().into(),
            heart_prefix: cfg.heart_prefix().into(),
            metrics,
        }
    }
}
