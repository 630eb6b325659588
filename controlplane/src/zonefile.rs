//! RFC 1035 master-file reader.
//!
//! Loads static records from zone files: `$ORIGIN`, `$TTL`, relative names,
//! `@`, owner inheritance (a line starting with blanks reuses the previous
//! owner), parentheses spanning lines, `;` comments, quoted character
//! strings, optional class `IN`, TTLs with units (`1h30m`). Record types are
//! the ones Skylane serves (A, AAAA, CNAME, NS, PTR, MX, SRV, TXT, SOA).
//! Every error names the file and line.

use skylane_dataplane::name::Name;
use skylane_dataplane::record::{RData, Record};
use std::path::{Path, PathBuf};

/// A zone file that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ZoneFileError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {reason}")]
    Syntax {
        path: PathBuf,
        line: usize,
        reason: String,
    },
}

/// What a zone file yields: its origin (the apex) and its records.
#[derive(Debug, Clone)]
pub struct Zone {
    /// `$ORIGIN` at the start of the file, else the SOA owner, else the
    /// origin given to [`parse_zone`].
    pub apex: Name,
    pub records: Vec<Record>,
}

/// Reads and parses a zone file. `origin` is used until a `$ORIGIN` line;
/// `default_ttl` until a `$TTL` line.
pub fn load_zone_file(
    path: &Path,
    origin: Option<&Name>,
    default_ttl: u32,
) -> Result<Zone, ZoneFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| ZoneFileError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse_zone(&text, origin, default_ttl).map_err(|(line, reason)| ZoneFileError::Syntax {
        path: path.to_owned(),
        line,
        reason,
    })
}

/// Parses zone text; errors are `(line, reason)`.
pub fn parse_zone(
    text: &str,
    origin: Option<&Name>,
    default_ttl: u32,
) -> Result<Zone, (usize, String)> {
    // At most one record a line: reserved once instead of grown (each growth of a vector of
    // a million records copied it into freshly faulted pages: ≈ 11 % of a 1 M-name load).
    let lines = text.bytes().filter(|&b| b == b'\n').count() + 1;
    let mut p = Parser {
        origin: origin.cloned(),
        first_origin: None,
        ttl: default_ttl,
        records: Vec::with_capacity(lines),
        soa_owner: None,
    };
    // Each entry is parsed as soon as it is complete: no token list of the whole file lives on.
    logical_lines(text, |entry| p.entry(entry).map_err(|e| (entry.line, e)))?;
    // The records stay (for the snapshot builds): no slack with them (lines without a record:
    // directives, comments, blank lines, continuations).
    p.records.shrink_to_fit();
    let apex = p
        .first_origin
        .or(p.soa_owner)
        .or(origin.cloned())
        .ok_or((1, "no $ORIGIN, no SOA and no origin given".to_string()))?;
    Ok(Zone {
        apex,
        records: p.records,
    })
}

/// One logical entry: tokens possibly gathered over several physical lines.
struct Entry<'t> {
    line: usize,
    /// The physical line started with a blank: the owner is inherited.
    blank_owner: bool,
    tokens: Vec<Token<'t>>,
}

/// A token: a slice of the zone text (escapes kept as written, quotes removed).
#[derive(Debug, Clone, Copy)]
struct Token<'t> {
    text: &'t str,
    quoted: bool,
}

/// Splits text into logical entries (handles comments, quotes, parentheses) and hands each
/// one to `each` as soon as it is complete; the first error (by line) ends the walk. Tokens
/// are slices of `text` and one token vector serves every entry: nothing is allocated per
/// line or token. Every delimiter is ASCII, so scanning bytes keeps the slices on character
/// boundaries.
fn logical_lines<'t>(
    text: &'t str,
    mut each: impl FnMut(&Entry<'t>) -> Result<(), (usize, String)>,
) -> Result<(), (usize, String)> {
    let mut entry = Entry {
        line: 0,
        blank_owner: false,
        tokens: Vec::new(),
    };
    let mut open = false;
    let mut depth = 0usize;
    let mut open_line = 0;
    for (idx, raw) in text.lines().enumerate() {
        let line_no = idx + 1;
        if !open {
            open = true;
            entry.line = line_no;
            entry.blank_owner = raw.starts_with([' ', '\t']);
            entry.tokens.clear();
        }
        let b = raw.as_bytes();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b';' => break,
                b' ' | b'\t' | b'\r' => i += 1,
                b'(' => {
                    if depth == 0 {
                        open_line = line_no;
                    }
                    depth += 1;
                    i += 1;
                }
                b')' => {
                    if depth == 0 {
                        return Err((line_no, "unbalanced ')'".into()));
                    }
                    depth -= 1;
                    i += 1;
                }
                b'"' => {
                    i += 1;
                    let start = i;
                    let mut closed = false;
                    while i < b.len() {
                        match b[i] {
                            b'\\' if i + 1 < b.len() => i += 2,
                            b'"' => {
                                closed = true;
                                break;
                            }
                            _ => i += 1,
                        }
                    }
                    if !closed {
                        return Err((line_no, "unterminated quoted string".into()));
                    }
                    entry.tokens.push(Token {
                        text: &raw[start..i],
                        quoted: true,
                    });
                    i += 1;
                }
                _ => {
                    let start = i;
                    while i < b.len() {
                        match b[i] {
                            b' ' | b'\t' | b'\r' | b';' | b'(' | b')' | b'"' => break,
                            b'\\' if i + 1 < b.len() => i += 2,
                            _ => i += 1,
                        }
                    }
                    // An escape may have skipped one byte of a multi-byte character: the
                    // token still ends at an ASCII delimiter or the line's end.
                    let end = i.min(b.len());
                    entry.tokens.push(Token {
                        text: &raw[start..end],
                        quoted: false,
                    });
                    i = end;
                }
            }
        }
        if depth == 0 {
            open = false;
            if !entry.tokens.is_empty() {
                each(&entry)?;
            }
        }
    }
    if depth > 0 {
        return Err((open_line, "unbalanced '(': missing ')'".into()));
    }
    Ok(())
}

struct Parser {
    origin: Option<Name>,
    first_origin: Option<Name>,
    ttl: u32,
    records: Vec<Record>,
    soa_owner: Option<Name>,
}

impl Parser {
    fn entry(&mut self, e: &Entry<'_>) -> Result<(), String> {
        let first = &e.tokens[0].text;
        if !e.tokens[0].quoted && first.starts_with('$') {
            return self.directive(e);
        }
        let mut toks = e.tokens.iter();
        let owner = if e.blank_owner {
            // The previous record's owner (directives do not change it).
            let last = self.records.last().map(|r| r.name.clone());
            last.ok_or("no previous owner to inherit")?
        } else {
            let t = toks.next().expect("non-empty entry");
            self.name(t.text)?
        };
        // [TTL] [class] type, in either order of TTL and class.
        let mut ttl = None;
        let mut rtype = None;
        for _ in 0..3 {
            let t = toks.next().ok_or("missing record type")?;
            if t.text.eq_ignore_ascii_case("IN") {
                continue;
            }
            if ["CH", "HS", "CS"]
                .iter()
                .any(|c| t.text.eq_ignore_ascii_case(c))
            {
                let up = t.text.to_ascii_uppercase();
                return Err(format!("class {up} not supported (only IN)"));
            }
            if ttl.is_none() && t.text.starts_with(|c: char| c.is_ascii_digit()) {
                ttl = Some(parse_ttl(t.text)?);
                continue;
            }
            rtype = Some(t.text);
            break;
        }
        let rtype = rtype.ok_or("missing record type")?;
        let rest = toks.as_slice();
        let data = self.rdata(rtype, rest)?;
        if let RData::Soa { minimum, .. } = &data {
            if self.soa_owner.is_none() {
                self.soa_owner = Some(owner.clone());
            }
            let _ = minimum;
        }
        self.records
            .push(Record::new(owner, ttl.unwrap_or(self.ttl), data).as_written());
        Ok(())
    }

    fn directive(&mut self, e: &Entry<'_>) -> Result<(), String> {
        let d = e.tokens[0].text.to_ascii_uppercase();
        let arg = e.tokens.get(1).ok_or(format!("{d} needs an argument"))?;
        match d.as_str() {
            "$ORIGIN" => {
                let n = Name::from_ascii_absolute(arg.text)
                    .or_else(|_| match &self.origin {
                        Some(o) => Name::from_ascii_relative(arg.text, o),
                        None => Name::from_ascii_absolute(arg.text),
                    })
                    .map_err(|err| format!("bad $ORIGIN {:?}: {err}", arg.text))?;
                if self.first_origin.is_none() && self.records.is_empty() {
                    self.first_origin = Some(n.clone());
                }
                self.origin = Some(n);
            }
            "$TTL" => self.ttl = parse_ttl(arg.text)?,
            "$INCLUDE" => return Err("$INCLUDE is not supported".into()),
            _ => return Err(format!("unknown directive {d}")),
        }
        Ok(())
    }

    fn name(&self, text: &str) -> Result<Name, String> {
        let r = match &self.origin {
            Some(o) => Name::from_ascii_relative(text, o),
            None => Name::from_ascii_absolute(text),
        };
        r.map_err(|e| format!("bad name {text:?}: {e}"))
    }

    fn rdata(&self, rtype: &str, t: &[Token]) -> Result<RData, String> {
        // The type uppercased on the stack (no string made a record); a name longer than
        // the buffer is no supported type and stays as written.
        let mut buf = [0u8; 8];
        let rtype = match buf.get_mut(..rtype.len()) {
            Some(up) => {
                up.copy_from_slice(rtype.as_bytes());
                up.make_ascii_uppercase();
                std::str::from_utf8(up).unwrap_or(rtype)
            }
            None => rtype,
        };
        let want = |n: usize| -> Result<(), String> {
            if t.len() == n {
                Ok(())
            } else {
                Err(format!("{rtype} takes {n} field(s), found {}", t.len()))
            }
        };
        Ok(match rtype {
            "A" => {
                want(1)?;
                RData::A(
                    t[0].text
                        .parse()
                        .map_err(|_| format!("bad IPv4 address {:?}", t[0].text))?,
                )
            }
            "AAAA" => {
                want(1)?;
                RData::Aaaa(
                    t[0].text
                        .parse()
                        .map_err(|_| format!("bad IPv6 address {:?}", t[0].text))?,
                )
            }
            "CNAME" => {
                want(1)?;
                RData::Cname(self.name(t[0].text)?)
            }
            "NS" => {
                want(1)?;
                RData::Ns(self.name(t[0].text)?)
            }
            "PTR" => {
                want(1)?;
                RData::Ptr(self.name(t[0].text)?)
            }
            "MX" => {
                want(2)?;
                RData::Mx {
                    preference: parse_num(t[0].text, "MX preference")?,
                    exchange: self.name(t[1].text)?,
                }
            }
            "SRV" => {
                want(4)?;
                RData::Srv {
                    priority: parse_num(t[0].text, "SRV priority")?,
                    weight: parse_num(t[1].text, "SRV weight")?,
                    port: parse_num(t[2].text, "SRV port")?,
                    target: self.name(t[3].text)?,
                }
            }
            "TXT" => {
                if t.is_empty() {
                    return Err("TXT needs at least one string".into());
                }
                let mut strings = Vec::with_capacity(t.len());
                for tok in t {
                    let bytes = unescape(tok.text)?;
                    if bytes.len() > 255 {
                        return Err("TXT string longer than 255 bytes".into());
                    }
                    strings.push(bytes);
                }
                RData::Txt(strings)
            }
            "SOA" => {
                want(7)?;
                RData::Soa {
                    mname: self.name(t[0].text)?,
                    rname: self.name(t[1].text)?,
                    serial: parse_num(t[2].text, "SOA serial")?,
                    refresh: parse_ttl(t[3].text)?,
                    retry: parse_ttl(t[4].text)?,
                    expire: parse_ttl(t[5].text)?,
                    minimum: parse_ttl(t[6].text)?,
                }
            }
            other => {
                let up = other.to_ascii_uppercase();
                return Err(format!("unsupported record type {up}"));
            }
        })
    }
}

fn parse_num<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, String> {
    s.parse().map_err(|_| format!("bad {what} {s:?}"))
}

/// A TTL: plain seconds or BIND-style units (`1w2d3h4m5s`).
pub fn parse_ttl(s: &str) -> Result<u32, String> {
    if let Ok(v) = s.parse::<u32>() {
        return Ok(v);
    }
    let bad = || format!("bad TTL {s:?}");
    let mut total: u64 = 0;
    let mut num: Option<u64> = None;
    for c in s.chars() {
        if let Some(d) = c.to_digit(10) {
            num = Some(num.unwrap_or(0) * 10 + d as u64);
            if num > Some(u32::MAX as u64) {
                return Err(bad());
            }
            continue;
        }
        let mult = match c.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            'w' => 604800,
            _ => return Err(bad()),
        };
        total += num.take().ok_or_else(bad)? * mult;
    }
    if num.is_some() || s.is_empty() {
        return Err(bad());
    }
    u32::try_from(total).map_err(|_| bad())
}

/// Resolves `\X` and `\DDD` escapes in a character string.
fn unescape(s: &str) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            let rest = &b[i + 1..];
            if rest.len() >= 3 && rest[..3].iter().all(u8::is_ascii_digit) {
                let v = (rest[0] - b'0') as u32 * 100
                    + (rest[1] - b'0') as u32 * 10
                    + (rest[2] - b'0') as u32;
                if v > 255 {
                    return Err(format!("bad escape in {s:?}"));
                }
                out.push(v as u8);
                i += 4;
            } else if let Some(&c) = rest.first() {
                out.push(c);
                i += 2;
            } else {
                return Err(format!("dangling backslash in {s:?}"));
            }
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    #[test]
    fn parses_a_typical_zone() {
        let text = r#"
$ORIGIN cluster.local.
$TTL 60
@   IN SOA ns1 hostmaster ( 2024010101 ; serial
        1h 10m 1w 30 )
    IN NS ns1
ns1         A     10.0.0.53
web   300   IN A  10.0.0.1
            A     10.0.0.2
web         AAAA  fd00::1
www         CNAME web
_http._tcp  SRV   10 5 80 web
mail.cluster.local. MX 10 mx1
txt         TXT   "hello world" "a\"b" plain
1.0.0.10.in-addr.arpa. PTR web
"#;
        let z = parse_zone(text, None, 30).unwrap();
        assert_eq!(z.apex, n("cluster.local."));
        let r = &z.records;
        assert_eq!(r.len(), 11);
        assert_eq!(r[0].name, n("cluster.local."));
        assert!(matches!(
            r[0].data,
            RData::Soa {
                refresh: 3600,
                retry: 600,
                expire: 604800,
                minimum: 30,
                ..
            }
        ));
        assert_eq!(r[1].name, n("cluster.local."));
        assert_eq!(r[1].data, RData::Ns(n("ns1.cluster.local.")));
        assert_eq!(r[3].ttl, 300);
        assert_eq!(r[3].data, RData::A("10.0.0.1".parse().unwrap()));
        assert_eq!(r[4].name, n("web.cluster.local."), "owner inherited");
        assert_eq!(r[4].ttl, 60, "$TTL applies when no TTL is given");
        assert_eq!(r[6].data, RData::Cname(n("web.cluster.local.")));
        assert_eq!(
            r[7].data,
            RData::Srv {
                priority: 10,
                weight: 5,
                port: 80,
                target: n("web.cluster.local.")
            }
        );
        assert_eq!(r[8].name, n("mail.cluster.local."));
        assert_eq!(
            r[9].data,
            RData::Txt(vec![
                b"hello world".to_vec(),
                b"a\"b".to_vec(),
                b"plain".to_vec()
            ])
        );
        assert_eq!(r[10].name, n("1.0.0.10.in-addr.arpa."));
    }

    #[test]
    fn record_types_in_any_case() {
        let z = parse_zone("$ORIGIN a.\nx aaaa ::1\ny Cname x\n", None, 60).unwrap();
        assert!(matches!(z.records[0].data, RData::Aaaa(_)));
        assert!(matches!(z.records[1].data, RData::Cname(_)));
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            ("$ORIGIN a.\nx A 1.2.3\n", 2, "bad IPv4"),
            ("$ORIGIN a.\n\nx A 1.2.3.4\ny MX 10\n", 4, "MX takes 2"),
            (
                "$ORIGIN a.\nx BOGUS 1\n",
                2,
                "unsupported record type BOGUS",
            ),
            (
                "$ORIGIN a.\nx bogus 1\n",
                2,
                "unsupported record type BOGUS",
            ),
            (
                "$ORIGIN a.\nx longertypename 1\n",
                2,
                "unsupported record type LONGERTYPENAME",
            ),
            ("$ORIGIN a.\ny mx 10\n", 2, "MX takes 2"),
            ("$ORIGIN a.\nx TXT \"open\n", 2, "unterminated"),
            ("$ORIGIN a.\nx SOA ( a b 1 2 3 4 5\n", 2, "unbalanced"),
            ("x A 1.2.3.4\n", 1, "bad name"),
            ("$ORIGIN a.\n  A 1.2.3.4\n", 2, "no previous owner"),
            ("$ORIGIN a.\n$TTL 5x\n", 2, "bad TTL"),
            ("$ORIGIN a.\nx CH A 1.2.3.4\n", 2, "class CH"),
        ];
        for (text, line, needle) in cases {
            let (l, reason) = parse_zone(text, None, 30).unwrap_err();
            assert_eq!(l, line, "{text:?}: {reason}");
            assert!(reason.contains(needle), "{text:?}: {reason}");
        }
    }

    #[test]
    fn ttl_units() {
        assert_eq!(parse_ttl("90").unwrap(), 90);
        assert_eq!(parse_ttl("1h30m").unwrap(), 5400);
        assert_eq!(parse_ttl("1W").unwrap(), 604800);
        assert!(parse_ttl("h").is_err());
        assert!(parse_ttl("10").is_ok());
        assert!(parse_ttl("99999999999").is_err());
    }

    #[test]
    fn origin_given_by_caller() {
        let z = parse_zone("web A 10.1.1.1\n", Some(&n("skylane.local.")), 42).unwrap();
        assert_eq!(z.apex, n("skylane.local."));
        assert_eq!(z.records[0].name, n("web.skylane.local."));
        assert_eq!(z.records[0].ttl, 42);
    }
}
