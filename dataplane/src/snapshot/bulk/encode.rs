//! The node-encoding pass of a bulk build: each shard's node entries, then the child-list
//! chunks whose keys fall in that shard, into one buffer reserved at about its final size
//! (grown step by step, the buffers were copied into freshly faulted pages), shards in
//! parallel.

use super::tree::Tree;
use super::{chunks_for, slice, Pend, Span, KIND_DUP};
use crate::record::rtype;
use crate::snapshot::edit::{normalise_srv, Bounded};
use crate::snapshot::node::NodeHeader;
use crate::snapshot::rrset::{
    RrData, RrSlice, KIND_EXPLICIT, KIND_SUBTREE, KIND_SUBTREE_RAW, KIND_SYNTHETIC,
};
use crate::snapshot::shard::{begin_entry, end_entry};
use crate::snapshot::zone::ZoneRules;

/// The subtree answer of a leaf owning SRV records (`edit::subtree`: its own SRV records,
/// zone-file ones included, bounded and with CoreDNS's weights), made here so the subtree
/// pass never visits the leaves; `None` unless the name is served and has given SRV records.
fn leaf_srv_answer(pends: &[Pend], arena: &[u8]) -> Option<RrData> {
    let srv = |p: &&Pend| p.rtype == rtype::SRV && p.kind != KIND_DUP;
    let first = pends.first()?;
    if !first.configured || !pends.iter().filter(srv).any(|p| p.kind == KIND_EXPLICIT) {
        return None;
    }
    let mut set = Bounded::default();
    for p in pends.iter().filter(srv) {
        set.add(p.ttl, slice(arena, p.rdata, p.rdlen as usize));
    }
    Some(normalise_srv(&set.to_rrdata(rtype::SRV, KIND_SUBTREE_RAW)))
}

/// Read-only inputs of the node-encoding pass.
pub(super) struct Encoder<'x> {
    pub(super) rules: &'x ZoneRules,
    pub(super) arena: &'x [u8],
    pub(super) spans: &'x [Vec<Span>],
    pub(super) explicit: &'x [Vec<Pend>],
    pub(super) autos: &'x [Vec<Pend>],
    pub(super) tree: &'x Tree<'x>,
}

impl Encoder<'_> {
    /// About the bytes of shard `s`'s encoded entries (a little more for the common
    /// entries): reserved at once, not grown by copying into freshly faulted pages.
    fn estimate(&self, s: usize) -> usize {
        let items = |v: &[Pend], (a, b): (u32, u32)| -> usize {
            v[a as usize..b as usize]
                .iter()
                .map(|p| p.rdlen as usize + 26)
                .sum()
        };
        let spans: usize = self.spans[s]
            .iter()
            .map(|sp| {
                let synthetic = if sp.synthetic.is_some() { 256 } else { 0 };
                16 + sp.klen as usize
                    + items(&self.explicit[s], sp.explicit)
                    + items(&self.autos[s], sp.auto)
                    + synthetic
            })
            .sum();
        let ents: usize = self.tree.ents[s].iter().map(|e| 16 + e.0.len()).sum();
        spans + ents + self.tree.chunk_bytes(s)
    }

    /// The encoded node entries of shard `s`.
    pub(super) fn shard(&self, s: usize) -> Vec<u8> {
        let arena = self.arena;
        let default_ttl = self.rules.default_ttl();
        let mut buf = Vec::with_capacity(self.estimate(s));
        let mut items: Vec<(u32, &[u8])> = Vec::new();
        let mut ranges: Vec<(u16, u8, usize, usize)> = Vec::new();
        let empty = RrSlice {
            rtype: 0,
            kind: 0,
            items: &[],
        };
        for sp in &self.spans[s] {
            let key = slice(arena, sp.key, sp.klen as usize);
            items.clear();
            ranges.clear();
            for (pends, (a, b)) in [(&self.explicit[s], sp.explicit), (&self.autos[s], sp.auto)] {
                for p in &pends[a as usize..b as usize] {
                    if p.kind == KIND_DUP {
                        continue;
                    }
                    match ranges.last_mut() {
                        Some(r) if r.0 == p.rtype && r.1 == p.kind => r.3 += 1,
                        _ => ranges.push((p.rtype, p.kind, items.len(), items.len() + 1)),
                    }
                    items.push((p.ttl, slice(arena, p.rdata, p.rdlen as usize)));
                }
            }
            if let Some([so, sl, no, nl]) = sp.synthetic {
                for (t, o, l) in [(rtype::SOA, so, sl), (rtype::NS, no, nl)] {
                    ranges.push((t, KIND_SYNTHETIC, items.len(), items.len() + 1));
                    items.push((default_ttl, slice(arena, o, l as usize)));
                }
            }
            let leaf_srv = if self.tree.count(sp.children) == 0 && sp.synthetic.is_none() {
                leaf_srv_answer(
                    &self.explicit[s][sp.explicit.0 as usize..sp.explicit.1 as usize],
                    arena,
                )
            } else {
                None
            };
            let leaf_items: Vec<(u32, &[u8])> = leaf_srv
                .iter()
                .flat_map(|r| r.items.iter().map(|i| (i.ttl, &*i.rdata)))
                .collect();
            let mut small = [empty; 16];
            let mut large = Vec::new();
            let sets: &mut [RrSlice<'_>] = if leaf_srv.is_some() {
                large.extend(ranges.iter().map(|&(rtype, kind, a, b)| RrSlice {
                    rtype,
                    kind,
                    items: &items[a..b],
                }));
                large.push(RrSlice {
                    rtype: rtype::SRV,
                    kind: KIND_SUBTREE,
                    items: &leaf_items,
                });
                &mut large
            } else if ranges.len() <= small.len() {
                for (slot, &(rtype, kind, a, b)) in small.iter_mut().zip(&ranges) {
                    *slot = RrSlice {
                        rtype,
                        kind,
                        items: &items[a..b],
                    };
                }
                &mut small[..ranges.len()]
            } else {
                large.extend(ranges.iter().map(|&(rtype, kind, a, b)| RrSlice {
                    rtype,
                    kind,
                    items: &items[a..b],
                }));
                &mut large
            };
            let count = self.tree.count(sp.children);
            let start = begin_entry(&mut buf, key);
            NodeHeader {
                key,
                owner: slice(arena, sp.owner, sp.klen as usize),
                policy: self.rules.policy(key),
                child_count: count as u32,
                child_chunks: if count == 0 { 0 } else { chunks_for(count) },
            }
            .encode(sets, &mut buf);
            end_entry(&mut buf, start);
        }
        for &(key, owner, idx) in &self.tree.ents[s] {
            let count = self.tree.count(idx as u32);
            let start = begin_entry(&mut buf, key);
            NodeHeader {
                key,
                owner,
                policy: self.rules.policy(key),
                child_count: count as u32,
                child_chunks: chunks_for(count),
            }
            .encode(&mut [], &mut buf);
            end_entry(&mut buf, start);
        }
        self.tree.encode_chunks(s, &mut buf);
        buf
    }
}
