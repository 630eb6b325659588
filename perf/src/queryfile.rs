//! The queryperf / dnsperf query data file: one `name [type]` per line.
//!
//! Blank lines and lines starting with `#` or `;` are ignored. The type is a mnemonic
//! (`A`, `AAAA`, `MX`, ...), a generic `TYPEnnn`, or absent (then `A`, as queryperf does).
//! Names are taken as absolute whether or not they end in a dot; `\X` and `\DDD` escapes are
//! understood. Each query is stored as an uncompressed wire-form name plus a type.

use std::fmt;
use std::path::Path;

/// Largest wire-form name (RFC 1035 §2.3.4).
const MAX_NAME_LEN: usize = 255;
/// Largest label (RFC 1035 §2.3.4).
const MAX_LABEL_LEN: usize = 63;

/// One question to send: an uncompressed wire-form name and a query type (class IN).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuerySpec {
    /// Wire-form name, root label included (`\x03www\x07example\x00`).
    pub name: Vec<u8>,
    /// Query type code.
    pub qtype: u16,
}

/// Why a query file line was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// An empty label (`a..b`) or a name that starts with a dot.
    EmptyLabel,
    /// A label longer than 63 bytes.
    LabelTooLong,
    /// A name longer than 255 bytes in wire form.
    NameTooLong,
    /// A `\` escape that is cut short or out of range.
    BadEscape,
    /// A type that is neither a known mnemonic nor `TYPEnnn`.
    UnknownType(String),
    /// More than two fields on the line.
    TrailingFields,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::EmptyLabel => write!(f, "empty label in name"),
            ParseError::LabelTooLong => write!(f, "label longer than 63 bytes"),
            ParseError::NameTooLong => write!(f, "name longer than 255 bytes"),
            ParseError::BadEscape => write!(f, "bad \\ escape in name"),
            ParseError::UnknownType(t) => write!(f, "unknown query type {t:?}"),
            ParseError::TrailingFields => write!(f, "expected `name [type]`, found more fields"),
        }
    }
}

impl std::error::Error for ParseError {}

/// Query type mnemonics understood in query files (and printed back by `gen`).
pub const TYPE_NAMES: &[(&str, u16)] = &[
    ("A", 1),
    ("NS", 2),
    ("CNAME", 5),
    ("SOA", 6),
    ("PTR", 12),
    ("HINFO", 13),
    ("MX", 15),
    ("TXT", 16),
    ("AAAA", 28),
    ("SRV", 33),
    ("NAPTR", 35),
    ("DS", 43),
    ("RRSIG", 46),
    ("NSEC", 47),
    ("DNSKEY", 48),
    ("SVCB", 64),
    ("HTTPS", 65),
    ("CAA", 257),
    ("AXFR", 252),
    ("ANY", 255),
];

/// Parses a type mnemonic or `TYPEnnn` (case-insensitive).
pub fn parse_type(text: &str) -> Result<u16, ParseError> {
    if let Some(&(_, code)) = TYPE_NAMES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(text))
    {
        return Ok(code);
    }
    let upper = text.to_ascii_uppercase();
    upper
        .strip_prefix("TYPE")
        .and_then(|digits| digits.parse::<u16>().ok())
        .ok_or_else(|| ParseError::UnknownType(text.to_string()))
}

/// The mnemonic for a type code, or `TYPEnnn`.
pub fn type_name(code: u16) -> String {
    TYPE_NAMES
        .iter()
        .find(|(_, c)| *c == code)
        .map(|(n, _)| (*n).to_string())
        .unwrap_or_else(|| format!("TYPE{code}"))
}

/// Converts presentation text (`www.example.com`, trailing dot optional) to wire form.
pub fn parse_name(text: &str) -> Result<Vec<u8>, ParseError> {
    let mut wire = Vec::with_capacity(text.len() + 2);
    if text == "." {
        wire.push(0);
        return Ok(wire);
    }
    let bytes = text.as_bytes();
    let mut label: Vec<u8> = Vec::with_capacity(MAX_LABEL_LEN);
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'.' => {
                push_label(&mut wire, &label)?;
                label.clear();
                i += 1;
                if i == bytes.len() {
                    wire.push(0);
                    return check_len(wire);
                }
                continue;
            }
            b'\\' => {
                let (value, used) = parse_escape(&bytes[i + 1..])?;
                label.push(value);
                i += 1 + used;
                continue;
            }
            _ => label.push(b),
        }
        i += 1;
    }
    push_label(&mut wire, &label)?;
    wire.push(0);
    check_len(wire)
}

fn parse_escape(rest: &[u8]) -> Result<(u8, usize), ParseError> {
    match rest {
        [d0, d1, d2, ..] if d0.is_ascii_digit() && d1.is_ascii_digit() && d2.is_ascii_digit() => {
            let value =
                u32::from(d0 - b'0') * 100 + u32::from(d1 - b'0') * 10 + u32::from(d2 - b'0');
            u8::try_from(value)
                .map(|v| (v, 3))
                .map_err(|_| ParseError::BadEscape)
        }
        [d, ..] if d.is_ascii_digit() => Err(ParseError::BadEscape),
        [c, ..] => Ok((*c, 1)),
        [] => Err(ParseError::BadEscape),
    }
}

fn push_label(wire: &mut Vec<u8>, label: &[u8]) -> Result<(), ParseError> {
    if label.is_empty() {
        return Err(ParseError::EmptyLabel);
    }
    if label.len() > MAX_LABEL_LEN {
        return Err(ParseError::LabelTooLong);
    }
    wire.push(label.len() as u8);
    wire.extend_from_slice(label);
    Ok(())
}

fn check_len(wire: Vec<u8>) -> Result<Vec<u8>, ParseError> {
    if wire.len() > MAX_NAME_LEN {
        Err(ParseError::NameTooLong)
    } else {
        Ok(wire)
    }
}

/// Parses one line. `Ok(None)` for blank and comment lines.
pub fn parse_line(line: &str) -> Result<Option<QuerySpec>, ParseError> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
        return Ok(None);
    }
    let mut fields = line.split_whitespace();
    let name = fields.next().unwrap_or(".");
    let qtype = match fields.next() {
        Some(t) => parse_type(t)?,
        None => 1,
    };
    if fields.next().is_some() {
        return Err(ParseError::TrailingFields);
    }
    Ok(Some(QuerySpec {
        name: parse_name(name)?,
        qtype,
    }))
}

/// A parse error with its 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number.
    pub line: usize,
    /// What was wrong.
    pub error: ParseError,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.error)
    }
}

impl std::error::Error for LineError {}

/// Parses a whole query file's text; the first bad line is an error.
pub fn parse_queries(text: &str) -> Result<Vec<QuerySpec>, LineError> {
    let mut queries = Vec::new();
    for (index, line) in text.lines().enumerate() {
        match parse_line(line) {
            Ok(Some(q)) => queries.push(q),
            Ok(None) => {}
            Err(error) => {
                return Err(LineError {
                    line: index + 1,
                    error,
                })
            }
        }
    }
    Ok(queries)
}

/// Loads a query file; an empty file (no queries) is an error.
pub fn load_queries(path: &Path) -> anyhow::Result<Vec<QuerySpec>> {
    use anyhow::Context;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading query file {}", path.display()))?;
    let queries =
        parse_queries(&text).with_context(|| format!("parsing query file {}", path.display()))?;
    anyhow::ensure!(
        !queries.is_empty(),
        "query file {} holds no queries",
        path.display()
    );
    Ok(queries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_with_and_without_trailing_dot() {
        let expect = b"\x03www\x07example\x03com\x00".to_vec();
        assert_eq!(parse_name("www.example.com").unwrap(), expect);
        assert_eq!(parse_name("www.example.com.").unwrap(), expect);
        assert_eq!(parse_name(".").unwrap(), vec![0]);
    }

    #[test]
    fn parses_escapes() {
        assert_eq!(parse_name(r"a\.b.c").unwrap(), b"\x03a.b\x01c\x00".to_vec());
        assert_eq!(parse_name(r"\065x").unwrap(), b"\x02Ax\x00".to_vec());
        assert_eq!(parse_name(r"\256"), Err(ParseError::BadEscape));
        assert_eq!(parse_name(r"a\"), Err(ParseError::BadEscape));
        assert_eq!(parse_name(r"\12x"), Err(ParseError::BadEscape));
    }

    #[test]
    fn rejects_bad_names() {
        assert_eq!(parse_name("a..b"), Err(ParseError::EmptyLabel));
        assert_eq!(parse_name(".a"), Err(ParseError::EmptyLabel));
        assert_eq!(parse_name(&"x".repeat(64)), Err(ParseError::LabelTooLong));
        assert!(parse_name(&"x".repeat(63)).is_ok());
        let long = vec!["abcdefghi"; 26].join(".");
        assert_eq!(parse_name(&long), Err(ParseError::NameTooLong));
    }

    #[test]
    fn parses_types() {
        assert_eq!(parse_type("aaaa"), Ok(28));
        assert_eq!(parse_type("MX"), Ok(15));
        assert_eq!(parse_type("type65000"), Ok(65000));
        assert_eq!(
            parse_type("TYPE70000"),
            Err(ParseError::UnknownType("TYPE70000".into()))
        );
        assert_eq!(
            parse_type("BOGUS"),
            Err(ParseError::UnknownType("BOGUS".into()))
        );
        assert_eq!(type_name(28), "AAAA");
        assert_eq!(type_name(999), "TYPE999");
    }

    #[test]
    fn parses_a_file_with_comments_and_default_type() {
        let text = "# header\n\nwww.example.com A\n; other comment\n  mail.example.com   MX  \nbare.example.com\n";
        let queries = parse_queries(text).unwrap();
        assert_eq!(queries.len(), 3);
        assert_eq!(queries[0].qtype, 1);
        assert_eq!(
            queries[1],
            QuerySpec {
                name: parse_name("mail.example.com").unwrap(),
                qtype: 15
            }
        );
        assert_eq!(queries[2].qtype, 1);
    }

    #[test]
    fn reports_the_bad_line_number() {
        let err = parse_queries("a.example A\nb.example NOPE\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert_eq!(err.error, ParseError::UnknownType("NOPE".into()));
        let err = parse_queries("a.example A extra\n").unwrap_err();
        assert_eq!(
            err,
            LineError {
                line: 1,
                error: ParseError::TrailingFields
            }
        );
    }
}
