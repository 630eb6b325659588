//! Publishing a new snapshot, and freeing the one it replaces on a control-plane thread.
//!
//! The data-plane loops (and the TCP server) read the shared snapshot through arc-swap
//! `load()` guards. When a new snapshot is stored, arc-swap turns the guards still held on
//! the old one into real references, so without care the old snapshot is freed by whichever
//! thread drops the last of them: possibly a data-plane core, which would then free a whole
//! table (≈ 230 MB with 1 M names) inside its poll loop.
//!
//! [`publish`] is the one way a new snapshot becomes live: it swaps it in and hands the old
//! `Arc` to the reclaimer, a thread of its own (`skylane-reclaim`, started at the first
//! publish; it inherits that control-plane thread's CPU set, so it stays off the data-plane
//! cores). The reclaimer keeps every retired value until it holds the last reference
//! (`Arc::strong_count == 1`: once out of the `ArcSwap`, nobody can take a new reference),
//! checking every [`POLL`] while it holds any, and drops it there. It sleeps in a blocking
//! receive while it holds none. Readers are unchanged: lock-free, allocation-free.

use arc_swap::ArcSwap;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The reclaimer thread's name.
pub const RECLAIMER_THREAD: &str = "skylane-reclaim";
/// How often the reclaimer looks at the values it holds (only while it holds some). Loops
/// hold a guard for one burst, so the first or second look usually frees the value.
pub const POLL: Duration = Duration::from_millis(10);

/// A retired value: an `Arc` whose last reference the reclaimer waits for.
trait Retired: Send {
    /// True when this is the only strong reference left.
    fn is_last(&self) -> bool;
}

impl<T: Send + Sync> Retired for Arc<T> {
    fn is_last(&self) -> bool {
        Arc::strong_count(self) == 1
    }
}

/// Makes `next` the live value of `cell` (the shared snapshot) and hands the value it
/// replaces to the reclaimer, so that it is freed there, never on a reader's thread.
pub fn publish<T: Send + Sync + 'static>(cell: &ArcSwap<T>, next: Arc<T>) {
    retire(cell.swap(next));
}

/// Hands `old` to the reclaimer. If the reclaimer thread cannot be started, `old` is
/// dropped here (the caller's control-plane thread; a reader may then free it).
fn retire<T: Send + Sync + 'static>(old: Arc<T>) {
    if let Some(tx) = reclaimer() {
        // The receiver lives as long as the process: sending cannot fail.
        let _ = tx.send(Box::new(old));
    }
}

/// The reclaimer's queue, started on first use.
fn reclaimer() -> Option<&'static Sender<Box<dyn Retired>>> {
    static TX: OnceLock<Option<Sender<Box<dyn Retired>>>> = OnceLock::new();
    TX.get_or_init(|| {
        let (tx, rx) = mpsc::channel();
        match std::thread::Builder::new()
            .name(RECLAIMER_THREAD.into())
            .spawn(move || reclaim(rx))
        {
            Ok(_) => Some(tx),
            Err(e) => {
                tracing::warn!(
                    "cannot start the {RECLAIMER_THREAD} thread ({e}): replaced snapshots \
                     are freed by whichever thread drops them last"
                );
                None
            }
        }
    })
    .as_ref()
}

/// The reclaimer thread: holds retired values until each is its last reference, then drops
/// it. Returns when the queue is closed and nothing is held.
fn reclaim(rx: Receiver<Box<dyn Retired>>) {
    let mut held: Vec<Box<dyn Retired>> = Vec::new();
    loop {
        let received = if held.is_empty() {
            rx.recv().map_err(|_| RecvTimeoutError::Disconnected)
        } else {
            rx.recv_timeout(POLL)
        };
        match received {
            Ok(old) => held.push(old),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) if held.is_empty() => return,
            Err(RecvTimeoutError::Disconnected) => std::thread::sleep(POLL),
        }
        // Dropped here, on this thread, when nobody else holds them.
        held.retain(|old| !old.is_last());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skylane_dataplane::snapshot::{SharedSnapshot, Snapshot, ZoneConfig};
    use std::sync::mpsc::Sender;
    use std::sync::Barrier;

    /// Reports the name of the thread that drops it.
    struct Probe(Sender<String>);

    impl Drop for Probe {
        fn drop(&mut self) {
            let name = std::thread::current().name().unwrap_or("?").to_string();
            let _ = self.0.send(name);
        }
    }

    /// Waits (generously: this is no timing check) for the next drop report.
    fn dropped_on(rx: &mpsc::Receiver<String>) -> String {
        rx.recv_timeout(Duration::from_secs(60))
            .expect("the retired value was never dropped")
    }

    #[test]
    fn old_value_is_dropped_on_the_reclaimer_not_the_reader() {
        let (tx, drops) = mpsc::channel();
        let cell = Arc::new(ArcSwap::from_pointee(Probe(tx.clone())));
        let held = Arc::new(Barrier::new(2));
        let published = Arc::new(Barrier::new(2));
        let reader = {
            let (cell, held, published) = (cell.clone(), held.clone(), published.clone());
            std::thread::Builder::new()
                .name("reader".into())
                .spawn(move || {
                    // A guard, as the data-plane loops take one per burst.
                    let guard = cell.load();
                    held.wait();
                    published.wait();
                    drop(guard);
                })
                .unwrap()
        };
        held.wait();
        publish(&cell, Arc::new(Probe(tx)));
        assert!(drops.try_recv().is_err(), "dropped while a reader holds it");
        published.wait();
        reader.join().unwrap();
        assert_eq!(dropped_on(&drops), RECLAIMER_THREAD);
    }

    #[test]
    fn values_held_as_full_arcs_are_dropped_on_the_reclaimer_too() {
        let (tx, drops) = mpsc::channel();
        let cell = ArcSwap::from_pointee(Probe(tx.clone()));
        let first = cell.load_full();
        publish(&cell, Arc::new(Probe(tx.clone())));
        let second = cell.load_full();
        publish(&cell, Arc::new(Probe(tx)));
        std::thread::Builder::new()
            .name("reader".into())
            .spawn(move || drop((first, second)))
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(dropped_on(&drops), RECLAIMER_THREAD);
        assert_eq!(dropped_on(&drops), RECLAIMER_THREAD);
    }

    #[test]
    fn a_replaced_snapshot_is_freed() {
        let zone = Arc::new(ZoneConfig::default());
        let shared: SharedSnapshot =
            Arc::new(ArcSwap::from_pointee(Snapshot::build(zone.clone(), vec![])));
        let old = Arc::downgrade(&shared.load_full());
        publish(&shared, Arc::new(Snapshot::build(zone, vec![])));
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while old.strong_count() > 0 {
            assert!(std::time::Instant::now() < deadline, "never freed");
            std::thread::sleep(POLL);
        }
    }
}
