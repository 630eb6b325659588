//! Packet buffers: an owned [`Mbuf`] (freed on drop) and a fixed-size [`Burst`] of them,
//! the unit of `rte_eth_rx_burst` / `rte_eth_tx_burst`.

use crate::raw;
use std::ptr::NonNull;

/// Largest burst handled at once (DPDK examples use 32).
pub const BURST: usize = 32;

/// One single-segment packet buffer, exclusively owned. Dropping it frees it.
#[derive(Debug)]
#[repr(transparent)]
pub struct Mbuf {
    ptr: NonNull<raw::rte_mbuf>,
}

// SAFETY: an mbuf owned by exactly one `Mbuf` can move between threads; DPDK's free path
// is thread-safe.
unsafe impl Send for Mbuf {}

impl Mbuf {
    /// Take ownership of a raw mbuf.
    ///
    /// # Safety
    /// `ptr` must be a valid mbuf that nothing else owns or will free.
    #[inline]
    pub unsafe fn from_raw(ptr: NonNull<raw::rte_mbuf>) -> Mbuf {
        Mbuf { ptr }
    }

    /// Give up ownership without freeing.
    #[inline]
    pub fn into_raw(self) -> NonNull<raw::rte_mbuf> {
        let p = self.ptr;
        std::mem::forget(self);
        p
    }

    #[inline]
    fn m(&self) -> &raw::rte_mbuf {
        // SAFETY: we own a valid mbuf.
        unsafe { self.ptr.as_ref() }
    }

    #[inline]
    fn m_mut(&mut self) -> &mut raw::rte_mbuf {
        // SAFETY: we own a valid mbuf exclusively.
        unsafe { self.ptr.as_mut() }
    }

    /// Bytes of data in the first segment.
    #[inline]
    pub fn data_len(&self) -> usize {
        self.m().data_len as usize
    }

    /// Number of segments (multi-segment packets are not parsed by Skylane).
    #[inline]
    pub fn nb_segs(&self) -> u16 {
        self.m().nb_segs
    }

    /// Bytes that can follow the data in the first segment.
    #[inline]
    pub fn tailroom(&self) -> usize {
        let m = self.m();
        (m.buf_len as usize).saturating_sub(m.data_off as usize + m.data_len as usize)
    }

    /// The data of the first segment.
    #[inline]
    pub fn data(&self) -> &[u8] {
        let m = self.m();
        // SAFETY: buf_addr + data_off .. + data_len lies inside the mbuf's buffer, which we own.
        unsafe {
            std::slice::from_raw_parts(
                (m.buf_addr as *const u8).add(m.data_off as usize),
                m.data_len as usize,
            )
        }
    }

    /// The data of the first segment, mutable, extended over the whole tailroom: the
    /// returned slice is `data_len() + tailroom()` bytes long. Use [`Mbuf::set_len`] after.
    #[inline]
    pub fn room_mut(&mut self) -> &mut [u8] {
        let room = self.data_len() + self.tailroom();
        let m = self.m_mut();
        // SAFETY: buf_addr + data_off .. + (buf_len - data_off) is inside the buffer we own
        // exclusively (refcnt is 1 for mbufs from rx_burst/alloc that we have not cloned).
        unsafe {
            std::slice::from_raw_parts_mut((m.buf_addr as *mut u8).add(m.data_off as usize), room)
        }
    }

    /// Set the data length of this single-segment packet (clamped to the room).
    #[inline]
    pub fn set_len(&mut self, len: usize) {
        let len = len.min(self.data_len() + self.tailroom()) as u16;
        let m = self.m_mut();
        m.data_len = len;
        m.pkt_len = len as u32;
    }

    /// Offload flags (RX status or TX requests, `consts::RTE_MBUF_F_*`).
    #[inline]
    pub fn ol_flags(&self) -> u64 {
        self.m().ol_flags
    }

    /// Replace the offload flags.
    #[inline]
    pub fn set_ol_flags(&mut self, flags: u64) {
        self.m_mut().ol_flags = flags;
    }

    /// Set the header lengths TX checksum offload needs.
    #[inline]
    pub fn set_tx_lens(&mut self, l2: u16, l3: u16, l4: u16) {
        // SAFETY: valid, exclusively owned mbuf.
        unsafe { raw::skylane_mbuf_set_tx_lens(self.ptr.as_ptr(), l2, l3, l4) }
    }

    /// RSS hash computed by the NIC (when RSS_HASH offload is on).
    #[inline]
    pub fn rss_hash(&self) -> u32 {
        // SAFETY: reading a plain integer from a union of integers.
        unsafe { self.m().__bindgen_anon_2.hash.rss }
    }

    /// Prefetch the first cache line of packet data.
    #[inline]
    pub fn prefetch_data(&self) {
        let m = self.m();
        // SAFETY: prefetch is a hint; the address is inside our buffer.
        unsafe {
            core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
                (m.buf_addr as *const i8).add(m.data_off as usize),
            )
        }
    }

    /// The raw pointer (still owned by `self`).
    #[inline]
    pub fn as_ptr(&self) -> *mut raw::rte_mbuf {
        self.ptr.as_ptr()
    }
}

impl Drop for Mbuf {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: we own the mbuf; freeing returns it (and its segments) to its pool.
        unsafe { raw::rte_pktmbuf_free(self.ptr.as_ptr()) }
    }
}

/// Up to [`BURST`] owned mbufs, stored contiguously as the pointer array DPDK wants.
/// Dropping a `Burst` frees the mbufs it still holds.
pub struct Burst {
    ptrs: [*mut raw::rte_mbuf; BURST],
    len: usize,
}

// SAFETY: a Burst exclusively owns its mbufs, like `Mbuf`.
unsafe impl Send for Burst {}

impl Default for Burst {
    fn default() -> Self {
        Burst::new()
    }
}

impl Burst {
    /// An empty burst.
    pub const fn new() -> Burst {
        Burst {
            ptrs: [std::ptr::null_mut(); BURST],
            len: 0,
        }
    }

    /// Mbufs held.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// No mbuf held.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Holds [`BURST`] mbufs.
    #[inline]
    pub fn is_full(&self) -> bool {
        self.len == BURST
    }

    /// Append `m`; gives it back when the burst is full.
    #[inline]
    pub fn push(&mut self, m: Mbuf) -> Result<(), Mbuf> {
        if self.len == BURST {
            return Err(m);
        }
        self.ptrs[self.len] = m.into_raw().as_ptr();
        self.len += 1;
        Ok(())
    }

    /// Take out the last mbuf held, if any.
    #[inline]
    pub fn pop(&mut self) -> Option<Mbuf> {
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        let p = NonNull::new(self.ptrs[self.len])?;
        // SAFETY: slots below the old `len` hold valid mbufs owned by this burst; the slot
        // is now outside `len`, so ownership moves to the returned `Mbuf` alone.
        Some(unsafe { Mbuf::from_raw(p) })
    }

    /// The data (first segment) of held mbuf `i`, `None` past the held ones: for looking
    /// at a whole received burst before handling its frames one by one.
    #[inline]
    pub fn data(&self, i: usize) -> Option<&[u8]> {
        if i >= self.len {
            return None;
        }
        // SAFETY: slots below `len` hold valid, non-null mbufs owned by this burst, and
        // `Mbuf` is a transparent wrapper of that pointer; the borrow of `self` keeps the
        // mbuf owned (and unmodified) while the slice lives.
        let m = unsafe { &*(self.ptrs.as_ptr().add(i) as *const Mbuf) };
        Some(m.data())
    }

    /// Take every mbuf out, in order, leaving the burst empty.
    #[inline]
    pub fn drain(&mut self) -> Drain<'_> {
        let len = self.len;
        self.len = 0;
        Drain {
            burst: self,
            next: 0,
            len,
        }
    }

    /// Free every mbuf held.
    #[inline]
    pub fn clear(&mut self) {
        for m in self.drain() {
            drop(m);
        }
    }

    /// Pointer to the free slots after the held mbufs, and their count (for rx_burst).
    #[inline]
    pub(crate) fn spare_raw(&mut self) -> (*mut *mut raw::rte_mbuf, usize) {
        // SAFETY: len <= BURST, so the pointer stays inside (or one past) the array.
        (
            unsafe { self.ptrs.as_mut_ptr().add(self.len) },
            BURST - self.len,
        )
    }

    /// Record that `n` more slots after the held ones were filled with owned mbufs.
    ///
    /// # Safety
    /// The `n` slots must hold valid mbufs now owned by this burst.
    #[inline]
    pub(crate) unsafe fn commit(&mut self, n: usize) {
        self.len = (self.len + n).min(BURST);
    }

    /// The held mbufs as raw pointers (for tx_burst).
    #[inline]
    pub(crate) fn held_raw(&mut self) -> (*mut *mut raw::rte_mbuf, usize) {
        (self.ptrs.as_mut_ptr(), self.len)
    }

    /// Forget the first `n` mbufs (handed over to the driver), shifting the rest down.
    #[inline]
    pub(crate) fn consume_front(&mut self, n: usize) {
        let n = n.min(self.len);
        self.ptrs.copy_within(n..self.len, 0);
        self.len -= n;
    }
}

impl Drop for Burst {
    fn drop(&mut self) {
        self.clear();
    }
}

/// Iterator returned by [`Burst::drain`]; frees what it does not yield.
pub struct Drain<'a> {
    burst: &'a mut Burst,
    next: usize,
    len: usize,
}

impl Drain<'_> {
    /// Prefetch the packet data of the mbuf `ahead` positions after the next one to be
    /// yielded (no-op past the end).
    #[inline]
    pub fn prefetch(&self, ahead: usize) {
        let i = self.next + ahead;
        if i < self.len {
            let p = self.burst.ptrs[i];
            // SAFETY: slots below `len` hold valid mbufs owned by this burst; we only read
            // two header fields and issue a prefetch hint.
            unsafe {
                let m = &*p;
                core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
                    (m.buf_addr as *const i8).add(m.data_off as usize),
                );
            }
        }
    }
}

impl Iterator for Drain<'_> {
    type Item = Mbuf;

    #[inline]
    fn next(&mut self) -> Option<Mbuf> {
        if self.next >= self.len {
            return None;
        }
        let p = self.burst.ptrs[self.next];
        self.next += 1;
        // SAFETY: slots below `len` held owned, non-null mbufs; ownership moves to the item
        // (the burst's len is already 0, so it will not free them again).
        NonNull::new(p).map(|p| unsafe { Mbuf::from_raw(p) })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.len - self.next;
        (n, Some(n))
    }
}

impl Drop for Drain<'_> {
    fn drop(&mut self) {
        for m in self.by_ref() {
            drop(m);
        }
    }
}
