//! Validation of a whole query message: what may be answered, and how.
//!
//! [`parse_query`] applies the message-level rules of RFC 1035 and RFC 6891:
//! - shorter than a header: dropped (nothing can be echoed);
//! - QR=1: dropped (never answer a response);
//! - opcode other than QUERY: NOTIMP (question echoed when readable);
//! - QDCOUNT other than 1, a bad question name (label > 63, name > 255,
//!   forward or looping pointers), truncation anywhere: FORMERR;
//! - records in the answer or authority section of a query: FORMERR (RFC
//!   1035 gives them no meaning in a QUERY; rejecting keeps parsing simple);
//! - more than one OPT, an OPT with a non-root owner, or badly formed EDNS
//!   options: FORMERR (RFC 6891 §6.1.1). An OPT is only looked for in the
//!   additional section.
//!
//! Other additional records (e.g. TSIG, unsupported) are checked for shape
//! and ignored. Bytes after the last counted record are ignored. A rejected
//! query keeps the first well-formed OPT read before the problem was found
//! (its records are still walked when the answer or authority section is not
//! empty), so a FORMERR or NOTIMP answers with an OPT when one was parsed.

use super::header::HEADER_LEN;
use super::name::{read_name, NameBuf};
use super::{opcode, rcode, read_u16, read_u32, Edns, Header, Question};
use crate::record::rtype;

/// A query that may be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedQuery {
    pub question: Question,
    pub edns: Option<Edns>,
}

/// Why a query gets no normal answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryError {
    /// Fewer than 12 bytes: nothing can be echoed, drop.
    Runt,
    /// QR=1: a response, drop.
    NotAQuery,
    /// Answer with `rcode`, echoing `question` when it could be read and
    /// adding an OPT when `edns` is known.
    Reject {
        rcode: u16,
        question: Option<Question>,
        edns: Option<Edns>,
    },
}

/// Fixed part of a resource record after its owner name.
const RR_FIXED_LEN: usize = 10;

/// Validates the query in `msg`; the lowercased QNAME goes into `qname`.
pub fn parse_query(msg: &[u8], qname: &mut NameBuf) -> Result<ParsedQuery, QueryError> {
    let header = Header::new_checked(msg).map_err(|_| QueryError::Runt)?;
    if header.qr() {
        return Err(QueryError::NotAQuery);
    }
    let parsed = parse_sections(msg, &header, qname);
    if header.opcode() != opcode::QUERY {
        let (question, edns) = match parsed {
            Ok(p) => (Some(p.question), p.edns),
            Err(f) => (f.question, f.edns),
        };
        return Err(QueryError::Reject {
            rcode: rcode::NOTIMP,
            question,
            edns,
        });
    }
    parsed.map_err(|f| QueryError::Reject {
        rcode: rcode::FORMERR,
        question: f.question,
        edns: f.edns,
    })
}

/// What a malformed query still gave.
#[derive(Debug, Clone, Copy, Default)]
struct Failed {
    question: Option<Question>,
    edns: Option<Edns>,
}

/// Parses the sections; on error returns the question and OPT read so far.
fn parse_sections(
    msg: &[u8],
    header: &Header<&[u8]>,
    qname: &mut NameBuf,
) -> Result<ParsedQuery, Failed> {
    if header.qdcount() != 1 {
        return Err(Failed::default());
    }
    let question =
        Question::parse(msg, HEADER_LEN, HEADER_LEN, qname).map_err(|_| Failed::default())?;
    let mut failed = Failed {
        question: Some(question),
        edns: None,
    };
    let mut pos = question.end;
    let before = u32::from(header.ancount()) + u32::from(header.nscount());
    let total = before + u32::from(header.arcount());
    for i in 0..total {
        let Some((rr, next)) = read_record(msg, pos) else {
            return Err(failed);
        };
        pos = next;
        if rr.rr_type != rtype::OPT || i < before {
            continue;
        }
        if failed.edns.is_some() || !rr.root_owner {
            return Err(failed);
        }
        failed.edns = Some(Edns::parse(rr.class, rr.ttl, rr.rdata).map_err(|_| failed)?);
    }
    if before != 0 {
        return Err(failed);
    }
    Ok(ParsedQuery {
        question,
        edns: failed.edns,
    })
}

/// The fixed fields and RDATA of one record.
struct RawRecord<'m> {
    /// The owner is the root (as an OPT's must be).
    root_owner: bool,
    rr_type: u16,
    class: u16,
    ttl: u32,
    rdata: &'m [u8],
}

/// Reads the record at `pos` (its owner checked for shape; a plain root owner, as an
/// OPT's is, without copying it); returns it and the offset after it.
fn read_record(msg: &[u8], pos: usize) -> Option<(RawRecord<'_>, usize)> {
    let (root_owner, after_name) = if msg.get(pos) == Some(&0) {
        (true, pos + 1)
    } else {
        let mut owner = NameBuf::new();
        let end = read_name(msg, pos, HEADER_LEN, &mut owner).ok()?;
        (owner.as_wire() == b"\x00", end)
    };
    let rr_type = read_u16(msg, after_name)?;
    let class = read_u16(msg, after_name + 2)?;
    let ttl = read_u32(msg, after_name + 4)?;
    let rdlen = read_u16(msg, after_name + 8)? as usize;
    let rdata_start = after_name + RR_FIXED_LEN;
    let rdata = msg.get(rdata_start..rdata_start + rdlen)?;
    let rr = RawRecord {
        root_owner,
        rr_type,
        class,
        ttl,
        rdata,
    };
    Some((rr, rdata_start + rdlen))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query for `name` (presentation-free wire form) type A.
    fn query(flags: u16, counts: [u16; 4], body: &[u8]) -> Vec<u8> {
        let mut m = vec![0x12, 0x34];
        m.extend_from_slice(&flags.to_be_bytes());
        for c in counts {
            m.extend_from_slice(&c.to_be_bytes());
        }
        m.extend_from_slice(body);
        m
    }
    const Q: &[u8] = b"\x03web\x05local\x00\x00\x01\x00\x01";
    const OPT: &[u8] = b"\x00\x00\x29\x04\xd0\x00\x00\x80\x00\x00\x00";

    fn parse(m: &[u8]) -> Result<ParsedQuery, QueryError> {
        parse_query(m, &mut NameBuf::new())
    }

    fn rcode_of(r: Result<ParsedQuery, QueryError>) -> Option<u16> {
        match r {
            Err(QueryError::Reject { rcode, .. }) => Some(rcode),
            _ => None,
        }
    }

    #[test]
    fn plain_query_parses() {
        let p = parse(&query(0x0100, [1, 0, 0, 0], Q)).unwrap();
        assert_eq!(p.question.qtype, 1);
        assert_eq!(p.edns, None);
    }

    #[test]
    fn edns_query_parses() {
        let mut body = Q.to_vec();
        body.extend_from_slice(OPT);
        let p = parse(&query(0, [1, 0, 0, 1], &body)).unwrap();
        let e = p.edns.unwrap();
        assert_eq!((e.udp_size, e.version, e.dnssec_ok), (1232, 0, true));
    }

    #[test]
    fn runts_are_dropped() {
        for n in 0..12 {
            assert_eq!(parse(&vec![0; n]), Err(QueryError::Runt));
        }
    }

    #[test]
    fn responses_are_dropped() {
        assert_eq!(
            parse(&query(0x8000, [1, 0, 0, 0], Q)),
            Err(QueryError::NotAQuery)
        );
    }

    #[test]
    fn other_opcodes_are_notimp_with_question() {
        let r = parse(&query(15 << 11, [1, 0, 0, 0], Q));
        match r {
            Err(QueryError::Reject {
                rcode, question, ..
            }) => {
                assert_eq!(rcode, rcode::NOTIMP);
                assert!(question.is_some());
            }
            other => panic!("{other:?}"),
        }
        // Unreadable question: still NOTIMP, nothing echoed.
        let r = parse(&query(4 << 11, [1, 0, 0, 0], b"\x05ab"));
        assert!(matches!(
            r,
            Err(QueryError::Reject {
                rcode: 4,
                question: None,
                ..
            })
        ));
    }

    #[test]
    fn bad_counts_are_formerr() {
        assert_eq!(
            rcode_of(parse(&query(0, [0, 0, 0, 0], Q))),
            Some(rcode::FORMERR)
        );
        let mut two = Q.to_vec();
        two.extend_from_slice(Q);
        assert_eq!(
            rcode_of(parse(&query(0, [2, 0, 0, 0], &two))),
            Some(rcode::FORMERR)
        );
        assert_eq!(
            rcode_of(parse(&query(0, [1, 1, 0, 0], Q))),
            Some(rcode::FORMERR)
        );
        assert_eq!(
            rcode_of(parse(&query(0, [1, 0, 1, 0], Q))),
            Some(rcode::FORMERR)
        );
        // ARCOUNT promises a record that is not there.
        assert_eq!(
            rcode_of(parse(&query(0, [1, 0, 0, 1], Q))),
            Some(rcode::FORMERR)
        );
    }

    #[test]
    fn truncated_questions_are_formerr_without_echo() {
        let full = query(0, [1, 0, 0, 0], Q);
        for cut in 12..full.len() {
            assert!(matches!(
                parse(&full[..cut]),
                Err(QueryError::Reject {
                    rcode: 1,
                    question: None,
                    ..
                })
            ));
        }
    }

    #[test]
    fn compressed_qname_is_formerr() {
        // The only earlier bytes are the header: any pointer is invalid.
        let r = parse(&query(0, [1, 0, 0, 0], b"\xc0\x04\x00\x01\x00\x01"));
        assert_eq!(rcode_of(r), Some(rcode::FORMERR));
    }

    #[test]
    fn two_opts_or_non_root_opt_are_formerr() {
        let mut body = Q.to_vec();
        body.extend_from_slice(OPT);
        body.extend_from_slice(OPT);
        assert_eq!(
            rcode_of(parse(&query(0, [1, 0, 0, 2], &body))),
            Some(rcode::FORMERR)
        );
        let mut body = Q.to_vec();
        body.extend_from_slice(b"\x01x");
        body.extend_from_slice(&OPT[1..]);
        assert_eq!(
            rcode_of(parse(&query(0, [1, 0, 0, 1], &body))),
            Some(rcode::FORMERR)
        );
    }

    #[test]
    fn opt_with_bad_option_is_formerr() {
        let mut body = Q.to_vec();
        body.extend_from_slice(b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x05\x00\x0a\x00\x09x");
        assert_eq!(
            rcode_of(parse(&query(0, [1, 0, 0, 1], &body))),
            Some(rcode::FORMERR)
        );
    }

    #[test]
    fn other_additional_records_are_skipped() {
        // A compressed-owner TXT-ish record pointing at the qname, then OPT.
        let mut body = Q.to_vec();
        body.extend_from_slice(b"\xc0\x0c\x00\x10\x00\x01\x00\x00\x00\x00\x00\x02\x01x");
        body.extend_from_slice(OPT);
        let p = parse(&query(0, [1, 0, 0, 2], &body)).unwrap();
        assert!(p.edns.is_some());
    }

    #[test]
    fn opt_owner_pointing_at_a_root_label_is_the_root() {
        // The OPT's owner is a pointer to the root label ending the QNAME (offset 22):
        // read as a name, it is the root, as a plain 0 byte is.
        let mut body = Q.to_vec();
        body.extend_from_slice(b"\xc0\x16");
        body.extend_from_slice(&OPT[1..]);
        let p = parse(&query(0, [1, 0, 0, 1], &body)).unwrap();
        assert_eq!(p.edns.map(|e| e.udp_size), Some(1232));
        // A pointer to a non-root name is not.
        let mut body = Q.to_vec();
        body.extend_from_slice(b"\xc0\x0c");
        body.extend_from_slice(&OPT[1..]);
        assert_eq!(
            rcode_of(parse(&query(0, [1, 0, 0, 1], &body))),
            Some(rcode::FORMERR)
        );
    }
}
