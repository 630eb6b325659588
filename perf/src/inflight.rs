//! Outstanding queries of one socket, keyed by DNS message ID.
//!
//! IDs come from a FIFO free list, so a freed ID is reused as late as possible (a late answer to
//! an expired query is then unlikely to be mistaken for a newer one; the question is compared
//! too). Timeouts are found through a send-order queue: since every query has the same timeout,
//! the oldest outstanding query is always at its front. Entries of already answered queries are
//! dropped lazily when they reach the front.

use crate::report::Stats;
use crate::wire::{QueryTemplate, Response};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Number of distinct DNS message IDs.
pub const ID_SPACE: usize = 1 << 16;

#[derive(Clone, Copy, Debug)]
struct Slot {
    sent_at: Instant,
    query: u32,
    /// Send sequence number of the occupant; distinguishes reuses of the same ID.
    seq: u64,
    busy: bool,
}

/// An outstanding query returned when its answer arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pending {
    /// Index of the query in the query list.
    pub query: u32,
    /// When it was sent.
    pub sent_at: Instant,
}

/// Outstanding queries of one socket.
#[derive(Debug)]
pub struct InFlight {
    slots: Vec<Slot>,
    free: VecDeque<u16>,
    order: VecDeque<(u16, u64)>,
    next_seq: u64,
    outstanding: usize,
}

impl InFlight {
    /// An empty table; IDs are handed out starting at `first_id` (vary it per socket).
    pub fn new(first_id: u16) -> InFlight {
        let now = Instant::now();
        let slot = Slot {
            sent_at: now,
            query: 0,
            seq: 0,
            busy: false,
        };
        let free = (0..ID_SPACE)
            .map(|i| (i as u16).wrapping_add(first_id))
            .collect();
        InFlight {
            slots: vec![slot; ID_SPACE],
            free,
            order: VecDeque::new(),
            next_seq: 1,
            outstanding: 0,
        }
    }

    /// Queries sent and neither answered nor expired.
    pub fn outstanding(&self) -> usize {
        self.outstanding
    }

    /// Records a query about to be sent; returns its ID, or `None` when all 65536 are in use.
    pub fn start(&mut self, query: u32, now: Instant) -> Option<u16> {
        let id = self.free.pop_front()?;
        let seq = self.next_seq;
        self.next_seq += 1;
        self.slots[usize::from(id)] = Slot {
            sent_at: now,
            query,
            seq,
            busy: true,
        };
        self.order.push_back((id, seq));
        self.outstanding += 1;
        Some(id)
    }

    /// Takes back an ID whose query could not be sent after all (it is reused first).
    pub fn cancel(&mut self, id: u16) {
        let slot = &mut self.slots[usize::from(id)];
        if slot.busy {
            slot.busy = false;
            self.outstanding -= 1;
            self.free.push_front(id);
        }
    }

    /// The outstanding query with this ID, if any.
    pub fn get(&self, id: u16) -> Option<Pending> {
        let slot = &self.slots[usize::from(id)];
        slot.busy.then_some(Pending {
            query: slot.query,
            sent_at: slot.sent_at,
        })
    }

    /// Marks the query with this ID answered; returns it, or `None` if none was outstanding.
    pub fn complete(&mut self, id: u16) -> Option<Pending> {
        let slot = &mut self.slots[usize::from(id)];
        if !slot.busy {
            return None;
        }
        slot.busy = false;
        self.outstanding -= 1;
        self.free.push_back(id);
        Some(Pending {
            query: slot.query,
            sent_at: slot.sent_at,
        })
    }

    /// Gives up on queries sent at or before `now - timeout`; returns how many expired.
    pub fn expire(&mut self, now: Instant, timeout: Duration) -> u64 {
        let mut expired = 0;
        while let Some(&(id, seq)) = self.order.front() {
            let slot = &mut self.slots[usize::from(id)];
            if slot.busy && slot.seq == seq {
                if now.saturating_duration_since(slot.sent_at) < timeout {
                    break;
                }
                slot.busy = false;
                self.outstanding -= 1;
                self.free.push_back(id);
                expired += 1;
            }
            self.order.pop_front();
        }
        expired
    }

    /// Gives up on every outstanding query; returns how many there were.
    pub fn abandon_all(&mut self) -> u64 {
        let n = self.outstanding as u64;
        for (id, seq) in self.order.drain(..) {
            let slot = &mut self.slots[usize::from(id)];
            if slot.busy && slot.seq == seq {
                slot.busy = false;
                self.free.push_back(id);
            }
        }
        self.outstanding = 0;
        n
    }
}

/// The queries a run sends, by index: the question a response must echo.
pub trait Questions {
    /// Query `i`'s question section as sent (name, type, class).
    fn question(&self, i: usize) -> &[u8];
}

impl Questions for [QueryTemplate] {
    #[inline]
    fn question(&self, i: usize) -> &[u8] {
        self[i].question()
    }
}

/// A table of outstanding queries keyed by DNS ID (kernel-socket [`InFlight`],
/// DPDK `Window`).
pub trait Outstanding {
    /// The pending query with this ID, if any.
    fn pending(&self, id: u16) -> Option<Pending>;
    /// Marks the query with this ID answered.
    fn finish(&mut self, id: u16);
}

impl Outstanding for InFlight {
    fn pending(&self, id: u16) -> Option<Pending> {
        self.get(id)
    }
    fn finish(&mut self, id: u16) {
        self.complete(id);
    }
}

/// Matches one DNS payload to an outstanding query and counts it: completed
/// (with its latency) when the ID and the question match, else unexpected. A
/// response without a question (FORMERR and the like) is matched by ID alone.
pub fn match_response<Q: Questions + ?Sized>(
    outstanding: &mut impl Outstanding,
    stats: &mut Stats,
    templates: &Q,
    payload: &[u8],
    now: Instant,
) {
    let Ok(response) = Response::parse(payload) else {
        stats.unexpected += 1;
        return;
    };
    let id = response.id();
    let matched = outstanding.pending(id).filter(|p| {
        response.question_count() == 0
            || response.matches_question(templates.question(p.query as usize))
    });
    match matched {
        Some(pending) => {
            outstanding.finish(id);
            let latency = now.saturating_duration_since(pending.sent_at);
            stats.record_response(response.rcode(), response.truncated(), latency);
        }
        None => stats.unexpected += 1,
    }
}

/// Matches a query that came back unchanged from a reflector (dpdk-testpmd macswap): the
/// ID of an outstanding query followed by its question. Counted as a NOERROR answer.
pub fn match_reflected<Q: Questions + ?Sized>(
    outstanding: &mut impl Outstanding,
    stats: &mut Stats,
    templates: &Q,
    payload: &[u8],
    now: Instant,
) {
    let Some(id) = payload.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]])) else {
        stats.unexpected += 1;
        return;
    };
    let matched = outstanding.pending(id).filter(|p| {
        let question = templates.question(p.query as usize);
        payload.get(12..12 + question.len()) == Some(question)
    });
    match matched {
        Some(pending) => {
            outstanding.finish(id);
            let latency = now.saturating_duration_since(pending.sent_at);
            stats.record_response(0, false, latency);
        }
        None => stats.unexpected += 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_and_completes_queries() {
        let mut t = InFlight::new(100);
        let now = Instant::now();
        let a = t.start(5, now).unwrap();
        let b = t.start(6, now).unwrap();
        assert_eq!((a, b), (100, 101));
        assert_eq!(t.outstanding(), 2);
        assert_eq!(
            t.get(b),
            Some(Pending {
                query: 6,
                sent_at: now
            })
        );
        assert_eq!(
            t.complete(a),
            Some(Pending {
                query: 5,
                sent_at: now
            })
        );
        assert_eq!(
            t.complete(a),
            None,
            "second answer to the same ID is unexpected"
        );
        assert_eq!(t.get(a), None);
        assert_eq!(t.outstanding(), 1);
    }

    #[test]
    fn expires_only_old_unanswered_queries() {
        let mut t = InFlight::new(0);
        let t0 = Instant::now();
        let old = t.start(1, t0).unwrap();
        let answered = t.start(2, t0).unwrap();
        let young = t.start(3, t0 + Duration::from_millis(900)).unwrap();
        t.complete(answered);
        assert_eq!(
            t.expire(t0 + Duration::from_millis(500), Duration::from_secs(1)),
            0
        );
        assert_eq!(
            t.expire(t0 + Duration::from_millis(1000), Duration::from_secs(1)),
            1
        );
        assert_eq!(t.get(old), None);
        assert!(t.get(young).is_some());
        assert_eq!(t.outstanding(), 1);
        assert_eq!(t.complete(old), None, "late answer to an expired query");
        assert_eq!(t.abandon_all(), 1);
        assert_eq!(t.outstanding(), 0);
    }

    #[test]
    fn reused_id_is_not_expired_by_its_old_entry() {
        let mut t = InFlight::new(0);
        let t0 = Instant::now();
        let id = t.start(1, t0).unwrap();
        t.cancel(id);
        // Cancelled IDs are reused first.
        let again = t.start(2, t0 + Duration::from_secs(5)).unwrap();
        assert_eq!(again, id);
        assert_eq!(
            t.expire(t0 + Duration::from_secs(5), Duration::from_secs(1)),
            0
        );
        assert_eq!(t.get(id).map(|p| p.query), Some(2));
    }

    #[test]
    fn runs_out_of_ids_at_65536() {
        let mut t = InFlight::new(0);
        let now = Instant::now();
        for i in 0..ID_SPACE as u32 {
            assert!(t.start(i, now).is_some());
        }
        assert_eq!(t.start(0, now), None);
        assert_eq!(
            t.complete(42),
            Some(Pending {
                query: 42,
                sent_at: now
            })
        );
        assert_eq!(t.start(7, now), Some(42));
    }

    #[test]
    fn reflected_query_counts_only_with_its_own_id_and_question() {
        use crate::queryfile::{parse_name, QuerySpec};
        use crate::wire::QueryFlags;
        let spec = |name: &str| QuerySpec {
            name: parse_name(name).unwrap(),
            qtype: 1,
        };
        let templates = [
            QueryTemplate::new(&spec("a.example"), QueryFlags::default()),
            QueryTemplate::new(&spec("b.example"), QueryFlags::default()),
        ];
        let mut t = InFlight::new(7);
        let mut stats = Stats::new();
        let now = Instant::now();
        let id = t.start(0, now).unwrap();
        let mut frame = [0u8; 512];
        // The other question under the right ID, then a foreign ID: both unexpected.
        let n = templates[1].write_with_id(id, &mut frame).unwrap();
        match_reflected(&mut t, &mut stats, &templates[..], &frame[..n], now);
        let n = templates[0].write_with_id(id + 1, &mut frame).unwrap();
        match_reflected(&mut t, &mut stats, &templates[..], &frame[..n], now);
        assert_eq!(
            (stats.completed, stats.unexpected, t.outstanding()),
            (0, 2, 1)
        );
        let n = templates[0].write_with_id(id, &mut frame).unwrap();
        match_reflected(&mut t, &mut stats, &templates[..], &frame[..n], now);
        assert_eq!(
            (stats.completed, stats.rcodes[0], t.outstanding()),
            (1, 1, 0)
        );
        // A second copy finds nothing outstanding.
        match_reflected(&mut t, &mut stats, &templates[..], &frame[..n], now);
        assert_eq!(stats.unexpected, 3);
    }
}
