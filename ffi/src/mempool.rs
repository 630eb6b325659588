//! Packet-buffer pools (`rte_pktmbuf_pool_create`).

use crate::eal::Eal;
use crate::error::{Error, Result};
use crate::mbuf::Mbuf;
use crate::raw;
use std::ffi::CString;
use std::ptr::NonNull;

/// A pool of packet buffers. Pools live until the process exits (DPDK ports may keep
/// references to them), so dropping a `MbufPool` does not free it.
#[derive(Debug, Clone, Copy)]
pub struct MbufPool {
    ptr: NonNull<raw::rte_mempool>,
}

// SAFETY: rte_mempool is a thread-safe object (lock-free ring + per-lcore caches).
unsafe impl Send for MbufPool {}
// SAFETY: see above; all operations used through &MbufPool are MT-safe in DPDK.
unsafe impl Sync for MbufPool {}

impl MbufPool {
    /// Create a pool of `n` mbufs with `data_room` bytes (headroom included) each, with a
    /// per-lcore cache of `cache` buffers, allocated on NUMA `socket` (-1 = any).
    pub fn create(
        _eal: &Eal,
        name: &str,
        n: u32,
        cache: u32,
        data_room: u16,
        socket: i32,
    ) -> Result<MbufPool> {
        let cname = CString::new(name).map_err(|_| Error::Invalid("pool name has NUL".into()))?;
        // SAFETY: EAL is initialised (we hold `Eal`); the name is a valid C string that DPDK
        // copies.
        let ptr =
            unsafe { raw::rte_pktmbuf_pool_create(cname.as_ptr(), n, cache, 0, data_room, socket) };
        NonNull::new(ptr)
            .map(|ptr| MbufPool { ptr })
            .ok_or_else(|| Error::from_rte_errno("rte_pktmbuf_pool_create"))
    }

    /// Allocate one mbuf (reset, empty). `None` when the pool is exhausted.
    #[inline]
    pub fn alloc(&self) -> Option<Mbuf> {
        // SAFETY: the pool pointer is valid for the life of the process.
        let m = unsafe { raw::rte_pktmbuf_alloc(self.ptr.as_ptr()) };
        NonNull::new(m).map(|p| {
            // SAFETY: freshly allocated, exclusively owned mbuf.
            unsafe { Mbuf::from_raw(p) }
        })
    }

    /// Buffers currently available (approximate under concurrency).
    pub fn available(&self) -> u32 {
        // SAFETY: valid pool pointer.
        unsafe { raw::rte_mempool_avail_count(self.ptr.as_ptr()) }
    }

    /// The raw pool pointer, for DPDK calls that take one.
    pub fn as_ptr(&self) -> *mut raw::rte_mempool {
        self.ptr.as_ptr()
    }
}
