//! The 12-byte DNS message header (RFC 1035 §4.1.1).
//!
//! [`Header`] is a view over the first 12 bytes of a buffer; its only
//! constructor, [`Header::new_checked`], guarantees those bytes exist, so the
//! accessors index without further checks.

use super::{Error, Result};

mod field {
    pub type Field = core::ops::Range<usize>;
    pub const ID: Field = 0..2;
    pub const FLAGS: Field = 2..4;
    pub const QDCOUNT: Field = 4..6;
    pub const ANCOUNT: Field = 6..8;
    pub const NSCOUNT: Field = 8..10;
    pub const ARCOUNT: Field = 10..12;
}

/// Header length in bytes.
pub const HEADER_LEN: usize = field::ARCOUNT.end;

/// Flag bits within the 16-bit flags word.
pub mod flags {
    pub const QR: u16 = 0x8000;
    pub const OPCODE_MASK: u16 = 0x7800;
    pub const OPCODE_SHIFT: u16 = 11;
    pub const AA: u16 = 0x0400;
    pub const TC: u16 = 0x0200;
    pub const RD: u16 = 0x0100;
    pub const RA: u16 = 0x0080;
    pub const Z: u16 = 0x0040;
    pub const AD: u16 = 0x0020;
    pub const CD: u16 = 0x0010;
    pub const RCODE_MASK: u16 = 0x000f;
}

/// A typed view over a DNS header.
#[derive(Debug, Clone, Copy)]
pub struct Header<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Header<T> {
    /// Wraps `buffer`, checking it holds at least a header.
    pub fn new_checked(buffer: T) -> Result<Header<T>> {
        if buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(Header { buffer })
        }
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    #[inline]
    fn word(&self, f: field::Field) -> u16 {
        let d = self.buffer.as_ref();
        u16::from_be_bytes([d[f.start], d[f.start + 1]])
    }

    pub fn id(&self) -> u16 {
        self.word(field::ID)
    }
    pub fn flags(&self) -> u16 {
        self.word(field::FLAGS)
    }
    pub fn qr(&self) -> bool {
        self.flags() & flags::QR != 0
    }
    pub fn opcode(&self) -> u8 {
        ((self.flags() & flags::OPCODE_MASK) >> flags::OPCODE_SHIFT) as u8
    }
    pub fn aa(&self) -> bool {
        self.flags() & flags::AA != 0
    }
    pub fn tc(&self) -> bool {
        self.flags() & flags::TC != 0
    }
    pub fn rd(&self) -> bool {
        self.flags() & flags::RD != 0
    }
    pub fn ra(&self) -> bool {
        self.flags() & flags::RA != 0
    }
    /// The low 4 bits of the response code.
    pub fn rcode(&self) -> u8 {
        (self.flags() & flags::RCODE_MASK) as u8
    }
    pub fn qdcount(&self) -> u16 {
        self.word(field::QDCOUNT)
    }
    pub fn ancount(&self) -> u16 {
        self.word(field::ANCOUNT)
    }
    pub fn nscount(&self) -> u16 {
        self.word(field::NSCOUNT)
    }
    pub fn arcount(&self) -> u16 {
        self.word(field::ARCOUNT)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Header<T> {
    #[inline]
    fn set_word(&mut self, f: field::Field, v: u16) {
        let d = self.buffer.as_mut();
        d[f.start..f.end].copy_from_slice(&v.to_be_bytes());
    }

    pub fn set_id(&mut self, v: u16) {
        self.set_word(field::ID, v)
    }
    pub fn set_flags(&mut self, v: u16) {
        self.set_word(field::FLAGS, v)
    }
    /// Sets or clears the given flag bits.
    pub fn set_flag(&mut self, bits: u16, on: bool) {
        let f = self.flags();
        self.set_flags(if on { f | bits } else { f & !bits })
    }
    /// Sets the low 4 bits of the response code.
    pub fn set_rcode(&mut self, rcode: u8) {
        let f = self.flags() & !flags::RCODE_MASK;
        self.set_flags(f | (rcode as u16 & flags::RCODE_MASK))
    }
    pub fn set_qdcount(&mut self, v: u16) {
        self.set_word(field::QDCOUNT, v)
    }
    pub fn set_ancount(&mut self, v: u16) {
        self.set_word(field::ANCOUNT, v)
    }
    pub fn set_nscount(&mut self, v: u16) {
        self.set_word(field::NSCOUNT, v)
    }
    pub fn set_arcount(&mut self, v: u16) {
        self.set_word(field::ARCOUNT, v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_buffers_are_rejected() {
        for n in 0..HEADER_LEN {
            assert_eq!(
                Header::new_checked(&[0u8; 12][..n]).err(),
                Some(Error::Truncated)
            );
        }
        assert!(Header::new_checked(&[0u8; 12][..]).is_ok());
    }

    #[test]
    fn reads_and_writes_fields() {
        let mut b = [0u8; 12];
        let mut h = Header::new_checked(&mut b[..]).unwrap();
        h.set_id(0xbeef);
        h.set_flag(flags::QR | flags::RD, true);
        h.set_flags(h.flags() | (5 << flags::OPCODE_SHIFT));
        h.set_rcode(3);
        h.set_qdcount(1);
        h.set_arcount(2);
        assert_eq!(b, [0xbe, 0xef, 0xa9, 0x03, 0, 1, 0, 0, 0, 0, 0, 2]);
        let h = Header::new_checked(&b[..]).unwrap();
        assert!(h.qr() && h.rd() && !h.aa() && !h.tc());
        assert_eq!(
            (h.opcode(), h.rcode(), h.qdcount(), h.arcount()),
            (5, 3, 1, 2)
        );
    }
}
