//! Per-core statistics: counters, sampled processing times, sampled top names.
//!
//! A [`Stats`] owns one [`Slot`] per data-plane core plus one `tcp` slot
//! shared by every TCP connection. Each slot has a backend label
//! ([`Backend`]), its [`CoreCounters`], a shared latency histogram and a
//! [`NameSketch`]. Loops write through a [`QueryRecorder`] (one per core or
//! per connection); readers call [`Stats::report`], [`Stats::latency`] and
//! [`Stats::top_names`] at any time, without stopping the loops.

mod counters;
mod latency;
mod recorder;
mod top_names;

pub use counters::{
    qtype_bucket, rcode_bucket, CoreCounters, CounterSnapshot, QTYPE_BUCKETS, QTYPE_LABELS,
    RCODE_BUCKETS, RCODE_LABELS, RCODE_OTHER,
};
pub use latency::{LatencySummary, MAX_NANOS};
pub use recorder::{QueryRecorder, Sample};
pub use top_names::{question_name, NameSketch, SKETCH_ENTRIES};

use hdrhistogram::Histogram;
use rustc_hash::FxHashMap;
use std::sync::{Mutex, PoisonError};

/// Default sampling rate: one query in this many is timed and its name counted.
pub const DEFAULT_SAMPLE_EVERY: u32 = 64;

/// Which backend a slot counts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Socket,
    Dpdk,
    Tcp,
}

impl Backend {
    /// The label used in metrics: "socket", "dpdk" or "tcp".
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Socket => "socket",
            Backend::Dpdk => "dpdk",
            Backend::Tcp => "tcp",
        }
    }
}

/// Index of a slot in a [`Stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotId(usize);

/// One core's (or the TCP server's) statistics.
#[repr(align(128))]
pub struct Slot {
    counters: CoreCounters,
    backend: Backend,
    /// The CPU core this slot's loop runs on (None for TCP).
    core: Option<usize>,
    latency: Mutex<Histogram<u64>>,
    names: Mutex<NameSketch>,
}

impl Slot {
    fn new(backend: Backend, core: Option<usize>) -> Slot {
        Slot {
            counters: CoreCounters::new(backend != Backend::Tcp),
            backend,
            core,
            latency: Mutex::new(latency::new_histogram()),
            names: Mutex::new(NameSketch::default()),
        }
    }

    /// The live counters.
    pub fn counters(&self) -> &CoreCounters {
        &self.counters
    }
}

/// Statistics of every data-plane core and of the TCP server.
pub struct Stats {
    slots: Vec<Slot>,
    sample_every: u32,
}

/// Counters of one slot, as reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotReport {
    /// "socket", "dpdk" or "tcp".
    pub backend: &'static str,
    /// CPU core of the loop (None for TCP).
    pub core: Option<usize>,
    pub counters: CounterSnapshot,
}

/// Everything [`Stats::report`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsReport {
    /// One entry per data-plane core, then the TCP slot.
    pub slots: Vec<SlotReport>,
    /// Sum over all slots.
    pub total: CounterSnapshot,
    /// Sampled processing time over all slots.
    pub latency: LatencySummary,
    /// One query in this many is sampled.
    pub sample_every: u32,
}

/// A frequently queried name, from the sampled sketches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopName {
    /// Presentation form, lowercased.
    pub name: String,
    /// Sampled sightings (Space-Saving count: may overestimate rare names).
    pub sampled: u64,
    /// `sampled * sample_every`: estimated queries.
    pub estimated: u64,
}

impl Stats {
    /// One slot per core in `cores` (labelled `backend`) plus the TCP slot,
    /// sampling one query in [`DEFAULT_SAMPLE_EVERY`].
    pub fn new(backend: Backend, cores: &[usize]) -> Stats {
        Stats::with_sampling(backend, cores, DEFAULT_SAMPLE_EVERY)
    }

    /// Like [`Stats::new`] with a sampling rate (0 is taken as 1).
    pub fn with_sampling(backend: Backend, cores: &[usize], sample_every: u32) -> Stats {
        let mut slots: Vec<Slot> = cores.iter().map(|&c| Slot::new(backend, Some(c))).collect();
        slots.push(Slot::new(Backend::Tcp, None));
        Stats {
            slots,
            sample_every: sample_every.max(1),
        }
    }

    /// Slot of the `i`-th configured core (in the order given to `new`).
    /// `None` if there is no such core.
    pub fn core_slot(&self, i: usize) -> Option<SlotId> {
        (i + 1 < self.slots.len()).then_some(SlotId(i))
    }

    /// The slot shared by all TCP connections.
    pub fn tcp_slot(&self) -> SlotId {
        SlotId(self.slots.len() - 1)
    }

    /// Number of data-plane core slots.
    pub fn core_count(&self) -> usize {
        self.slots.len() - 1
    }

    /// One query in this many is sampled.
    pub fn sample_every(&self) -> u32 {
        self.sample_every
    }

    /// A slot.
    pub fn slot(&self, id: SlotId) -> &Slot {
        &self.slots[id.0]
    }

    /// Counters of every slot and their total, plus the merged latency.
    pub fn report(&self) -> StatsReport {
        let mut total = CounterSnapshot::default();
        let slots = self
            .slots
            .iter()
            .map(|s| {
                let counters = s.counters.snapshot();
                total.merge(&counters);
                SlotReport {
                    backend: s.backend.as_str(),
                    core: s.core,
                    counters,
                }
            })
            .collect();
        StatsReport {
            slots,
            total,
            latency: self.latency(),
            sample_every: self.sample_every,
        }
    }

    /// Sampled processing time merged over all slots (as last published).
    pub fn latency(&self) -> LatencySummary {
        let mut merged = latency::new_histogram();
        for s in &self.slots {
            let h = s.latency.lock().unwrap_or_else(PoisonError::into_inner);
            // Same bounds everywhere: adding cannot fail.
            let _ = merged.add(&*h);
        }
        LatencySummary::of(&merged)
    }

    /// Sampled processing times (ns) merged over all slots, for histogram
    /// exports such as Prometheus buckets.
    pub fn latency_histogram(&self) -> Histogram<u64> {
        let mut merged = latency::new_histogram();
        for s in &self.slots {
            let h = s.latency.lock().unwrap_or_else(PoisonError::into_inner);
            // Same bounds everywhere: adding cannot fail.
            let _ = merged.add(&*h);
        }
        merged
    }

    /// The `n` most queried names over all slots, most queried first.
    pub fn top_names(&self, n: usize) -> Vec<TopName> {
        let mut sum: FxHashMap<Vec<u8>, u64> = FxHashMap::default();
        for s in &self.slots {
            let sketch = s.names.lock().unwrap_or_else(PoisonError::into_inner);
            for (wire, count) in sketch.entries() {
                *sum.entry(wire.to_vec()).or_default() += count;
            }
        }
        let mut top: Vec<(Vec<u8>, u64)> = sum.into_iter().collect();
        top.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        top.truncate(n);
        top.into_iter()
            .map(|(wire, sampled)| TopName {
                name: crate::name::Name::from_wire(&wire)
                    .map(|n| n.to_string())
                    .unwrap_or_else(|_| String::from("<invalid>")),
                sampled,
                estimated: sampled * u64::from(self.sample_every),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{DropReason, Reply, Verdict};
    use crate::record::rtype;
    use std::sync::Arc;

    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        q.extend_from_slice(crate::Name::from_ascii(name).unwrap().as_wire());
        q.extend_from_slice(&qtype.to_be_bytes());
        q.extend_from_slice(&1u16.to_be_bytes());
        q
    }

    fn reply(rcode: u16, qtype: u16) -> Verdict {
        Verdict::Reply(Reply {
            len: 40,
            rcode,
            qtype,
            truncated: false,
            fail_open: false,
            name_hash: 0,
        })
    }

    #[test]
    fn slots_report_and_total() {
        let stats = Arc::new(Stats::with_sampling(Backend::Socket, &[3, 5], 2));
        assert_eq!(stats.core_count(), 2);
        assert!(stats.core_slot(2).is_none());
        let mut r0 = QueryRecorder::new(stats.clone(), stats.core_slot(0).unwrap());
        let mut r1 = QueryRecorder::new(stats.clone(), stats.core_slot(1).unwrap());
        let mut tcp = QueryRecorder::unbuffered(stats.clone(), stats.tcp_slot());
        let hot = query("Hot.Example.", rtype::A);
        let cold = query("cold.example.", rtype::SRV);
        for i in 0..10 {
            let s = r0.start(&hot);
            r0.record(&reply(0, rtype::A), s);
            let q = if i % 5 == 0 { &hot } else { &cold };
            let s = r1.start(q);
            r1.record(&reply(3, rtype::SRV), s);
        }
        let s = tcp.start(&hot);
        tcp.record(&Verdict::Drop(DropReason::NotAQuery), s);
        r0.record_drop();
        drop((r0, r1, tcp));

        let rep = stats.report();
        assert_eq!(rep.slots.len(), 3);
        assert_eq!(
            rep.slots
                .iter()
                .map(|s| (s.backend, s.core))
                .collect::<Vec<_>>(),
            vec![("socket", Some(3)), ("socket", Some(5)), ("tcp", None)]
        );
        assert_eq!(rep.slots[0].counters.queries, 11);
        assert_eq!(rep.slots[0].counters.dropped, 1);
        assert_eq!(rep.slots[1].counters.rcode[3], 10);
        assert_eq!(rep.slots[2].counters.dropped, 1);
        assert_eq!(rep.total.queries, 22);
        assert_eq!(rep.total.responses() + rep.total.dropped, rep.total.queries);
        assert_eq!(rep.total.qtype[qtype_bucket(rtype::SRV)], 10);
        // 5 + 5 buffered samples published on drop, + 1 direct TCP sample.
        assert_eq!(rep.latency.samples, 11);

        let top = stats.top_names(2);
        assert_eq!(top[0].name, "hot.example.");
        // r0 samples its 2nd, 4th.. query (5 x hot); r1 likewise (i = 1, 3, 5, 7, 9:
        // hot once at i = 5, cold 4 times); the TCP recorder samples its first (hot).
        assert_eq!(top[0].sampled, 7, "{top:?}");
        assert_eq!(top[0].estimated, top[0].sampled * 2);
        assert_eq!((top[1].name.as_str(), top[1].sampled), ("cold.example.", 4));
        assert_eq!(stats.top_names(10).len(), 2);
    }
}
