//! ICMP echo: an unprivileged ping socket (`SOCK_DGRAM` + `IPPROTO_ICMP`, allowed by
//! `net.ipv4.ping_group_range`) where possible, a raw socket otherwise (root / CAP_NET_RAW).

use super::check::{CheckKind, ProbeResult};
use socket2::{Domain, Protocol, Socket, Type};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;
use tokio::net::UdpSocket;

static SEQUENCE: AtomicU16 = AtomicU16::new(1);
/// Identifier of raw-socket echoes (ping sockets get theirs from the kernel).
const RAW_ID: u16 = 0x5359;

/// Sends one echo request to `ip` and waits for the reply.
pub async fn echo(ip: IpAddr, timeout: Duration) -> ProbeResult {
    let r = tokio::time::timeout(timeout, echo_inner(ip))
        .await
        .unwrap_or_else(|_| Err(format!("timed out after {} ms", timeout.as_millis())));
    ProbeResult {
        kind: CheckKind::Icmp,
        ok: r.is_ok(),
        reason: r.err().map(|why| format!("icmp {ip}: {why}")),
    }
}

fn open(ip: IpAddr) -> Result<(UdpSocket, bool), String> {
    let (domain, proto) = match ip {
        IpAddr::V4(_) => (Domain::IPV4, Protocol::ICMPV4),
        IpAddr::V6(_) => (Domain::IPV6, Protocol::ICMPV6),
    };
    let (socket, raw) = match Socket::new(domain, Type::DGRAM, Some(proto)) {
        Ok(s) => (s, false),
        Err(_) => (
            Socket::new(domain, Type::RAW, Some(proto))
                .map_err(|e| format!("no ping or raw socket: {e}"))?,
            true,
        ),
    };
    socket.set_nonblocking(true).map_err(|e| e.to_string())?;
    let std: std::net::UdpSocket = socket.into();
    Ok((UdpSocket::from_std(std).map_err(|e| e.to_string())?, raw))
}

async fn echo_inner(ip: IpAddr) -> Result<(), String> {
    let (socket, raw) = open(ip)?;
    let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    let request_type = if ip.is_ipv4() { 8 } else { 128 };
    let mut packet = vec![request_type, 0, 0, 0];
    packet.extend_from_slice(&RAW_ID.to_be_bytes());
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(b"skylane-health-echo");
    if ip.is_ipv4() {
        let sum = checksum(&packet);
        packet[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    socket
        .send_to(&packet, SocketAddr::new(ip, 0))
        .await
        .map_err(|e| e.kind().to_string())?;
    let mut buf = [0u8; 1500];
    loop {
        let (n, from) = socket
            .recv_from(&mut buf)
            .await
            .map_err(|e| e.kind().to_string())?;
        if from.ip() != ip {
            continue;
        }
        let mut icmp = &buf[..n];
        // Raw IPv4 sockets deliver the IP header too.
        if raw && ip.is_ipv4() && !icmp.is_empty() {
            let header = usize::from(icmp[0] & 0x0f) * 4;
            icmp = icmp.get(header..).unwrap_or(&[]);
        }
        let reply_type = if ip.is_ipv4() { 0 } else { 129 };
        if icmp.len() >= 8 && icmp[0] == reply_type && icmp[6..8] == seq.to_be_bytes() {
            return Ok(());
        }
    }
}

/// The Internet checksum (RFC 1071).
fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn loopback_answers_an_echo() {
        let r = echo("127.0.0.1".parse().unwrap(), Duration::from_secs(5)).await;
        if r.reason
            .as_deref()
            .is_some_and(|w| w.contains("no ping or raw socket"))
        {
            // Neither ping_group_range nor CAP_NET_RAW allows ICMP here.
            assert!(
                std::env::var_os("SKYLANE_REQUIRE_ALL_TESTS").is_none(),
                "no ICMP socket, but SKYLANE_REQUIRE_ALL_TESTS is set: {:?}",
                r.reason
            );
            eprintln!("SKIPPED: {:?}", r.reason);
            return;
        }
        assert!(r.ok, "{:?}", r.reason);
    }
}
