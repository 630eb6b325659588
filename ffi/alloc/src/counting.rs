//! A counting global allocator for tests and benchmarks (cargo feature `counting`; the
//! `skylane` binary never enables it): the system allocator, plus counters of the calls
//! that allocate (`alloc`, `realloc`; `alloc_zeroed` is the trait's default, through
//! `alloc`) and of the live and peak heap bytes.
//!
//! ```no_run
//! #[global_allocator]
//! static GLOBAL: skylane_alloc::counting::Counting = skylane_alloc::counting::Counting;
//! # fn main() {}
//! ```
//!
//! The counters are program-wide (every thread) and relaxed: read them around the code
//! measured, with nothing else allocating meanwhile.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// The counting allocator: forwards every call to [`System`].
pub struct Counting;

/// Calls that allocated or reallocated so far.
pub static CALLS: AtomicU64 = AtomicU64::new(0);
/// Heap bytes allocated and not yet freed.
pub static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);
/// The highest [`LIVE_BYTES`] seen since the start (or since the caller last stored a
/// value into it, e.g. the current [`LIVE_BYTES`] to measure a peak from there).
pub static PEAK_BYTES: AtomicUsize = AtomicUsize::new(0);

/// Counts `bytes` more live bytes.
fn grew(bytes: usize) {
    let now = LIVE_BYTES.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK_BYTES.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to the system allocator, under the same
// contract as our caller's; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        CALLS.fetch_add(1, Ordering::Relaxed);
        grew(layout.size());
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        CALLS.fetch_add(1, Ordering::Relaxed);
        if new_size > layout.size() {
            grew(new_size - layout.size());
        } else {
            LIVE_BYTES.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The calls are made on the allocator directly: the test binary's global allocator
    /// (and whatever else its threads allocate) stays out of the counts.
    #[test]
    fn counts_calls_and_live_and_peak_bytes() {
        let a = Counting;
        let layout = Layout::from_size_align(1000, 8).unwrap();
        let (calls, live) = (
            CALLS.load(Ordering::SeqCst),
            LIVE_BYTES.load(Ordering::SeqCst),
        );
        PEAK_BYTES.store(live, Ordering::SeqCst);
        // SAFETY: `layout` has a non-zero size; each pointer is freed once, with the layout
        // (or the size) it was last allocated with.
        unsafe {
            let p = a.alloc(layout);
            let q = a.alloc_zeroed(layout);
            assert!(!p.is_null() && !q.is_null() && *q == 0);
            let p = a.realloc(p, layout, 3000);
            assert_eq!(LIVE_BYTES.load(Ordering::SeqCst) - live, 4000);
            let grown = Layout::from_size_align(3000, 8).unwrap();
            let p = a.realloc(p, grown, 500);
            assert_eq!(LIVE_BYTES.load(Ordering::SeqCst) - live, 1500);
            a.dealloc(p, Layout::from_size_align(500, 8).unwrap());
            a.dealloc(q, layout);
        }
        assert_eq!(CALLS.load(Ordering::SeqCst) - calls, 4);
        assert_eq!(LIVE_BYTES.load(Ordering::SeqCst), live);
        assert_eq!(PEAK_BYTES.load(Ordering::SeqCst) - live, 4000);
    }
}
