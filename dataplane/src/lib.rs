//! Skylane's data plane.
//!
//! - [`name`], [`record`]: owned names and records handed over by the control plane.
//! - [`wire`]: zero-copy views over DNS messages and the in-place response writer.
//! - [`snapshot`]: the immutable, lock-free lookup table, swapped atomically.
//! - [`engine`]: the one answer engine every backend (socket, DPDK, TCP) calls.
//! - [`cache`]: the forward cache cores answer from, and the hand-off of misses.
//! - [`stats`]: per-core counters and sampled processing-time histograms.
//! - [`rrl`]: response rate limiting for every UDP path.
//! - [`socket`]: the kernel-socket backend (per-core pinned recvmmsg/sendmmsg loops).
//! - `dpdk` (feature `dpdk`): the kernel-bypass backend.

pub mod cache;
#[cfg(feature = "dpdk")]
pub mod dpdk;
pub mod engine;
pub mod name;
pub mod record;
pub mod rrl;
pub mod snapshot;
pub mod socket;
pub mod stats;
pub mod wire;

pub use name::Name;
pub use record::{Policy, RData, Record};
pub use snapshot::{NameChange, SharedSnapshot, Snapshot, ZoneConfig};
