//! Forwarding: names outside the served zones resolved through upstream
//! resolvers, with a cache the data-plane cores answer from.
//!
//! The public surface:
//! - [`Settings::from_config`]: `[forward]` resolved (upstreams from
//!   /etc/resolv.conf by default, never ourselves); `None` when off.
//! - [`Forwarding::new`]: the [`Forwarder`] plus one cache replica per core
//!   (engine states for the data plane) and the miss channel.
//! - [`Forwarding::start`]: the intake thread (misses → tokio tasks; it blocks until a miss
//!   arrives, and stops when the `Forwarding` is dropped or every core's replica is gone)
//!   and the maintenance task (cache sweep, probing of down upstreams).
//! - [`Forwarder::reconfigure`] ([`live`]): a live reload's new `[forward]` swapped in.
//! - [`upstream`]: selection (stub domains, policy, health); [`exchange`]:
//!   one upstream exchange (UDP, TCP on TC=1); [`fill`]: the master cache,
//!   eviction and fan-out to the cores; [`resolver`]: dedup, failover,
//!   serve-stale, prefetch. docs/forwarding.md explains the design.

pub mod config;
pub mod exchange;
pub mod fill;
pub mod live;
pub mod metrics;
pub mod resolver;
pub mod upstream;

pub use fill::{Cache, EntryView};
pub use resolver::Forwarder;

use crate::config::{Config, UpstreamPolicy};
use crossbeam::channel::{Receiver, Sender};
use skylane_dataplane::cache::{ForwardPolicy, ForwardRequest, Replica, TtlLimits};
use skylane_dataplane::engine::ForwardMode;
use skylane_dataplane::name::Name;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long a failure (SERVFAIL, every upstream timed out) is cached: RFC
/// 9520 asks for at least 1 s; short, so a blip is soon forgotten.
pub const FAILURE_TTL: u32 = 2;
/// Capacity of the miss channel from the cores.
pub const CHANNEL_CAPACITY: usize = 4096;
/// Replica slots reserved per core up front.
pub const REPLICA_RESERVE: usize = 16_384;

/// `[forward]` resolved for running.
#[derive(Debug, Clone)]
pub struct Settings {
    pub upstreams: Vec<SocketAddr>,
    pub stubs: Vec<(Name, Vec<SocketAddr>)>,
    pub policy: UpstreamPolicy,
    pub timeout: Duration,
    pub max_outstanding: usize,
    pub cache_bytes: usize,
    pub limits: TtlLimits,
    pub serve_stale: bool,
    pub stale_answer_ttl: u32,
    pub prefetch: bool,
    pub allow: Vec<(IpAddr, u8)>,
    /// Our advertised UDP size (`[dns] max-udp-size`).
    pub max_udp: u16,
}

/// The nameservers listed in resolv.conf text (port 53).
pub fn resolv_conf_nameservers(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|rest| rest.split_whitespace().next())
        .filter_map(|ip| ip.split('%').next()?.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

/// Whether sending to `upstream` would reach one of our own listeners.
pub fn is_ourselves(upstream: SocketAddr, own: &[SocketAddr]) -> bool {
    own.iter().any(|l| {
        l.port() == upstream.port()
            && (l.ip() == upstream.ip()
                || (l.ip().is_unspecified()
                    && (upstream.ip().is_loopback() || upstream.ip().is_unspecified())))
    })
}

impl Settings {
    /// `None` when forwarding is off (disabled, or no upstream and no stub).
    /// `own`: our DNS listen addresses. Configured upstreams pointing at us
    /// are an error; resolv.conf entries pointing at us are skipped.
    pub fn from_config(cfg: &Config, own: &[SocketAddr]) -> Result<Option<Settings>, String> {
        let f = &cfg.forward;
        if !f.enabled {
            return Ok(None);
        }
        let stubs = f.stubs()?;
        let upstreams = match &f.upstreams {
            Some(list) => {
                if let Some(u) = list.iter().find(|u| is_ourselves(**u, own)) {
                    return Err(format!("upstreams: {u} is this server (a forwarding loop)"));
                }
                list.clone()
            }
            None => {
                let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
                let (ours, others): (Vec<_>, Vec<_>) = resolv_conf_nameservers(&text)
                    .into_iter()
                    .partition(|u| is_ourselves(*u, own));
                for u in ours {
                    tracing::warn!(upstream = %u, "resolv.conf nameserver is this server; skipped");
                }
                others
            }
        };
        for (name, servers) in &stubs {
            if let Some(u) = servers.iter().find(|u| is_ourselves(**u, own)) {
                return Err(format!("stub-domains: {name}: {u} is this server"));
            }
        }
        if upstreams.is_empty() && stubs.is_empty() {
            tracing::warn!(
                "forwarding is off: no upstream (none configured, none in /etc/resolv.conf)"
            );
            return Ok(None);
        }
        Ok(Some(Settings {
            upstreams,
            stubs,
            policy: f.policy,
            timeout: Duration::from_millis(f.timeout_ms),
            max_outstanding: f.max_outstanding,
            cache_bytes: usize::try_from(f.cache_size_mb << 20).unwrap_or(usize::MAX),
            limits: TtlLimits {
                min_ttl: f.min_ttl,
                max_ttl: f.max_ttl,
                negative_max_ttl: f.negative_max_ttl,
                failure_ttl: FAILURE_TTL,
                stale_max_age: if f.serve_stale { f.stale_max_age_s } else { 0 },
            },
            serve_stale: f.serve_stale,
            stale_answer_ttl: f.stale_answer_ttl,
            prefetch: f.prefetch,
            allow: f.allow.clone(),
            max_udp: cfg.dns.max_udp_size,
        }))
    }

    fn client_policy(&self) -> Arc<ForwardPolicy> {
        Arc::new(ForwardPolicy {
            allow: self.allow.clone(),
            serve_stale: self.serve_stale,
            prefetch: self.prefetch,
        })
    }
}

/// The forwarder and what the data plane needs from it.
pub struct Forwarding {
    pub forwarder: Arc<Forwarder>,
    /// One engine forwarding mode per data-plane core (take them once).
    pub core_modes: Vec<ForwardMode>,
    receiver: Receiver<ForwardRequest>,
    policy: Arc<ForwardPolicy>,
    /// Never sent to: dropped with this `Forwarding`, which stops the intake thread.
    _intake_stop: Sender<()>,
    intake_stopped: Receiver<()>,
}

impl Forwarding {
    /// The forwarder for `cores` data-plane cores.
    pub fn new(settings: Settings, cores: usize) -> Forwarding {
        let policy = settings.client_policy();
        let forwarder = Arc::new(Forwarder::new(settings, cores));
        let (tx, rx) = crossbeam::channel::bounded(CHANNEL_CAPACITY);
        let (intake_stop, intake_stopped) = crossbeam::channel::bounded(0);
        let core_modes = (0..cores)
            .filter_map(|i| {
                let ring = forwarder.cache.ring(i)?;
                let replica = Replica::new(
                    i as u16,
                    REPLICA_RESERVE,
                    ring,
                    forwarder.cache.shared.clone(),
                    tx.clone(),
                    policy.clone(),
                );
                Some(ForwardMode::Core(Box::new(replica)))
            })
            .collect();
        Forwarding {
            forwarder,
            core_modes,
            receiver: rx,
            policy,
            _intake_stop: intake_stop,
            intake_stopped,
        }
    }

    /// Who may use forwarding (TCP connections' engine mode).
    pub fn policy(&self) -> Arc<ForwardPolicy> {
        self.policy.clone()
    }

    /// Starts the intake thread and the maintenance task (it stops when `stop` is set) on
    /// the current tokio runtime. The intake thread sleeps until a miss arrives; it stops
    /// when this `Forwarding` is dropped, or when every core's replica (the misses' senders)
    /// is gone.
    pub fn start(&self, stop: Arc<AtomicBool>) -> std::io::Result<()> {
        let handle = tokio::runtime::Handle::current();
        let (rx, fwd) = (self.receiver.clone(), self.forwarder.clone());
        let stopped = self.intake_stopped.clone();
        std::thread::Builder::new()
            .name("skylane-fwd-in".into())
            .spawn(move || {
                intake(&rx, &stopped, |req| {
                    handle.spawn(fwd.clone().handle(req));
                })
            })?;
        tokio::spawn(maintain(self.forwarder.clone(), stop));
        Ok(())
    }
}

/// The intake loop: hands each request to `hand`, blocking while there is none, until
/// `stop` receives a message or is disconnected, or every sender of `requests` is gone.
fn intake<T>(requests: &Receiver<T>, stop: &Receiver<()>, mut hand: impl FnMut(T)) {
    loop {
        crossbeam::channel::select! {
            recv(requests) -> req => match req {
                Ok(req) => hand(req),
                Err(_) => return,
            },
            recv(stop) -> _ => return,
        }
    }
}

/// Sweeps the cache every second; probes down upstreams every 2 s.
async fn maintain(fwd: Arc<Forwarder>, stop: Arc<AtomicBool>) {
    let mut tick = 0u64;
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        tick += 1;
        fwd.cache.sweep();
        if tick.is_multiple_of(2) {
            let upstreams = fwd.upstreams.load_full();
            for up in upstreams.all().iter().filter(|u| u.is_down()) {
                if exchange::probe(up.addr, Duration::from_secs(1)).await {
                    up.succeeded();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossbeam::channel::{bounded, unbounded};

    /// Runs `intake` on a thread; returns what it was handed once it returned.
    fn run_intake(
        requests: Receiver<u32>,
        stop: Receiver<()>,
    ) -> (std::thread::JoinHandle<Vec<u32>>, Receiver<u32>) {
        let (seen_tx, seen) = unbounded();
        let thread = std::thread::spawn(move || {
            let mut all = Vec::new();
            intake(&requests, &stop, |r| {
                all.push(r);
                seen_tx.send(r).unwrap();
            });
            all
        });
        (thread, seen)
    }

    #[test]
    fn intake_hands_over_requests_until_told_to_stop() {
        let (tx, rx) = bounded(8);
        let (stop_tx, stop_rx) = bounded(0);
        let (thread, seen) = run_intake(rx, stop_rx);
        for i in 0..3 {
            tx.send(i).unwrap();
            assert_eq!(seen.recv().unwrap(), i);
        }
        stop_tx.send(()).unwrap();
        assert_eq!(thread.join().unwrap(), vec![0, 1, 2]);
        // The requests' senders are still there: the stop message alone ended the loop.
        drop(tx);
    }

    #[test]
    fn intake_stops_when_its_owner_or_every_core_is_gone() {
        // The owner (the stop sender) dropped.
        let (tx, rx) = bounded::<u32>(8);
        let (stop_tx, stop_rx) = bounded(0);
        let (thread, _seen) = run_intake(rx, stop_rx);
        drop(stop_tx);
        assert!(thread.join().unwrap().is_empty());
        drop(tx);
        // Every request sender (the cores' replicas) dropped.
        let (tx, rx) = bounded::<u32>(8);
        let (stop_tx, stop_rx) = bounded(0);
        let (thread, _seen) = run_intake(rx, stop_rx);
        tx.send(7).unwrap();
        drop(tx);
        assert_eq!(thread.join().unwrap(), vec![7]);
        drop(stop_tx);
    }

    #[test]
    fn resolv_conf_and_loop_detection() {
        let text =
            "# comment\nnameserver 10.0.0.2\nsearch x\nnameserver fe80::1%eth0\nnameserver  ::1 \n";
        let ns = resolv_conf_nameservers(text);
        assert_eq!(ns.len(), 3);
        assert_eq!(ns[0], "10.0.0.2:53".parse().unwrap());
        let own: Vec<SocketAddr> = vec![
            "0.0.0.0:53".parse().unwrap(),
            "127.0.0.1:5353".parse().unwrap(),
        ];
        assert!(is_ourselves("127.0.0.1:53".parse().unwrap(), &own));
        assert!(is_ourselves("127.0.0.1:5353".parse().unwrap(), &own));
        assert!(!is_ourselves("10.0.0.2:53".parse().unwrap(), &own));
        assert!(!is_ourselves("127.0.0.1:5354".parse().unwrap(), &own));
    }
}
