//! The master cache: the control plane's index of every entry, its memory
//! budget and eviction, and the fan-out of every change to the cores'
//! replicas (see `skylane_dataplane::cache`).
//!
//! Eviction is CLOCK (second chance): entries sit in a ring in insertion
//! order; when the budget is exceeded the hand takes the oldest entry,
//! drops it if it can no longer be served (expired beyond stale use) or was
//! not hit since the hand last passed, otherwise clears its reference bit
//! and moves on. It approximates LRU while the hit path only sets a bit
//! (cores never touch a shared list), and costs O(1) amortised per insert.

use crossbeam::queue::ArrayQueue;
use skylane_dataplane::cache::{now_secs, CacheShared, Command, Entry, Key};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Commands a core's ring holds before the master falls back to a full
/// clear of that core's index.
pub const RING_CAPACITY: usize = 16_384;
/// Per-entry bookkeeping beyond [`Entry::size`]: the master map and ring
/// slots plus one replica slot per core.
const INDEX_OVERHEAD: usize = 48;
const REPLICA_OVERHEAD: usize = 32;

#[derive(Default)]
struct Master {
    map: HashMap<u64, Arc<Entry>>,
    clock: VecDeque<u64>,
    bytes: usize,
}

/// The master index. Its lock is taken only by the control plane.
pub struct Cache {
    inner: Mutex<Master>,
    rings: Vec<Arc<ArrayQueue<Command>>>,
    pub shared: Arc<CacheShared>,
    /// Bytes the master index may hold (0: the cache is off); set by a live reload.
    budget: AtomicUsize,
    pub evictions: AtomicU64,
}

/// An entry as the API shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct EntryView {
    pub name: String,
    #[serde(rename = "type")]
    pub qtype: u16,
    pub dnssec_ok: bool,
    pub rcode: u16,
    /// Seconds left (0 once expired).
    pub ttl: u32,
    pub stale: bool,
    pub hits: u64,
    pub bytes: usize,
}

impl Cache {
    /// A cache of `budget` bytes (0 disables it) for `cores` data-plane cores.
    pub fn new(cores: usize, budget: usize) -> Arc<Cache> {
        Arc::new(Cache {
            inner: Mutex::new(Master::default()),
            rings: (0..cores)
                .map(|_| Arc::new(ArrayQueue::new(RING_CAPACITY)))
                .collect(),
            shared: CacheShared::new(cores),
            budget: AtomicUsize::new(budget),
            evictions: AtomicU64::new(0),
        })
    }

    pub fn enabled(&self) -> bool {
        self.budget.load(Ordering::Relaxed) > 0
    }

    /// A new byte budget (live reload): entries over it are evicted now; 0 empties and
    /// turns off the cache.
    pub fn set_budget(&self, budget: usize) {
        self.budget.store(budget, Ordering::Relaxed);
        if budget == 0 {
            self.purge_all();
        } else {
            let mut m = self.lock();
            self.evict(&mut m, now_secs());
        }
    }

    /// Core `i`'s command ring.
    pub fn ring(&self, i: usize) -> Option<Arc<ArrayQueue<Command>>> {
        self.rings.get(i).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Master> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn cost(&self, e: &Entry) -> usize {
        e.size() + INDEX_OVERHEAD + REPLICA_OVERHEAD * self.rings.len()
    }

    /// Entries and bytes held.
    pub fn usage(&self) -> (usize, usize) {
        let m = self.lock();
        (m.map.len(), m.bytes)
    }

    /// The entry for `key`, fresh or stale.
    pub fn get(&self, key: &Key) -> Option<Arc<Entry>> {
        let m = self.lock();
        m.map.get(&key.hash64()).filter(|e| e.key == *key).cloned()
    }

    /// Stores `entry` (replacing any entry of its key) and sends it to
    /// every core. With the cache disabled or a zero TTL it is only wrapped.
    pub fn insert(&self, entry: Entry) -> Arc<Entry> {
        let entry = Arc::new(entry);
        if !self.enabled() || entry.ttl == 0 {
            return entry;
        }
        let cost = self.cost(&entry);
        let mut m = self.lock();
        match m.map.insert(entry.hash, entry.clone()) {
            Some(old) => {
                m.bytes = m.bytes.saturating_sub(self.cost(&old)) + cost;
                old.dead.store(true, Ordering::Relaxed);
            }
            None => {
                m.bytes += cost;
                m.clock.push_back(entry.hash);
            }
        }
        self.broadcast(|| Command::Insert(entry.clone()));
        self.evict(&mut m, now_secs());
        entry
    }

    /// CLOCK until within budget (bounded: two passes over the ring).
    fn evict(&self, m: &mut Master, now: u32) {
        let mut steps = 2 * m.clock.len() + 1;
        let budget = self.budget.load(Ordering::Relaxed);
        while m.bytes > budget && steps > 0 {
            steps -= 1;
            let Some(h) = m.clock.pop_front() else {
                break;
            };
            let Some(e) = m.map.get(&h).cloned() else {
                continue; // purged earlier
            };
            if !e.gone(now) && e.referenced.swap(false, Ordering::Relaxed) {
                m.clock.push_back(h);
                continue;
            }
            self.remove_locked(m, h);
            self.evictions.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn remove_locked(&self, m: &mut Master, h: u64) {
        if let Some(e) = m.map.remove(&h) {
            m.bytes = m.bytes.saturating_sub(self.cost(&e));
            e.dead.store(true, Ordering::Relaxed);
            self.broadcast(|| Command::Remove(h));
        }
    }

    /// Drops entries that can no longer be served (not even stale).
    pub fn sweep(&self) {
        let now = now_secs();
        let mut m = self.lock();
        let gone: Vec<u64> = m
            .map
            .iter()
            .filter(|(_, e)| e.gone(now))
            .map(|(h, _)| *h)
            .collect();
        for h in gone {
            self.remove_locked(&mut m, h);
        }
        if m.clock.len() > 2 * m.map.len() + 64 {
            let Master { map, clock, .. } = &mut *m;
            clock.retain(|h| map.contains_key(h));
        }
    }

    /// Removes every entry; returns how many there were.
    pub fn purge_all(&self) -> usize {
        let mut m = self.lock();
        let n = m.map.len();
        for e in m.map.values() {
            e.dead.store(true, Ordering::Relaxed);
        }
        *m = Master::default();
        self.broadcast(|| Command::Clear);
        n
    }

    /// Removes every entry of `name` (lowercased wire form); returns how many.
    pub fn purge_name(&self, name: &[u8]) -> usize {
        let mut m = self.lock();
        let hits: Vec<u64> = m
            .map
            .values()
            .filter(|e| &e.key.name[..] == name)
            .map(|e| e.hash)
            .collect();
        for &h in &hits {
            self.remove_locked(&mut m, h);
        }
        hits.len()
    }

    /// The entries of `name` (lowercased wire form) as the API shows them.
    pub fn show(&self, name: &[u8]) -> Vec<EntryView> {
        let now = now_secs();
        let m = self.lock();
        let mut out: Vec<EntryView> = m
            .map
            .values()
            .filter(|e| &e.key.name[..] == name)
            .map(|e| EntryView {
                name: skylane_dataplane::name::Name::from_wire(&e.key.name)
                    .map_or_else(|_| String::from("?"), |n| n.to_string()),
                qtype: e.key.qtype,
                dnssec_ok: e.key.dnssec_ok,
                rcode: e.rcode,
                ttl: e.remaining(now).unwrap_or(0),
                stale: e.remaining(now).is_none(),
                hits: e.hits.load(Ordering::Relaxed),
                bytes: self.cost(e),
            })
            .collect();
        out.sort_by_key(|v| (v.qtype, v.dnssec_ok));
        out
    }

    /// Pushes a command to every core; a full ring makes that core clear
    /// its index instead (through the shared generation), so no core keeps
    /// an entry the master dropped.
    fn broadcast(&self, mut cmd: impl FnMut() -> Command) {
        for ring in &self.rings {
            if ring.push(cmd()).is_err() {
                self.shared.generation.fetch_add(1, Ordering::Release);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skylane_dataplane::cache::TtlLimits;

    const LIMITS: TtlLimits = TtlLimits {
        min_ttl: 0,
        max_ttl: 86_400,
        negative_max_ttl: 3600,
        failure_ttl: 2,
        stale_max_age: 0,
    };

    /// An upstream answer for `h<i>.example.test. A` (one record, TTL 300).
    fn entry(i: usize) -> Entry {
        let mut name = vec![];
        let label = format!("h{i}");
        name.push(label.len() as u8);
        name.extend_from_slice(label.as_bytes());
        name.extend_from_slice(b"\x07example\x04test\x00");
        let mut m = vec![0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
        m.extend_from_slice(&name);
        m.extend_from_slice(&[
            0, 1, 0, 1, 0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 0x2c, 0, 4, 10, 0, 0, 1,
        ]);
        let key = Key {
            name: name.into(),
            qtype: 1,
            qclass: 1,
            dnssec_ok: false,
        };
        Entry::from_response(key, &m, &LIMITS, now_secs()).unwrap()
    }

    #[test]
    fn stays_within_budget_and_keeps_referenced_entries() {
        let budget = 20_000;
        let cache = Cache::new(2, budget);
        let first = cache.insert(entry(0));
        for i in 1..1000 {
            // The first entry is hit all the time: CLOCK keeps it.
            first.referenced.store(true, Ordering::Relaxed);
            cache.insert(entry(i));
            assert!(cache.usage().1 <= budget, "over budget after {i}");
        }
        assert!(cache.evictions.load(Ordering::Relaxed) > 900);
        assert!(cache.get(&first.key).is_some(), "the hit entry survived");
        assert!(
            cache.get(&entry(1).key).is_none(),
            "an unhit old one was evicted"
        );
        let per_entry = cache.usage().1 / cache.usage().0;
        assert!(per_entry < 300, "{per_entry} bytes per A entry");
        assert_eq!(cache.purge_name(&first.key.name), 1);
        let left = cache.usage().0;
        assert_eq!(cache.purge_all(), left);
        assert_eq!(cache.usage(), (0, 0));
    }
}
