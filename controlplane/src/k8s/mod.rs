//! Kubernetes sync: Services and EndpointSlices become records (Kubernetes DNS specification
//! 1.1.0), served by the same engine and snapshot as every other record. See
//! docs/kubernetes.md.
//!
//! - [`config`]: the `[kubernetes]` section.
//! - `records`: the mapping of one Service and its EndpointSlices to records.
//! - `model`: the cluster as seen, turning each object change into per-name record changes.
//! - `watch`: the kube-rs watchers (resourceVersion resume, 410 relist, bookmarks).
//!
//! In `direct` mode [`start`] hands the sync an extra record source
//! ([`crate::sync::SyncExtras`]); in `store` mode one elected appliance writes the records
//! to the store under `[kubernetes] prefix` and every appliance reads them back from there.

pub mod config;
mod model;
mod records;
mod store_mode;
mod watch;

pub use config::{AddressSource, KubernetesSection, PodMode, SyncMode};
pub use model::Cluster;
pub use records::{reverse_name, service_records, MapCtx, SPEC_VERSION};

use anyhow::Context;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::Client;

/// The kube client: `kubeconfig` when set, else the in-cluster service account, else
/// `$KUBECONFIG`, else `~/.kube/config`.
pub async fn client(section: &KubernetesSection) -> anyhow::Result<Client> {
    let opts = KubeConfigOptions::default();
    let config = match &section.kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path)
                .with_context(|| format!("reading kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kc, &opts)
                .await
                .with_context(|| format!("kubeconfig {}", path.display()))?
        }
        None => match kube::Config::incluster() {
            Ok(c) => c,
            Err(_) => kube::Config::from_kubeconfig(&opts)
                .await
                .context("no in-cluster service account, $KUBECONFIG or ~/.kube/config")?,
        },
    };
    Client::try_from(config).context("building the Kubernetes client")
}

/// The mapping context of a section (`ttl`: the records' TTL).
pub fn map_ctx(section: &KubernetesSection, ttl: u32) -> MapCtx {
    MapCtx {
        zone: section.zone.clone(),
        ttl,
        address_source: section.address_source,
        pods: section.pods,
    }
}

pub use watch::run_watchers;

/// What the control plane's task set holds.
pub type Tasks = tokio::task::JoinSet<(&'static str, anyhow::Result<()>)>;

/// Starts the Kubernetes sync when `[kubernetes] enabled` and returns the record source to
/// hand to the sync ([`crate::sync::SyncExtras::source`]). A bad kubeconfig fails here, before
/// anything runs; an unreachable API server does not (the watchers retry).
pub async fn start(
    section: &KubernetesSection,
    ttl: u32,
    store: &std::sync::Arc<crate::store::Store>,
    shutdown: &tokio::sync::watch::Receiver<bool>,
    tasks: &mut Tasks,
) -> anyhow::Result<Option<crate::sync::SourceReceiver>> {
    if !section.enabled {
        return Ok(None);
    }
    let client = client(section).await.context("[kubernetes]")?;
    let (tx, rx) = crate::sync::source_channel();
    let ctx = map_ctx(section, ttl);
    let (namespaces, stop) = (section.namespaces.clone(), shutdown.clone());
    tracing::info!(zone = %section.zone, mode = ?section.mode, "kubernetes sync starting");
    match section.mode {
        SyncMode::Direct => {
            tasks.spawn(async move {
                let cluster = Cluster::new(ctx);
                let run = run_watchers(client, &namespaces, cluster, tx, stop, None);
                ("kubernetes", run.await)
            });
        }
        SyncMode::Store => {
            store_mode::spawn(section, client, ctx, store.clone(), tx, shutdown, tasks);
        }
    }
    Ok(Some(rx))
}
