//! Upstream selection: which servers a name goes to, in which order, and
//! their health.
//!
//! A name under a stub domain goes to that stub's servers (the longest
//! matching suffix wins); every other name to the default upstreams. The
//! order follows `[forward] policy`; servers marked down (after
//! [`FAILS_TO_DOWN`] consecutive failures) are tried after the healthy ones,
//! and the forwarder's prober (`forward::maintain`, [`super::exchange::probe`])
//! brings them back when they answer again.

use crate::config::UpstreamPolicy;
use rand::seq::SliceRandom;
use skylane_dataplane::name::Name;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;

/// Consecutive failures (timeouts, SERVFAIL, REFUSED, errors) that mark an
/// upstream down.
pub const FAILS_TO_DOWN: u32 = 3;

/// One upstream server and its health.
#[derive(Debug)]
pub struct Upstream {
    pub addr: SocketAddr,
    fails: AtomicU32,
    down: AtomicBool,
}

impl Upstream {
    fn new(addr: SocketAddr) -> Arc<Upstream> {
        Arc::new(Upstream {
            addr,
            fails: AtomicU32::new(0),
            down: AtomicBool::new(false),
        })
    }

    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    /// An answer came back: healthy again.
    pub fn succeeded(&self) {
        self.fails.store(0, Ordering::Relaxed);
        if self.down.swap(false, Ordering::Relaxed) {
            tracing::info!(upstream = %self.addr, "upstream is back");
        }
    }

    /// A failure; the [`FAILS_TO_DOWN`]th in a row marks it down.
    pub fn failed(&self) {
        let n = self.fails.fetch_add(1, Ordering::Relaxed) + 1;
        if n >= FAILS_TO_DOWN && !self.down.swap(true, Ordering::Relaxed) {
            tracing::warn!(upstream = %self.addr, failures = n, "upstream marked down");
        }
    }
}

/// A group of servers: the default upstreams or one stub domain's.
#[derive(Debug)]
struct Group {
    servers: Vec<Arc<Upstream>>,
    next: AtomicUsize,
}

impl Group {
    fn new(addrs: &[SocketAddr], all: &mut Vec<Arc<Upstream>>) -> Group {
        let servers = addrs
            .iter()
            .map(|a| match all.iter().find(|u| u.addr == *a) {
                Some(u) => u.clone(),
                None => {
                    let u = Upstream::new(*a);
                    all.push(u.clone());
                    u
                }
            })
            .collect();
        Group {
            servers,
            next: AtomicUsize::new(0),
        }
    }
}

/// Every upstream, the default group and the stub domains.
#[derive(Debug)]
pub struct Upstreams {
    policy: UpstreamPolicy,
    default: Group,
    /// `(lowercased suffix in wire form, group)`, longest suffix first.
    stubs: Vec<(Vec<u8>, Group)>,
    all: Vec<Arc<Upstream>>,
}

impl Upstreams {
    pub fn new(
        policy: UpstreamPolicy,
        default: &[SocketAddr],
        stubs: &[(Name, Vec<SocketAddr>)],
    ) -> Upstreams {
        let mut all = Vec::new();
        let default = Group::new(default, &mut all);
        let mut stubs: Vec<(Vec<u8>, Group)> = stubs
            .iter()
            .map(|(n, a)| (n.to_lowercase().as_wire().to_vec(), Group::new(a, &mut all)))
            .collect();
        stubs.sort_by_key(|(n, _)| std::cmp::Reverse(n.len()));
        Upstreams {
            policy,
            default,
            stubs,
            all,
        }
    }

    /// Every distinct upstream (for metrics and probing).
    pub fn all(&self) -> &[Arc<Upstream>] {
        &self.all
    }

    /// The servers to try for `name` (lowercased wire form), in order.
    pub fn select(&self, name: &[u8]) -> Vec<Arc<Upstream>> {
        let group = self
            .stubs
            .iter()
            .find(|(suffix, _)| is_under(name, suffix))
            .map_or(&self.default, |(_, g)| g);
        let mut order = group.servers.clone();
        match self.policy {
            UpstreamPolicy::Sequential => {}
            UpstreamPolicy::Random => order.shuffle(&mut rand::rng()),
            UpstreamPolicy::RoundRobin => {
                if !order.is_empty() {
                    let start = group.next.fetch_add(1, Ordering::Relaxed) % order.len();
                    order.rotate_left(start);
                }
            }
        }
        // Healthy first; the relative order is otherwise kept.
        order.sort_by_key(|u| u.is_down());
        order
    }
}

/// Whether wire name `name` equals `suffix` or is below it (label-aligned).
pub fn is_under(name: &[u8], suffix: &[u8]) -> bool {
    if suffix == b"\x00" {
        return true;
    }
    let mut pos = 0;
    while pos < name.len() {
        if name[pos..] == *suffix {
            return true;
        }
        let len = usize::from(name[pos]);
        if len == 0 {
            break;
        }
        pos += len + 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    #[test]
    fn longest_stub_suffix_wins() {
        let u = Upstreams::new(
            UpstreamPolicy::Sequential,
            &[addr("127.0.0.1:1")],
            &[
                (name("corp.example."), vec![addr("127.0.0.1:2")]),
                (name("eu.corp.example."), vec![addr("127.0.0.1:3")]),
            ],
        );
        let pick = |n: &str| u.select(name(n).as_wire())[0].addr.port();
        assert_eq!(pick("www.example.com."), 1);
        assert_eq!(pick("a.corp.example."), 2);
        assert_eq!(pick("corp.example."), 2);
        assert_eq!(pick("x.eu.corp.example."), 3);
        assert_eq!(pick("xcorp.example."), 1);
    }

    #[test]
    fn down_upstreams_go_last_and_round_robin_rotates() {
        let u = Upstreams::new(
            UpstreamPolicy::RoundRobin,
            &[addr("127.0.0.1:1"), addr("127.0.0.1:2")],
            &[],
        );
        let first: Vec<u16> = (0..2).map(|_| u.select(b"\x00")[0].addr.port()).collect();
        assert_ne!(first[0], first[1]);
        for _ in 0..FAILS_TO_DOWN {
            u.all()[0].failed();
        }
        for _ in 0..3 {
            assert_eq!(u.select(b"\x00")[0].addr.port(), 2);
        }
        u.all()[0].succeeded();
        assert!(!u.all()[0].is_down());
    }
}
