//! Outstanding queries of one client in the DPDK mode, tracked in a small window.
//!
//! Same contract as [`crate::inflight::InFlight`] (start / get / complete / cancel /
//! expire / abandon), but IDs are consecutive sequence numbers and query `id` lives in
//! slot `id % W`, where `W` is the client's outstanding limit rounded up to a power of
//! two. The table stays in cache at millions of queries per second (InFlight keeps 65536
//! slots per client). A slot still busy when its turn comes again blocks sending until
//! the query is answered or expires. Expiry walks from the oldest ID in send order.

use crate::inflight::{Outstanding, Pending};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug)]
struct Slot {
    sent_at: Instant,
    query: u32,
    id: u16,
    busy: bool,
}

/// See the module docs.
#[derive(Debug)]
pub struct Window {
    slots: Vec<Slot>,
    mask: u16,
    next: u16,
    oldest: u16,
    outstanding: usize,
}

impl Window {
    /// A window for at most `max_outstanding` queries (1..=65536), IDs from `first_id`.
    pub fn new(max_outstanding: usize, first_id: u16) -> Window {
        let w = max_outstanding.clamp(1, 1 << 16).next_power_of_two();
        let slot = Slot {
            sent_at: Instant::now(),
            query: 0,
            id: 0,
            busy: false,
        };
        Window {
            slots: vec![slot; w],
            mask: (w - 1) as u16,
            next: first_id,
            oldest: first_id,
            outstanding: 0,
        }
    }

    /// Queries sent and neither answered nor expired.
    pub fn outstanding(&self) -> usize {
        self.outstanding
    }

    /// Record a query about to be sent; its ID, or `None` while the next slot is busy.
    #[inline]
    pub fn start(&mut self, query: u32, now: Instant) -> Option<u16> {
        let id = self.next;
        let slot = &mut self.slots[usize::from(id & self.mask)];
        if slot.busy {
            return None;
        }
        *slot = Slot {
            sent_at: now,
            query,
            id,
            busy: true,
        };
        self.next = id.wrapping_add(1);
        self.outstanding += 1;
        Some(id)
    }

    /// The outstanding query with this ID.
    #[inline]
    pub fn get(&self, id: u16) -> Option<Pending> {
        let slot = &self.slots[usize::from(id & self.mask)];
        (slot.busy && slot.id == id).then_some(Pending {
            query: slot.query,
            sent_at: slot.sent_at,
        })
    }

    /// Mark the query answered; `None` if it was not outstanding.
    #[inline]
    pub fn complete(&mut self, id: u16) -> Option<Pending> {
        let p = self.get(id)?;
        self.slots[usize::from(id & self.mask)].busy = false;
        self.outstanding -= 1;
        Some(p)
    }

    /// Take back a query that was not sent after all.
    #[inline]
    pub fn cancel(&mut self, id: u16) {
        let _ = self.complete(id);
    }

    /// Give up on queries sent at or before `now - timeout`; how many expired.
    pub fn expire(&mut self, now: Instant, timeout: Duration) -> u64 {
        let mut expired = 0;
        while self.oldest != self.next {
            let slot = &mut self.slots[usize::from(self.oldest & self.mask)];
            if slot.busy && slot.id == self.oldest {
                if now.saturating_duration_since(slot.sent_at) < timeout {
                    break;
                }
                slot.busy = false;
                self.outstanding -= 1;
                expired += 1;
            }
            self.oldest = self.oldest.wrapping_add(1);
        }
        expired
    }

    /// Give up on every outstanding query; how many there were.
    pub fn abandon_all(&mut self) -> u64 {
        for s in &mut self.slots {
            s.busy = false;
        }
        self.oldest = self.next;
        std::mem::take(&mut self.outstanding) as u64
    }
}

impl Outstanding for Window {
    fn pending(&self, id: u16) -> Option<Pending> {
        self.get(id)
    }
    fn finish(&mut self, id: u16) {
        self.complete(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_tracks_completes_and_blocks_on_busy_slot() {
        let t0 = Instant::now();
        let mut w = Window::new(3, 65534); // rounded up to 4 slots
        let ids: Vec<u16> = (0..4).map(|q| w.start(q, t0).unwrap()).collect();
        assert_eq!(ids, vec![65534, 65535, 0, 1], "consecutive, wrapping");
        assert_eq!(w.start(9, t0), None, "slot of the oldest still busy");
        assert_eq!(w.complete(65535).map(|p| p.query), Some(1));
        assert_eq!(w.complete(65535), None, "answered twice");
        assert_eq!(w.get(7), None);
        assert_eq!(w.start(9, t0), None, "next slot (65534's) still busy");
        assert_eq!(w.complete(65534).map(|p| p.query), Some(0));
        assert_eq!(w.start(9, t0), Some(2));
        assert_eq!(w.outstanding(), 3);
        w.cancel(2);
        assert_eq!(w.outstanding(), 2);
    }

    #[test]
    fn window_expires_in_send_order() {
        let t0 = Instant::now();
        let mut w = Window::new(8, 0);
        let a = w.start(0, t0).unwrap();
        let b = w.start(1, t0 + Duration::from_millis(10)).unwrap();
        let c = w.start(2, t0 + Duration::from_millis(900)).unwrap();
        w.complete(b);
        let timeout = Duration::from_secs(1);
        assert_eq!(w.expire(t0 + Duration::from_millis(500), timeout), 0);
        assert_eq!(w.expire(t0 + Duration::from_millis(1000), timeout), 1);
        assert!(w.get(a).is_none() && w.get(c).is_some());
        assert_eq!(w.abandon_all(), 1);
        assert_eq!(w.outstanding(), 0);
        assert!(w.start(3, t0).is_some());
    }
}
