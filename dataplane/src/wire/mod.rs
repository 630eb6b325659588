//! DNS wire format: typed, zero-copy views over messages and the in-place
//! response writer.
//!
//! Modelled on smoltcp's `wire` module: every view wraps a byte buffer
//! (`&[u8]` to read, `&mut [u8]` to write), is built with a checked
//! constructor, and keeps its field offsets in a private `field` module.
//! Nothing here allocates or panics on hostile input; variable-length data is
//! read with checked (`get`) access.
//!
//! - [`header`]: the 12-byte message header.
//! - [`name`]: reading possibly-compressed names into a stack buffer.
//! - [`question`]: the question entry.
//! - [`edns`]: the EDNS(0) OPT pseudo-record (RFC 6891).
//! - [`query`]: validation of a whole query message (what may be answered).
//! - [`compress`]: a small fixed-capacity name compressor.
//! - [`writer`]: the response, built in place over the query's buffer.

pub mod compress;
pub mod edns;
pub mod header;
pub mod name;
pub mod query;
pub mod question;
pub mod writer;

pub use edns::Edns;
pub use header::Header;
pub use name::NameBuf;
pub use query::{parse_query, ParsedQuery, QueryError};
pub use question::Question;
pub use writer::{Owner, Response, WriteError};

/// Why a piece of a message could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The message ends before the structure does.
    #[error("message truncated")]
    Truncated,
    /// A label is longer than 63 bytes or uses a reserved label type.
    #[error("bad label")]
    BadLabel,
    /// The name is longer than 255 bytes once expanded.
    #[error("name longer than 255 bytes")]
    NameTooLong,
    /// A compression pointer points forward, into itself (loop) or into the header.
    #[error("bad compression pointer")]
    BadPointer,
    /// Any other structural problem (bad OPT, bad option lengths, ...).
    #[error("malformed message")]
    Malformed,
}

/// Result of reading a piece of a message.
pub type Result<T> = core::result::Result<T, Error>;

/// Response codes (RFC 1035 §4.1.1, RFC 6891 §9). Values above 15 need EDNS.
pub mod rcode {
    pub const NOERROR: u16 = 0;
    pub const FORMERR: u16 = 1;
    pub const SERVFAIL: u16 = 2;
    pub const NXDOMAIN: u16 = 3;
    pub const NOTIMP: u16 = 4;
    pub const REFUSED: u16 = 5;
    /// EDNS version not supported (extended rcode, RFC 6891 §9).
    pub const BADVERS: u16 = 16;
}

/// Operation codes (RFC 1035 §4.1.1).
pub mod opcode {
    pub const QUERY: u8 = 0;
}

/// Classes (RFC 1035 §3.2.4).
pub mod class {
    pub const IN: u16 = 1;
    pub const ANY: u16 = 255;
}

/// Meta query types the engine treats specially.
pub mod qtype {
    pub const IXFR: u16 = 251;
    pub const AXFR: u16 = 252;
    pub const MAILB: u16 = 253;
    pub const MAILA: u16 = 254;
    pub const ANY: u16 = 255;
    /// HINFO, used for RFC 8482 synthesized answers.
    pub const HINFO: u16 = 13;
}

/// Reads a big-endian u16 at `at`, if the bytes are there.
#[inline]
pub(crate) fn read_u16(data: &[u8], at: usize) -> Option<u16> {
    match data.get(at..at.checked_add(2)?) {
        Some(&[a, b]) => Some(u16::from_be_bytes([a, b])),
        _ => None,
    }
}

/// Reads a big-endian u32 at `at`, if the bytes are there.
#[inline]
pub(crate) fn read_u32(data: &[u8], at: usize) -> Option<u32> {
    match data.get(at..at.checked_add(4)?) {
        Some(&[a, b, c, d]) => Some(u32::from_be_bytes([a, b, c, d])),
        _ => None,
    }
}
