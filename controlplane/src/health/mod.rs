//! The health scanner: agents that check every backend address the record store holds and
//! write `{"status":"UP"|"DOWN",...}` at `<monitor-prefix>/<ip>`, which every answer path
//! already honours (docs/health.md explains the model).
//!
//! - [`check`]: one check of one address (TCP connect or HTTP GET per port, ICMP echo).
//! - [`targets`]: the addresses, their ports and stored statuses, from the store.
//! - [`assign`]: rendezvous hashing of addresses over the live agents.
//! - [`membership`]: heart keys on etcd leases, the live set.
//! - `scheduler`: the loop (interval, phase, concurrency, rise/fall, partition guard).
//!
//! [`run_agent`] runs one agent until shutdown; `skylane scan` and `skylane serve` call it.

pub mod assign;
pub mod check;
pub mod config;
mod icmp;
pub mod membership;
pub(crate) mod metrics;
mod scheduler;
mod state;
pub mod targets;
mod time;
mod writer;

pub use config::{HealthConfig, Require};
pub use metrics::HealthMetrics;
pub use targets::StatusDoc;

use crate::store::Store;
use membership::{Heart, HeartInfo};
use skylane_dataplane::record::Record;
use std::sync::Arc;
use tokio::sync::watch;

/// Runs one agent named `agent` until `stop` turns true. `static_records` are the zone-file
/// records (checked when `[health] zone-files = true`).
pub async fn run_agent(
    cfg: HealthConfig,
    agent: String,
    store: Arc<Store>,
    static_records: Vec<Record>,
    metrics: Arc<HealthMetrics>,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    cfg.validate().map_err(anyhow::Error::msg)?;
    let heart = Heart {
        store: store.clone(),
        prefix: cfg.heart_prefix().to_string(),
        agent: agent.clone(),
        ttl_s: cfg.lease_ttl_s,
    };
    let (info_tx, info_rx) = watch::channel(HeartInfo::default());
    let live = membership::start(heart.clone(), info_rx, stop.clone());
    tracing::info!(agent = %agent, backend = store.backend_name(), interval_ms = cfg.interval_ms, "health: agent starting");
    scheduler::Scheduler {
        cfg: Arc::new(cfg),
        agent,
        heart_key: heart.key(),
        store,
        static_records,
        metrics,
        live,
        heart_info: info_tx,
    }
    .run(stop)
    .await
}
