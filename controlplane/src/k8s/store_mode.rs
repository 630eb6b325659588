//! `store` mode (placeholder until the elected writer lands).

use super::{Cluster, KubernetesSection, Tasks};
use crate::store::Store;
use crate::sync::SourceSender;
use kube::Client;
use std::sync::Arc;
use tokio::sync::watch;

pub(super) async fn spawn(
    _section: &KubernetesSection,
    _client: Client,
    _cluster: Cluster,
    _store: Arc<Store>,
    _tx: SourceSender,
    _shutdown: &watch::Receiver<bool>,
    _tasks: &mut Tasks,
) -> anyhow::Result<()> {
    anyhow::bail!("store mode: not built yet")
}
