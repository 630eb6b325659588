//! The `skylane` binary's global allocator and its housekeeping.
//!
//! With glibc's malloc, the memory a snapshot build frees (its buffers, the previous table)
//! stayed resident in per-thread arenas: 1.6 GB resident for 0.29 GB in use with a
//! 1 M-name zone. mimalloc hands freed pages back, but only when some thread calls into it
//! after the purge delay; an idle appliance does not. [`release_freed_memory`], called
//! every second by [`spawn_releaser`], makes that happen (docs/performance.md, "Memory
//! (issue 11)").
//!
//! With the cargo feature `counting` (tests and benchmarks only, never the binary), the
//! `counting` module adds the counting allocator they install as their global allocator.

#[cfg(feature = "counting")]
pub mod counting;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The global allocator: `#[global_allocator] static GLOBAL: MiMalloc = MiMalloc;`.
pub use mimalloc::MiMalloc;

/// Returns pages that mimalloc freed at least its purge delay ago (program-wide) to the
/// system. Cheap when there is nothing to return; a no-op when mimalloc is not the global
/// allocator (its arenas are then empty).
pub fn release_freed_memory() {
    // SAFETY: `mi_collect` takes no pointers, may be called from any thread at any time
    // (it collects the calling thread's heap and purges expired arena pages).
    unsafe { libmimalloc_sys::mi_collect(false) }
}

/// Calls [`release_freed_memory`] every `every` on a thread of its own until `stop` is set.
/// `on_start` runs first on that thread (the caller keeps it off the data-plane cores).
pub fn spawn_releaser(
    every: Duration,
    stop: Arc<AtomicBool>,
    on_start: impl FnOnce() + Send + 'static,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("skylane-mem".into())
        .spawn(move || {
            on_start();
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(every);
                release_freed_memory();
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[global_allocator]
    static GLOBAL: MiMalloc = MiMalloc;

    /// Resident kB of this process.
    fn rss_kb() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    #[test]
    fn freed_memory_goes_back_to_the_system() {
        // 256 MiB in 64 KiB blocks (the size of a snapshot shard), touched, then freed.
        let blocks: Vec<Vec<u8>> = (0..4096).map(|i| vec![i as u8; 64 << 10]).collect();
        let full = rss_kb();
        drop(blocks);
        let stop = Arc::new(AtomicBool::new(false));
        let releaser = spawn_releaser(Duration::from_millis(100), stop.clone(), || {}).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while rss_kb() + 128 * 1024 > full {
            assert!(
                std::time::Instant::now() < deadline,
                "resident {} kB after freeing 256 MiB (was {full} kB)",
                rss_kb()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        stop.store(true, Ordering::Relaxed);
        releaser.join().unwrap();
    }
}
