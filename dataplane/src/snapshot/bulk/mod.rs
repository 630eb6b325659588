//! Bulk build: compiles a whole record set into shards in a few linear passes
//! (records → per-shard pending items → sorted groups → encoded entries),
//! with one byte arena for every key and RDATA and no allocation per name.
//! `Snapshot::build` uses it; `apply` goes through the editor instead, and the
//! tests check that both give the same tables.

use super::autoptr::{AutoPtr, Input};
use super::children::{CHUNK_TARGET, MAX_CHUNKS};
use super::edit::Counters;
use super::edit::{normalise_srv, Bounded};
use super::hash::key_hash;
use super::node::NodeHeader;
use super::parallel::{parallel_by_shard, parallel_each_mut, parallel_shards};
use super::reverse::{reverse_name_into, REVERSE_APEXES};
use super::rrset::{
    kind_of, RrData, RrSlice, KIND_AUTO_PTR, KIND_EXPLICIT, KIND_SUBTREE, KIND_SUBTREE_RAW,
    KIND_SYNTHETIC,
};
use super::shard::{begin_entry, end_entry, shard_of, Shard, SHARD_COUNT};
use super::zone::ZoneRules;
use crate::record::{rtype, Record};
pub(crate) use tree::Parents;
use tree::{parent_link, push_edge, Edge, Tree};

mod tree;

/// Marks a duplicate record (dropped).
const KIND_DUP: u8 = 0xff;

/// One record waiting to be placed; offsets point into the build arena.
#[derive(Clone, Copy)]
struct Pend {
    hash: u64,
    /// Hash of the parent key (when linked to a parent, `p > 0`).
    phash: u64,
    key: u32,
    owner: u32,
    rdata: u32,
    rdlen: u32,
    ttl: u32,
    seq: u32,
    rtype: u16,
    klen: u8,
    kind: u8,
    /// Offset of the parent within the key, 0 when not linked to a parent.
    p: u8,
    configured: bool,
}

/// One node to encode: ranges of its pending items plus its synthetic apex data.
#[derive(Clone, Copy)]
struct Span {
    hash: u64,
    phash: u64,
    p: u8,
    key: u32,
    owner: u32,
    klen: u8,
    explicit: (u32, u32),
    auto: (u32, u32),
    /// (soa offset, soa len, ns offset, ns len) in the arena.
    synthetic: Option<[u32; 4]>,
    /// Index of the child list in [`Tree::lists`] (`NO_CHILDREN` if none).
    children: u32,
}

const NO_CHILDREN: u32 = u32::MAX;

/// Room left in each shard's span list for the synthetic apexes (step 3).
const APEX_SLACK: usize = 2;

/// Result of a bulk build.
pub(crate) struct Built {
    pub shards: Vec<Shard>,
    /// Where the subtree pass starts (`edit::subtree`): every served name with children,
    /// and every apex. A leaf has no subtree answer but for its own SRV records, which the
    /// encoder makes itself ([`leaf_srv_answer`]), so the leaves are never visited.
    pub parents: Parents,
    pub counters: Counters,
    pub reverse_active: [bool; 2],
    /// The auto-PTRs of the synthetic reverse trees.
    pub auto: AutoPtr,
}

fn slice(arena: &[u8], off: u32, len: usize) -> &[u8] {
    &arena[off as usize..off as usize + len]
}

fn push(arena: &mut Vec<u8>, b: &[u8]) -> u32 {
    let off = arena.len() as u32;
    arena.extend_from_slice(b);
    off
}

/// Number of child chunks for `count` children (what incremental growth reaches).
pub(crate) fn chunks_for(count: usize) -> u16 {
    let mut c: u16 = 1;
    while count > CHUNK_TARGET * c as usize && c < MAX_CHUNKS {
        c *= 2;
    }
    c
}

/// Sorts items by (hash, key, rtype, seq) and returns runs of equal keys.
fn sort_and_group(arena: &[u8], v: &mut [Pend]) -> Vec<(u32, u32)> {
    v.sort_unstable_by(|x, y| {
        x.hash
            .cmp(&y.hash)
            .then_with(|| {
                slice(arena, x.key, x.klen as usize).cmp(slice(arena, y.key, y.klen as usize))
            })
            .then(x.rtype.cmp(&y.rtype))
            .then(x.kind.cmp(&y.kind))
            .then(x.seq.cmp(&y.seq))
    });
    let mut runs = Vec::new();
    let mut start = 0;
    for i in 1..=v.len() {
        let same = i < v.len()
            && v[i].hash == v[start].hash
            && slice(arena, v[i].key, v[i].klen as usize)
                == slice(arena, v[start].key, v[start].klen as usize);
        if !same {
            runs.push((start as u32, i as u32));
            start = i;
        }
    }
    runs
}

/// The owner (as written) of a run of one name's records: that of its first record given.
fn run_owner(run: &[Pend]) -> u32 {
    run.iter().min_by_key(|p| p.seq).map_or(0, |p| p.owner)
}

/// Marks records with the same type and RDATA as a kept earlier one
/// (`fold_case`: compare ASCII case-insensitively) and lowers the kept TTL.
fn mark_duplicates(arena: &[u8], run: &mut [Pend], fold_case: bool) {
    let same = |a: &Pend, b: &Pend| {
        let (x, y) = (
            slice(arena, a.rdata, a.rdlen as usize),
            slice(arena, b.rdata, b.rdlen as usize),
        );
        if fold_case {
            x.eq_ignore_ascii_case(y)
        } else {
            x == y
        }
    };
    for i in 1..run.len() {
        let (kept, rest) = run.split_at_mut(i);
        let cur = &mut rest[0];
        let first_same_type = kept
            .iter()
            .rposition(|p| p.rtype != cur.rtype)
            .map_or(0, |p| p + 1);
        if let Some(k) = kept[first_same_type..]
            .iter_mut()
            .find(|k| k.kind != KIND_DUP && k.kind == cur.kind && same(k, cur))
        {
            k.ttl = k.ttl.min(cur.ttl);
            cur.kind = KIND_DUP;
        }
    }
}

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
struct Encoder<'x> {
    rules: &'x ZoneRules,
    arena: &'x [u8],
    spans: &'x [Vec<Span>],
    explicit: &'x [Vec<Pend>],
    autos: &'x [Vec<Pend>],
    tree: &'x Tree<'x>,
}

impl Encoder<'_> {
    /// The encoded node entries of shard `s`.
    fn shard(&self, s: usize) -> Vec<u8> {
        let arena = self.arena;
        let default_ttl = self.rules.default_ttl();
        let mut buf = Vec::new();
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
        buf
    }
}

/// Compiles `records` into a complete shard table.
pub(crate) fn build(rules: &ZoneRules, records: Vec<Record>, serial: u32) -> Built {
    let mut counters = Counters::default();
    let mut arena: Vec<u8> = Vec::with_capacity(records.len() * 100 + 1024);
    let per_shard = records.len() / SHARD_COUNT + records.len() / SHARD_COUNT / 4 + 4;
    let mut explicit: Vec<Vec<Pend>> = (0..SHARD_COUNT)
        .map(|_| Vec::with_capacity(per_shard))
        .collect();
    let default_ttl = rules.default_ttl();
    let mut lower = Vec::with_capacity(256);

    // 1. Accepted records into per-shard pending lists.
    for (seq, r) in records.iter().enumerate() {
        let owner = r.name.as_wire();
        lower.clear();
        lower.extend(owner.iter().map(u8::to_ascii_lowercase));
        let t = r.data.rtype();
        let configured = rules.is_configured(&lower);
        let accepted = configured || (t == rtype::PTR && rules.reverse_family(&lower).is_some());
        if !accepted {
            counters.ignored += 1;
            continue;
        }
        let key = push(&mut arena, &lower);
        let owner_off = if *owner == *lower {
            key
        } else {
            push(&mut arena, owner)
        };
        let rdata = arena.len() as u32;
        r.data.write_wire(&mut arena);
        let hash = key_hash(&lower);
        let (p, phash) = parent_link(rules, &lower);
        explicit[shard_of(hash)].push(Pend {
            hash,
            phash,
            key,
            owner: owner_off,
            rdata,
            rdlen: arena.len() as u32 - rdata,
            ttl: if r.ttl == 0 { default_ttl } else { r.ttl },
            seq: seq as u32,
            rtype: t,
            klen: lower.len() as u8,
            kind: kind_of(r),
            p,
            configured,
        });
    }
    drop(records);

    // 2. Group by name, drop duplicates, count, emit auto-PTRs.
    let mut spans: Vec<Vec<Span>> = (0..SHARD_COUNT).map(|_| Vec::new()).collect();
    // Auto-PTRs in the table: only those inside a configured domain (rare).
    let mut autos: Vec<Vec<Pend>> = (0..SHARD_COUNT).map(|_| Vec::new()).collect();
    let mut auto_in: [Vec<Input>; 2] = Default::default();
    let mut rkey = Vec::with_capacity(80);
    let all_runs = parallel_each_mut(&mut explicit, |v| {
        let runs = sort_and_group(&arena, v);
        for &(a, b) in &runs {
            mark_duplicates(&arena, &mut v[a as usize..b as usize], false);
        }
        runs
    });
    for (s, runs) in all_runs.iter().enumerate() {
        let v = &explicit[s];
        for &(a, b) in runs {
            let run = &v[a as usize..b as usize];
            let first = run[0];
            let owner = run_owner(run);
            let kept = run.iter().filter(|p| p.kind != KIND_DUP).count();
            let key = slice(&arena, first.key, first.klen as usize);
            let configured = first.configured;
            counters.records += kept;
            counters.names += 1;
            if !configured {
                if let Some(f) = rules.reverse_family(key) {
                    counters.reverse_explicit[f] += kept;
                }
            }
            if configured && rules.config.auto_ptr {
                for p in run.iter().filter(|p| p.kind != KIND_DUP) {
                    if p.rtype != rtype::A && p.rtype != rtype::AAAA {
                        continue;
                    }
                    rkey.clear();
                    let addr = slice(&arena, p.rdata, p.rdlen as usize);
                    if !reverse_name_into(addr, &mut rkey) {
                        continue;
                    }
                    // In the synthetic reverse tree: kept by address (`autoptr`), no node.
                    if !rules.is_configured(&rkey) {
                        let input = Input::new(addr, p.seq, p.ttl, owner, first.klen);
                        if let Some((f, i)) = input {
                            auto_in[f].push(i);
                        }
                        continue;
                    }
                    let hash = key_hash(&rkey);
                    let (rp, rphash) = parent_link(rules, &rkey);
                    let k = push(&mut arena, &rkey);
                    autos[shard_of(hash)].push(Pend {
                        hash,
                        phash: rphash,
                        key: k,
                        owner: k,
                        rdata: owner,
                        rdlen: u32::from(first.klen),
                        ttl: p.ttl,
                        seq: p.seq,
                        rtype: rtype::PTR,
                        klen: rkey.len() as u8,
                        kind: KIND_AUTO_PTR,
                        p: rp,
                        configured: false,
                    });
                }
            }
        }
    }
    let auto = AutoPtr::build(auto_in, &arena);
    let auto_runs = parallel_each_mut(&mut autos, |v| {
        let runs = sort_and_group(&arena, v);
        for &(a, b) in &runs {
            mark_duplicates(&arena, &mut v[a as usize..b as usize], true);
        }
        runs
    });
    // The spans of both kinds, each shard's in one allocation (growing it for the
    // auto-PTRs copied every span into freshly faulted pages).
    for (s, (runs, auto_runs)) in all_runs.iter().zip(&auto_runs).enumerate() {
        let v = &explicit[s];
        spans[s].reserve_exact(runs.len() + auto_runs.len() + APEX_SLACK);
        for &(a, b) in runs {
            let run = &v[a as usize..b as usize];
            let first = run[0];
            let owner = run_owner(run);
            spans[s].push(Span {
                hash: first.hash,
                phash: first.phash,
                p: first.p,
                key: first.key,
                owner,
                klen: first.klen,
                explicit: (a, b),
                auto: (0, 0),
                synthetic: None,
                children: NO_CHILDREN,
            });
        }
        let v = &autos[s];
        for &(a, b) in auto_runs {
            let run = &v[a as usize..b as usize];
            spans[s].push(Span {
                hash: run[0].hash,
                phash: run[0].phash,
                p: run[0].p,
                key: run[0].key,
                owner: run[0].key,
                klen: run[0].klen,
                explicit: (0, 0),
                auto: (a, b),
                synthetic: None,
                children: NO_CHILDREN,
            });
        }
    }

    // 3. Synthetic apexes.
    let mut reverse_active = [false; 2];
    let mut apexes: Vec<(Vec<u8>, Vec<u8>)> = rules
        .domains
        .iter()
        .map(|(k, o)| (k.to_vec(), o.to_vec()))
        .collect();
    for (f, apex) in REVERSE_APEXES.iter().enumerate() {
        reverse_active[f] = !rules.reverse_covered[f]
            && (rules.config.auto_ptr || counters.reverse_explicit[f] > 0);
        if reverse_active[f] {
            apexes.push((apex.to_vec(), apex.to_vec()));
        }
    }
    for (key, owner) in &apexes {
        let soa = rules.synthetic_soa(owner, serial);
        let ns = rules.synthetic_ns(owner);
        let hash = key_hash(key);
        let (p, phash) = parent_link(rules, key);
        let span = Span {
            hash,
            phash,
            p,
            key: push(&mut arena, key),
            owner: push(&mut arena, owner),
            klen: key.len() as u8,
            explicit: (0, 0),
            auto: (0, 0),
            synthetic: Some([
                push(&mut arena, &soa),
                soa.len() as u32,
                push(&mut arena, &ns),
                ns.len() as u32,
            ]),
            children: NO_CHILDREN,
        };
        spans[shard_of(hash)].push(span);
    }
    let arena = arena;

    // 4. Merge spans of the same name.
    for v in spans.iter_mut() {
        v.sort_unstable_by(|x, y| {
            x.hash.cmp(&y.hash).then_with(|| {
                slice(&arena, x.key, x.klen as usize).cmp(slice(&arena, y.key, y.klen as usize))
            })
        });
        // In place: a span merged into the previous one of its name is removed.
        v.dedup_by(|sp, m| {
            let same = m.hash == sp.hash
                && slice(&arena, m.key, m.klen as usize) == slice(&arena, sp.key, sp.klen as usize);
            if same {
                if sp.explicit != (0, 0) {
                    m.explicit = sp.explicit;
                    m.owner = sp.owner;
                }
                if sp.auto != (0, 0) {
                    m.auto = sp.auto;
                }
                if sp.synthetic.is_some() {
                    m.synthetic = sp.synthetic;
                    if m.explicit == (0, 0) {
                        m.owner = sp.owner;
                    }
                }
            }
            same
        });
    }

    // 5. Ancestors: child lists and empty non-terminals, one depth level per
    // round, each shard handling the edges to its own parents.
    let mut tree = Tree::new();
    // Reserved exactly: a zone's names mostly share one parent, so one shard takes most
    // edges (a million for a million-name zone), and growing that vector step by step
    // copied it into freshly faulted pages.
    let mut edge_count = vec![0usize; SHARD_COUNT];
    for sp in spans.iter().flatten().filter(|sp| sp.p > 0) {
        edge_count[shard_of(sp.phash)] += 1;
    }
    let mut edges: Vec<Vec<Edge<'_>>> = edge_count.into_iter().map(Vec::with_capacity).collect();
    for v in &spans {
        for sp in v {
            let key = slice(&arena, sp.key, sp.klen as usize);
            let owner = slice(&arena, sp.owner, sp.klen as usize);
            push_edge(&mut edges, key, owner, sp.p, sp.phash);
        }
    }
    while edges.iter().any(|e| !e.is_empty()) {
        let mut next: Vec<Vec<Edge<'_>>> = (0..SHARD_COUNT).map(|_| Vec::new()).collect();
        for (s, list) in edges.iter_mut().enumerate() {
            for e in list.drain(..) {
                let parent = &e.child[e.p..];
                let (idx, created) = tree.parent_list(&arena, &mut spans[s], s, e.hash, parent);
                if created {
                    tree.ents[s].push((parent, &e.owner[e.p..], idx));
                    let (p, phash) = parent_link(rules, parent);
                    push_edge(&mut next, parent, &e.owner[e.p..], p, phash);
                }
                tree.lists[idx].1.push(&e.child[1..e.p]);
            }
        }
        edges = next;
    }

    // 6. Encode nodes (in parallel by shard), then child chunks.
    let enc = Encoder {
        rules,
        arena: &arena,
        spans: &spans,
        explicit: &explicit,
        autos: &autos,
        tree: &tree,
    };
    let mut out: Vec<Vec<u8>> = parallel_by_shard(|s| enc.shard(s));
    tree.encode_chunks(&mut out);
    let mut parents = Parents::default();
    let served = tree.lists.iter().map(|l| l.0);
    let served = served.filter(|k| rules.is_configured(k));
    served
        .chain(rules.domains.iter().map(|(k, _)| &**k))
        .for_each(|k| parents.push(k));
    drop(tree);
    let shards = parallel_shards(out);
    Built {
        shards,
        parents,
        counters,
        reverse_active,
        auto,
    }
}
