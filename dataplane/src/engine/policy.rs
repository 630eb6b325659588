//! Answer policies for A/AAAA RRsets: `all`, `random-one`, `hone-one`.
//!
//! A policy picks which healthy addresses of a candidate set are written:
//! - `all`: every healthy address, the order rotated by one per query (a
//!   per-core counter in [`super::EngineState`]);
//! - `random-one`: one healthy address chosen uniformly by a per-core
//!   [`WyRand`] PRNG;
//! - `hone-one`: rendezvous (highest-random-weight) hashing. Each healthy
//!   address gets the score [`hone_score`]`(client, address)`; the highest
//!   wins (ties: the smaller address bytes). The score is a FIXED function
//!   of the bytes only, so every process on every machine picks the same
//!   address for a client, with no per-client state. When an address goes
//!   DOWN only the clients that had it move; when it comes back they return.
//!
//! DOWN addresses are skipped in every policy (the check is skipped entirely
//! when the snapshot has no DOWN set). When EVERY candidate is DOWN the
//! engine fails open: all candidates are returned (rotated, like `all`,
//! whatever the policy) and the reply is flagged `fail_open`.
//!
//! One RRset is read in place by index ([`select_indexed`], the hot path); a
//! union of RRsets is first [`gather`]ed into a fixed-size array on the stack
//! and then read the same way, so one implementation makes every choice. At
//! most [`MAX_ADDRS`] candidates are considered.

use crate::record::Policy;
use arrayvec::ArrayVec;
use std::net::IpAddr;

/// Most candidate addresses considered for one answer (further ones are
/// ignored). Bounds the work per query for huge RRsets or unions.
pub const MAX_ADDRS: usize = 512;

/// wyrand: a tiny, fast, seedable PRNG (Wang Yi, public domain).
#[derive(Debug, Clone)]
pub struct WyRand {
    state: u64,
}

impl WyRand {
    pub fn new(seed: u64) -> WyRand {
        WyRand { state: seed }
    }

    /// Next 64 pseudo-random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0xa076_1d64_78bd_642f);
        let t = u128::from(self.state) * u128::from(self.state ^ 0xe703_7ed1_a0b4_28db);
        (t as u64) ^ ((t >> 64) as u64)
    }

    /// Uniform in `0..n` (`n > 0`), by multiply-shift (Lemire).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

/// The client address bytes used for hashing: IPv4 (also IPv4-mapped IPv6)
/// as 4 bytes, IPv6 as 16, network order.
#[derive(Debug, Clone, Copy)]
pub struct ClientKey {
    bytes: [u8; 16],
    len: usize,
}

impl ClientKey {
    pub fn new(addr: IpAddr) -> ClientKey {
        let mut bytes = [0u8; 16];
        match addr.to_canonical() {
            IpAddr::V4(v4) => {
                bytes[..4].copy_from_slice(&v4.octets());
                ClientKey { bytes, len: 4 }
            }
            IpAddr::V6(v6) => ClientKey {
                bytes: v6.octets(),
                len: 16,
            },
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The hone-one score of `addr` for `client`. FIXED and documented so that
/// every Skylane instance agrees:
///
/// `score = splitmix64_finalize(fnv1a64(client ‖ 0xff ‖ addr))`
///
/// where `client` is 4 bytes for IPv4 (IPv4-mapped IPv6 included) or 16 for
/// IPv6, `addr` the 4 or 16 RDATA bytes, FNV-1a 64 with the standard offset
/// basis `0xcbf29ce484222325` and prime `0x100000001b3`, and the splitmix64
/// finalizer `z ^= z >> 30; z *= 0xbf58476d1ce4e5b9; z ^= z >> 27;
/// z *= 0x94d049bb133111eb; z ^= z >> 31`.
pub fn hone_score(client: &[u8], addr: &[u8]) -> u64 {
    let mut h = FNV_OFFSET;
    for &b in client.iter().chain(&[0xff]).chain(addr) {
        h = (h ^ u64::from(b)).wrapping_mul(FNV_PRIME);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// What [`select_indexed`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Selection {
    /// Candidates considered (0 = the set was empty: NODATA).
    pub candidates: usize,
    /// Every candidate was DOWN; all were emitted.
    pub fail_open: bool,
    /// `emit` refused a record (no space): stop, the caller truncates.
    pub stopped: bool,
}

/// Per-query inputs of a policy decision.
pub struct Choice<D: Fn(&[u8]) -> bool> {
    pub policy: Policy,
    /// The client (hashed by `hone-one` only).
    pub client: IpAddr,
    /// DOWN test; `None` when nothing is down (fast path).
    pub is_down: Option<D>,
}

/// Candidate addresses gathered from an iterator (a union of RRsets), at most
/// [`MAX_ADDRS`], on the stack: no allocation.
pub type Gathered<'a> = ArrayVec<(&'a [u8], u32), MAX_ADDRS>;

/// Gathers up to [`MAX_ADDRS`] candidates (address bytes with their TTL) for
/// [`select_indexed`]: the one implementation of the policies serves RRsets
/// and unions alike.
pub fn gather<'a>(candidates: impl Iterator<Item = (&'a [u8], u32)>) -> Gathered<'a> {
    candidates.take(MAX_ADDRS).collect()
}

/// Applies the policy to a random-access candidate list (address bytes with
/// their TTL; `get(i)` for `i < n`; a union is [`gather`]ed first) and calls
/// `emit` for each chosen one, in answer order. `emit` returns false when the
/// record did not fit. Plain index loops: this is the per-query hot path.
pub fn select_indexed<'a, G, D, E>(
    n: usize,
    get: G,
    choice: &Choice<D>,
    rng: &mut WyRand,
    rotation: &mut u32,
    mut emit: E,
) -> Selection
where
    G: Fn(usize) -> (&'a [u8], u32),
    D: Fn(&[u8]) -> bool,
    E: FnMut(&'a [u8], u32) -> bool,
{
    let n = n.min(MAX_ADDRS);
    let mut sel = Selection {
        candidates: n,
        ..Selection::default()
    };
    if n == 0 {
        return sel;
    }
    let is_down = |i: usize| choice.is_down.as_ref().is_some_and(|d| d(get(i).0));
    let healthy = match choice.is_down {
        None => n,
        Some(_) => (0..n).filter(|&i| !is_down(i)).count(),
    };
    let fail_open = healthy == 0;
    sel.fail_open = fail_open;
    // Every candidate is usable: no DOWN ones, or failing open.
    let all_usable = healthy == n || fail_open;
    let usable = |i: usize| all_usable || !is_down(i);
    let pool = if fail_open { n } else { healthy };
    let emit_at = |i: usize, emit: &mut E| {
        let (addr, ttl) = get(i);
        emit(addr, ttl)
    };
    let policy = if fail_open {
        Policy::All
    } else {
        choice.policy
    };
    match policy {
        Policy::All => {
            // One candidate (the common case) needs no division; `pool` <= MAX_ADDRS.
            let start = if pool == 1 {
                0
            } else {
                (*rotation % pool as u32) as usize
            };
            *rotation = rotation.wrapping_add(1);
            if all_usable {
                for k in 0..n {
                    let i = if start + k >= n {
                        start + k - n
                    } else {
                        start + k
                    };
                    if !emit_at(i, &mut emit) {
                        sel.stopped = true;
                        break;
                    }
                }
            } else {
                // Usable ones ranked `start..` first, then `..start`.
                'passes: for first_pass in [true, false] {
                    let mut rank = 0;
                    for i in 0..n {
                        if !usable(i) {
                            continue;
                        }
                        if (rank >= start) == first_pass && !emit_at(i, &mut emit) {
                            sel.stopped = true;
                            break 'passes;
                        }
                        rank += 1;
                    }
                }
            }
        }
        Policy::RandomOne => {
            let k = rng.below(pool);
            let i = if all_usable {
                Some(k)
            } else {
                (0..n).filter(|&i| usable(i)).nth(k)
            };
            if let Some(i) = i {
                sel.stopped = !emit_at(i, &mut emit);
            }
        }
        Policy::HoneOne => {
            let client = ClientKey::new(choice.client);
            let key = client.as_bytes();
            let mut best: Option<(u64, &'a [u8], usize)> = None;
            for i in (0..n).filter(|&i| usable(i)) {
                let addr = get(i).0;
                let s = hone_score(key, addr);
                let better = match best {
                    None => true,
                    Some((bs, ba, _)) => s > bs || (s == bs && addr < ba),
                };
                if better {
                    best = Some((s, addr, i));
                }
            }
            if let Some((_, _, i)) = best {
                sel.stopped = !emit_at(i, &mut emit);
            }
        }
    }
    sel
}

#[cfg(test)]
mod tests {
    use super::*;

    type Down = fn(&[u8]) -> bool;

    fn run(
        addrs: &[[u8; 4]],
        policy: Policy,
        client: IpAddr,
        down: &[[u8; 4]],
        rng: &mut WyRand,
        rotation: &mut u32,
    ) -> (Vec<[u8; 4]>, Selection) {
        let mut out = Vec::new();
        let down_list: Vec<[u8; 4]> = down.to_vec();
        let is_down = |a: &[u8]| down_list.iter().any(|d| d[..] == *a);
        let choice = Choice {
            policy,
            client,
            is_down: if down.is_empty() { None } else { Some(is_down) },
        };
        // Through `gather`, as unions are: the same candidates in the same order.
        let gathered = gather(addrs.iter().map(|a| (&a[..], 30)));
        assert_eq!(gathered.len(), addrs.len().min(MAX_ADDRS));
        let sel = select_indexed(
            gathered.len(),
            |i| gathered.get(i).copied().unwrap_or((&[], 0)),
            &choice,
            rng,
            rotation,
            |a, _| {
                out.push(a.try_into().unwrap());
                true
            },
        );
        (out, sel)
    }

    fn addrs(n: u8) -> Vec<[u8; 4]> {
        (1..=n).map(|i| [10, 0, 0, i]).collect()
    }

    fn client(i: u32) -> IpAddr {
        IpAddr::V4(std::net::Ipv4Addr::from(0xc0a8_0000 + i))
    }

    #[test]
    fn all_rotates_and_skips_down() {
        let a = addrs(3);
        let (mut rng, mut rot) = (WyRand::new(1), 0);
        let (first, _) = run(&a, Policy::All, client(1), &[], &mut rng, &mut rot);
        let (second, _) = run(&a, Policy::All, client(1), &[], &mut rng, &mut rot);
        assert_eq!(first, a);
        assert_eq!(second, vec![a[1], a[2], a[0]]);
        let (third, sel) = run(&a, Policy::All, client(1), &[a[1]], &mut rng, &mut rot);
        assert_eq!(third.len(), 2);
        assert!(!third.contains(&a[1]) && !sel.fail_open);
        // One usable address left: it alone, whatever the rotation.
        for _ in 0..3 {
            let (one, _) = run(&a, Policy::All, client(1), &a[1..], &mut rng, &mut rot);
            assert_eq!(one, vec![a[0]]);
        }
    }

    #[test]
    fn random_one_picks_only_healthy_and_all_of_them() {
        let a = addrs(4);
        let (mut rng, mut rot) = (WyRand::new(7), 0);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..400 {
            let (out, _) = run(
                &a,
                Policy::RandomOne,
                client(1),
                &[a[2]],
                &mut rng,
                &mut rot,
            );
            assert_eq!(out.len(), 1);
            assert_ne!(out[0], a[2]);
            seen.insert(out[0]);
        }
        assert_eq!(seen.len(), 3);
    }

    #[test]
    fn fail_open_returns_everything() {
        let a = addrs(3);
        let (mut rng, mut rot) = (WyRand::new(1), 0);
        for p in [Policy::All, Policy::RandomOne, Policy::HoneOne] {
            let (mut out, sel) = run(&a, p, client(1), &a, &mut rng, &mut rot);
            assert!(sel.fail_open);
            out.sort();
            assert_eq!(out, a);
        }
    }

    #[test]
    fn hone_one_is_stable_and_moves_minimally() {
        let a = addrs(5);
        let (mut rng, mut rot) = (WyRand::new(1), 0);
        let pick = |c: u32, down: &[[u8; 4]], rng: &mut WyRand, rot: &mut u32| {
            run(&a, Policy::HoneOne, client(c), down, rng, rot).0[0]
        };
        let before: Vec<_> = (0..500).map(|c| pick(c, &[], &mut rng, &mut rot)).collect();
        // Stable across calls and PRNG state.
        let mut rng2 = WyRand::new(99);
        for c in 0..500 {
            assert_eq!(pick(c, &[], &mut rng2, &mut rot), before[c as usize]);
        }
        // Spread over every address.
        let distinct: std::collections::HashSet<_> = before.iter().collect();
        assert_eq!(distinct.len(), 5);
        // a[2] goes down: only its clients move.
        let during: Vec<_> = (0..500)
            .map(|c| pick(c, &[a[2]], &mut rng, &mut rot))
            .collect();
        for c in 0..500 {
            if before[c] == a[2] {
                assert_ne!(during[c], a[2]);
            } else {
                assert_eq!(during[c], before[c]);
            }
        }
        // Back up: everyone returns.
        let after: Vec<_> = (0..500).map(|c| pick(c, &[], &mut rng, &mut rot)).collect();
        assert_eq!(after, before);
    }

    #[test]
    fn hone_score_is_fixed() {
        // Pinned values: changing the function moves clients between
        // machines running different versions. Do not change lightly.
        assert_eq!(
            hone_score(&[192, 168, 0, 1], &[10, 0, 0, 1]),
            0x4f91_e702_5cc5_86c8
        );
        let mut h = FNV_OFFSET;
        for b in [1u8, 2, 3, 4, 0xff, 5, 6, 7, 8] {
            h = (h ^ u64::from(b)).wrapping_mul(FNV_PRIME);
        }
        let mut z = h;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        assert_eq!(hone_score(&[1, 2, 3, 4], &[5, 6, 7, 8]), z ^ (z >> 31));
        // Mapped IPv4 clients hash like plain IPv4.
        let v4 = ClientKey::new("192.0.2.1".parse().unwrap());
        let mapped = ClientKey::new("::ffff:192.0.2.1".parse().unwrap());
        assert_eq!(v4.as_bytes(), mapped.as_bytes());
    }

    #[test]
    fn emit_refusal_stops() {
        let a = addrs(3);
        let choice: Choice<Down> = Choice {
            policy: Policy::All,
            client: client(1),
            is_down: None,
        };
        let mut n = 0;
        let sel = select_indexed(
            a.len(),
            |i| (&a[i][..], 1),
            &choice,
            &mut WyRand::new(0),
            &mut 0,
            |_, _| {
                n += 1;
                n < 2
            },
        );
        assert!(sel.stopped);
        assert_eq!(n, 2);
    }

    #[test]
    fn empty_set_selects_nothing() {
        let (mut rng, mut rot) = (WyRand::new(1), 0);
        let (out, sel) = run(&[], Policy::HoneOne, client(1), &[], &mut rng, &mut rot);
        assert!(out.is_empty() && sel.candidates == 0 && !sel.fail_open);
    }
}
