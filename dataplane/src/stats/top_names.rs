//! Sampled top-N queried names: a fixed-size Space-Saving table.
//!
//! Each slot owns one [`NameSketch`] of [`SKETCH_ENTRIES`] entries, updated
//! only on sampled queries (so the per-packet cost is nil). Names are kept as
//! lowercased wire bytes in fixed arrays: observing never allocates. When the
//! table is full, a new name replaces the least-counted entry and inherits its
//! count + 1 (Space-Saving), which keeps frequent names with bounded error.
//! [`crate::stats::Stats::top_names`] merges the tables of every slot.

use crate::name::MAX_NAME_LEN;

/// Entries per slot.
pub const SKETCH_ENTRIES: usize = 64;

#[derive(Clone, Copy)]
struct Entry {
    hash: u64,
    count: u64,
    len: u8,
    wire: [u8; MAX_NAME_LEN],
}

const EMPTY: Entry = Entry {
    hash: 0,
    count: 0,
    len: 0,
    wire: [0; MAX_NAME_LEN],
};

/// A fixed-size heavy-hitters table of query names. See the module docs.
pub struct NameSketch {
    entries: Box<[Entry; SKETCH_ENTRIES]>,
    used: usize,
}

impl Default for NameSketch {
    fn default() -> Self {
        NameSketch {
            entries: Box::new([EMPTY; SKETCH_ENTRIES]),
            used: 0,
        }
    }
}

/// FNV-1a: cheap, good enough to skip most byte comparisons.
fn hash(wire: &[u8]) -> u64 {
    wire.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

impl NameSketch {
    /// Counts one sighting of `wire` (lowercased, uncompressed; at most 255
    /// bytes — longer input is ignored). Never allocates.
    pub fn observe(&mut self, wire: &[u8]) {
        if wire.is_empty() || wire.len() > MAX_NAME_LEN {
            return;
        }
        let h = hash(wire);
        let used = &mut self.entries[..self.used];
        if let Some(e) = used
            .iter_mut()
            .find(|e| e.hash == h && &e.wire[..e.len as usize] == wire)
        {
            e.count += 1;
            return;
        }
        let (slot, count) = if self.used < SKETCH_ENTRIES {
            self.used += 1;
            (self.used - 1, 1)
        } else {
            let (i, min) = self
                .entries
                .iter()
                .enumerate()
                .min_by_key(|(_, e)| e.count)
                .map(|(i, e)| (i, e.count))
                .unwrap_or((0, 0));
            (i, min + 1)
        };
        let e = &mut self.entries[slot];
        e.hash = h;
        e.count = count;
        e.len = wire.len() as u8;
        e.wire[..wire.len()].copy_from_slice(wire);
    }

    /// The (wire name, sampled count) pairs held, in no particular order.
    pub fn entries(&self) -> impl Iterator<Item = (&[u8], u64)> {
        self.entries[..self.used]
            .iter()
            .map(|e| (&e.wire[..e.len as usize], e.count))
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.used = 0;
    }
}

/// Copies the question name of the DNS message `msg` into `out`, lowercased,
/// and returns its length. `None` if there is no readable uncompressed
/// question name (questions never use compression pointers in practice).
pub fn question_name(msg: &[u8], out: &mut [u8; MAX_NAME_LEN]) -> Option<usize> {
    const HEADER: usize = 12;
    let qdcount = u16::from_be_bytes([*msg.get(4)?, *msg.get(5)?]);
    if qdcount == 0 {
        return None;
    }
    let mut pos = HEADER;
    let mut n = 0;
    loop {
        let len = *msg.get(pos)? as usize;
        if len > 63 || n + 1 + len > MAX_NAME_LEN {
            return None;
        }
        out[n] = len as u8;
        let label = msg.get(pos + 1..pos + 1 + len)?;
        for (o, b) in out[n + 1..n + 1 + len].iter_mut().zip(label) {
            *o = b.to_ascii_lowercase();
        }
        n += 1 + len;
        pos += 1 + len;
        if len == 0 {
            return Some(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::Name;

    fn wire(s: &str) -> Vec<u8> {
        Name::from_ascii(s).unwrap().as_wire().to_vec()
    }

    fn count_of(s: &NameSketch, name: &[u8]) -> Option<u64> {
        s.entries().find(|(w, _)| *w == name).map(|(_, c)| c)
    }

    #[test]
    fn counts_repeated_names() {
        let mut s = NameSketch::default();
        let a = wire("a.example.");
        let b = wire("b.example.");
        for _ in 0..5 {
            s.observe(&a);
        }
        s.observe(&b);
        assert_eq!(count_of(&s, &a), Some(5));
        assert_eq!(count_of(&s, &b), Some(1));
        assert_eq!(s.entries().count(), 2);
    }

    #[test]
    fn heavy_hitter_survives_many_distinct_names() {
        let mut s = NameSketch::default();
        let hot = wire("hot.example.");
        for i in 0..10_000 {
            if i % 4 == 0 {
                s.observe(&hot);
            }
            s.observe(&wire(&format!("n{i}.example.")));
        }
        assert_eq!(s.entries().count(), SKETCH_ENTRIES);
        let top = s.entries().max_by_key(|(_, c)| *c).unwrap();
        assert_eq!(top.0, &hot[..]);
        assert!(top.1 >= 2_500, "space-saving never undercounts: {}", top.1);
    }

    #[test]
    fn question_name_is_lowercased() {
        let mut msg = vec![0u8; 12];
        msg[5] = 1;
        msg.extend_from_slice(&wire("WwW.Example.COM."));
        msg.extend_from_slice(&[0, 1, 0, 1]);
        let mut out = [0u8; MAX_NAME_LEN];
        let n = question_name(&msg, &mut out).unwrap();
        assert_eq!(&out[..n], &wire("www.example.com.")[..]);
        // Truncated name, no question, compression pointer: none.
        assert_eq!(question_name(&msg[..16], &mut out), None);
        let mut none = msg.clone();
        none[5] = 0;
        assert_eq!(question_name(&none, &mut out), None);
        let mut ptr = msg[..12].to_vec();
        ptr.extend_from_slice(&[0xc0, 12]);
        assert_eq!(question_name(&ptr, &mut out), None);
    }
}
