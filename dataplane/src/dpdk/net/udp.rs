//! UDP headers (RFC 768).

use super::{be16, put16, Truncated};

/// Bytes of the header.
pub const HEADER_LEN: usize = 8;

/// A view over a UDP datagram whose `len` fits in the buffer.
#[derive(Debug)]
pub struct UdpDatagram<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpDatagram<T> {
    /// Wrap `buffer`: 8 <= length field <= buffer length.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, Truncated> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Truncated);
        }
        let len = usize::from(be16(b, 4));
        if len < HEADER_LEN || len > b.len() {
            return Err(Truncated);
        }
        Ok(UdpDatagram { buffer })
    }

    #[inline]
    pub fn src_port(&self) -> u16 {
        be16(self.buffer.as_ref(), 0)
    }

    #[inline]
    pub fn dst_port(&self) -> u16 {
        be16(self.buffer.as_ref(), 2)
    }

    /// Length field (header + payload).
    #[inline]
    pub fn len(&self) -> usize {
        usize::from(be16(self.buffer.as_ref(), 4))
    }

    /// Always false for a checked datagram (the length includes the header).
    #[inline]
    pub fn is_empty(&self) -> bool {
        false
    }

    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), 6)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpDatagram<T> {
    /// Swap the ports and set the length for `payload_len` bytes; the checksum is zeroed
    /// (the caller fills it).
    #[inline]
    pub fn make_reply(&mut self, payload_len: usize) {
        let (s, d) = (self.src_port(), self.dst_port());
        let b = self.buffer.as_mut();
        put16(b, 0, d);
        put16(b, 2, s);
        put16(b, 4, (HEADER_LEN + payload_len) as u16);
        put16(b, 6, 0);
    }

    #[inline]
    pub fn set_checksum(&mut self, c: u16) {
        put16(self.buffer.as_mut(), 6, c);
    }
}
