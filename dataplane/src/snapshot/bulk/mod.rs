//! Bulk build: compiles a whole record set into shards in a few linear passes
//! (records → per-shard pending items → sorted groups → encoded entries),
//! with one byte arena for every key and RDATA and no allocation per name.
//! `Snapshot::build` uses it; `apply` goes through the editor instead, and the
//! tests check that both give the same tables.

use super::autoptr::{AutoPtr, Input};
use super::children::{CHUNK_TARGET, MAX_CHUNKS};
use super::edit::Counters;
use super::hash::key_hash;
use super::parallel::{parallel_by_shard, parallel_each_mut, parallel_shards};
use super::reverse::{reverse_name_into, REVERSE_APEXES};
use super::rrset::{kind_of, KIND_AUTO_PTR};
use super::shard::{shard_of, Shard, SHARD_COUNT};
use super::zone::{is_within, ZoneRules};
use crate::record::{rtype, Record};
use encode::Encoder;
pub(crate) use phases::Phases;
pub(crate) use tree::Parents;
use tree::{parent_link, push_edge, Edge, Tree};

mod encode;
mod phases;
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

/// Keys read one window at a time by the build's passes over arena offsets in
/// hash order (each a likely cache miss): [`touch`]ed first, then read.
const TOUCH_WINDOW: usize = 32;

/// Loads the arena byte at each offset (meaningless; passed to `black_box` so that the
/// loads stay): independent loads whose cache misses overlap, so the reads that follow
/// hit the cache.
fn touch(arena: &[u8], offsets: impl Iterator<Item = u32>) {
    let sink = offsets.fold(0u8, |a, o| a ^ arena.get(o as usize).copied().unwrap_or(0));
    std::hint::black_box(sink);
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

/// Compiles `records` into a complete shard table.
pub(crate) fn build(
    rules: &ZoneRules,
    records: Vec<Record>,
    serial: u32,
    phases: &mut Phases,
) -> Built {
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
    phases.mark("pend");
    drop(records);
    phases.mark("drop_records");

    // 2. Group by name, drop duplicates, count, emit auto-PTRs.
    let mut spans: Vec<Vec<Span>> = (0..SHARD_COUNT).map(|_| Vec::new()).collect();
    // Auto-PTRs in the table: only those inside a configured domain (rare).
    let mut autos: Vec<Vec<Pend>> = (0..SHARD_COUNT).map(|_| Vec::new()).collect();
    let mut auto_in: [Vec<Input>; 2] = Default::default();
    let mut rkey = Vec::with_capacity(80);
    // Per family: some configured domain lies at, above or inside the reverse tree, so an
    // auto-PTR may be a table node (else every one is kept by address).
    let reverse_configured = REVERSE_APEXES.map(|apex| {
        rules
            .domains
            .iter()
            .any(|(d, _)| is_within(d, apex) || is_within(apex, d))
    });
    let all_runs = parallel_each_mut(&mut explicit, |v| {
        let runs = sort_and_group(&arena, v);
        for &(a, b) in &runs {
            mark_duplicates(&arena, &mut v[a as usize..b as usize], false);
        }
        runs
    });
    phases.mark("sort_group");
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
                    let addr = slice(&arena, p.rdata, p.rdlen as usize);
                    let family = usize::from(p.rtype == rtype::AAAA);
                    // In the synthetic reverse tree: kept by address (`autoptr`), no node.
                    // With no configured domain at, above or inside the reverse tree, the
                    // reverse name is not needed to know that it lies there.
                    let by_address = !reverse_configured[family] || {
                        rkey.clear();
                        if !reverse_name_into(addr, &mut rkey) {
                            continue;
                        }
                        !rules.is_configured(&rkey)
                    };
                    if by_address {
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
    phases.mark("autoptr_in");
    let auto = AutoPtr::build(auto_in, &arena);
    phases.mark("autoptr_store");
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

    phases.mark("spans");
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

    phases.mark("merge_spans");
    // 5. Ancestors: child lists and empty non-terminals, one depth level per
    // round, each shard handling the edges to its own parents.
    let mut tree = Tree::new(&arena);
    // Reserved exactly: a zone's names mostly share one parent, so one shard takes most
    // edges (a million for a million-name zone), and growing that vector step by step
    // copied it into freshly faulted pages.
    let mut edge_count = vec![0usize; SHARD_COUNT];
    for sp in spans.iter().flatten().filter(|sp| sp.p > 0) {
        edge_count[shard_of(sp.phash)] += 1;
    }
    let mut edges: Vec<Vec<Edge>> = edge_count.into_iter().map(Vec::with_capacity).collect();
    for sp in spans.iter().flatten() {
        push_edge(&mut edges, sp.key, sp.owner, sp.klen, sp.p, sp.phash);
    }
    while edges.iter().any(|e| !e.is_empty()) {
        let mut next: Vec<Vec<Edge>> = (0..SHARD_COUNT).map(|_| Vec::new()).collect();
        for (s, list) in edges.iter_mut().enumerate() {
            let list = std::mem::take(list);
            // The children's keys lie all over the arena: a window's are loaded first, so
            // their cache misses overlap.
            for window in list.chunks(TOUCH_WINDOW) {
                touch(&arena, window.iter().map(|e| e.child + u32::from(e.p)));
                for e in window {
                    let (pkey, powner, plen) = (
                        e.child + u32::from(e.p),
                        e.owner + u32::from(e.p),
                        e.klen - e.p,
                    );
                    let parent = slice(&arena, pkey, plen as usize);
                    let (idx, created) = tree.parent_list(&arena, &mut spans[s], s, e.hash, parent);
                    if created {
                        tree.ents[s].push((parent, slice(&arena, powner, plen as usize), idx));
                        let (p, phash) = parent_link(rules, parent);
                        push_edge(&mut next, pkey, powner, plen, p, phash);
                    }
                    tree.lists[idx].1.push(e.child);
                }
            }
        }
        edges = next;
    }

    tree.split_chunks();
    phases.mark("tree");
    // 6. Encode nodes (in parallel by shard), then child chunks.
    let enc = Encoder {
        rules,
        arena: &arena,
        spans: &spans,
        explicit: &explicit,
        autos: &autos,
        tree: &tree,
    };
    let out: Vec<Vec<u8>> = parallel_by_shard(|s| enc.shard(s));
    phases.mark("encode");
    let mut parents = Parents::default();
    let served = tree.lists.iter().map(|l| l.0);
    let served = served.filter(|k| rules.is_configured(k));
    served
        .chain(rules.domains.iter().map(|(k, _)| &**k))
        .for_each(|k| parents.push(k));
    drop(tree);
    let shards = parallel_shards(out);
    phases.mark("index");
    Built {
        shards,
        parents,
        counters,
        reverse_active,
        auto,
    }
}
