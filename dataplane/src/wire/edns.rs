//! EDNS(0): the OPT pseudo-record (RFC 6891 §6).
//!
//! The OPT record carries the requestor's UDP payload size in CLASS, and the
//! extended rcode, version and flags (DO) in TTL. Options are checked for
//! well-formedness; the only one Skylane implements is NSID (RFC 5001: a
//! request is remembered in [`Edns::nsid`], the response carries the
//! server's identifier). Others are ignored (RFC 6891 §6.1.2) and never
//! echoed.

use super::{read_u16, Error, Result};

mod field {
    /// Offsets within the fixed part following the (root) owner name.
    pub const TYPE: usize = 0;
    pub const CLASS: usize = 2;
    pub const TTL: usize = 4;
    pub const RDLENGTH: usize = 8;
    pub const RDATA: usize = 10;
}

/// DO bit in the OPT TTL flags (RFC 3225).
pub const FLAG_DO: u16 = 0x8000;

/// Bytes of an OPT record without options: root name, fixed fields.
pub const OPT_LEN: usize = 1 + field::RDATA;

/// The NSID option code (RFC 5001 §2.3).
pub const OPTION_NSID: u16 = 3;

/// Bytes of an option's code and length fields.
pub const OPTION_HEADER_LEN: usize = 4;

/// What a query's OPT record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edns {
    /// Requestor's UDP payload size (CLASS field), as sent.
    pub udp_size: u16,
    /// Upper 8 bits of the extended rcode (zero in queries).
    pub ext_rcode: u8,
    pub version: u8,
    /// DNSSEC OK (RFC 3225).
    pub dnssec_ok: bool,
    /// The query carries an NSID option (RFC 5001): the server's identifier is asked for.
    pub nsid: bool,
}

impl Edns {
    /// Reads an OPT record from its CLASS, TTL and RDATA, checking the
    /// options are well formed (code, length, data inside RDATA).
    pub fn parse(class: u16, ttl: u32, rdata: &[u8]) -> Result<Edns> {
        let mut pos = 0;
        let mut nsid = false;
        while pos < rdata.len() {
            let code = read_u16(rdata, pos).ok_or(Error::Malformed)?;
            let len = read_u16(rdata, pos + 2).ok_or(Error::Malformed)? as usize;
            nsid |= code == OPTION_NSID;
            pos += OPTION_HEADER_LEN + len;
            if pos > rdata.len() {
                return Err(Error::Malformed);
            }
        }
        Ok(Edns {
            udp_size: class,
            ext_rcode: (ttl >> 24) as u8,
            version: (ttl >> 16) as u8,
            dnssec_ok: ttl as u16 & FLAG_DO != 0,
            nsid,
        })
    }
}

/// Writes an OPT record (root owner, no options) at the start of `out`.
/// Returns the bytes written, or `None` when `out` is too short.
pub fn write_opt(out: &mut [u8], udp_size: u16, rcode: u16, dnssec_ok: bool) -> Option<usize> {
    write_opt_nsid(out, udp_size, rcode, dnssec_ok, &[])
}

/// [`write_opt`] with an NSID option carrying `nsid` when it is not empty.
pub fn write_opt_nsid(
    out: &mut [u8],
    udp_size: u16,
    rcode: u16,
    dnssec_ok: bool,
    nsid: &[u8],
) -> Option<usize> {
    let opt_len = if nsid.is_empty() {
        0
    } else {
        OPTION_HEADER_LEN + nsid.len()
    };
    let rdlen = u16::try_from(opt_len).ok()?;
    let (rec, rest) = out.get_mut(..OPT_LEN + opt_len)?.split_at_mut(OPT_LEN);
    if !nsid.is_empty() {
        let (head, data) = rest.split_at_mut(OPTION_HEADER_LEN);
        head[..2].copy_from_slice(&OPTION_NSID.to_be_bytes());
        head[2..].copy_from_slice(&(nsid.len() as u16).to_be_bytes());
        data.copy_from_slice(nsid);
    }
    let ext_rcode = ((rcode >> 4) & 0xff) as u32;
    let flags = if dnssec_ok { FLAG_DO as u32 } else { 0 };
    // Version 0 always: it is the only version we speak (RFC 6891 §6.1.3).
    let ttl = (ext_rcode << 24) | flags;
    rec[0] = 0;
    rec[1 + field::TYPE..1 + field::CLASS]
        .copy_from_slice(&crate::record::rtype::OPT.to_be_bytes());
    rec[1 + field::CLASS..1 + field::TTL].copy_from_slice(&udp_size.to_be_bytes());
    rec[1 + field::TTL..1 + field::RDLENGTH].copy_from_slice(&ttl.to_be_bytes());
    rec[1 + field::RDLENGTH..1 + field::RDATA].copy_from_slice(&rdlen.to_be_bytes());
    Some(OPT_LEN + opt_len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields() {
        let e = Edns::parse(1232, 0x0001_8000, &[]).unwrap();
        assert_eq!(
            e,
            Edns {
                udp_size: 1232,
                ext_rcode: 0,
                version: 1,
                dnssec_ok: true,
                nsid: false,
            }
        );
        let e = Edns::parse(4096, 0x0000_7fff, &[]).unwrap();
        assert!(!e.dnssec_ok && e.version == 0);
    }

    #[test]
    fn options_are_checked_then_ignored() {
        // Cookie (10) with 8 bytes, then an unknown option 65001 with 0 bytes.
        let opts = b"\x00\x0a\x00\x08abcdefgh\xfd\xe9\x00\x00";
        assert!(!Edns::parse(512, 0, opts).unwrap().nsid);
        // NSID (3), empty as RFC 5001 asks, among others.
        let opts = b"\x00\x0a\x00\x08abcdefgh\x00\x03\x00\x00";
        assert!(Edns::parse(512, 0, opts).unwrap().nsid);
        // Option longer than the RDATA.
        assert_eq!(
            Edns::parse(512, 0, b"\x00\x0a\x00\x09abcdefgh"),
            Err(Error::Malformed)
        );
        // Dangling partial option header.
        assert_eq!(Edns::parse(512, 0, b"\x00\x0a\x00"), Err(Error::Malformed));
    }

    #[test]
    fn writes_opt_with_extended_rcode() {
        let mut b = [0xffu8; 16];
        assert_eq!(write_opt(&mut b, 1232, 16, true), Some(11));
        assert_eq!(&b[..11], b"\x00\x00\x29\x04\xd0\x01\x00\x80\x00\x00\x00");
        assert_eq!(write_opt(&mut b[..10], 1232, 0, false), None);
    }

    #[test]
    fn writes_nsid_option() {
        let mut b = [0xffu8; 32];
        assert_eq!(write_opt_nsid(&mut b, 1232, 0, false, b"sky1"), Some(19));
        assert_eq!(
            &b[..19],
            b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x08\x00\x03\x00\x04sky1"
        );
        assert_eq!(write_opt_nsid(&mut b[..18], 1232, 0, false, b"sky1"), None);
    }
}
