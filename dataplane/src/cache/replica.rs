//! A data-plane core's own index of the cache ([`Replica`]).
//!
//! Only the owning core reads or writes the map, so a hit takes no lock and
//! allocates nothing: hash the lowercased question, look up, check the
//! entry is the asked one and alive, write the reply. The control plane
//! sends [`Command`]s through the core's bounded ring; the core applies them
//! between batches ([`Replica::maintain`]). Inserting may grow the map (an
//! allocation on the fill path, never on the hit path); capacity is reserved
//! up front for the common case.

use super::{CacheShared, CoreCacheCounters, Entry, ForwardPolicy, ForwardRequest, ForwardSender};
use crossbeam::queue::ArrayQueue;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// A change to a core's index, from the control plane.
#[derive(Debug)]
pub enum Command {
    Insert(Arc<Entry>),
    /// Remove the entry with this key hash.
    Remove(u64),
    Clear,
}

/// Commands applied per [`Replica::maintain`] call (bounds the pause).
pub const MAINTAIN_BUDGET: usize = 1024;
/// A core adds its local hit count to the entry's shared counter every this
/// many hits (keeps the shared cache line mostly unwritten).
pub const HIT_PUBLISH_EVERY: u32 = 16;

/// The keys are already hashes: use them as they are.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

struct Slot {
    entry: Arc<Entry>,
    hits: u32,
}

/// What a lookup found.
pub enum Lookup<'a> {
    Hit {
        entry: &'a Entry,
        /// The entry is popular and near its end: ask for a refresh.
        prefetch: bool,
    },
    Miss,
}

/// One core's forwarding state: its cache index, the command ring it
/// drains, the hand-off channel for misses and the client policy.
pub struct Replica {
    map: HashMap<u64, Slot, BuildHasherDefault<Identity>>,
    commands: Arc<ArrayQueue<Command>>,
    shared: Arc<CacheShared>,
    generation: u64,
    core: u16,
    pub(crate) sender: ForwardSender,
    pub(crate) policy: Arc<ForwardPolicy>,
}

impl std::fmt::Debug for Replica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replica")
            .field("core", &self.core)
            .field("entries", &self.map.len())
            .finish()
    }
}

impl Replica {
    /// The replica of core index `core` (stats slot order).
    pub fn new(
        core: u16,
        capacity: usize,
        commands: Arc<ArrayQueue<Command>>,
        shared: Arc<CacheShared>,
        sender: ForwardSender,
        policy: Arc<ForwardPolicy>,
    ) -> Replica {
        let generation = shared.generation.load(Ordering::Acquire);
        Replica {
            map: HashMap::with_capacity_and_hasher(capacity, Default::default()),
            commands,
            shared,
            generation,
            core,
            sender,
            policy,
        }
    }

    pub fn core(&self) -> u16 {
        self.core
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub(crate) fn counters(&self) -> &CoreCacheCounters {
        // Replicas are made for indexes below the counter count; a bad index
        // falls back to slot 0 rather than panicking.
        let i = usize::from(self.core);
        self.shared
            .cores
            .get(i)
            .or_else(|| self.shared.cores.first())
            .unwrap_or_else(|| unreachable_counters())
    }

    /// Applies pending commands (at most [`MAINTAIN_BUDGET`]); call between
    /// batches.
    pub fn maintain(&mut self) {
        let generation = self.shared.generation.load(Ordering::Acquire);
        if generation != self.generation {
            self.generation = generation;
            self.map.clear();
        }
        for _ in 0..MAINTAIN_BUDGET {
            match self.commands.pop() {
                Some(Command::Insert(e)) => {
                    self.map.insert(e.hash, Slot { entry: e, hits: 0 });
                }
                Some(Command::Remove(h)) => {
                    self.map.remove(&h);
                }
                Some(Command::Clear) => self.map.clear(),
                None => break,
            }
        }
    }

    /// Looks up a question (`name` lowercased wire form) at `now`.
    #[inline]
    pub fn lookup(
        &mut self,
        name: &[u8],
        qtype: u16,
        qclass: u16,
        dnssec_ok: bool,
        now: u32,
    ) -> Lookup<'_> {
        let hash = super::key_hash(name, qtype, qclass, dnssec_ok);
        let usable = match self.map.get(&hash) {
            None => return Lookup::Miss,
            Some(s) => {
                let k = &s.entry.key;
                let same = &k.name[..] == name
                    && k.qtype == qtype
                    && k.qclass == qclass
                    && k.dnssec_ok == dnssec_ok;
                same && !s.entry.dead.load(Ordering::Relaxed) && s.entry.remaining(now).is_some()
            }
        };
        if !usable {
            // Expired, purged or a hash collision: the forwarder decides
            // (refresh, serve stale); the master still holds the entry.
            self.map.remove(&hash);
            return Lookup::Miss;
        }
        let prefetch_on = self.policy.prefetch;
        let Some(slot) = self.map.get_mut(&hash) else {
            return Lookup::Miss;
        };
        slot.hits = slot.hits.wrapping_add(1);
        let e = &*slot.entry;
        if slot.hits % HIT_PUBLISH_EVERY == 0 {
            e.hits
                .fetch_add(u64::from(HIT_PUBLISH_EVERY), Ordering::Relaxed);
        }
        if !e.referenced.load(Ordering::Relaxed) {
            e.referenced.store(true, Ordering::Relaxed);
        }
        let prefetch = prefetch_on
            && slot.hits >= 2
            && e.ttl >= PREFETCH_MIN_TTL
            && e.remaining(now).is_some_and(|r| r * 10 <= e.ttl)
            && !e.prefetching.load(Ordering::Relaxed)
            && !e.prefetching.swap(true, Ordering::Relaxed);
        Lookup::Hit { entry: e, prefetch }
    }

    /// Hands a miss (or a prefetch) to the forwarder; `false` if the channel
    /// is full.
    #[inline]
    pub fn hand_off(&self, req: ForwardRequest) -> bool {
        self.sender.try_send(req).is_ok()
    }
}

/// Entries whose TTL is shorter are not prefetched (they expire too fast
/// for a refresh to pay off).
pub const PREFETCH_MIN_TTL: u32 = 10;

#[cold]
fn unreachable_counters() -> &'static CoreCacheCounters {
    static FALLBACK: std::sync::OnceLock<CoreCacheCounters> = std::sync::OnceLock::new();
    FALLBACK.get_or_init(CoreCacheCounters::default)
}
