//! `--dpdk-flood RATIO`: exception-path flood frames interleaved with the DPDK mode's
//! queries, so a server's DNS loop sees a flood of frames it must not answer at the full
//! rate of the link, with no kernel in between (the lab of `scripts/bench-dpdk.sh
//! memflood`). For every query sent, RATIO flood frames follow in the same poll,
//! alternately a broadcast UDP datagram (Ethernet and IPv4 broadcast, or IPv6 all-nodes
//! multicast, to port 9999) and a unicast UDP datagram to the server's address on another
//! port (9999). Neither gets an answer; they are counted, not tracked.

use crate::dpdk_frame::{Endpoints, HeaderTemplate};
use crate::report::Stats;
use dpdk_sys::{Burst, MbufPool, Queue, BURST};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Destination UDP port of the flood (no DNS there).
pub const FLOOD_PORT: u16 = 9999;
/// UDP source port of the flood frames.
const FLOOD_SRC_PORT: u16 = 9998;
/// UDP payload bytes of a flood frame (a 64-byte datagram, as the veth lab's flooder).
const PAYLOAD: usize = 64;

/// The flood of one sender thread.
pub struct Flood {
    /// Broadcast/multicast frame and other-port unicast frame.
    frames: [(Vec<u8>, usize); 2],
    ratio: f64,
    /// Flood frames owed for the queries sent so far.
    credit: f64,
    next: usize,
}

/// The broadcast (IPv4) or all-nodes multicast (IPv6) destination of `ep`'s family.
fn broadcast(ep: &Endpoints) -> Endpoints {
    let (dst_mac, dst_ip) = match ep.dst_ip {
        IpAddr::V4(_) => ([0xff; 6], IpAddr::V4(Ipv4Addr::BROADCAST)),
        IpAddr::V6(_) => (
            [0x33, 0x33, 0, 0, 0, 1],
            IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1)),
        ),
    };
    Endpoints {
        dst_mac,
        dst_ip,
        dst_port: FLOOD_PORT,
        ..*ep
    }
}

/// One frame from `ep` with a 64-byte payload.
fn frame(ep: &Endpoints) -> (Vec<u8>, usize) {
    let mut buf = vec![0u8; 256];
    let header = HeaderTemplate::new(ep, FLOOD_SRC_PORT);
    let len = header
        .write(&mut buf, |p| {
            let body = p.get_mut(..PAYLOAD)?;
            body.fill(b'x');
            Some(PAYLOAD)
        })
        .unwrap_or(0);
    (buf, len)
}

impl Flood {
    /// `ratio` flood frames per query, between `ep`'s endpoints (`None` when 0).
    pub fn new(ep: &Endpoints, ratio: f64) -> Option<Flood> {
        if ratio <= 0.0 || !ratio.is_finite() {
            return None;
        }
        let other_port = Endpoints {
            dst_port: FLOOD_PORT,
            ..*ep
        };
        Some(Flood {
            frames: [frame(&broadcast(ep)), frame(&other_port)],
            ratio,
            credit: 0.0,
            next: 0,
        })
    }

    /// Send the flood frames owed for `queries` more queries (bursts of at most
    /// [`BURST`]; what the ring refuses is counted in `stats.flood_tx_full` and not
    /// owed again).
    pub fn send(&mut self, queue: &mut Queue, pool: &MbufPool, queries: u64, stats: &mut Stats) {
        self.credit += queries as f64 * self.ratio;
        let mut tx = Burst::new();
        while self.credit >= 1.0 {
            let want = (self.credit as usize).min(BURST);
            for _ in 0..want {
                let Some(mut m) = pool.alloc() else { break };
                let (bytes, len) = &self.frames[self.next];
                self.next ^= 1;
                let Some(room) = m.room_mut().get_mut(..*len) else {
                    break;
                };
                room.copy_from_slice(&bytes[..*len]);
                m.set_len(*len);
                m.set_ol_flags(0);
                if tx.push(m).is_err() {
                    break;
                }
            }
            let queued = tx.len();
            if queued == 0 {
                break;
            }
            let sent = queue.tx_burst(&mut tx);
            tx.clear();
            stats.flood_sent += sent as u64;
            stats.flood_tx_full += (queued - sent) as u64;
            self.credit -= queued as f64;
            if sent < queued {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpdk_frame::{parse, Incoming};

    fn ep(src: &str, dst: &str) -> Endpoints {
        Endpoints {
            src_mac: [2, 0, 0, 0, 0, 2],
            dst_mac: [2, 0, 0, 0, 0, 1],
            src_ip: src.parse().unwrap(),
            dst_ip: dst.parse().unwrap(),
            dst_port: 53,
        }
    }

    #[test]
    fn frames_are_broadcast_and_other_port_udp() {
        for (src, dst, bcast) in [
            ("10.98.0.2", "10.98.0.1", "255.255.255.255"),
            ("fd00::2", "fd00::1", "ff02::1"),
        ] {
            let f = Flood::new(&ep(src, dst), 1.0).unwrap();
            let (b, blen) = &f.frames[0];
            assert_eq!(b[0] & 1, 1, "group MAC");
            match parse(&b[..*blen]) {
                Incoming::Udp {
                    dst_port, payload, ..
                } => {
                    assert_eq!(dst_port, FLOOD_PORT);
                    assert_eq!(payload.len(), PAYLOAD);
                }
                other => panic!("{other:?}"),
            }
            let dst_ip: IpAddr = bcast.parse().unwrap();
            let at = if dst_ip.is_ipv4() { 30..34 } else { 38..54 };
            let want: Vec<u8> = match dst_ip {
                IpAddr::V4(a) => a.octets().to_vec(),
                IpAddr::V6(a) => a.octets().to_vec(),
            };
            assert_eq!(&b[at], &want[..]);
            let (u, ulen) = &f.frames[1];
            assert_eq!(&u[0..6], &[2, 0, 0, 0, 0, 1]);
            assert!(matches!(
                parse(&u[..*ulen]),
                Incoming::Udp {
                    dst_port: FLOOD_PORT,
                    ..
                }
            ));
        }
        assert!(Flood::new(&ep("10.98.0.2", "10.98.0.1"), 0.0).is_none());
    }
}
