//! An extra record source merged into the snapshot by the sync (the Kubernetes sync in
//! `direct` mode, or its store-mode reader): it sends the complete new record set of each
//! changed name (empty = the name is gone). The sync keeps them beside the static records —
//! in every full build and in every per-name change — so there is still one snapshot and one
//! engine. Names under a source's zone belong to the source: store records of the same name
//! are replaced by the source's next update of it.

use skylane_dataplane::record::Record;
use skylane_dataplane::Name;
use tokio::sync::mpsc;

/// Complete record sets of changed names (an empty set removes the name).
pub type SourceUpdate = Vec<(Name, Vec<Record>)>;
/// Sending half, held by the source.
pub type SourceSender = mpsc::UnboundedSender<SourceUpdate>;
/// Receiving half, handed to the sync.
pub type SourceReceiver = mpsc::UnboundedReceiver<SourceUpdate>;

/// A new source channel.
pub fn source_channel() -> (SourceSender, SourceReceiver) {
    mpsc::unbounded_channel()
}

/// Optional parts of a sync: the last-known mirror, an extra record source and the proof of
/// what the start-up snapshot was built from.
#[derive(Default)]
pub struct SyncExtras {
    /// `<data-dir>/last-known`, kept current and served when the store cannot be listed.
    pub last_known: Option<std::path::PathBuf>,
    pub source: Option<SourceReceiver>,
    /// Lets an empty first list keep the live start-up snapshot instead of building it
    /// again (see [`StaticBuild`](super::StaticBuild)).
    pub first_build: Option<super::StaticBuild>,
}

/// Waits for the next update (never resolves without a source or once it closed).
pub(super) async fn next_update(source: &mut Option<SourceReceiver>) -> SourceUpdate {
    match source {
        Some(rx) => match rx.recv().await {
            Some(u) => u,
            None => {
                *source = None;
                std::future::pending().await
            }
        },
        None => std::future::pending().await,
    }
}

/// Keeps the latest record set of every name a source sent and forwards updates to the one
/// current subscriber. A sync restarted by a live reload (a new generation, with a fresh
/// [`SyncState`](super::SyncState)) subscribes again and first receives the source's whole
/// current state, so source names never go missing across a reload.
#[derive(Clone)]
pub struct SourceHub {
    inner: std::sync::Arc<std::sync::Mutex<HubState>>,
}

#[derive(Default)]
struct HubState {
    names: std::collections::BTreeMap<Name, Vec<Record>>,
    current: Option<SourceSender>,
}

impl SourceHub {
    /// Takes over `rx` (on a task of the current runtime; it ends when the source closes).
    pub fn spawn(mut rx: SourceReceiver) -> SourceHub {
        let hub = SourceHub {
            inner: Default::default(),
        };
        let inner = hub.inner.clone();
        tokio::spawn(async move {
            while let Some(update) = rx.recv().await {
                let mut state = inner.lock().unwrap_or_else(|e| e.into_inner());
                for (name, records) in &update {
                    if records.is_empty() {
                        state.names.remove(name);
                    } else {
                        state.names.insert(name.clone(), records.clone());
                    }
                }
                if let Some(tx) = &state.current {
                    // A closed subscriber (an ended generation) just misses it; the next
                    // one starts from the full state.
                    let _ = tx.send(update);
                }
            }
        });
        hub
    }

    /// A receiver that first yields the whole current state, then every later update.
    /// Replaces the previous subscriber.
    pub fn subscribe(&self) -> SourceReceiver {
        let (tx, rx) = source_channel();
        let mut state = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let full: SourceUpdate = state
            .names
            .iter()
            .map(|(n, r)| (n.clone(), r.clone()))
            .collect();
        if !full.is_empty() {
            let _ = tx.send(full);
        }
        state.current = Some(tx);
        rx
    }
}
