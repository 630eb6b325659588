//! The question entry (RFC 1035 §4.1.2): QNAME, QTYPE, QCLASS.

use super::name::{read_name, NameBuf};
use super::{read_u16, Error, Result};

/// A parsed question. The lowercased name is held by the caller's [`NameBuf`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Question {
    /// Offset of QNAME in the message.
    pub name_start: usize,
    /// Offset just past QCLASS (where the next section starts).
    pub end: usize,
    pub qtype: u16,
    pub qclass: u16,
}

impl Question {
    /// Reads the question at `start`, the lowercased QNAME going into `name`.
    ///
    /// Pointers are only accepted at offsets `>= min_pointer`; for the first
    /// question (offset 12) that rules out compression altogether, so the
    /// QNAME echoed from the query is always self-contained.
    pub fn parse(
        msg: &[u8],
        start: usize,
        min_pointer: usize,
        name: &mut NameBuf,
    ) -> Result<Question> {
        let after_name = read_name(msg, start, min_pointer, name)?;
        let qtype = read_u16(msg, after_name).ok_or(Error::Truncated)?;
        let qclass = read_u16(msg, after_name + 2).ok_or(Error::Truncated)?;
        Ok(Question {
            name_start: start,
            end: after_name + 4,
            qtype,
            qclass,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_question() {
        let mut m = vec![0u8; 12];
        m.extend_from_slice(b"\x03Web\x05local\x00\x00\x01\x00\x01");
        let mut n = NameBuf::new();
        let q = Question::parse(&m, 12, 12, &mut n).unwrap();
        assert_eq!(n.as_wire(), b"\x03web\x05local\x00");
        assert_eq!((q.qtype, q.qclass, q.end), (1, 1, m.len()));
    }

    #[test]
    fn truncated_type_or_class_is_an_error() {
        let mut m = vec![0u8; 12];
        m.extend_from_slice(b"\x03web\x00\x00\x01\x00");
        let mut n = NameBuf::new();
        for cut in 12..m.len() {
            assert!(Question::parse(&m[..cut], 12, 12, &mut n).is_err());
        }
        m.push(1);
        assert!(Question::parse(&m, 12, 12, &mut n).is_ok());
        assert_eq!(
            Question::parse(&[0; 13], 12, 12, &mut n),
            Err(Error::Truncated)
        );
    }
}
