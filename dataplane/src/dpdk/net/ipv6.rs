//! IPv6 fixed headers (RFC 8200). Extension headers are not parsed (such packets go to
//! the exception path).

use super::{be16, put16, Truncated};

/// Bytes of the fixed header.
pub const HEADER_LEN: usize = 40;
pub const NEXT_UDP: u8 = 17;
pub const NEXT_ICMPV6: u8 = 58;
/// Hop limit of packets we originate (NDP uses 255).
pub const DEFAULT_HOP_LIMIT: u8 = 64;
/// ff02::1, all nodes.
pub const ALL_NODES: [u8; 16] = [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

/// A view over an IPv6 packet whose payload fits in the buffer.
#[derive(Debug)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Wrap `buffer`: version 6, 40-byte header plus `payload_len` within the buffer.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, Truncated> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN || b[0] >> 4 != 6 || HEADER_LEN + usize::from(be16(b, 4)) > b.len()
        {
            return Err(Truncated);
        }
        Ok(Ipv6Packet { buffer })
    }

    #[inline]
    pub fn payload_len(&self) -> usize {
        usize::from(be16(self.buffer.as_ref(), 4))
    }

    #[inline]
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[6]
    }

    #[inline]
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[7]
    }

    #[inline]
    pub fn src(&self) -> [u8; 16] {
        let mut a = [0; 16];
        a.copy_from_slice(&self.buffer.as_ref()[8..24]);
        a
    }

    #[inline]
    pub fn dst(&self) -> [u8; 16] {
        let mut a = [0; 16];
        a.copy_from_slice(&self.buffer.as_ref()[24..40]);
        a
    }

    /// The payload (`payload_len` bytes after the fixed header).
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..HEADER_LEN + self.payload_len()]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    /// Rewrite the header for a packet we send: version 6, traffic class and flow 0.
    #[inline]
    pub fn set_header(
        &mut self,
        src: &[u8; 16],
        dst: &[u8; 16],
        next: u8,
        hop_limit: u8,
        payload_len: usize,
    ) {
        let b = self.buffer.as_mut();
        b[0..4].copy_from_slice(&[0x60, 0, 0, 0]);
        put16(b, 4, payload_len as u16);
        b[6] = next;
        b[7] = hop_limit;
        b[8..24].copy_from_slice(src);
        b[24..40].copy_from_slice(dst);
    }
}

/// Multicast (ff00::/8).
#[inline]
pub fn is_multicast(a: &[u8; 16]) -> bool {
    a[0] == 0xff
}

/// The unspecified address `::`.
#[inline]
pub fn is_unspecified(a: &[u8; 16]) -> bool {
    a.iter().all(|&b| b == 0)
}

/// The Ethernet address an IPv6 multicast address maps to (RFC 2464: 33:33 + low 32 bits).
#[inline]
pub fn multicast_mac(a: &[u8; 16]) -> [u8; 6] {
    [0x33, 0x33, a[12], a[13], a[14], a[15]]
}
