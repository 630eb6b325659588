//! Shared by the allocation tests: the counting global allocator
//! (`skylane_alloc::counting`, which counts calls), and a query writer using fixed buffers.
#![allow(dead_code)]

use skylane_alloc::counting::{Counting, CALLS};
use std::sync::atomic::Ordering;

#[global_allocator]
static GLOBAL: Counting = Counting;

pub fn query(buf: &mut [u8; 64], id: u16, name: &[u8], qtype: u16) -> usize {
    buf[..12].copy_from_slice(&[0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    buf[..2].copy_from_slice(&id.to_be_bytes());
    buf[12..12 + name.len()].copy_from_slice(name);
    let end = 12 + name.len();
    buf[end..end + 2].copy_from_slice(&qtype.to_be_bytes());
    buf[end + 2..end + 4].copy_from_slice(&1u16.to_be_bytes());
    end + 4
}

/// Runs `exchange(600)` to warm up (thread-locals, arc-swap debt slots, first
/// publishes), then asserts `exchange(1000)` answers all with no allocation.
/// `exchange(n)` sends `n` queries and returns how many were answered right.
pub fn assert_no_allocations(mut exchange: impl FnMut(u16) -> u32) {
    // The count moves: the counting allocator is this binary's global allocator.
    let before = CALLS.load(Ordering::SeqCst);
    drop(std::hint::black_box(Box::new(0u64)));
    assert!(
        CALLS.load(Ordering::SeqCst) > before,
        "allocations are not counted"
    );
    assert_eq!(exchange(600), 600);
    let before = CALLS.load(Ordering::SeqCst);
    let answered = exchange(1000);
    let after = CALLS.load(Ordering::SeqCst);
    assert_eq!(answered, 1000);
    assert_eq!(after - before, 0, "allocations during 1000 queries");
}
