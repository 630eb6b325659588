//! A small, fixed-capacity name compressor (RFC 1035 §4.1.4).
//!
//! The compressor remembers up to [`CAPACITY`] offsets in the message where
//! a name (or the tail of one) starts, with that name's uncompressed length.
//! To compress a name it looks for its longest suffix equal
//! (case-insensitively) to a remembered name — only names of the same length
//! are compared byte by byte — and returns how many leading bytes must be
//! written literally, and where to point for the rest. No allocation; when full, new names are simply not
//! remembered (the output stays correct, only less compact).

use crate::name::MAX_NAME_LEN;

/// How many name positions are remembered.
pub const CAPACITY: usize = 32;

/// Highest offset a compression pointer can express.
pub const MAX_POINTER: usize = 0x3fff;

/// The two bytes of a compression pointer to offset `at` (at most [`MAX_POINTER`]).
#[inline]
pub fn pointer(at: usize) -> [u8; 2] {
    (0xc000 | (at & MAX_POINTER) as u16).to_be_bytes()
}

/// Remembered name positions of one message.
#[derive(Debug, Clone)]
pub struct Compressor {
    offsets: [u16; CAPACITY],
    /// Uncompressed length of the name at each offset.
    name_lens: [u8; CAPACITY],
    len: usize,
}

impl Default for Compressor {
    fn default() -> Self {
        Compressor::new()
    }
}

impl Compressor {
    pub const fn new() -> Compressor {
        Compressor {
            offsets: [0; CAPACITY],
            name_lens: [0; CAPACITY],
            len: 0,
        }
    }

    /// Number of remembered positions (a mark for [`Compressor::truncate`]).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forgets positions remembered after the mark `len`.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Remembers the label starts of the literal part of a name written at
    /// `at`: `literal` is the bytes written there (labels, without the final
    /// pointer or root), `name_len` the whole name's uncompressed length.
    pub fn remember(&mut self, at: usize, literal: &[u8], name_len: usize) {
        let mut i = 0;
        while let Some(&l) = literal.get(i) {
            if l == 0 || l & 0xc0 != 0 {
                break;
            }
            let off = at + i;
            if off > MAX_POINTER || self.len >= CAPACITY {
                break;
            }
            let Some(rest) = name_len.checked_sub(i).and_then(|r| u8::try_from(r).ok()) else {
                break;
            };
            if let (Some(slot), Some(len_slot)) = (
                self.offsets.get_mut(self.len),
                self.name_lens.get_mut(self.len),
            ) {
                *slot = off as u16;
                *len_slot = rest;
                self.len += 1;
            }
            i += 1 + l as usize;
        }
    }

    /// Finds the longest suffix of the uncompressed wire `name` already in
    /// `msg`. Returns `(literal_len, pointer)`: write `name[..literal_len]`
    /// then, if `pointer` is set, a pointer to it (else `literal_len` covers
    /// the whole name, root label included).
    pub fn find(&self, msg: &[u8], name: &[u8]) -> (usize, Option<u16>) {
        let mut i = 0;
        while let Some(&l) = name.get(i) {
            if l == 0 {
                break;
            }
            if let Some(suffix) = name.get(i..) {
                let offsets = self.offsets.get(..self.len).unwrap_or(&[]);
                let lens = self.name_lens.get(..self.len).unwrap_or(&[]);
                for (&off, &len) in offsets.iter().zip(lens) {
                    if len as usize == suffix.len() && name_at_equals(msg, off as usize, suffix) {
                        return (i, Some(off));
                    }
                }
            }
            i += 1 + l as usize;
        }
        (name.len(), None)
    }
}

/// True when the (possibly compressed) name at `at` in `msg` equals the
/// uncompressed `name`, ignoring ASCII case. Pointers must go strictly
/// backwards; anything odd compares unequal.
pub fn name_at_equals(msg: &[u8], at: usize, name: &[u8]) -> bool {
    let mut pos = at;
    let mut i = 0;
    let mut segment_start = at;
    // Bounded: each label advances `i` within a 255-byte name.
    for _ in 0..=MAX_NAME_LEN {
        let Some(&b) = msg.get(pos) else { return false };
        if b & 0xc0 == 0xc0 {
            let Some(&lo) = msg.get(pos + 1) else {
                return false;
            };
            let target = (((b & 0x3f) as usize) << 8) | lo as usize;
            if target >= segment_start {
                return false;
            }
            segment_start = target;
            pos = target;
            continue;
        }
        if b & 0xc0 != 0 || name.get(i) != Some(&b) {
            return false;
        }
        if b == 0 {
            return true;
        }
        let l = b as usize;
        match (msg.get(pos + 1..pos + 1 + l), name.get(i + 1..i + 1 + l)) {
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => {}
            _ => return false,
        }
        pos += 1 + l;
        i += 1 + l;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_longest_suffix() {
        let mut msg = vec![0u8; 12];
        msg.extend_from_slice(b"\x03WWW\x07Example\x03com\x00");
        let mut c = Compressor::new();
        c.remember(12, b"\x03WWW\x07Example\x03com", 17);
        assert_eq!(c.len(), 3);
        assert_eq!(
            c.find(&msg, b"\x04mail\x07example\x03com\x00"),
            (5, Some(16))
        );
        assert_eq!(
            c.find(&msg, b"\x03www\x07example\x03com\x00"),
            (0, Some(12))
        );
        assert_eq!(c.find(&msg, b"\x03org\x00"), (5, None));
        assert_eq!(c.find(&msg, b"\x00"), (1, None));
    }

    #[test]
    fn compares_through_pointers() {
        let mut msg = vec![0u8; 12];
        msg.extend_from_slice(b"\x03com\x00\x01a\xc0\x0c");
        assert!(name_at_equals(&msg, 17, b"\x01A\x03COM\x00"));
        assert!(!name_at_equals(&msg, 17, b"\x01a\x03co\x00"));
        // A forward/self pointer never matches.
        msg.extend_from_slice(b"\xc0\x15");
        assert!(!name_at_equals(&msg, 21, b"\x01a\x03com\x00"));
    }

    #[test]
    fn capacity_and_truncate() {
        let mut c = Compressor::new();
        let long: Vec<u8> = (0..40).flat_map(|_| [1u8, b'x']).collect();
        c.remember(12, &long, long.len() + 1);
        assert_eq!(c.len(), CAPACITY);
        c.truncate(3);
        assert_eq!(c.len(), 3);
        // Positions beyond the pointer range are not remembered.
        let mut c = Compressor::new();
        c.remember(MAX_POINTER - 1, b"\x01a\x01b", 5);
        assert_eq!(c.len(), 1);
    }
}
