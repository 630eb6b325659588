//! [`QueryRecorder`]: how a loop (socket core, DPDK core, TCP connection)
//! counts its queries into its [`Stats`] slot.
//!
//! Per query the loop calls [`QueryRecorder::start`] before the engine and
//! [`QueryRecorder::record`] after it. Only one query in `sample_every` is
//! sampled: its name goes into the slot's [`NameSketch`] and its processing
//! time into a histogram the recorder owns, which is added into the slot's
//! shared histogram every [`PUBLISH_EVERY`] samples or [`PUBLISH_INTERVAL`]
//! (with `try_lock`: if a reader holds the lock the samples wait for the next
//! turn). Nothing here allocates, blocks or panics per query.

use super::latency::new_histogram;
use super::top_names::question_name;
use super::{CoreCounters, SlotId, Stats};
use crate::engine::Verdict;
use crate::name::MAX_NAME_LEN;
use hdrhistogram::Histogram;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

/// Samples buffered before they are published.
pub const PUBLISH_EVERY: u32 = 256;
/// Longest time buffered samples wait (checked when a sample is taken or on `flush`).
pub const PUBLISH_INTERVAL: Duration = Duration::from_secs(1);

/// A sampled query in flight: when processing started.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    started: Instant,
}

/// Counts one loop's queries. See the module docs.
pub struct QueryRecorder {
    stats: Arc<Stats>,
    slot: SlotId,
    sample_every: u32,
    countdown: u32,
    /// Buffered samples (core loops); `None` records straight into the shared
    /// histogram with `try_lock` (TCP connections, which are many and short).
    local: Option<Histogram<u64>>,
    pending: u32,
    last_publish: Instant,
    qname: [u8; MAX_NAME_LEN],
}

impl QueryRecorder {
    /// A recorder for a long-running loop that owns `slot` (buffers samples).
    pub fn new(stats: Arc<Stats>, slot: SlotId) -> QueryRecorder {
        let mut r = QueryRecorder::unbuffered(stats, slot);
        r.local = Some(new_histogram());
        r.countdown = r.sample_every;
        r
    }

    /// A recorder without its own histogram, for one of many short-lived
    /// writers of a shared slot (TCP). Samples its first query.
    pub fn unbuffered(stats: Arc<Stats>, slot: SlotId) -> QueryRecorder {
        let sample_every = stats.sample_every();
        QueryRecorder {
            stats,
            slot,
            sample_every,
            countdown: 1,
            local: None,
            pending: 0,
            last_publish: Instant::now(),
            qname: [0; MAX_NAME_LEN],
        }
    }

    /// The slot's counters (rx/tx/send errors are counted by the loop).
    #[inline]
    pub fn counters(&self) -> &CoreCounters {
        self.stats.slot(self.slot).counters()
    }

    /// Call before answering the query in `query`; returns a sample for one
    /// query in `sample_every` (and counts its name).
    #[inline]
    pub fn start(&mut self, query: &[u8]) -> Option<Sample> {
        self.countdown -= 1;
        if self.countdown != 0 {
            return None;
        }
        self.countdown = self.sample_every;
        self.observe_name(query);
        Some(Sample {
            started: Instant::now(),
        })
    }

    /// Counts the engine's verdict (and finishes the sample, if any).
    #[inline]
    pub fn record(&mut self, verdict: &Verdict, sample: Option<Sample>) {
        match verdict {
            Verdict::Reply(r) => {
                self.counters()
                    .count_reply(r.rcode, r.qtype, r.truncated, r.fail_open)
            }
            Verdict::Drop(_) => self.counters().count_drop(),
            // Answered later by the forwarder, which counts it.
            Verdict::Forward(_) => {}
        }
        if let Some(s) = sample {
            self.finish(s);
        }
    }

    /// Counts a message dropped before it reached the engine (e.g. oversize).
    #[inline]
    pub fn record_drop(&mut self) {
        self.counters().count_drop();
    }

    #[cold]
    fn observe_name(&mut self, query: &[u8]) {
        if let Some(n) = question_name(query, &mut self.qname) {
            if let Ok(mut sketch) = self.stats.slot(self.slot).names.try_lock() {
                sketch.observe(&self.qname[..n]);
            }
        }
    }

    #[cold]
    fn finish(&mut self, sample: Sample) {
        let nanos = u64::try_from(sample.started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        match &mut self.local {
            Some(local) => {
                local.saturating_record(nanos);
                self.pending += 1;
                if self.pending >= PUBLISH_EVERY || self.last_publish.elapsed() >= PUBLISH_INTERVAL
                {
                    self.publish(false);
                }
            }
            None => {
                if let Ok(mut shared) = self.stats.slot(self.slot).latency.try_lock() {
                    shared.saturating_record(nanos);
                }
            }
        }
    }

    /// Publishes buffered samples if any are older than `PUBLISH_INTERVAL`.
    /// Loops call this when idle so samples do not wait for more traffic.
    pub fn flush(&mut self) {
        if self.pending > 0 && self.last_publish.elapsed() >= PUBLISH_INTERVAL {
            self.publish(false);
        }
    }

    fn publish(&mut self, wait: bool) {
        let Some(local) = &mut self.local else {
            return;
        };
        let shared = &self.stats.slot(self.slot).latency;
        let guard = if wait {
            Some(shared.lock().unwrap_or_else(PoisonError::into_inner))
        } else {
            shared.try_lock().ok()
        };
        if let Some(mut shared) = guard {
            // Same fixed bounds on both sides: adding cannot fail.
            let _ = shared.add(&*local);
            local.reset();
            self.pending = 0;
            self.last_publish = Instant::now();
        }
    }
}

impl Drop for QueryRecorder {
    fn drop(&mut self) {
        if self.pending > 0 {
            self.publish(true);
        }
    }
}
