//! Creating the per-core UDP sockets.
//!
//! Every core gets its own socket per listen address, all bound to the same
//! address with `SO_REUSEPORT` so the kernel spreads datagrams over cores by
//! flow hash. IPv6 sockets are `IPV6_V6ONLY` so `[::]` and `0.0.0.0` can both
//! be listened on. The receive timeout bounds how long a blocked core takes
//! to notice shutdown.

use super::SocketError;
use socket2::{Domain, Protocol, Socket, Type};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::time::Duration;

/// How long a core blocks in a receive before re-checking shutdown.
pub const RECV_TIMEOUT: Duration = Duration::from_millis(100);

/// Receive buffer asked for (the kernel may clamp it to `net.core.rmem_max`).
const RECV_BUFFER: usize = 4 << 20;

/// Binds one UDP socket to `addr` with `SO_REUSEPORT`.
pub fn bind_udp(addr: SocketAddr) -> Result<UdpSocket, SocketError> {
    let setup = |e: std::io::Error| SocketError::Setup { addr, source: e };
    let socket =
        Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP)).map_err(setup)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true).map_err(setup)?;
    }
    socket.set_reuse_port(true).map_err(setup)?;
    socket.set_read_timeout(Some(RECV_TIMEOUT)).map_err(setup)?;
    // Best effort: a smaller buffer only means earlier drops under bursts.
    let _ = socket.set_recv_buffer_size(RECV_BUFFER);
    socket.bind(&addr.into()).map_err(|e| SocketError::Bind {
        tcp: false,
        addr,
        source: e,
    })?;
    Ok(socket.into())
}

/// Binds a TCP listener for the DNS-over-TCP server (`IPV6_V6ONLY` for IPv6,
/// `SO_REUSEADDR`, non-blocking so an async runtime can adopt it).
pub fn bind_tcp(addr: SocketAddr) -> Result<TcpListener, SocketError> {
    let setup = |e: std::io::Error| SocketError::Setup { addr, source: e };
    let socket =
        Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)).map_err(setup)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true).map_err(setup)?;
    }
    socket.set_reuse_address(true).map_err(setup)?;
    socket.set_nonblocking(true).map_err(setup)?;
    socket.bind(&addr.into()).map_err(|e| SocketError::Bind {
        tcp: true,
        addr,
        source: e,
    })?;
    socket.listen(1024).map_err(setup)?;
    Ok(socket.into())
}

/// Binds `cores` sockets per address in `listen`; result `[core][address]`.
/// A port 0 is resolved by the first socket and reused by the other cores.
/// Also returns the bound addresses (in `listen` order).
#[allow(clippy::type_complexity)]
pub fn bind_all(
    listen: &[SocketAddr],
    cores: usize,
) -> Result<(Vec<Vec<UdpSocket>>, Vec<SocketAddr>), SocketError> {
    let mut per_core: Vec<Vec<UdpSocket>> = (0..cores).map(|_| Vec::new()).collect();
    let mut bound = Vec::with_capacity(listen.len());
    for &addr in listen {
        let first = bind_udp(addr)?;
        let actual = first
            .local_addr()
            .map_err(|e| SocketError::Setup { addr, source: e })?;
        bound.push(actual);
        let mut sockets = vec![first];
        for _ in 1..cores {
            sockets.push(bind_udp(actual)?);
        }
        for (core, socket) in per_core.iter_mut().zip(sockets) {
            core.push(socket);
        }
    }
    Ok((per_core, bound))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_zero_is_shared_by_all_cores() {
        let (sockets, bound) = bind_all(&["127.0.0.1:0".parse().unwrap()], 3).unwrap();
        assert_eq!(sockets.len(), 3);
        assert_ne!(bound[0].port(), 0);
        for core in &sockets {
            assert_eq!(core[0].local_addr().unwrap(), bound[0]);
        }
    }

    #[test]
    fn tcp_v4_and_v6_share_a_port() {
        let v6 = bind_tcp("[::1]:0".parse().unwrap()).unwrap();
        let port = v6.local_addr().unwrap().port();
        // V6ONLY: the same port is still free on IPv4.
        let v4 = bind_tcp(SocketAddr::from(([127, 0, 0, 1], port))).unwrap();
        assert_eq!(v4.local_addr().unwrap().port(), port);
    }

    #[test]
    fn bind_error_names_the_address() {
        // Not a local address: bind fails with EADDRNOTAVAIL.
        let addr: SocketAddr = "192.0.2.1:53".parse().unwrap();
        let err = bind_udp(addr).unwrap_err();
        assert!(matches!(err, SocketError::Bind { .. }));
        assert!(err.to_string().contains("192.0.2.1:53"), "{err}");
        let err = bind_tcp(addr).unwrap_err();
        assert!(err.to_string().contains("TCP 192.0.2.1:53"), "{err}");
    }
}
