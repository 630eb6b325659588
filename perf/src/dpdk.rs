//! DPDK load mode (cargo feature `dpdk`): queries leave from a DPDK port (any PMD: a NIC,
//! `net_memif` to drive a Skylane instance at the other end of a memif pair,
//! `net_af_xdp`, …) instead of kernel sockets.
//!
//! Each sender thread owns one RX/TX queue pair of the port and some "clients" (UDP
//! source ports, each with its own [`Window`] of outstanding IDs). It runs a poll loop: receive a
//! burst, match DNS responses by destination port + ID + question, answer ARP requests
//! for our source address, then build and send a burst of queries within the rate and
//! outstanding budgets, and expire timed-out queries. The server's MAC address is found
//! with ARP / neighbour solicitation unless `--dpdk-dst-mac` gives it.
//! Results land in the same [`Stats`] / [`Report`] as the kernel UDP mode.

use crate::dpdk_flood::Flood;
use crate::dpdk_frame::{self, Endpoints, HeaderTemplate, Incoming};
use crate::dpdk_queries::QueryFrames;
use crate::dpdk_window::Window;
use crate::inflight::{match_reflected, match_response};
use crate::options::{share, DpdkArgs, Options, RunLength};
use crate::report::{Report, Stats};
use crate::wire::QueryTemplate;
use anyhow::{bail, Context};
use dpdk_sys::{consts, eal, Burst, Eal, MbufPool, Port, PortConfig, Queue, BURST};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// First UDP source port; client `i` uses `BASE_PORT + i`.
pub const BASE_PORT: u16 = 20000;
/// How long to wait for the server's MAC address.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(3);

/// Parse `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> anyhow::Result<[u8; 6]> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        bail!("MAC address {s:?}: expected six hex bytes separated by ':'");
    }
    let mut mac = [0u8; 6];
    for (b, p) in mac.iter_mut().zip(parts) {
        *b = u8::from_str_radix(p, 16).with_context(|| format!("MAC address {s:?}"))?;
    }
    Ok(mac)
}

/// One client: a UDP source port with its outstanding queries.
struct Client {
    header: HeaderTemplate,
    inflight: Window,
    max_outstanding: usize,
}

/// What a sender thread does.
struct Worker<'a> {
    queue: Queue,
    pool: MbufPool,
    /// Received mbufs kept for the next queries (no free and alloc per frame).
    spare: Burst,
    frames: &'a QueryFrames,
    clients: Vec<Client>,
    /// Source port of `clients[0]`; client i has `first_port + i`.
    first_port: u16,
    server: IpAddr,
    server_port: u16,
    our_ip: IpAddr,
    our_mac: [u8; 6],
    /// `--dpdk-reflector`: our own queries come back as the answers.
    reflector: bool,
    /// `--dpdk-flood`: frames we expect no answer to, sent after each burst of queries.
    flood: Option<Flood>,
    next_query: usize,
    next_client: usize,
    remaining: Option<u64>,
    qps: Option<u64>,
    timeout: Duration,
    stats: Stats,
}

impl Worker<'_> {
    fn outstanding(&self) -> usize {
        self.clients.iter().map(|c| c.inflight.outstanding()).sum()
    }

    /// Queries this thread may send now (rate and count limits).
    fn budget(&self, start: Instant, now: Instant) -> u64 {
        let mut b = BURST as u64;
        if let Some(qps) = self.qps {
            let allowed = (now.duration_since(start).as_secs_f64() * qps as f64) as u64;
            b = b.min(allowed.saturating_sub(self.stats.sent));
        }
        if let Some(r) = self.remaining {
            b = b.min(r);
        }
        b
    }

    fn run(mut self, start: Instant, deadline: Option<Instant>) -> (Stats, Instant) {
        let mut rx = Burst::new();
        let mut tx = Burst::new();
        let mut stopped: Option<Instant> = None;
        let mut last_expire = start;
        // Whether the previous pass found nothing to receive and sent nothing (its window
        // full): the time until this pass is counted as waiting.
        let (mut prev, mut prev_idle) = (start, false);
        loop {
            let now = Instant::now();
            if prev_idle && stopped.is_none() {
                self.stats.idle_ns += now.saturating_duration_since(prev).as_nanos() as u64;
            }
            prev = now;
            if stopped.is_none()
                && (deadline.is_some_and(|d| now >= d) || self.remaining == Some(0))
            {
                stopped = Some(now);
            }
            if let Some(stop) = stopped {
                if self.outstanding() == 0 || now >= stop + self.timeout {
                    break;
                }
            }
            let received = self.queue.rx_burst(&mut rx);
            if received > 0 {
                self.receive(&mut rx, &mut tx, now);
            }
            let mut sent = 0;
            if stopped.is_none() {
                let budget = self.budget(start, now);
                if budget > 0 {
                    sent = self.send(&mut tx, budget as usize, now);
                }
            }
            prev_idle = received == 0 && sent == 0;
            if now.duration_since(last_expire) >= Duration::from_millis(1) {
                last_expire = now;
                for c in &mut self.clients {
                    self.stats.lost += c.inflight.expire(now, self.timeout);
                }
            }
        }
        for c in &mut self.clients {
            self.stats.lost += c.inflight.abandon_all();
        }
        let stopped = stopped.unwrap_or_else(Instant::now);
        self.stats.loop_ns = stopped.saturating_duration_since(start).as_nanos() as u64;
        (self.stats, stopped)
    }

    fn receive(&mut self, rx: &mut Burst, tx: &mut Burst, now: Instant) {
        for mut m in rx.drain() {
            match dpdk_frame::parse(m.data()) {
                Incoming::Udp {
                    src,
                    src_port,
                    dst_port,
                    payload,
                } => self.take_answer(src, src_port, dst_port, payload, now),
                Incoming::ArpRequest { target } if IpAddr::from(target) == self.our_ip => {
                    let len = m.data_len();
                    if let Some(n) =
                        dpdk_frame::arp_reply_in_place(&mut m.room_mut()[..len], self.our_mac)
                    {
                        m.set_len(n);
                        let _ = tx.push(m);
                        self.queue.tx_burst(tx);
                        tx.clear();
                        continue;
                    }
                }
                _ => {}
            }
            // The buffer carries one of the next queries (dropped, i.e. freed, if full).
            let _ = self.spare.push(m);
        }
    }

    /// Match a UDP datagram from `src`:`src_port` to `dst_port` against the outstanding
    /// queries.
    #[inline]
    fn take_answer(
        &mut self,
        src: IpAddr,
        src_port: u16,
        dst_port: u16,
        payload: &[u8],
        now: Instant,
    ) {
        // Answers come from the server's port to the client's; with a reflector our own
        // queries come back, still addressed to the server.
        let (client_port, reflected) = if src == self.server && src_port == self.server_port {
            (dst_port, false)
        } else if self.reflector && src == self.our_ip && dst_port == self.server_port {
            (src_port, true)
        } else {
            return;
        };
        let index = usize::from(client_port.wrapping_sub(self.first_port));
        let Some(client) = self.clients.get_mut(index) else {
            self.stats.unexpected += 1;
            return;
        };
        let stats = &mut self.stats;
        if reflected {
            match_reflected(&mut client.inflight, stats, self.frames, payload, now);
        } else {
            match_response(&mut client.inflight, stats, self.frames, payload, now);
        }
    }

    /// Build and send up to `budget` queries round-robin over clients with room; how many
    /// were queued (sent or refused by a full ring).
    fn send(&mut self, tx: &mut Burst, budget: usize, now: Instant) -> usize {
        let mut ids: [(u16, u16); BURST] = [(0, 0); BURST];
        let n_clients = self.clients.len();
        let mut skipped = 0;
        while tx.len() < budget.min(BURST) && skipped < n_clients {
            let ci = self.next_client;
            // Wrapped by comparison: a `%` here was a division per frame.
            self.next_client = if ci + 1 == n_clients { 0 } else { ci + 1 };
            let client = &mut self.clients[ci];
            if client.inflight.outstanding() >= client.max_outstanding {
                skipped += 1;
                continue;
            }
            let qi = self.next_query;
            let Some(id) = client.inflight.start(qi as u32, now) else {
                skipped += 1;
                continue;
            };
            skipped = 0;
            let Some(mut m) = self.spare.pop().or_else(|| self.pool.alloc()) else {
                client.inflight.cancel(id);
                break;
            };
            let (msg, msg_sum) = self.frames.message(qi);
            let written = client.header.write_query(m.room_mut(), msg, msg_sum, id);
            let Some(len) = written else {
                client.inflight.cancel(id);
                self.stats.send_errors += 1;
                continue;
            };
            m.set_len(len);
            m.set_ol_flags(0);
            ids[tx.len()] = (ci as u16, id);
            let _ = tx.push(m);
            self.next_query = if qi + 1 == self.frames.len() {
                0
            } else {
                qi + 1
            };
        }
        let queued = tx.len();
        if queued == 0 {
            return 0;
        }
        let sent = self.queue.tx_burst(tx);
        // Not sent (ring full): give the IDs back and free the frames. Refusals before the
        // first frame left are the link coming up (memif refuses until connected), not a
        // far end that does not keep up.
        if self.stats.sent + sent as u64 > 0 {
            self.stats.tx_full += (queued - sent) as u64;
        }
        for &(ci, id) in &ids[sent..queued] {
            self.clients[usize::from(ci)].inflight.cancel(id);
        }
        tx.clear();
        self.stats.sent += sent as u64;
        if let Some(r) = &mut self.remaining {
            *r -= sent as u64;
        }
        if let Some(f) = &mut self.flood {
            f.send(&mut self.queue, &self.pool, sent as u64, &mut self.stats);
        }
        queued
    }
}

/// EAL arguments: the user's, plus a floating main lcore unless they choose lcores.
fn eal_args(user: &str) -> Vec<String> {
    let mut args: Vec<String> = user.split_whitespace().map(str::to_owned).collect();
    let cpus = eal::allowed_cpus();
    if !eal::chooses_lcores(&args) && !cpus.is_empty() {
        args.push(eal::floating_main_lcore(&cpus));
    }
    args
}

/// Find the server's MAC with ARP (IPv4) or a neighbour solicitation (IPv6), polling
/// every queue.
fn resolve_mac(
    queues: &mut [Queue],
    pool: &MbufPool,
    our_mac: [u8; 6],
    our_ip: IpAddr,
    server: IpAddr,
) -> anyhow::Result<[u8; 6]> {
    let started = Instant::now();
    let mut next_ask = started;
    let mut rx = Burst::new();
    while started.elapsed() < RESOLVE_TIMEOUT {
        if Instant::now() >= next_ask {
            next_ask = Instant::now() + Duration::from_millis(300);
            let mut m = pool.alloc().context("mbuf pool empty")?;
            let n = match (our_ip, server) {
                (IpAddr::V4(a), IpAddr::V4(s)) => {
                    dpdk_frame::arp_request(our_mac, a.octets(), s.octets(), m.room_mut())
                }
                (IpAddr::V6(a), IpAddr::V6(s)) => {
                    dpdk_frame::neighbor_solicit(our_mac, a.octets(), s.octets(), m.room_mut())
                }
                _ => bail!("--dpdk-src-ip and the server must be of the same address family"),
            };
            m.set_len(n);
            let mut tx = Burst::new();
            let _ = tx.push(m);
            queues[0].tx_burst(&mut tx);
        }
        for q in queues.iter_mut() {
            q.rx_burst(&mut rx);
            for m in rx.drain() {
                match dpdk_frame::parse(m.data()) {
                    Incoming::ArpReply { ip, mac } if IpAddr::from(ip) == server => return Ok(mac),
                    Incoming::NeighborAdvert { target, mac } if IpAddr::from(target) == server => {
                        return Ok(mac)
                    }
                    _ => {}
                }
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    bail!(
        "no ARP/ND answer from {server} within {RESOLVE_TIMEOUT:?}; give --dpdk-dst-mac or check the link"
    )
}

/// Run a load from a DPDK port against `options.server`.
pub fn run(
    options: &Options,
    templates: &[QueryTemplate],
    args: &DpdkArgs,
) -> anyhow::Result<Report> {
    anyhow::ensure!(!templates.is_empty(), "no queries to send");
    let user_eal = args
        .dpdk_eal
        .as_deref()
        .context("--dpdk-eal is required for the DPDK mode")?;
    let our_ip = args
        .dpdk_src_ip
        .context("--dpdk-src-ip is required in the DPDK mode")?;
    let server = options.server.ip();
    anyhow::ensure!(
        our_ip.is_ipv4() == server.is_ipv4(),
        "--dpdk-src-ip {our_ip} and server {server} are of different address families"
    );
    anyhow::ensure!(
        usize::from(u16::MAX - BASE_PORT) >= options.clients,
        "at most {} clients in the DPDK mode",
        u16::MAX - BASE_PORT
    );
    let threads = options.threads.min(options.clients).max(1);
    anyhow::ensure!(
        args.dpdk_cores.is_empty() || args.dpdk_cores.len() >= threads,
        "--dpdk-cores lists {} CPUs for {threads} threads",
        args.dpdk_cores.len()
    );
    let frames = QueryFrames::new(templates)?;
    let eal = eal::init(&eal_args(user_eal)).context("initialising the DPDK EAL")?;
    let result = run_with_eal(eal, options, &frames, args, threads, our_ip);
    if let Err(e) = eal.cleanup() {
        eprintln!("skylane-perf: rte_eal_cleanup: {e}");
    }
    result
}

fn run_with_eal(
    eal: Eal,
    options: &Options,
    frames: &QueryFrames,
    args: &DpdkArgs,
    threads: usize,
    our_ip: IpAddr,
) -> anyhow::Result<Report> {
    let port = Port::new(&eal, args.dpdk_port).context("the DPDK port")?;
    let info = port.info()?;
    let n = (threads as u32 * 8192).max(8192) - 1;
    let pool = MbufPool::create(
        &eal,
        "perf_pool",
        n,
        256,
        consts::RTE_MBUF_DEFAULT_BUF_SIZE,
        port.socket(),
    )
    .context("creating the mbuf pool (with --no-huge, raise -m)")?;
    let cfg = PortConfig {
        queues: threads as u16,
        rx_desc: 1024,
        tx_desc: 1024,
        rss_hf: consts::RTE_ETH_RSS_IP | consts::RTE_ETH_RSS_UDP,
        rx_offloads: 0,
        tx_offloads: 0,
    };
    let mut queues = port
        .configure(&cfg, &[pool])
        .with_context(|| format!("configuring port {} ({})", args.dpdk_port, info.driver))?;
    port.start().context("starting the port")?;
    let our_mac = port.mac()?;
    let server = options.server.ip();
    let dst_mac = match &args.dpdk_dst_mac {
        Some(s) => parse_mac(s)?,
        None => resolve_mac(&mut queues, &pool, our_mac, our_ip, server)?,
    };
    let ep = Endpoints {
        src_mac: our_mac,
        dst_mac,
        src_ip: our_ip,
        dst_ip: server,
        dst_port: options.server.port(),
    };
    let total = match options.length {
        RunLength::Passes(p) => Some(frames.len() as u64 * u64::from(p)),
        RunLength::Duration(_) => None,
    };
    // Clients are split into contiguous port ranges per thread.
    let mut workers = Vec::with_capacity(threads);
    let mut first_client = 0usize;
    for (t, queue) in queues.into_iter().enumerate() {
        let count = share(options.clients as u64, threads, t) as usize;
        let clients = (first_client..first_client + count)
            .map(|i| {
                let max_outstanding =
                    share(options.max_outstanding as u64, options.clients, i) as usize;
                Client {
                    header: HeaderTemplate::new(&ep, BASE_PORT + i as u16),
                    inflight: Window::new(max_outstanding, (i as u16).wrapping_mul(7919)),
                    max_outstanding,
                }
            })
            .collect();
        workers.push(Worker {
            queue,
            pool,
            spare: Burst::new(),
            frames,
            clients,
            first_port: BASE_PORT + first_client as u16,
            server,
            server_port: options.server.port(),
            our_ip,
            our_mac,
            reflector: args.dpdk_reflector,
            flood: args.dpdk_flood.and_then(|r| Flood::new(&ep, r)),
            next_query: t * frames.len() / threads,
            next_client: 0,
            remaining: total.map(|n| share(n, threads, t)),
            qps: options.max_qps.map(|q| share(q, threads, t)),
            timeout: options.timeout,
            stats: Stats::new(),
        });
        first_client += count;
    }
    let start = Instant::now();
    let deadline = match options.length {
        RunLength::Duration(d) => Some(start + d),
        RunLength::Passes(_) => None,
    };
    let results: Vec<anyhow::Result<(Stats, Instant)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = workers
            .into_iter()
            .enumerate()
            .map(|(t, w)| {
                let core = args.dpdk_cores.get(t).copied();
                // Named, so lab scripts can find the thread in /proc.
                let thread = std::thread::Builder::new().name(format!("perf-tx-{t}"));
                thread.spawn_scoped(scope, move || {
                    if let Some(c) = core {
                        eal::pin_current_thread(c)
                            .with_context(|| format!("pinning a sender thread to CPU {c}"))?;
                    }
                    eal.register_thread()
                        .context("registering the sender thread with the EAL")?;
                    let r = w.run(start, deadline);
                    eal.unregister_thread();
                    Ok(r)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| match h {
                Ok(h) => h
                    .join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a sender thread panicked"))),
                Err(e) => Err(anyhow::Error::new(e).context("starting a sender thread")),
            })
            .collect()
    });
    let mut stats = Stats::new();
    let mut stopped = start;
    for r in results {
        let (s, stop) = r?;
        stats.merge(&s);
        stopped = stopped.max(stop);
    }
    if let Ok(ps) = port.stats() {
        eprintln!(
            "skylane-perf: port {} ({}): ipackets {} opackets {} imissed {} rx_nombuf {} oerrors {}",
            args.dpdk_port, info.driver, ps.ipackets, ps.opackets, ps.imissed, ps.rx_nombuf, ps.oerrors
        );
    }
    let _ = port.stop();
    let _ = port.close();
    Ok(Report::new(
        "dpdk",
        options.server.to_string(),
        threads,
        options.clients,
        &stats,
        stopped.duration_since(start),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_parsing() {
        assert_eq!(
            parse_mac("02:00:0a:ff:00:01").unwrap(),
            [2, 0, 0x0a, 0xff, 0, 1]
        );
        assert!(parse_mac("02:00:0a:ff:00").is_err());
        assert!(parse_mac("02:00:0a:ff:00:zz").is_err());
    }

    #[test]
    fn main_lcore_floats_unless_chosen() {
        assert!(eal_args("--no-huge")
            .last()
            .unwrap()
            .starts_with("--lcores=0@("));
        assert_eq!(eal_args("--no-huge -l 1"), vec!["--no-huge", "-l", "1"]);
    }
}
