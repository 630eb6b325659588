//! ICMP (RFC 792) and ICMPv6 (RFC 4443) message types the loop answers, and the
//! Neighbor Discovery (RFC 4861) layout of solicitations and advertisements.

/// ICMP echo reply.
pub const V4_ECHO_REPLY: u8 = 0;
/// ICMP echo request.
pub const V4_ECHO_REQUEST: u8 = 8;
/// ICMPv6 echo request.
pub const V6_ECHO_REQUEST: u8 = 128;
/// ICMPv6 echo reply.
pub const V6_ECHO_REPLY: u8 = 129;
/// Neighbor solicitation.
pub const V6_NEIGHBOR_SOLICIT: u8 = 135;
/// Neighbor advertisement.
pub const V6_NEIGHBOR_ADVERT: u8 = 136;

/// Bytes before the options of an NS or NA: type, code, checksum, 4 bytes (flags or
/// reserved), target address.
pub const ND_FIXED_LEN: usize = 24;
/// Offset of the target address in an NS or NA.
pub const ND_TARGET_OFFSET: usize = 8;
/// Bytes of the NA we send: fixed part plus a target link-layer address option.
pub const NA_LEN: usize = ND_FIXED_LEN + 8;
/// NDP option: target link-layer address.
pub const OPT_TARGET_LL_ADDR: u8 = 2;
/// NDP option: source link-layer address.
pub const OPT_SOURCE_LL_ADDR: u8 = 1;

/// NA flags: solicited.
pub const NA_FLAG_SOLICITED: u8 = 0x40;
/// NA flags: override.
pub const NA_FLAG_OVERRIDE: u8 = 0x20;

/// Offset of the checksum field in any ICMP/ICMPv6 message.
pub const CHECKSUM_OFFSET: usize = 2;
/// Smallest echo message (type, code, checksum, identifier, sequence).
pub const ECHO_MIN_LEN: usize = 8;

/// True if NDP `options` (after the fixed part) are well formed: every option has a
/// non-zero length and fits.
pub fn nd_options_valid(mut options: &[u8]) -> bool {
    while !options.is_empty() {
        if options.len() < 2 || options[1] == 0 {
            return false;
        }
        let len = usize::from(options[1]) * 8;
        if len > options.len() {
            return false;
        }
        options = &options[len..];
    }
    true
}

/// Whether NDP `options` carry a source link-layer address option.
pub fn nd_has_source_ll(mut options: &[u8]) -> bool {
    while options.len() >= 2 && options[1] != 0 {
        if options[0] == OPT_SOURCE_LL_ADDR {
            return true;
        }
        let len = usize::from(options[1]) * 8;
        if len > options.len() {
            return false;
        }
        options = &options[len..];
    }
    false
}
