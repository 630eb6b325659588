//! DNS over TCP (RFC 7766), served by the one answer engine.
//!
//! Each message is preceded by its 2-byte length. A connection may carry many
//! pipelined queries; they are answered in order, and replies are flushed
//! whenever no further query is already buffered (so a burst of pipelined
//! queries gets its replies in one write). Every connection has its own
//! [`EngineState`] and counts into the `tcp` [`Stats`] slot.
//!
//! Protections: at most [`TcpConfig::max_connections`] connections (extra
//! ones are closed at once); a connection idle for [`TcpConfig::idle_timeout`]
//! is closed; a message must arrive completely within that same time (slow
//! clients cannot trickle bytes) and replies must be taken by the client
//! within it; a length below a DNS header or above [`MAX_TCP_QUERY`] closes
//! the connection.

use crate::forward::Forwarder;
use anyhow::Context;
use skylane_dataplane::cache::ForwardPolicy;
use skylane_dataplane::engine::{
    answer, Client, DropReason, EngineState, ForwardMode, Transport, Verdict,
};
use skylane_dataplane::stats::{QueryRecorder, Stats};
use skylane_dataplane::SharedSnapshot;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{timeout, timeout_at, Instant};

/// Largest query accepted over TCP. Real queries (question + OPT) are far
/// smaller; anything longer closes the connection.
pub const MAX_TCP_QUERY: usize = 4096;
/// Smallest DNS message (the header).
const HEADER_LEN: usize = 12;
/// Largest DNS message over TCP, and the response buffer size.
const MAX_MESSAGE: usize = 65535;

/// TCP server settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpConfig {
    /// Close a connection with no complete query for this long; also the
    /// time a client has to take its replies.
    pub idle_timeout: Duration,
    /// Connections served at once; further ones are closed on accept.
    pub max_connections: usize,
    /// The EDNS UDP size advertised in TCP answers (`dns.max-udp-size`).
    pub max_udp: u16,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            idle_timeout: Duration::from_secs(10),
            max_connections: 1024,
            max_udp: 1232,
        }
    }
}

/// What every connection shares.
struct Shared {
    cfg: TcpConfig,
    snapshot: SharedSnapshot,
    stats: Arc<Stats>,
    connections: Arc<Semaphore>,
    /// Mixed into each connection's engine seed.
    seed: AtomicU64,
    forward: Option<TcpForward>,
}

/// Forwarding for TCP clients: the engine says which queries to forward
/// (policy), the forwarder resolves them.
#[derive(Clone)]
pub struct TcpForward {
    pub forwarder: Arc<Forwarder>,
    pub policy: Arc<ForwardPolicy>,
}

/// Where to serve: an address to bind, or a listener already bound (e.g. by
/// [`skylane_dataplane::socket::bind_tcp`], which tests use for port 0).
#[derive(Debug)]
pub enum TcpListen {
    Addr(SocketAddr),
    Listener(std::net::TcpListener),
}

impl From<SocketAddr> for TcpListen {
    fn from(addr: SocketAddr) -> Self {
        TcpListen::Addr(addr)
    }
}

impl From<std::net::TcpListener> for TcpListen {
    fn from(listener: std::net::TcpListener) -> Self {
        TcpListen::Listener(listener)
    }
}

impl TcpListen {
    /// The bound listener (binding with `IPV6_V6ONLY` and `SO_REUSEADDR`).
    fn into_tokio(self) -> anyhow::Result<TcpListener> {
        let listener = match self {
            TcpListen::Addr(addr) => skylane_dataplane::socket::bind_tcp(addr)?,
            TcpListen::Listener(listener) => listener,
        };
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        TcpListener::from_std(listener).with_context(|| format!("cannot serve TCP on {addr}"))
    }
}

/// Resolves once shutdown is signalled (or the sender is gone).
async fn signalled(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Serves DNS over TCP on `listeners` (addresses or bound listeners) until
/// `shutdown` becomes true, then closes every connection and returns. Every
/// address is bound before anything is served: a bind error is returned.
pub async fn run_tcp<L: Into<TcpListen>>(
    listeners: Vec<L>,
    cfg: TcpConfig,
    snapshot: SharedSnapshot,
    stats: Arc<Stats>,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    run_tcp_forwarding(listeners, cfg, snapshot, stats, None, shutdown).await
}

/// [`run_tcp`] with names outside our zones forwarded (when `forward` is set).
pub async fn run_tcp_forwarding<L: Into<TcpListen>>(
    listeners: Vec<L>,
    cfg: TcpConfig,
    snapshot: SharedSnapshot,
    stats: Arc<Stats>,
    forward: Option<TcpForward>,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let max_connections = cfg
        .max_connections
        .clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let shared = Arc::new(Shared {
        cfg,
        snapshot,
        stats,
        connections: Arc::new(Semaphore::new(max_connections)),
        seed: AtomicU64::new(seed),
        forward,
    });
    let listeners = listeners
        .into_iter()
        .map(|l| l.into().into_tokio())
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut accepting = JoinSet::new();
    for listener in listeners {
        tracing::info!(addr = ?listener.local_addr().ok(), "DNS over TCP listening");
        accepting.spawn(accept_loop(listener, shared.clone(), shutdown.clone()));
    }
    while accepting.join_next().await.is_some() {}
    // Every connection holds a permit until it is closed: having them all
    // back means every connection is gone.
    let _all = shared
        .connections
        .acquire_many(max_connections as u32)
        .await;
    Ok(())
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            _ = signalled(&mut shutdown) => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => match shared.connections.clone().try_acquire_owned() {
                Ok(permit) => {
                    let (shared, mut shutdown) = (shared.clone(), shutdown.clone());
                    tokio::spawn(async move {
                        tokio::select! {
                            _ = signalled(&mut shutdown) => {}
                            r = serve_connection(stream, peer, &shared) => {
                                if let Err(e) = r {
                                    tracing::debug!(%peer, error = %e, "TCP connection ended");
                                }
                            }
                        }
                        drop(permit);
                    });
                }
                Err(_) => {
                    tracing::debug!(%peer, "TCP connection limit reached; closing");
                    drop(stream);
                }
            },
            Err(e) => {
                // E.g. out of file descriptors: back off instead of spinning.
                tracing::warn!(error = %e, "TCP accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Answers the queries of one connection until it closes, idles or misbehaves.
async fn serve_connection(stream: TcpStream, peer: SocketAddr, shared: &Shared) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let idle = shared.cfg.idle_timeout;
    let (rd, wr) = stream.into_split();
    let mut reader = BufReader::new(rd);
    let mut writer = BufWriter::new(wr);
    let mut recorder = QueryRecorder::unbuffered(shared.stats.clone(), shared.stats.tcp_slot());
    let seed = shared
        .seed
        .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
    let mode = match &shared.forward {
        Some(f) => ForwardMode::Deferred(f.policy.clone()),
        None => ForwardMode::Off,
    };
    let mut state = EngineState::new(seed, shared.cfg.max_udp).with_forward(mode);
    let client = Client {
        addr: peer.ip().to_canonical(),
        port: peer.port(),
        transport: Transport::Tcp,
        via: 0,
    };
    let mut buf = vec![0u8; 2 + MAX_MESSAGE];
    let mut unflushed = 0u64;
    loop {
        let deadline = Instant::now() + idle;
        let mut prefix = [0u8; 2];
        match timeout_at(deadline, reader.read_exact(&mut prefix)).await {
            Err(_) => return Ok(()), // idle
            Ok(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Ok(Err(e)) => return Err(e),
            Ok(Ok(_)) => {}
        }
        recorder.counters().add_rx(1);
        let len = usize::from(u16::from_be_bytes(prefix));
        if !(HEADER_LEN..=MAX_TCP_QUERY).contains(&len) {
            recorder.record_drop();
            tracing::debug!(%peer, len, "bad TCP message length; closing");
            return Ok(());
        }
        let body = &mut buf[2..2 + len];
        match timeout_at(deadline, reader.read_exact(body)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                recorder.record_drop();
                return if e.kind() == io::ErrorKind::UnexpectedEof {
                    Ok(())
                } else {
                    Err(e)
                };
            }
            Err(_) => {
                recorder.record_drop();
                tracing::debug!(%peer, "TCP query not received in time; closing");
                return Ok(());
            }
        }
        let sample = recorder.start(&buf[2..2 + len]);
        let verdict = {
            let snap = shared.snapshot.load();
            answer(&snap, &mut buf[2..], len, &client, &mut state)
        };
        recorder.record(&verdict, sample);
        let reply_len = match verdict {
            Verdict::Reply(reply) => Some(reply.len),
            Verdict::Forward(_) => forward(shared, &mut buf, len, peer).await,
            Verdict::Drop(DropReason::NotAQuery | DropReason::RateLimited) => None,
            Verdict::Drop(DropReason::Malformed) => return Ok(()),
        };
        if let Some(reply_len) = reply_len {
            let Ok(reply_len) = u16::try_from(reply_len) else {
                recorder.counters().add_send_errors(1);
                continue;
            };
            buf[..2].copy_from_slice(&reply_len.to_be_bytes());
            unflushed += 1;
            let write = writer.write_all(&buf[..2 + usize::from(reply_len)]);
            if !matches!(timeout(idle, write).await, Ok(Ok(()))) {
                recorder.counters().add_send_errors(unflushed);
                return Ok(());
            }
        }
        if unflushed > 0 && reader.buffer().is_empty() {
            if !matches!(timeout(idle, writer.flush()).await, Ok(Ok(()))) {
                recorder.counters().add_send_errors(unflushed);
                return Ok(());
            }
            recorder.counters().add_tx(unflushed);
            unflushed = 0;
        }
    }
}

/// Resolves the query in `buf[2..2 + len]` through the forwarder; the reply
/// replaces it. Returns the reply length.
async fn forward(shared: &Shared, buf: &mut [u8], len: usize, peer: SocketAddr) -> Option<usize> {
    let f = shared.forward.as_ref()?;
    let reply = f.forwarder.resolve_tcp(&buf[2..2 + len], peer).await?;
    buf.get_mut(2..2 + reply.len())?.copy_from_slice(&reply);
    Some(reply.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use skylane_dataplane::record::{rtype, RData, Record};
    use skylane_dataplane::snapshot::{Snapshot, ZoneConfig};
    use skylane_dataplane::stats::{Backend, CounterSnapshot};
    use skylane_dataplane::Name;
    use std::net::Ipv4Addr;
    use tokio::task::JoinHandle;

    const WEB_IP: [u8; 4] = [10, 0, 0, 7];

    fn snapshot() -> SharedSnapshot {
        let records = vec![Record::new(
            Name::from_ascii("web.skylane.local.").unwrap(),
            60,
            RData::A(Ipv4Addr::from(WEB_IP)),
        )];
        let snap = Snapshot::build(Arc::new(ZoneConfig::default()), records);
        Arc::new(arc_swap::ArcSwap::from_pointee(snap))
    }

    /// A length-prefixed query for `web.skylane.local. A`.
    fn framed_query(id: u16) -> Vec<u8> {
        let mut q = id.to_be_bytes().to_vec();
        q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
        q.extend_from_slice(Name::from_ascii("web.skylane.local.").unwrap().as_wire());
        q.extend_from_slice(&rtype::A.to_be_bytes());
        q.extend_from_slice(&1u16.to_be_bytes());
        let mut framed = (q.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&q);
        framed
    }

    struct Server {
        addr: SocketAddr,
        stats: Arc<Stats>,
        stop: watch::Sender<bool>,
        task: JoinHandle<anyhow::Result<()>>,
    }

    fn start(cfg: TcpConfig) -> Server {
        let listener = skylane_dataplane::socket::bind_tcp("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let stats = Arc::new(Stats::new(Backend::Socket, &[0]));
        let (stop, rx) = watch::channel(false);
        let task = tokio::spawn(run_tcp(vec![listener], cfg, snapshot(), stats.clone(), rx));
        Server {
            addr,
            stats,
            stop,
            task,
        }
    }

    fn tcp_counters(stats: &Stats) -> CounterSnapshot {
        stats.slot(stats.tcp_slot()).counters().snapshot()
    }

    async fn wait_counters(
        stats: &Stats,
        done: impl Fn(&CounterSnapshot) -> bool,
    ) -> CounterSnapshot {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let c = tcp_counters(stats);
            if done(&c) || Instant::now() > deadline {
                return c;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn read_reply(stream: &mut TcpStream) -> Vec<u8> {
        let len = timeout(Duration::from_secs(20), stream.read_u16())
            .await
            .unwrap()
            .unwrap();
        let mut msg = vec![0u8; usize::from(len)];
        stream.read_exact(&mut msg).await.unwrap();
        msg
    }

    /// True once the server has closed the connection (EOF or reset).
    async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
        let mut byte = [0u8; 1];
        matches!(
            timeout(limit, stream.read(&mut byte)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }

    fn check_answer(msg: &[u8], id: u16) {
        assert_eq!(u16::from_be_bytes([msg[0], msg[1]]), id);
        assert_ne!(msg[2] & 0x80, 0, "QR set");
        assert_eq!(msg[3] & 0x0f, 0, "NOERROR");
        assert_eq!(u16::from_be_bytes([msg[6], msg[7]]), 1, "one answer");
        let rdata = [0, 4, WEB_IP[0], WEB_IP[1], WEB_IP[2], WEB_IP[3]];
        assert!(
            msg.windows(6).any(|w| w == rdata),
            "answer carries {WEB_IP:?}"
        );
    }

    #[tokio::test]
    async fn pipelined_queries_in_one_write_are_answered_in_order() {
        let server = start(TcpConfig::default());
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        let burst: Vec<u8> = (1..=6).flat_map(framed_query).collect();
        stream.write_all(&burst).await.unwrap();
        for id in 1..=6 {
            check_answer(&read_reply(&mut stream).await, id);
        }
        // The connection stays open for more.
        stream.write_all(&framed_query(77)).await.unwrap();
        check_answer(&read_reply(&mut stream).await, 77);
        let c = wait_counters(&server.stats, |c| c.tx_packets >= 7).await;
        assert_eq!(
            (c.rx_packets, c.queries, c.rcode[0], c.tx_packets),
            (7, 7, 7, 7)
        );
        assert_eq!(c.dropped, 0);
        let report = server.stats.report();
        assert_eq!(report.slots.last().unwrap().backend, "tcp");
        assert_eq!(report.slots[0].counters.queries, 0, "UDP slot untouched");
        server.stop.send(true).unwrap();
        server.task.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn idle_and_slow_clients_are_closed() {
        let server = start(TcpConfig {
            idle_timeout: Duration::from_millis(200),
            max_connections: 8,
            ..TcpConfig::default()
        });
        let mut idle = TcpStream::connect(server.addr).await.unwrap();
        // Half a query, then nothing: the message deadline closes it.
        let mut slow = TcpStream::connect(server.addr).await.unwrap();
        let q = framed_query(5);
        slow.write_all(&q[..q.len() / 2]).await.unwrap();
        assert!(closed_within(&mut idle, Duration::from_secs(20)).await);
        assert!(closed_within(&mut slow, Duration::from_secs(20)).await);
        let c = wait_counters(&server.stats, |c| c.dropped >= 1).await;
        assert_eq!((c.rx_packets, c.dropped, c.responses()), (1, 1, 0));
        server.stop.send(true).unwrap();
        server.task.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn bad_lengths_close_the_connection() {
        let server = start(TcpConfig::default());
        for prefix in [[0xff, 0xff], [0x00, 0x03], [0x00, 0x00]] {
            let mut stream = TcpStream::connect(server.addr).await.unwrap();
            stream.write_all(&prefix).await.unwrap();
            stream.write_all(&[0xab; 64]).await.unwrap();
            assert!(
                closed_within(&mut stream, Duration::from_secs(20)).await,
                "{prefix:?}"
            );
        }
        // A good query after a response message (QR=1) on the same connection.
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        let mut response = framed_query(8);
        response[4] |= 0x80;
        response.extend_from_slice(&framed_query(9));
        stream.write_all(&response).await.unwrap();
        check_answer(&read_reply(&mut stream).await, 9);
        let c = wait_counters(&server.stats, |c| c.queries >= 5).await;
        assert_eq!((c.queries, c.dropped, c.responses()), (5, 4, 1));
        server.stop.send(true).unwrap();
        server.task.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn connections_over_the_limit_are_closed() {
        let server = start(TcpConfig {
            idle_timeout: Duration::from_secs(10),
            max_connections: 2,
            ..TcpConfig::default()
        });
        let mut a = TcpStream::connect(server.addr).await.unwrap();
        let mut b = TcpStream::connect(server.addr).await.unwrap();
        for (s, id) in [(&mut a, 1), (&mut b, 2)] {
            s.write_all(&framed_query(id)).await.unwrap();
            check_answer(&read_reply(s).await, id);
        }
        let mut c = TcpStream::connect(server.addr).await.unwrap();
        assert!(closed_within(&mut c, Duration::from_secs(20)).await);
        // Closing one frees a place.
        drop(a);
        let mut d = None;
        for _ in 0..50 {
            let mut s = TcpStream::connect(server.addr).await.unwrap();
            s.write_all(&framed_query(4)).await.unwrap();
            if let Ok(Ok(len)) = timeout(Duration::from_secs(1), s.read_u16()).await {
                assert!(len > 12);
                d = Some(s);
                break;
            }
        }
        assert!(d.is_some(), "a place was freed");
        b.write_all(&framed_query(3)).await.unwrap();
        check_answer(&read_reply(&mut b).await, 3);
        server.stop.send(true).unwrap();
        server.task.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn binds_addresses_and_reports_bind_errors() {
        // Find a free port, release it, then let run_tcp bind it by address.
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = probe.local_addr().unwrap();
        drop(probe);
        let stats = Arc::new(Stats::new(Backend::Socket, &[0]));
        let (stop, rx) = watch::channel(false);
        let task = tokio::spawn(run_tcp(
            vec![addr],
            TcpConfig::default(),
            snapshot(),
            stats.clone(),
            rx.clone(),
        ));
        let mut stream = None;
        for _ in 0..1000 {
            if let Ok(s) = TcpStream::connect(addr).await {
                stream = Some(s);
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut stream = stream.expect("run_tcp listens on the address");
        stream.write_all(&framed_query(3)).await.unwrap();
        check_answer(&read_reply(&mut stream).await, 3);

        let bad: SocketAddr = "192.0.2.1:53".parse().unwrap();
        let err = run_tcp(vec![bad], TcpConfig::default(), snapshot(), stats, rx)
            .await
            .unwrap_err();
        assert!(format!("{err:#}").contains("192.0.2.1:53"), "{err:#}");
        stop.send(true).unwrap();
        task.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn shutdown_closes_open_connections_and_returns() {
        let server = start(TcpConfig::default());
        let mut open = TcpStream::connect(server.addr).await.unwrap();
        open.write_all(&framed_query(1)).await.unwrap();
        check_answer(&read_reply(&mut open).await, 1);
        let stopping = Instant::now();
        server.stop.send(true).unwrap();
        // Bounds with room for a loaded machine.
        timeout(Duration::from_secs(20), server.task)
            .await
            .expect("run_tcp returns after shutdown")
            .unwrap()
            .unwrap();
        assert!(stopping.elapsed() < Duration::from_secs(20));
        assert!(closed_within(&mut open, Duration::from_secs(10)).await);
        assert!(
            TcpStream::connect(server.addr).await.is_err(),
            "listener closed"
        );
    }
}
