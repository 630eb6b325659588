//! ARP for IPv4 over Ethernet (RFC 826): request parsing and in-place replies.

use super::{be16, put16, Truncated};

/// Bytes of an Ethernet/IPv4 ARP packet.
pub const PACKET_LEN: usize = 28;
pub const OP_REQUEST: u16 = 1;
pub const OP_REPLY: u16 = 2;

/// A view over an Ethernet/IPv4 ARP packet.
#[derive(Debug)]
pub struct ArpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    /// Wrap `buffer`: 28 bytes of hardware type 1 (Ethernet), protocol 0x0800, lengths 6/4.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, Truncated> {
        let b = buffer.as_ref();
        if b.len() < PACKET_LEN || be16(b, 0) != 1 || be16(b, 2) != 0x0800 || b[4] != 6 || b[5] != 4
        {
            return Err(Truncated);
        }
        Ok(ArpPacket { buffer })
    }

    #[inline]
    pub fn operation(&self) -> u16 {
        be16(self.buffer.as_ref(), 6)
    }

    #[inline]
    pub fn sender_mac(&self) -> [u8; 6] {
        let mut m = [0; 6];
        m.copy_from_slice(&self.buffer.as_ref()[8..14]);
        m
    }

    #[inline]
    pub fn sender_ip(&self) -> [u8; 4] {
        let mut a = [0; 4];
        a.copy_from_slice(&self.buffer.as_ref()[14..18]);
        a
    }

    #[inline]
    pub fn target_ip(&self) -> [u8; 4] {
        let mut a = [0; 4];
        a.copy_from_slice(&self.buffer.as_ref()[24..28]);
        a
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ArpPacket<T> {
    /// Turn this request into the reply "target_ip is at `our_mac`", addressed to the
    /// requester.
    #[inline]
    pub fn make_reply(&mut self, our_mac: &[u8; 6]) {
        let (smac, sip, tip) = (self.sender_mac(), self.sender_ip(), self.target_ip());
        let b = self.buffer.as_mut();
        put16(b, 6, OP_REPLY);
        b[8..14].copy_from_slice(our_mac);
        b[14..18].copy_from_slice(&tip);
        b[18..24].copy_from_slice(&smac);
        b[24..28].copy_from_slice(&sip);
    }
}
