//! Agent membership. With etcd, each agent keeps `<heart-prefix>/<agent>` on a lease of
//! `lease-ttl-s` (kept alive every third of it) and watches the heart prefix for the live set;
//! a dead agent's key expires with its lease. With the embedded store there is one agent and
//! no lease: its heart key is written plainly and removed at shutdown.

use super::time::now_rfc3339;
use crate::store::etcd::EtcdStore;
use crate::store::{Store, WatchEvent};
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The live agents (sorted) and this agent's lease (`None`: lost, or no leases at all).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Live {
    pub agents: Vec<String>,
    pub lease: Option<i64>,
}

/// What an agent publishes in its heart key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeartInfo {
    pub targets: usize,
    pub panic: bool,
}

/// Where this agent's heartbeat lives.
#[derive(Clone)]
pub struct Heart {
    pub store: Arc<Store>,
    pub prefix: String,
    pub agent: String,
    pub ttl_s: u64,
}

impl Heart {
    pub fn key(&self) -> String {
        format!("{}/{}", self.prefix, self.agent)
    }

    fn value(&self, info: HeartInfo) -> Vec<u8> {
        json!({
            "agent": self.agent, "targets": info.targets, "panic": info.panic,
            "updated": now_rfc3339(),
        })
        .to_string()
        .into_bytes()
    }
}

/// Starts membership; the receiver sees the live set change.
pub fn start(
    heart: Heart,
    info: watch::Receiver<HeartInfo>,
    stop: watch::Receiver<bool>,
) -> watch::Receiver<Live> {
    match heart.store.as_ref() {
        Store::Embedded(_) => {
            let (tx, rx) = watch::channel(Live {
                agents: vec![heart.agent.clone()],
                lease: None,
            });
            tokio::spawn(async move {
                let _keep = tx;
                plain_heart(heart, info, stop).await;
            });
            rx
        }
        Store::Etcd(etcd) => {
            let (tx, rx) = watch::channel(Live::default());
            let tx = Arc::new(tx);
            let etcd = etcd.clone();
            tokio::spawn(keep_lease(
                heart.clone(),
                etcd.clone(),
                tx.clone(),
                info,
                stop.clone(),
            ));
            tokio::spawn(watch_agents(heart, tx, stop));
            rx
        }
    }
}

/// Embedded store: the heart key without a lease, removed at shutdown.
async fn plain_heart(
    heart: Heart,
    mut info: watch::Receiver<HeartInfo>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let value = heart.value(*info.borrow_and_update());
        if let Err(e) = heart.store.put(&heart.key(), value).await {
            tracing::warn!("health: writing the heart key: {e}");
        }
        tokio::select! {
            r = info.changed() => if r.is_err() { break },
            _ = stop.wait_for(|s| *s) => break,
        }
    }
    let _ = heart.store.delete(&heart.key()).await;
}

/// Grants a lease, puts the heart key on it and keeps it alive; re-grants when it is lost.
async fn keep_lease(
    heart: Heart,
    etcd: EtcdStore,
    live: Arc<watch::Sender<Live>>,
    mut info: watch::Receiver<HeartInfo>,
    mut stop: watch::Receiver<bool>,
) {
    let ttl = Duration::from_secs(heart.ttl_s);
    let every = (ttl / 3).max(Duration::from_millis(200));
    loop {
        let lease = match etcd.grant_lease(heart.ttl_s as i64).await {
            Ok(id) => id,
            Err(e) => {
                tracing::warn!("health: lease grant failed: {e}");
                if wait_or_stop(&mut stop, Duration::from_secs(1)).await {
                    return;
                }
                continue;
            }
        };
        let put = |i: HeartInfo| etcd.put_with_lease(vec![(heart.key(), heart.value(i))], lease);
        let first = *info.borrow_and_update();
        if let Err(e) = put(first).await {
            tracing::warn!("health: heart key write failed: {e}");
            continue;
        }
        tracing::info!(agent = %heart.agent, lease, "health: agent alive on its lease");
        live.send_modify(|l| l.lease = Some(lease));
        let mut last_ok = Instant::now();
        let mut keeper = None;
        let mut tick = tokio::time::interval(every);
        loop {
            enum Wake {
                Tick,
                Info,
                Stop,
            }
            let wake = tokio::select! {
                _ = tick.tick() => Wake::Tick,
                r = info.changed() => if r.is_ok() { Wake::Info } else { Wake::Tick },
                _ = stop.wait_for(|s| *s) => Wake::Stop,
            };
            match wake {
                Wake::Tick => {}
                Wake::Info => {
                    let next = *info.borrow_and_update();
                    let _ = put(next).await;
                    continue;
                }
                Wake::Stop => {
                    let _ = etcd.revoke_lease(lease).await;
                    return;
                }
            }
            if keeper.is_none() {
                keeper = etcd.keep_alive(lease).await.ok();
            }
            let ttl_left = match keeper.as_mut() {
                Some(k) => k.refresh(every).await,
                None => Err(crate::store::StoreError::Etcd(
                    "no keep-alive stream".into(),
                )),
            };
            match ttl_left {
                Ok(t) if t > 0 => last_ok = Instant::now(),
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!("health: lease keep-alive failed: {e}");
                    keeper = None;
                    if last_ok.elapsed() >= ttl {
                        break;
                    }
                }
            }
        }
        tracing::error!(agent = %heart.agent, lease, "health: lease lost; status writes stop until a new one is granted");
        live.send_modify(|l| l.lease = None);
    }
}

/// True when stopping.
async fn wait_or_stop(stop: &mut watch::Receiver<bool>, d: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => false,
        _ = stop.wait_for(|s| *s) => true,
    }
}

/// Lists then watches the heart prefix; publishes the live agents.
async fn watch_agents(
    heart: Heart,
    live: Arc<watch::Sender<Live>>,
    mut stop: watch::Receiver<bool>,
) {
    let prefix = format!("{}/", heart.prefix);
    let name_of = |key: &str| key.strip_prefix(prefix.as_str()).map(str::to_owned);
    loop {
        let listed = heart.store.list(&prefix).await;
        let (kvs, revision) = match listed {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!("health: listing agents: {e}");
                if wait_or_stop(&mut stop, Duration::from_secs(1)).await {
                    return;
                }
                continue;
            }
        };
        let mut agents: BTreeSet<String> = kvs.iter().filter_map(|kv| name_of(&kv.key)).collect();
        let publish = |agents: &BTreeSet<String>| {
            let list: Vec<String> = agents.iter().cloned().collect();
            live.send_if_modified(|l| {
                let changed = l.agents != list;
                l.agents = list;
                changed
            });
        };
        publish(&agents);
        let Ok(mut rx) = heart.store.watch(&prefix, revision + 1).await else {
            continue;
        };
        loop {
            let event = tokio::select! {
                e = rx.recv() => e,
                _ = stop.wait_for(|s| *s) => return,
            };
            match event {
                Some(WatchEvent::Put(kv)) => {
                    agents.extend(name_of(&kv.key));
                }
                Some(WatchEvent::Delete { key, .. }) => {
                    if let Some(a) = name_of(&key) {
                        agents.remove(&a);
                    }
                }
                Some(WatchEvent::Progress { .. }) => continue,
                Some(WatchEvent::Resync) | None => break,
            }
            publish(&agents);
        }
        if wait_or_stop(&mut stop, Duration::from_millis(200)).await {
            return;
        }
    }
}
