//! The REST API (axum): records, health status, bulk import, stats, metrics.
//!
//! Routes (docs/api.md is the reference; `/v1/openapi.json` the machine form):
//! - `/v1/records`, `/v1/records/{name}`: record sets per name (SkyDNS layout in the store).
//! - `/v1/status/{ip}`: UP/DOWN health status of a backend address.
//! - `/v1/import`: many names in one atomic store batch.
//! - `/v1/stats`, `/metrics`, `/health`, `/ready`, `/v1/openapi.json`.
//! - `/skydns/api/{name}`: ContainerDNS-compatible record calls (text answers).

pub mod auth;
pub mod body;
pub mod book;
pub mod config;
pub mod error;
pub mod names;

pub use config::ApiConfig;

use skylane_dataplane::snapshot::ZoneConfig;
use std::sync::Arc;

/// Everything the handlers share.
#[derive(Clone)]
pub struct ApiState {
    pub zone: Arc<ZoneConfig>,
    pub(crate) token: Option<Arc<str>>,
}
