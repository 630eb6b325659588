//! Typed zero-copy views over the link, network and transport headers the DPDK loop
//! reads and rewrites in place (smoltcp style: a view wraps a byte buffer, getters read
//! big-endian fields, setters write them).
//!
//! - [`ethernet`]: Ethernet II with an optional 802.1Q tag.
//! - [`arp`]: ARP for IPv4 over Ethernet.
//! - [`ipv4`], [`ipv6`]: network headers.
//! - [`udp`]: UDP header.
//! - [`icmp`]: ICMP/ICMPv6 type numbers and NDP layout.
//! - [`checksum`]: the Internet checksum and pseudo-headers.

pub mod arp;
pub mod checksum;
pub mod ethernet;
pub mod icmp;
pub mod ipv4;
pub mod ipv6;
pub mod udp;

/// A header was shorter than its fixed part or claimed more bytes than the buffer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncated;

#[inline(always)]
pub(crate) fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[inline(always)]
pub(crate) fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}
