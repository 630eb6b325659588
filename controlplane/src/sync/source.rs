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

/// Optional parts of a sync: the last-known mirror and an extra record source.
#[derive(Default)]
pub struct SyncExtras {
    /// `<data-dir>/last-known`, kept current and served when the store cannot be listed.
    pub last_known: Option<std::path::PathBuf>,
    pub source: Option<SourceReceiver>,
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
