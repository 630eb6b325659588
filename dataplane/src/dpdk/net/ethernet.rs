//! Ethernet II frames, with at most one 802.1Q VLAN tag.

use super::{be16, Truncated};

/// Bytes of an untagged Ethernet header.
pub const HEADER_LEN: usize = 14;
/// Bytes of an 802.1Q tag.
pub const VLAN_TAG_LEN: usize = 4;

pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_ARP: u16 = 0x0806;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
pub const ETHERTYPE_VLAN: u16 = 0x8100;

/// The all-ones broadcast address.
pub const BROADCAST: [u8; 6] = [0xff; 6];

/// True for group (multicast and broadcast) addresses.
#[inline]
pub fn is_group(mac: &[u8; 6]) -> bool {
    mac[0] & 1 != 0
}

/// A MAC address in the usual `aa:bb:cc:dd:ee:ff` form.
pub fn format_mac(mac: &[u8; 6]) -> String {
    let [a, b, c, d, e, f] = *mac;
    format!("{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{f:02x}")
}

/// A view over an Ethernet frame.
#[derive(Debug)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Wrap `buffer`, checking it holds the header (and the tag, if there is one).
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, Truncated> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN
            || (be16(b, 12) == ETHERTYPE_VLAN && b.len() < HEADER_LEN + VLAN_TAG_LEN)
        {
            return Err(Truncated);
        }
        Ok(EthernetFrame { buffer })
    }

    #[inline]
    pub fn dst(&self) -> [u8; 6] {
        let mut m = [0; 6];
        m.copy_from_slice(&self.buffer.as_ref()[0..6]);
        m
    }

    #[inline]
    pub fn src(&self) -> [u8; 6] {
        let mut m = [0; 6];
        m.copy_from_slice(&self.buffer.as_ref()[6..12]);
        m
    }

    /// True when the frame carries an 802.1Q tag.
    #[inline]
    pub fn is_tagged(&self) -> bool {
        be16(self.buffer.as_ref(), 12) == ETHERTYPE_VLAN
    }

    /// The EtherType of the payload (after the tag, if any).
    #[inline]
    pub fn ethertype(&self) -> u16 {
        let b = self.buffer.as_ref();
        if self.is_tagged() {
            be16(b, 16)
        } else {
            be16(b, 12)
        }
    }

    /// Length of the link header (14 or 18 bytes).
    #[inline]
    pub fn header_len(&self) -> usize {
        if self.is_tagged() {
            HEADER_LEN + VLAN_TAG_LEN
        } else {
            HEADER_LEN
        }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    #[inline]
    pub fn set_dst(&mut self, mac: &[u8; 6]) {
        self.buffer.as_mut()[0..6].copy_from_slice(mac);
    }

    #[inline]
    pub fn set_src(&mut self, mac: &[u8; 6]) {
        self.buffer.as_mut()[6..12].copy_from_slice(mac);
    }

    /// Address the frame back to its sender, from `ours`. The VLAN tag stays.
    #[inline]
    pub fn reply_from(&mut self, ours: &[u8; 6]) {
        let sender = self.src();
        self.set_dst(&sender);
        self.set_src(ours);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untagged_and_tagged() {
        let mut f = [0u8; 18];
        f[12..14].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        let e = EthernetFrame::new_checked(&f[..14]).unwrap();
        assert_eq!((e.ethertype(), e.header_len()), (ETHERTYPE_IPV4, 14));

        f[12..14].copy_from_slice(&ETHERTYPE_VLAN.to_be_bytes());
        f[16..18].copy_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
        let e = EthernetFrame::new_checked(&f[..]).unwrap();
        assert!(e.is_tagged());
        assert_eq!((e.ethertype(), e.header_len()), (ETHERTYPE_IPV6, 18));
        // A tag without its 4 bytes is truncated.
        assert_eq!(EthernetFrame::new_checked(&f[..15]).unwrap_err(), Truncated);
        assert!(EthernetFrame::new_checked(&f[..13]).is_err());
    }

    #[test]
    fn reply_swaps_addresses() {
        let mut f = [0u8; 14];
        f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
        let mut e = EthernetFrame::new_checked(&mut f[..]).unwrap();
        e.reply_from(&[2, 0, 0, 0, 0, 9]);
        assert_eq!(e.dst(), [2, 0, 0, 0, 0, 2]);
        assert_eq!(e.src(), [2, 0, 0, 0, 0, 9]);
        assert!(is_group(&BROADCAST));
        assert!(!is_group(&e.dst()));
        assert_eq!(format_mac(&e.src()), "02:00:00:00:00:09");
    }
}
