//! Opens the record store and starts its sync task and the REST API.
//! (Wired once the store and API modules land.)

use crate::serve::StaticData;
use skylane_controlplane::config::Config;
use skylane_dataplane::snapshot::SharedSnapshot;
use skylane_dataplane::stats::Stats;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub async fn spawn(
    _cfg: &Config,
    _data: &StaticData,
    _shared: &SharedSnapshot,
    _stats: &Arc<Stats>,
    _stop: &watch::Receiver<bool>,
    _tasks: &mut JoinSet<(&'static str, anyhow::Result<()>)>,
) -> anyhow::Result<()> {
    Ok(())
}
