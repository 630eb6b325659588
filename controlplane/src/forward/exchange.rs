//! One exchange with one upstream (RFC 5452): a fresh UDP socket (random
//! source port chosen by the kernel) and a random ID per query; a reply is
//! accepted only from the server's address and port (connected socket),
//! with our ID and our question — anything else is dropped, counted, and
//! the wait goes on. TC=1 → the same query over TCP.

use rand::Rng;
use skylane_dataplane::cache::Key;
use skylane_dataplane::wire::header::flags;
use skylane_dataplane::wire::{Header, NameBuf, Question};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::{timeout_at, Instant};

/// The EDNS payload size we advertise upstream.
pub const UPSTREAM_UDP_SIZE: u16 = 1232;

/// Why an exchange produced no usable response.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("timed out")]
    Timeout,
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// What one exchange saw besides its result.
#[derive(Debug, Default, Clone, Copy)]
pub struct Seen {
    /// Datagrams dropped: wrong ID, wrong question, not a response.
    pub mismatched: u64,
    /// The reply was retried over TCP.
    pub tcp: bool,
}

/// The query we send for `key`: RD=1, CD as the client asked, an OPT with
/// DO as in the key.
pub fn build_query(id: u16, key: &Key, cd: bool) -> Vec<u8> {
    let mut q = Vec::with_capacity(12 + key.name.len() + 4 + 11);
    q.extend_from_slice(&id.to_be_bytes());
    let mut f = flags::RD;
    if cd {
        f |= flags::CD;
    }
    q.extend_from_slice(&f.to_be_bytes());
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 1]);
    q.extend_from_slice(&key.name);
    q.extend_from_slice(&key.qtype.to_be_bytes());
    q.extend_from_slice(&key.qclass.to_be_bytes());
    let do_bit: u8 = if key.dnssec_ok { 0x80 } else { 0 };
    q.extend_from_slice(&[0, 0, 41]);
    q.extend_from_slice(&UPSTREAM_UDP_SIZE.to_be_bytes());
    q.extend_from_slice(&[0, 0, do_bit, 0, 0, 0]);
    q
}

/// Whether `msg` is the response to our query `id` for `key`.
pub fn matches(msg: &[u8], id: u16, key: &Key) -> bool {
    let Ok(h) = Header::new_checked(msg) else {
        return false;
    };
    if !h.qr() || h.id() != id || h.qdcount() != 1 {
        return false;
    }
    let mut name = NameBuf::new();
    match Question::parse(msg, 12, 12, &mut name) {
        Ok(q) => name.as_wire() == &key.name[..] && q.qtype == key.qtype && q.qclass == key.qclass,
        Err(_) => false,
    }
}

/// Asks `server` for `key`, giving up at `deadline`.
pub async fn exchange(
    server: SocketAddr,
    key: &Key,
    cd: bool,
    deadline: Instant,
    seen: &mut Seen,
) -> Result<Vec<u8>, ExchangeError> {
    let id: u16 = rand::rng().random();
    let query = build_query(id, key, cd);
    let local: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = UdpSocket::bind(local).await?;
    sock.connect(server).await?;
    sock.send(&query).await?;
    let mut buf = vec![0u8; 65535];
    loop {
        let n = match timeout_at(deadline, sock.recv(&mut buf)).await {
            Err(_) => return Err(ExchangeError::Timeout),
            // ICMP port unreachable and the like: the server is not there.
            Ok(Err(e)) => return Err(e.into()),
            Ok(Ok(n)) => n,
        };
        let msg = &buf[..n];
        if !matches(msg, id, key) {
            seen.mismatched += 1;
            continue;
        }
        if msg[2] & 0x02 != 0 {
            seen.tcp = true;
            return exchange_tcp(server, &query, id, key, deadline, seen).await;
        }
        return Ok(msg.to_vec());
    }
}

/// The same query over TCP (after TC=1).
async fn exchange_tcp(
    server: SocketAddr,
    query: &[u8],
    id: u16,
    key: &Key,
    deadline: Instant,
    seen: &mut Seen,
) -> Result<Vec<u8>, ExchangeError> {
    let work = async {
        let mut s = TcpStream::connect(server).await?;
        let mut framed = (query.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(query);
        s.write_all(&framed).await?;
        loop {
            let len = usize::from(s.read_u16().await?);
            let mut msg = vec![0u8; len];
            s.read_exact(&mut msg).await?;
            if matches(&msg, id, key) {
                return Ok::<_, io::Error>(msg);
            }
            seen.mismatched += 1;
        }
    };
    match timeout_at(deadline, work).await {
        Err(_) => Err(ExchangeError::Timeout),
        Ok(r) => Ok(r?),
    }
}

/// A quick health probe: `. NS` answered at all (any rcode) within `wait`.
pub async fn probe(server: SocketAddr, wait: Duration) -> bool {
    let key = Key {
        name: Box::new([0]),
        qtype: 2,
        qclass: 1,
        dnssec_ok: false,
    };
    let mut seen = Seen::default();
    exchange(server, &key, false, Instant::now() + wait, &mut seen)
        .await
        .is_ok()
}
