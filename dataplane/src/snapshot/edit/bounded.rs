//! [`Bounded`]: the smallest [`MAX_SUBTREE_RRS`] distinct RDATAs of a subtree answer, each
//! with its smallest TTL, kept sorted (bytewise) in one byte buffer and one index vector: no
//! allocation per RDATA (building and comparing answers is the cost of the subtree pass).
//! Each kept RDATA also holds its first 8 bytes as a number, so most comparisons (all of
//! them between different A records) are one integer comparison, not a `memcmp` call.

use super::subtree::MAX_SUBTREE_RRS;
use crate::snapshot::rrset::{Item, RrData};
use std::cmp::Ordering;

/// One kept RDATA: its bytes in [`Bounded::buf`], its TTL, its [`prefix`].
#[derive(Clone, Copy)]
struct Slot {
    pre: u64,
    off: u32,
    len: u32,
    ttl: u32,
}

/// The first 8 bytes of `rdata` as a big-endian number (zero-padded): ordering two RDATAs
/// by it agrees with their bytewise order unless it is equal (then the bytes decide).
fn prefix(rdata: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = rdata.len().min(8);
    b[..n].copy_from_slice(&rdata[..n]);
    u64::from_be_bytes(b)
}

/// The smallest [`MAX_SUBTREE_RRS`] distinct RDATAs seen, each with its smallest TTL.
#[derive(Default, Clone)]
pub(crate) struct Bounded {
    buf: Vec<u8>,
    /// Sorted by RDATA (bytewise).
    idx: Vec<Slot>,
}

impl PartialEq for Bounded {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Bounded {
    fn bytes(&self, s: Slot) -> &[u8] {
        &self.buf[s.off as usize..(s.off + s.len) as usize]
    }

    /// Number of RDATAs kept.
    pub(crate) fn len(&self) -> usize {
        self.idx.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.idx.is_empty()
    }

    /// True when it holds [`MAX_SUBTREE_RRS`] RDATAs (more would push the largest out).
    pub(crate) fn is_full(&self) -> bool {
        self.idx.len() >= MAX_SUBTREE_RRS
    }

    /// (TTL, RDATA) in RDATA order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &[u8])> + '_ {
        self.idx.iter().map(|&s| (s.ttl, self.bytes(s)))
    }

    /// Bytewise order of slot `s` against `rdata` (whose [`prefix`] is `pre`).
    fn order(&self, s: Slot, pre: u64, rdata: &[u8]) -> Ordering {
        s.pre.cmp(&pre).then_with(|| self.bytes(s).cmp(rdata))
    }

    fn find(&self, rdata: &[u8]) -> Result<usize, usize> {
        self.find_with(prefix(rdata), rdata)
    }

    /// [`Bounded::find`] with `rdata`'s [`prefix`] already known.
    fn find_with(&self, pre: u64, rdata: &[u8]) -> Result<usize, usize> {
        self.idx.binary_search_by(|&s| self.order(s, pre, rdata))
    }

    /// The TTL kept for `rdata`, if it is kept.
    pub(crate) fn get(&self, rdata: &[u8]) -> Option<u32> {
        self.find(rdata).ok().map(|i| self.idx[i].ttl)
    }

    /// True when full and every RDATA from `rdata` on (bytewise) would be left out.
    pub(crate) fn rejects(&self, rdata: &[u8]) -> bool {
        self.is_full()
            && self
                .idx
                .last()
                .is_some_and(|&s| self.order(s, prefix(rdata), rdata) != Ordering::Greater)
    }

    /// Adds one record: a new RDATA enters when it is among the smallest; a known one keeps
    /// the smaller TTL.
    pub(crate) fn add(&mut self, ttl: u32, rdata: &[u8]) {
        // The common cases first: beyond (or at) the largest kept, or appended in order.
        let pre = prefix(rdata);
        let at = match self.idx.last() {
            None => 0,
            Some(&last) => match self.order(last, pre, rdata).reverse() {
                Ordering::Greater if self.is_full() => return,
                Ordering::Greater => self.idx.len(),
                Ordering::Equal => {
                    let n = self.idx.len() - 1;
                    self.idx[n].ttl = self.idx[n].ttl.min(ttl);
                    return;
                }
                Ordering::Less => match self.find_with(pre, rdata) {
                    Ok(i) => {
                        self.idx[i].ttl = self.idx[i].ttl.min(ttl);
                        return;
                    }
                    Err(i) => i,
                },
            },
        };
        let off = self.buf.len() as u32;
        self.buf.extend_from_slice(rdata);
        let len = rdata.len() as u32;
        self.idx.insert(at, Slot { pre, off, len, ttl });
        if self.idx.len() > MAX_SUBTREE_RRS {
            self.idx.pop();
        }
    }

    /// The records as an RRset of this type and kind.
    pub(crate) fn to_rrdata(&self, rtype: u16, kind: u8) -> RrData {
        let mut r = RrData::new(rtype, kind);
        r.items = self
            .iter()
            .map(|(ttl, rdata)| Item {
                ttl,
                rdata: rdata.into(),
            })
            .collect();
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_smallest_distinct_rdatas_with_their_smallest_ttl() {
        let mut b = Bounded::default();
        // In reverse order, with repeats: exercises insertion, not just appending.
        for i in (0..(MAX_SUBTREE_RRS as u32 + 40)).rev() {
            b.add(100 + i % 7, &i.to_be_bytes());
            b.add(50, &i.to_be_bytes());
        }
        assert!(b.is_full());
        assert_eq!(b.len(), MAX_SUBTREE_RRS);
        let kept: Vec<u32> = b
            .iter()
            .map(|(_, r)| u32::from_be_bytes(r.try_into().unwrap()))
            .collect();
        assert_eq!(kept, (0..MAX_SUBTREE_RRS as u32).collect::<Vec<_>>());
        assert!(b.iter().all(|(ttl, _)| ttl == 50));
        assert!(b.rejects(&(MAX_SUBTREE_RRS as u32).to_be_bytes()));
        assert!(!b.rejects(&3u32.to_be_bytes()));
        assert_eq!(b.get(&7u32.to_be_bytes()), Some(50));
        assert_eq!(b.get(&(MAX_SUBTREE_RRS as u32).to_be_bytes()), None);
        // A smaller RDATA pushes the largest out.
        b.add(9, &[0]);
        assert_eq!(b.len(), MAX_SUBTREE_RRS);
        assert_eq!(b.get(&[0]), Some(9));
        assert_eq!(b.get(&(MAX_SUBTREE_RRS as u32 - 1).to_be_bytes()), None);
    }

    #[test]
    fn orders_rdatas_of_any_length_bytewise() {
        // Short RDATAs of zero and small bytes: zero-padded prefixes must not decide the
        // order of `[1, 0]` against `[1]` or `[1, 0, 0]`.
        let mut x: u32 = 7;
        let mut model = std::collections::BTreeMap::<Vec<u8>, u32>::new();
        let mut b = Bounded::default();
        for i in 0..2000u32 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let len = (x >> 9) as usize % 12;
            let rdata: Vec<u8> = (0..len).map(|j| ((x >> (2 * j)) & 3) as u8).collect();
            let ttl = 10 + i % 7;
            b.add(ttl, &rdata);
            let t = model.entry(rdata).or_insert(ttl);
            *t = (*t).min(ttl);
        }
        let want: Vec<(u32, Vec<u8>)> = model
            .into_iter()
            .take(MAX_SUBTREE_RRS)
            .map(|(r, t)| (t, r))
            .collect();
        let got: Vec<(u32, Vec<u8>)> = b.iter().map(|(t, r)| (t, r.to_vec())).collect();
        assert_eq!(got, want);
        let last = &want[want.len() - 1].1;
        assert!(b.rejects(last) && !b.rejects(&want[0].1));
    }
}
