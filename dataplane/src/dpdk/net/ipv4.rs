//! IPv4 headers (RFC 791).

use super::checksum;
use super::{be16, put16, Truncated};

pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
/// TTL of packets we originate.
pub const DEFAULT_TTL: u8 = 64;

/// A view over an IPv4 packet whose header (options included) and `total_len` fit in
/// the buffer.
#[derive(Debug)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Wrap `buffer`: version 4, IHL >= 5, header and total length within the buffer.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, Truncated> {
        let b = buffer.as_ref();
        if b.len() < 20 || b[0] >> 4 != 4 {
            return Err(Truncated);
        }
        let hl = usize::from(b[0] & 0x0f) * 4;
        let total = usize::from(be16(b, 2));
        if hl < 20 || total < hl || total > b.len() {
            return Err(Truncated);
        }
        Ok(Ipv4Packet { buffer })
    }

    /// Header length in bytes (20..=60).
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[0] & 0x0f) * 4
    }

    #[inline]
    pub fn total_len(&self) -> usize {
        usize::from(be16(self.buffer.as_ref(), 2))
    }

    /// More-fragments set or a non-zero fragment offset.
    #[inline]
    pub fn is_fragment(&self) -> bool {
        be16(self.buffer.as_ref(), 6) & 0x3fff != 0
    }

    #[inline]
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[9]
    }

    #[inline]
    pub fn src(&self) -> [u8; 4] {
        let mut a = [0; 4];
        a.copy_from_slice(&self.buffer.as_ref()[12..16]);
        a
    }

    #[inline]
    pub fn dst(&self) -> [u8; 4] {
        let mut a = [0; 4];
        a.copy_from_slice(&self.buffer.as_ref()[16..20]);
        a
    }

    /// The header checksum is right.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        checksum::fold(checksum::sum(&self.buffer.as_ref()[..self.header_len()], 0)) == 0xffff
    }

    /// The payload (after the header, up to `total_len`).
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..self.total_len()]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    /// Turn the header around for a reply carrying `payload_len` bytes: swap addresses,
    /// set the total length and TTL, clear fragment fields except DF. When `hw_checksum`
    /// the checksum is left 0 for the NIC, else it is computed.
    #[inline]
    pub fn make_reply(&mut self, payload_len: usize, hw_checksum: bool) {
        let (src, dst) = (self.src(), self.dst());
        let hl = self.header_len();
        let b = self.buffer.as_mut();
        put16(b, 2, (hl + payload_len) as u16);
        let df = be16(b, 6) & 0x4000;
        put16(b, 6, df);
        b[8] = DEFAULT_TTL;
        b[12..16].copy_from_slice(&dst);
        b[16..20].copy_from_slice(&src);
        put16(b, 10, 0);
        if !hw_checksum {
            let c = checksum::finish(checksum::sum(&b[..hl], 0));
            put16(b, 10, c);
        }
    }
}

/// Not a valid unicast source to answer: 0.0.0.0/8, multicast, class E / broadcast.
#[inline]
pub fn is_bad_source(a: &[u8; 4]) -> bool {
    a[0] == 0 || a[0] >= 224
}
