//! The kube-rs watchers: Services (`v1`) and EndpointSlices (`discovery.k8s.io/v1`), cluster
//! wide or one pair per configured namespace. `kube::runtime::watcher` lists, then watches
//! from the list's resourceVersion with bookmarks, resumes from the last resourceVersion seen
//! after a broken stream, and relists when the API server answers 410 Gone; each relist
//! replaces the objects of its kind (and namespace) atomically at `InitDone`. Errors are
//! logged and retried with a capped backoff; the records already sent stay served meanwhile.

use super::model::{Changes, Cluster};
use crate::sync::{SourceSender, SourceUpdate};
use futures_util::stream::{self, BoxStream, StreamExt};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::utils::Backoff;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client};
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use tokio::sync::{oneshot, watch};

/// Retry delays after a watcher error: 200 ms doubling to 2 s (an API server back from an
/// outage is picked up within ~2 s).
struct Capped(Duration);

const RETRY_MIN: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(2);

impl Iterator for Capped {
    type Item = Duration;
    fn next(&mut self) -> Option<Duration> {
        let d = self.0;
        self.0 = (self.0 * 2).min(RETRY_MAX);
        Some(d)
    }
}

impl Backoff for Capped {
    fn reset(&mut self) {
        self.0 = RETRY_MIN;
    }
}

/// One watcher's output, tagged with what it watches (`None` namespace: all).
enum Item {
    Svc(Option<String>, Box<Event<Service>>),
    Slice(Option<String>, Box<Event<EndpointSlice>>),
    Failed(&'static str, String),
}

fn services(client: &Client, ns: Option<String>) -> BoxStream<'static, Item> {
    let api: Api<Service> = match &ns {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    watcher::watcher(api, watcher::Config::default())
        .backoff(Capped(RETRY_MIN))
        .map(move |r| match r {
            Ok(ev) => Item::Svc(ns.clone(), Box::new(ev)),
            Err(e) => Item::Failed("Service", e.to_string()),
        })
        .boxed()
}

fn slices(client: &Client, ns: Option<String>) -> BoxStream<'static, Item> {
    let api: Api<EndpointSlice> = match &ns {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    watcher::watcher(api, watcher::Config::default())
        .backoff(Capped(RETRY_MIN))
        .map(move |r| match r {
            Ok(ev) => Item::Slice(ns.clone(), Box::new(ev)),
            Err(e) => Item::Failed("EndpointSlice", e.to_string()),
        })
        .boxed()
}

/// Objects buffered between `Init` and `InitDone`, per watcher.
#[derive(Default)]
struct InitBuffers {
    services: HashMap<Option<String>, Vec<Service>>,
    slices: HashMap<Option<String>, Vec<EndpointSlice>>,
}

fn handle(cluster: &mut Cluster, buf: &mut InitBuffers, item: Item) -> Changes {
    match item {
        Item::Svc(ns, ev) => match *ev {
            Event::Init => {
                buf.services.insert(ns, Vec::new());
                Vec::new()
            }
            Event::InitApply(o) => {
                buf.services.entry(ns).or_default().push(o);
                Vec::new()
            }
            Event::InitDone => {
                let list = buf.services.remove(&ns).unwrap_or_default();
                tracing::info!(services = list.len(), namespace = ?ns, "kubernetes: Services listed");
                cluster.replace_services(ns.as_deref(), list)
            }
            Event::Apply(o) => cluster.apply_service(o),
            Event::Delete(o) => cluster.delete_service(&o),
        },
        Item::Slice(ns, ev) => match *ev {
            Event::Init => {
                buf.slices.insert(ns, Vec::new());
                Vec::new()
            }
            Event::InitApply(o) => {
                buf.slices.entry(ns).or_default().push(o);
                Vec::new()
            }
            Event::InitDone => {
                let list = buf.slices.remove(&ns).unwrap_or_default();
                tracing::info!(slices = list.len(), namespace = ?ns, "kubernetes: EndpointSlices listed");
                cluster.replace_slices(ns.as_deref(), list)
            }
            Event::Apply(o) => cluster.apply_slice(o),
            Event::Delete(o) => cluster.delete_slice(&o),
        },
        Item::Failed(kind, e) => {
            tracing::warn!("kubernetes: {kind} watch: {e} (retrying; records kept)");
            Vec::new()
        }
    }
}

/// Watches `namespaces` (empty: all) and sends every record change to `sink` until shutdown
/// (or until the sink's receiver is gone). `synced` fires once every watcher has listed.
pub async fn run_watchers(
    client: Client,
    namespaces: &[String],
    mut cluster: Cluster,
    sink: SourceSender,
    mut shutdown: watch::Receiver<bool>,
    synced: Option<oneshot::Sender<()>>,
) -> anyhow::Result<()> {
    let mut synced = synced;
    let scopes: Vec<Option<String>> = if namespaces.is_empty() {
        vec![None]
    } else {
        namespaces.iter().cloned().map(Some).collect()
    };
    let mut streams = Vec::new();
    let stream_count = scopes.len() * 2;
    let mut listed: HashSet<(bool, Option<String>)> = HashSet::new();
    for ns in scopes {
        streams.push(services(&client, ns.clone()));
        streams.push(slices(&client, ns));
    }
    let mut events = stream::select_all(streams).ready_chunks(4096);
    let mut buf = InitBuffers::default();
    if sink.send(cluster.fixed()).is_err() {
        return Ok(());
    }
    loop {
        let batch = tokio::select! {
            b = events.next() => b,
            _ = shutdown.wait_for(|s| *s) => return Ok(()),
        };
        let Some(batch) = batch else {
            anyhow::bail!("kubernetes watchers ended");
        };
        let mut update: SourceUpdate = Vec::new();
        for item in batch {
            match &item {
                Item::Svc(ns, ev) if matches!(**ev, Event::InitDone) => {
                    listed.insert((true, ns.clone()))
                }
                Item::Slice(ns, ev) if matches!(**ev, Event::InitDone) => {
                    listed.insert((false, ns.clone()))
                }
                _ => false,
            };
            update.extend(handle(&mut cluster, &mut buf, item));
        }
        if !update.is_empty() && sink.send(update).is_err() {
            return Ok(());
        }
        if listed.len() == stream_count {
            if let Some(s) = synced.take() {
                let _ = s.send(());
            }
        }
    }
}
