//! Domain names in uncompressed wire form.
//!
//! A [`Name`] is a validated, absolute domain name stored as its wire encoding
//! (length-prefixed labels ending with the root label). It keeps the case it
//! was given; [`Name::to_lowercase`] gives the canonical form used as a lookup
//! key. Names are built on the control plane; the data plane never allocates
//! one per packet.

use std::fmt;

/// Longest label (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;
/// Longest name in wire form, root label included (RFC 1035 §2.3.4).
pub const MAX_NAME_LEN: usize = 255;

/// Why text could not be turned into a [`Name`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("empty label in name")]
    EmptyLabel,
    #[error("label longer than 63 bytes")]
    LabelTooLong,
    #[error("name longer than 255 bytes in wire form")]
    NameTooLong,
    #[error("bad escape sequence in name")]
    BadEscape,
    #[error("name is relative (no trailing dot) and no origin was given")]
    Relative,
}

/// An absolute domain name in uncompressed wire form.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(Box<[u8]>);

impl Name {
    /// The root name `.`.
    pub fn root() -> Name {
        Name(Box::new([0u8]))
    }

    /// Parses presentation form. A trailing dot is optional: text without one
    /// is still taken as absolute. `\.` and `\DDD` escapes are understood.
    pub fn from_ascii(text: &str) -> Result<Name, NameError> {
        Self::parse(text, None)
    }

    /// Parses presentation form relative to `origin`: a name without a
    /// trailing dot gets `origin` appended; `@` is the origin itself.
    pub fn from_ascii_relative(text: &str, origin: &Name) -> Result<Name, NameError> {
        Self::parse(text, Some(origin))
    }

    /// Strict parse: without an origin, a name lacking its trailing dot is an error.
    pub fn from_ascii_absolute(text: &str) -> Result<Name, NameError> {
        if text == "." || text.ends_with('.') && !text.ends_with("\\.") {
            Self::from_ascii(text)
        } else {
            Err(NameError::Relative)
        }
    }

    fn parse(text: &str, origin: Option<&Name>) -> Result<Name, NameError> {
        if text == "." {
            return Ok(Name::root());
        }
        if text == "@" {
            if let Some(o) = origin {
                return Ok(o.clone());
            }
        }
        let bytes = text.as_bytes();
        // Built on the stack and allocated once, at its exact size (a zone file makes a
        // million of these). Room for the longest input the checks let through: 254 bytes
        // of labels, a 64th byte of the next one (then rejected), the origin's 254 and the
        // root.
        let mut wire = [0u8; 2 * MAX_NAME_LEN + MAX_LABEL_LEN + 2];
        // Bytes of whole labels in `wire`; bytes of the current one, at `wire[len + 1..]`.
        let (mut len, mut label) = (0usize, 0usize);
        let mut absolute = false;
        let mut i = 0;
        while i < bytes.len() {
            let c = bytes[i];
            let byte = match c {
                b'.' => {
                    if label == 0 {
                        return Err(NameError::EmptyLabel);
                    }
                    len = close_label(&mut wire, len, label)?;
                    label = 0;
                    if i + 1 == bytes.len() {
                        absolute = true;
                    }
                    i += 1;
                    continue;
                }
                b'\\' => {
                    let rest = &bytes[i + 1..];
                    if rest.len() >= 3 && rest[..3].iter().all(u8::is_ascii_digit) {
                        let v = (rest[0] - b'0') as u32 * 100
                            + (rest[1] - b'0') as u32 * 10
                            + (rest[2] - b'0') as u32;
                        if v > 255 {
                            return Err(NameError::BadEscape);
                        }
                        i += 4;
                        v as u8
                    } else if let Some(&n) = rest.first() {
                        i += 2;
                        n
                    } else {
                        return Err(NameError::BadEscape);
                    }
                }
                _ => {
                    i += 1;
                    c
                }
            };
            *wire
                .get_mut(len + 1 + label)
                .ok_or(NameError::NameTooLong)? = byte;
            label += 1;
            if label > MAX_LABEL_LEN {
                return Err(NameError::LabelTooLong);
            }
        }
        if label > 0 {
            len = close_label(&mut wire, len, label)?;
        }
        if !absolute {
            if let Some(o) = origin {
                let tail = o.0.get(..o.0.len().saturating_sub(1)).unwrap_or(&[]);
                let to = wire
                    .get_mut(len..len + tail.len())
                    .ok_or(NameError::NameTooLong)?;
                to.copy_from_slice(tail);
                len += tail.len();
            }
        }
        // The root label: `wire` is zeroed.
        len += 1;
        if len > MAX_NAME_LEN {
            return Err(NameError::NameTooLong);
        }
        Ok(Name(wire.get(..len).ok_or(NameError::NameTooLong)?.into()))
    }

    /// Takes an uncompressed wire-form name, checking its structure.
    pub fn from_wire(wire: &[u8]) -> Result<Name, NameError> {
        if wire.len() > MAX_NAME_LEN {
            return Err(NameError::NameTooLong);
        }
        let mut i = 0;
        loop {
            let len = *wire.get(i).ok_or(NameError::EmptyLabel)? as usize;
            if len == 0 {
                if i + 1 != wire.len() {
                    return Err(NameError::EmptyLabel);
                }
                return Ok(Name(wire.into()));
            }
            if len > MAX_LABEL_LEN {
                return Err(NameError::LabelTooLong);
            }
            i += 1 + len;
        }
    }

    /// The wire encoding, root label included.
    pub fn as_wire(&self) -> &[u8] {
        &self.0
    }

    /// Length of the wire encoding.
    pub fn wire_len(&self) -> usize {
        self.0.len()
    }

    /// The same name with ASCII letters lowercased (the lookup key).
    pub fn to_lowercase(&self) -> Name {
        Name(self.0.to_ascii_lowercase().into_boxed_slice())
    }

    /// True for the root name.
    pub fn is_root(&self) -> bool {
        self.0.len() == 1
    }

    /// Iterates over the labels, leftmost first, root excluded.
    pub fn labels(&self) -> Labels<'_> {
        Labels { wire: &self.0 }
    }

    /// Number of labels, root excluded.
    pub fn label_count(&self) -> usize {
        self.labels().count()
    }

    /// The name with its leftmost label removed (`None` for the root).
    pub fn parent(&self) -> Option<Name> {
        if self.is_root() {
            return None;
        }
        let skip = 1 + self.0[0] as usize;
        Some(Name(self.0[skip..].into()))
    }

    /// True when `self` equals `other` or lies below it (case-insensitive).
    pub fn is_subdomain_of(&self, other: &Name) -> bool {
        let (a, b) = (&self.0, &other.0);
        if b.len() > a.len() {
            return false;
        }
        // The suffix must start on a label boundary of `self`.
        let start = a.len() - b.len();
        let mut i = 0;
        while i < start {
            i += 1 + a[i] as usize;
        }
        i == start && a[start..].eq_ignore_ascii_case(b)
    }

    /// `label` prepended to this name.
    pub fn prepend(&self, label: &[u8]) -> Result<Name, NameError> {
        if label.is_empty() {
            return Err(NameError::EmptyLabel);
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(NameError::LabelTooLong);
        }
        let mut wire = Vec::with_capacity(self.0.len() + label.len() + 1);
        wire.push(label.len() as u8);
        wire.extend_from_slice(label);
        wire.extend_from_slice(&self.0);
        if wire.len() > MAX_NAME_LEN {
            return Err(NameError::NameTooLong);
        }
        Ok(Name(wire.into_boxed_slice()))
    }

    /// True when the leftmost label is `*`.
    pub fn is_wildcard(&self) -> bool {
        self.0.len() >= 2 && self.0[0] == 1 && self.0[1] == b'*'
    }
}

/// Ends the label of `label` bytes written at `wire[len + 1..]` (its length byte at
/// `len`); returns the length of `wire` with it.
fn close_label(wire: &mut [u8], len: usize, label: usize) -> Result<usize, NameError> {
    if label > MAX_LABEL_LEN {
        return Err(NameError::LabelTooLong);
    }
    *wire.get_mut(len).ok_or(NameError::NameTooLong)? = label as u8;
    let len = len + 1 + label;
    if len + 1 > MAX_NAME_LEN {
        return Err(NameError::NameTooLong);
    }
    Ok(len)
}

/// Iterator over a name's labels (see [`Name::labels`]).
pub struct Labels<'a> {
    wire: &'a [u8],
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let len = *self.wire.first()? as usize;
        if len == 0 {
            return None;
        }
        let label = &self.wire[1..1 + len];
        self.wire = &self.wire[1 + len..];
        Some(label)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_root() {
            return f.write_str(".");
        }
        for label in self.labels() {
            for &b in label {
                match b {
                    b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => {
                        write!(f, "\\{}", b as char)?
                    }
                    0x21..=0x7e => write!(f, "{}", b as char)?,
                    _ => write!(f, "\\{:03}", b)?,
                }
            }
            f.write_str(".")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

impl std::str::FromStr for Name {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Name, NameError> {
        Name::from_ascii(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays() {
        let n = Name::from_ascii("WWW.Example.com.").unwrap();
        assert_eq!(n.as_wire(), b"\x03WWW\x07Example\x03com\x00");
        assert_eq!(n.to_string(), "WWW.Example.com.");
        assert_eq!(n.to_lowercase().to_string(), "www.example.com.");
        assert_eq!(Name::from_ascii("a.b").unwrap().to_string(), "a.b.");
    }

    #[test]
    fn relative_names_take_the_origin() {
        let origin = Name::from_ascii("cluster.local.").unwrap();
        let n = Name::from_ascii_relative("web", &origin).unwrap();
        assert_eq!(n.to_string(), "web.cluster.local.");
        assert_eq!(Name::from_ascii_relative("@", &origin).unwrap(), origin);
        let abs = Name::from_ascii_relative("x.org.", &origin).unwrap();
        assert_eq!(abs.to_string(), "x.org.");
        assert_eq!(Name::from_ascii_absolute("web"), Err(NameError::Relative));
    }

    #[test]
    fn rejects_bad_names() {
        assert_eq!(Name::from_ascii("a..b"), Err(NameError::EmptyLabel));
        let long = "a".repeat(64);
        assert_eq!(Name::from_ascii(&long), Err(NameError::LabelTooLong));
        let many = vec!["abcdefghi"; 30].join(".");
        assert_eq!(Name::from_ascii(&many), Err(NameError::NameTooLong));
        assert!(Name::from_wire(b"\x03abc").is_err());
        assert!(Name::from_wire(b"\x40aaaa\x00").is_err());
    }

    #[test]
    fn subdomains() {
        let zone = Name::from_ascii("skylane.local.").unwrap();
        assert!(Name::from_ascii("A.Skylane.Local.")
            .unwrap()
            .is_subdomain_of(&zone));
        assert!(zone.is_subdomain_of(&zone));
        assert!(!Name::from_ascii("xskylane.local.")
            .unwrap()
            .is_subdomain_of(&zone));
        assert!(!Name::from_ascii("local.").unwrap().is_subdomain_of(&zone));
        assert!(zone.is_subdomain_of(&Name::root()));
        assert_eq!(zone.parent().unwrap().to_string(), "local.");
        assert!(zone.prepend(b"*").unwrap().is_wildcard());
    }
}
