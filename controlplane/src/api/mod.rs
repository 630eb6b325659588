//! The REST API (axum): records, health status, bulk import, stats, metrics.
//!
//! Routes (docs/api.md is the reference; `/v1/openapi.json` the machine form):
//! - `/v1/records`, `/v1/records/{name}`: record sets per name (SkyDNS layout in the store).
//! - `/v1/status`, `/v1/status/{ip}`: UP/DOWN health status of backend addresses.
//! - `/v1/import`: many names in one atomic store batch.
//! - `/v1/cache`: the forward cache (show a name's entries, purge).
//! - `/v1/stats`, `/metrics`, `/health`, `/ready`, `/v1/openapi.json`.
//! - `/skydns/api/{name}`: ContainerDNS-compatible record calls (text answers).
//!
//! `/v1/*` and `/skydns/api/*` need the bearer token when one is configured;
//! `/health`, `/ready`, `/metrics` and `/v1/openapi.json` never do.

pub mod auth;
pub mod body;
pub mod book;
mod cache;
mod compat;
pub mod config;
pub mod error;
mod import;
mod list;
pub mod names;
pub mod openapi;
mod records;
mod server;
mod stats;
mod status;

pub use config::{ApiConfig, ApiConfigError};
pub use error::ApiError;
pub use server::{router, serve_api, ApiServer};

use crate::forward::Forwarder;
use crate::store::Store;
use crate::sync::SyncMetrics;
use skylane_dataplane::snapshot::{SharedSnapshot, ZoneConfig};
use skylane_dataplane::stats::Stats;
use std::sync::Arc;

/// Everything the handlers share. Cheap to clone.
#[derive(Clone)]
pub struct ApiState {
    pub store: Arc<Store>,
    pub snapshot: SharedSnapshot,
    pub zone: Arc<ZoneConfig>,
    /// Record key prefix (`[store] prefix`, from the store).
    pub prefix: Arc<str>,
    /// Health status key prefix (`[store] monitor-prefix`).
    pub monitor_prefix: Arc<str>,
    /// Store → snapshot sync health (`/ready`, `/metrics`).
    pub sync: Arc<SyncMetrics>,
    /// Data-plane counters (`/v1/stats`, `/metrics`); `None` without a data plane.
    pub stats: Option<Arc<Stats>>,
    /// The forwarder and its cache (`/v1/cache`, `/metrics`); `None` when off.
    pub forwarder: Option<Arc<Forwarder>>,
    pub(crate) token: Option<Arc<str>>,
    /// Serialises this process's read-plan-write cycles.
    pub(crate) write_lock: Arc<tokio::sync::Mutex<()>>,
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
            zone,
            prefix: prefixes.prefix.trim_end_matches('/').into(),
            monitor_prefix: prefixes.monitor_prefix.trim_end_matches('/').into(),
            sync,
            stats: None,
            forwarder: None,
            token: None,
            write_lock: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// Adds the data plane's statistics (written by the socket / DPDK / TCP loops).
    pub fn with_stats(mut self, stats: Arc<Stats>) -> ApiState {
        self.stats = Some(stats);
        self
    }

    /// Adds the forwarder (its cache is shown and purged by `/v1/cache`).
    pub fn with_forwarder(mut self, forwarder: Option<Arc<Forwarder>>) -> ApiState {
        self.forwarder = forwarder;
        self
    }

    /// Requires this bearer token (normally set by [`serve_api`] from the config).
    pub fn with_token(mut self, token: Option<String>) -> ApiState {
        self.token = token.map(Into::into);
        self
    }

    /// True once the first snapshot is live.
    pub fn is_ready(&self) -> bool {
        self.sync.is_ready()
    }
}
