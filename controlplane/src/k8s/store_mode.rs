//! `store` mode: one appliance, elected on an etcd lease, runs the watchers and writes the
//! records in SkyDNS layout under `[kubernetes] prefix`; every appliance in store mode reads
//! that prefix back (list, then watch) into its sync's extra record source, so all of them
//! answer the same names and any SkyDNS tool sees them.
//!
//! Layout: each record of a name is one key below the name's key, labelled with a hash of
//! the record (`/skydns-k8s/local/cluster/svc/default/web/x1f…` = `{"host":"10.96.0.10"}`),
//! the SkyDNS convention for a name with several records. The election key is
//! `<prefix>-leader`, created in a transaction only when absent and attached to the writer's
//! lease: when the writer dies its lease expires, the key goes, and another appliance takes
//! over (relisting the cluster and pruning stale keys). With the embedded store there is one
//! appliance, which always writes.

use super::model::Cluster;
use super::records::MapCtx;
use super::watch::run_watchers;
use super::{KubernetesSection, Tasks};
use crate::layout::{self, SkyValue};
use crate::store::etcd::EtcdStore;
use crate::store::{Store, WatchEvent};
use crate::sync::{source_channel, SourceSender, SourceUpdate};
use anyhow::Context;
use kube::Client;
use skylane_dataplane::name::Name;
use skylane_dataplane::record::{RData, Record};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, watch};

/// Lease of the elected writer, in seconds (a dead writer is replaced within about this).
const LEASE_TTL_S: i64 = 6;
const RETRY: Duration = Duration::from_secs(1);

/// Spawns the reader (every appliance) and the election + writer.
pub(super) fn spawn(
    section: &KubernetesSection,
    client: Client,
    ctx: MapCtx,
    store: Arc<Store>,
    tx: SourceSender,
    shutdown: &watch::Receiver<bool>,
    tasks: &mut Tasks,
) {
    let prefix = section.prefix.trim_end_matches('/').to_string();
    let (st, p, rx, ttl) = (store.clone(), prefix.clone(), shutdown.clone(), ctx.ttl);
    tasks.spawn(async move { ("kubernetes-reader", read_prefix(st, p, ttl, tx, rx).await) });
    let (namespaces, rx) = (section.namespaces.clone(), shutdown.clone());
    tasks.spawn(async move {
        let lead = lead(client, ctx, namespaces, store, prefix, rx);
        ("kubernetes", lead.await)
    });
}

/// Sleeps `d`; true when shutdown was requested meanwhile.
async fn pause(shutdown: &mut watch::Receiver<bool>, d: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => false,
        _ = shutdown.wait_for(|s| *s) => true,
    }
}

// ---------------------------------------------------------------- reading the prefix

/// What the reader knows: per owner name, its keys and their records.
type Known = BTreeMap<Name, BTreeMap<String, Vec<Record>>>;

/// The owner name and records of one key (`None`: not one of ours, or unusable).
fn parse(prefix: &str, key: &str, value: &[u8], ttl: u32) -> Option<(Name, Vec<Record>)> {
    let owner = layout::key_to_name(prefix, key)?.parent()?.to_lowercase();
    let v = SkyValue::from_json(value).ok()?;
    match layout::value_to_records(&owner, &v, ttl) {
        Ok(recs) => Some((owner, recs)),
        Err(e) => {
            tracing::warn!("kubernetes store key {key}: skipped: {e}");
            None
        }
    }
}

fn records_of(known: &Known, name: &Name) -> Vec<Record> {
    known
        .get(name)
        .map(|keys| keys.values().flatten().cloned().collect())
        .unwrap_or_default()
}

/// Lists then watches `prefix` and sends every change of its names to `tx`.
async fn read_prefix(
    store: Arc<Store>,
    prefix: String,
    ttl: u32,
    tx: SourceSender,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let root = format!("{prefix}/");
    let mut known = Known::new();
    loop {
        let listed = tokio::select! {
            r = store.list(&root) => r,
            _ = shutdown.wait_for(|s| *s) => return Ok(()),
        };
        let (kvs, rev) = match listed {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!("kubernetes: listing {root}: {e}");
                if pause(&mut shutdown, RETRY).await {
                    return Ok(());
                }
                continue;
            }
        };
        let mut next = Known::new();
        for kv in &kvs {
            if let Some((owner, recs)) = parse(&prefix, &kv.key, &kv.value, ttl) {
                next.entry(owner).or_default().insert(kv.key.clone(), recs);
            }
        }
        let names: BTreeSet<Name> = known.keys().chain(next.keys()).cloned().collect();
        let update: SourceUpdate = names
            .into_iter()
            .filter(|n| known.get(n) != next.get(n))
            .map(|n| {
                let recs = records_of(&next, &n);
                (n, recs)
            })
            .collect();
        known = next;
        if tx.send(update).is_err() {
            return Ok(());
        }
        let mut rx = match store.watch(&root, rev + 1).await {
            Ok(rx) => rx,
            Err(e) => {
                tracing::warn!("kubernetes: watching {root}: {e}");
                if pause(&mut shutdown, RETRY).await {
                    return Ok(());
                }
                continue;
            }
        };
        loop {
            let ev = tokio::select! {
                ev = rx.recv() => ev,
                _ = shutdown.wait_for(|s| *s) => return Ok(()),
            };
            let Some(ev) = ev else { break };
            let mut batch = vec![ev];
            while let Ok(more) = rx.try_recv() {
                batch.push(more);
            }
            let Some(touched) = apply_events(&prefix, ttl, &mut known, batch) else {
                break;
            };
            let update: SourceUpdate = touched
                .into_iter()
                .map(|n| {
                    let recs = records_of(&known, &n);
                    (n, recs)
                })
                .collect();
            if !update.is_empty() && tx.send(update).is_err() {
                return Ok(());
            }
        }
    }
}

/// Applies watch events to `known`; the touched names, or `None` when a relist is needed.
fn apply_events(
    prefix: &str,
    ttl: u32,
    known: &mut Known,
    batch: Vec<WatchEvent>,
) -> Option<BTreeSet<Name>> {
    let mut touched = BTreeSet::new();
    for ev in batch {
        match ev {
            WatchEvent::Put(kv) => {
                for keys in known.values_mut() {
                    keys.remove(&kv.key);
                }
                if let Some((owner, recs)) = parse(prefix, &kv.key, &kv.value, ttl) {
                    known.entry(owner.clone()).or_default().insert(kv.key, recs);
                    touched.insert(owner);
                }
            }
            WatchEvent::Delete { key, .. } => {
                let owner = layout::key_to_name(prefix, &key).and_then(|n| n.parent());
                if let Some(owner) = owner.map(|o| o.to_lowercase()) {
                    if let Some(keys) = known.get_mut(&owner) {
                        keys.remove(&key);
                        if keys.is_empty() {
                            known.remove(&owner);
                        }
                    }
                    touched.insert(owner);
                }
            }
            WatchEvent::Progress { .. } => {}
            WatchEvent::Resync => return None,
        }
    }
    Some(touched)
}

// ---------------------------------------------------------------- election and writing

/// Campaigns, and while elected runs the watchers and the writer; forever until shutdown.
async fn lead(
    client: Client,
    ctx: MapCtx,
    namespaces: Vec<String>,
    store: Arc<Store>,
    prefix: String,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let me = format!(
        "{}-{}",
        std::env::var("HOSTNAME").unwrap_or_else(|_| "skylane".into()),
        std::process::id()
    );
    let election = format!("{prefix}-leader");
    loop {
        let lease = match &*store {
            Store::Etcd(etcd) => match campaign(etcd, &election, &me, &mut shutdown).await {
                Some(lease) => Some(lease),
                None => return Ok(()),
            },
            Store::Embedded(_) => None,
        };
        tracing::info!(writer = %me, key = %election, "kubernetes: elected store writer");
        let term = Term {
            client: client.clone(),
            ctx: ctx.clone(),
            namespaces: namespaces.clone(),
            store: store.clone(),
            prefix: prefix.clone(),
        };
        let lease_id = lease.as_ref().map(|k| k.id());
        let ended = term.run(lease, shutdown.clone()).await;
        if let (Store::Etcd(etcd), Some(id)) = (&*store, lease_id) {
            let _ = etcd.revoke_lease(id).await;
        }
        match ended {
            Ok(()) => return Ok(()),
            Err(e) => tracing::warn!("kubernetes: store writer stepped down: {e:#}"),
        }
        if pause(&mut shutdown, RETRY).await {
            return Ok(());
        }
    }
}

/// Waits until this appliance created the election key on its own lease; `None` on shutdown.
async fn campaign(
    etcd: &EtcdStore,
    key: &str,
    me: &str,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<crate::store::etcd::KeepAlive> {
    loop {
        let attempt = async {
            let id = etcd.grant_lease(LEASE_TTL_S).await?;
            let mut keeper = etcd.keep_alive(id).await?;
            loop {
                if etcd
                    .create_with_lease(key, me.as_bytes().to_vec(), id)
                    .await?
                {
                    return Ok::<_, crate::store::StoreError>(keeper);
                }
                tokio::time::sleep(RETRY).await;
                if keeper.refresh(Duration::from_secs(5)).await? == 0 {
                    return Err(crate::store::StoreError::Etcd("lease expired".into()));
                }
            }
        };
        tokio::select! {
            r = attempt => match r {
                Ok(keeper) => return Some(keeper),
                Err(e) => tracing::warn!("kubernetes: election: {e}"),
            },
            _ = shutdown.wait_for(|s| *s) => return None,
        }
        if pause(shutdown, RETRY).await {
            return None;
        }
    }
}

/// One term as the writer.
struct Term {
    client: Client,
    ctx: MapCtx,
    namespaces: Vec<String>,
    store: Arc<Store>,
    prefix: String,
}

impl Term {
    /// Ok on shutdown; Err when the lease or the store was lost.
    async fn run(
        self,
        mut lease: Option<crate::store::etcd::KeepAlive>,
        shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        let (tx, mut rx) = source_channel();
        let (synced_tx, synced_rx) = oneshot::channel();
        let cluster = Cluster::new(self.ctx.clone());
        let watchers = run_watchers(
            self.client.clone(),
            &self.namespaces,
            cluster,
            tx,
            shutdown.clone(),
            Some(synced_tx),
        );
        let mut writer = Writer::load(self.store.clone(), &self.prefix).await?;
        let write = async {
            let mut synced = Some(synced_rx);
            loop {
                tokio::select! {
                    biased;
                    u = rx.recv() => {
                        let Some(mut u) = u else { return Ok(()) };
                        while let Ok(more) = rx.try_recv() {
                            u.extend(more);
                        }
                        writer.write(u).await?;
                    }
                    r = async { synced.as_mut().expect("guarded").await }, if synced.is_some() => {
                        synced = None;
                        if r.is_ok() {
                            writer.prune().await?;
                        }
                    }
                }
            }
        };
        let keep = async {
            let Some(k) = &mut lease else {
                return std::future::pending::<anyhow::Result<()>>().await;
            };
            loop {
                tokio::time::sleep(Duration::from_secs((LEASE_TTL_S / 3) as u64)).await;
                let left = k.refresh(Duration::from_secs(2)).await?;
                anyhow::ensure!(left > 0, "election lease expired");
            }
        };
        let mut stop = shutdown.clone();
        tokio::select! {
            r = watchers => r,
            r = write => r,
            r = keep => r,
            _ = stop.wait_for(|s| *s) => Ok(()),
        }
    }
}

/// The keys the writer has in the store, per owner name.
struct Writer {
    store: Arc<Store>,
    prefix: String,
    written: BTreeMap<Name, BTreeMap<String, Vec<u8>>>,
    /// Names the cluster has now (for pruning after the first full listing).
    live: BTreeSet<Name>,
}

/// The SkyDNS value of one record.
fn value_of(r: &Record) -> Option<SkyValue> {
    let mut v = SkyValue {
        ttl: r.ttl,
        ..SkyValue::default()
    };
    match &r.data {
        RData::A(ip) => v.host = ip.to_string(),
        RData::Aaaa(ip) => v.host = ip.to_string(),
        RData::Cname(t) | RData::Ptr(t) => v.host = t.to_string(),
        RData::Srv {
            priority,
            weight,
            port,
            target,
        } => {
            v.host = target.to_string();
            (v.priority, v.weight, v.port) = (*priority, *weight, *port);
        }
        RData::Txt(strings) => v.text = String::from_utf8_lossy(&strings.concat()).into_owned(),
        _ => return None,
    }
    Some(v)
}

/// FNV-1a of the record's data: a stable key label.
fn label_of(r: &Record) -> String {
    let text = format!("{:?}", r.data);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("x{h:016x}")
}

impl Writer {
    async fn load(store: Arc<Store>, prefix: &str) -> anyhow::Result<Writer> {
        let (kvs, _) = store
            .list(&format!("{prefix}/"))
            .await
            .with_context(|| format!("listing {prefix}"))?;
        let mut written: BTreeMap<Name, BTreeMap<String, Vec<u8>>> = BTreeMap::new();
        for kv in kvs {
            if let Some(owner) = layout::key_to_name(prefix, &kv.key).and_then(|n| n.parent()) {
                written
                    .entry(owner.to_lowercase())
                    .or_default()
                    .insert(kv.key, kv.value);
            }
        }
        Ok(Writer {
            store,
            prefix: prefix.to_string(),
            written,
            live: BTreeSet::new(),
        })
    }

    async fn write(&mut self, update: SourceUpdate) -> anyhow::Result<()> {
        let latest: BTreeMap<Name, Vec<Record>> = update.into_iter().collect();
        let (mut puts, mut deletes) = (Vec::new(), Vec::new());
        for (name, records) in latest {
            let base = layout::name_to_key(&self.prefix, &name);
            let desired: BTreeMap<String, Vec<u8>> = records
                .iter()
                .filter_map(|r| Some((format!("{base}/{}", label_of(r)), value_of(r)?.to_json())))
                .collect();
            let old = self.written.remove(&name).unwrap_or_default();
            deletes.extend(old.keys().filter(|k| !desired.contains_key(*k)).cloned());
            puts.extend(
                desired
                    .iter()
                    .filter(|(k, v)| old.get(*k) != Some(*v))
                    .map(|(k, v)| (k.clone(), v.clone())),
            );
            if desired.is_empty() {
                self.live.remove(&name);
            } else {
                self.live.insert(name.clone());
                self.written.insert(name, desired);
            }
        }
        self.apply(puts, deletes).await
    }

    /// Deletes every name in the store that the cluster no longer has.
    async fn prune(&mut self) -> anyhow::Result<()> {
        let stale: Vec<Name> = self
            .written
            .keys()
            .filter(|n| !self.live.contains(*n))
            .cloned()
            .collect();
        let mut deletes = Vec::new();
        for n in stale {
            deletes.extend(self.written.remove(&n).unwrap_or_default().into_keys());
        }
        if !deletes.is_empty() {
            tracing::info!(keys = deletes.len(), "kubernetes: pruned stale store keys");
        }
        self.apply(Vec::new(), deletes).await
    }

    /// Writes in transactions of at most `max_txn_ops` operations.
    async fn apply(
        &self,
        mut puts: Vec<(String, Vec<u8>)>,
        mut deletes: Vec<String>,
    ) -> anyhow::Result<()> {
        let max = self.store.max_txn_ops().max(1);
        while !puts.is_empty() || !deletes.is_empty() {
            let p: Vec<_> = puts.drain(..puts.len().min(max)).collect();
            let d: Vec<_> = deletes.drain(..deletes.len().min(max - p.len())).collect();
            self.store
                .apply_batch(p, d)
                .await
                .context("writing Kubernetes records")?;
        }
        Ok(())
    }
}
