//! DNS wire helpers for the load generator: prebuilt query templates and a typed, zero-copy
//! view of response headers used to match answers to outstanding queries.
//!
//! A [`QueryTemplate`] holds a complete query with ID 0; senders put the real ID in the first
//! two bytes (or send it as a separate 2-byte iovec followed by [`QueryTemplate::after_id`]),
//! so no query is rebuilt per packet.

use crate::queryfile::QuerySpec;

/// DNS header length.
pub const HEADER_LEN: usize = 12;
/// Class IN.
const CLASS_IN: u16 = 1;
/// OPT pseudo-RR type.
const TYPE_OPT: u16 = 41;

/// EDNS0 settings for generated queries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edns {
    /// Advertised UDP payload size.
    pub udp_size: u16,
    /// The DNSSEC OK bit.
    pub dnssec_ok: bool,
}

/// Header flags and options applied to every query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueryFlags {
    /// Recursion desired (dnsperf and queryperf set it by default).
    pub recursion_desired: bool,
    /// Add an OPT record when set.
    pub edns: Option<Edns>,
}

impl Default for QueryFlags {
    fn default() -> Self {
        QueryFlags {
            recursion_desired: true,
            edns: None,
        }
    }
}

/// A complete query message with ID 0.
#[derive(Clone, Debug)]
pub struct QueryTemplate {
    bytes: Vec<u8>,
    question_end: usize,
}

impl QueryTemplate {
    /// Builds the query for `spec` (class IN).
    pub fn new(spec: &QuerySpec, flags: QueryFlags) -> QueryTemplate {
        let mut bytes = Vec::with_capacity(HEADER_LEN + spec.name.len() + 4 + 11);
        bytes.extend_from_slice(&[0, 0]); // ID, set per send
        let flags_hi = if flags.recursion_desired { 0x01 } else { 0x00 };
        bytes.extend_from_slice(&[flags_hi, 0x00]);
        bytes.extend_from_slice(&1u16.to_be_bytes()); // QDCOUNT
        bytes.extend_from_slice(&[0, 0, 0, 0]); // ANCOUNT, NSCOUNT
        let arcount: u16 = if flags.edns.is_some() { 1 } else { 0 };
        bytes.extend_from_slice(&arcount.to_be_bytes());
        bytes.extend_from_slice(&spec.name);
        bytes.extend_from_slice(&spec.qtype.to_be_bytes());
        bytes.extend_from_slice(&CLASS_IN.to_be_bytes());
        let question_end = bytes.len();
        if let Some(edns) = flags.edns {
            bytes.push(0); // root owner
            bytes.extend_from_slice(&TYPE_OPT.to_be_bytes());
            bytes.extend_from_slice(&edns.udp_size.to_be_bytes());
            let do_bit: u8 = if edns.dnssec_ok { 0x80 } else { 0x00 };
            bytes.extend_from_slice(&[0, 0, do_bit, 0]); // ext-rcode, version, flags
            bytes.extend_from_slice(&0u16.to_be_bytes()); // RDLEN
        }
        QueryTemplate {
            bytes,
            question_end,
        }
    }

    /// The whole message with ID 0.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Everything after the 2-byte ID.
    pub fn after_id(&self) -> &[u8] {
        &self.bytes[2..]
    }

    /// The question section as sent (name, type, class).
    pub fn question(&self) -> &[u8] {
        &self.bytes[HEADER_LEN..self.question_end]
    }

    /// Message length in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Always false: a query has at least a header.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Writes the query with `id` into `out`; returns its length, or `None` if `out` is short.
    pub fn write_with_id(&self, id: u16, out: &mut [u8]) -> Option<usize> {
        let dst = out.get_mut(..self.bytes.len())?;
        dst.copy_from_slice(&self.bytes);
        dst[..2].copy_from_slice(&id.to_be_bytes());
        Some(self.bytes.len())
    }
}

/// Why a datagram is not a usable response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseError {
    /// Shorter than a DNS header.
    Truncated,
    /// QR bit clear: a query, not a response.
    NotAResponse,
}

/// A zero-copy view of a response message.
#[derive(Clone, Copy, Debug)]
pub struct Response<'a> {
    bytes: &'a [u8],
}

impl<'a> Response<'a> {
    /// Checks the header is present and QR is set.
    pub fn parse(bytes: &'a [u8]) -> Result<Response<'a>, ResponseError> {
        if bytes.len() < HEADER_LEN {
            return Err(ResponseError::Truncated);
        }
        if bytes[2] & 0x80 == 0 {
            return Err(ResponseError::NotAResponse);
        }
        Ok(Response { bytes })
    }

    /// Message ID.
    pub fn id(&self) -> u16 {
        u16::from_be_bytes([self.bytes[0], self.bytes[1]])
    }

    /// Header RCODE (low 4 bits; extended RCODE bits in OPT are not read).
    pub fn rcode(&self) -> u8 {
        self.bytes[3] & 0x0f
    }

    /// TC bit.
    pub fn truncated(&self) -> bool {
        self.bytes[2] & 0x02 != 0
    }

    /// QDCOUNT.
    pub fn question_count(&self) -> u16 {
        u16::from_be_bytes([self.bytes[4], self.bytes[5]])
    }

    /// ANCOUNT.
    pub fn answer_count(&self) -> u16 {
        u16::from_be_bytes([self.bytes[6], self.bytes[7]])
    }

    /// True when the response carries exactly the question `sent` (name compared without
    /// regard to ASCII case, type and class exactly).
    pub fn matches_question(&self, sent: &[u8]) -> bool {
        if self.question_count() != 1 || sent.len() < 4 {
            return false;
        }
        let Some(got) = self.bytes.get(HEADER_LEN..HEADER_LEN + sent.len()) else {
            return false;
        };
        let (sent_name, sent_tail) = sent.split_at(sent.len() - 4);
        let (got_name, got_tail) = got.split_at(got.len() - 4);
        sent_name.eq_ignore_ascii_case(got_name) && sent_tail == got_tail
    }
}

/// RCODE mnemonics (RFC 1035, 2136, 6895) for reports.
pub fn rcode_name(rcode: u8) -> &'static str {
    match rcode {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        11 => "DSOTYPENI",
        _ => "RESERVED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queryfile::parse_name;

    fn spec(name: &str, qtype: u16) -> QuerySpec {
        QuerySpec {
            name: parse_name(name).unwrap(),
            qtype,
        }
    }

    #[test]
    fn builds_a_plain_query() {
        let t = QueryTemplate::new(&spec("a.example", 28), QueryFlags::default());
        let expect: &[u8] =
            b"\x00\x00\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01a\x07example\x00\x00\x1c\x00\x01";
        assert_eq!(t.bytes(), expect);
        assert_eq!(t.question(), &expect[12..]);
        assert_eq!(t.after_id(), &expect[2..]);
    }

    #[test]
    fn builds_an_edns_query_with_do() {
        let flags = QueryFlags {
            recursion_desired: false,
            edns: Some(Edns {
                udp_size: 4096,
                dnssec_ok: true,
            }),
        };
        let t = QueryTemplate::new(&spec("a.example", 1), flags);
        let b = t.bytes();
        assert_eq!(b[2], 0x00, "RD clear");
        assert_eq!(&b[10..12], &[0, 1], "ARCOUNT 1");
        let opt = &b[b.len() - 11..];
        assert_eq!(opt, b"\x00\x00\x29\x10\x00\x00\x00\x80\x00\x00\x00");
        assert_eq!(t.question().len(), 11 + 4);
    }

    #[test]
    fn writes_the_id() {
        let t = QueryTemplate::new(&spec("a.example", 1), QueryFlags::default());
        let mut buf = [0u8; 64];
        let n = t.write_with_id(0xbeef, &mut buf).unwrap();
        assert_eq!(&buf[..2], &[0xbe, 0xef]);
        assert_eq!(&buf[2..n], t.after_id());
        assert_eq!(t.write_with_id(1, &mut [0u8; 8]), None);
    }

    fn response_for(t: &QueryTemplate, id: u16, rcode: u8) -> Vec<u8> {
        let mut r = t.bytes()[..12 + t.question().len()].to_vec();
        r[..2].copy_from_slice(&id.to_be_bytes());
        r[2] |= 0x84; // QR, AA
        r[3] = rcode;
        r[11] = 0; // no additional
        r
    }

    #[test]
    fn matches_a_response_to_its_question() {
        let t = QueryTemplate::new(&spec("Host1.Example", 1), QueryFlags::default());
        let mut r = response_for(&t, 7, 3);
        let view = Response::parse(&r).unwrap();
        assert_eq!(view.id(), 7);
        assert_eq!(view.rcode(), 3);
        assert!(!view.truncated());
        assert!(view.matches_question(t.question()));
        // Case differences in the name still match (0x20 mixing).
        r[13] = b'h';
        assert!(Response::parse(&r).unwrap().matches_question(t.question()));
    }

    #[test]
    fn rejects_mismatched_or_bad_responses() {
        let t = QueryTemplate::new(&spec("host1.example", 1), QueryFlags::default());
        let other = QueryTemplate::new(&spec("host2.example", 1), QueryFlags::default());
        let aaaa = QueryTemplate::new(&spec("host1.example", 28), QueryFlags::default());
        let r = response_for(&t, 1, 0);
        let view = Response::parse(&r).unwrap();
        assert!(!view.matches_question(other.question()));
        assert!(!view.matches_question(aaaa.question()));
        assert_eq!(
            Response::parse(&r[..11]).unwrap_err(),
            ResponseError::Truncated
        );
        assert_eq!(
            Response::parse(t.bytes()).unwrap_err(),
            ResponseError::NotAResponse
        );
        // A response cut inside the question does not match.
        assert!(!Response::parse(&r[..20])
            .unwrap()
            .matches_question(t.question()));
        // QDCOUNT 0 (e.g. FORMERR without question) does not match.
        let mut empty = r[..12].to_vec();
        empty[5] = 0;
        assert!(!Response::parse(&empty)
            .unwrap()
            .matches_question(t.question()));
    }

    #[test]
    fn names_rcodes() {
        assert_eq!(rcode_name(0), "NOERROR");
        assert_eq!(rcode_name(3), "NXDOMAIN");
        assert_eq!(rcode_name(5), "REFUSED");
        assert_eq!(rcode_name(15), "RESERVED");
    }
}
