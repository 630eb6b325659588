//! Reading domain names out of a message (RFC 1035 §3.1, §4.1.4).
//!
//! [`read_name`] follows compression pointers and produces a LOWERCASED,
//! uncompressed copy in a caller-provided [`NameBuf`] (a 255-byte stack
//! buffer, no allocation). It rejects:
//! - labels longer than 63 bytes and the reserved label types `01`/`10`;
//! - names longer than 255 bytes once expanded;
//! - pointers that do not point strictly before the start of the segment
//!   being read (this rules out forward pointers and therefore loops: each
//!   pointer jumps strictly backwards, so reading always terminates);
//! - pointers into the header (offset < `min_pointer`, normally 12).

use super::{Error, Result};
use crate::name::{MAX_LABEL_LEN, MAX_NAME_LEN};

/// A lowercased, uncompressed wire name held on the stack, with its [`key_hash`]
/// (computed while the name is copied in: a lookup needs no second pass over it).
#[derive(Clone, Copy)]
pub struct NameBuf {
    bytes: [u8; MAX_NAME_LEN],
    len: usize,
    hash: u64,
}

impl Default for NameBuf {
    fn default() -> Self {
        NameBuf::new()
    }
}

impl NameBuf {
    /// An empty buffer (not a valid name until filled).
    pub const fn new() -> NameBuf {
        NameBuf {
            bytes: [0; MAX_NAME_LEN],
            len: 0,
            hash: 0,
        }
    }

    /// Empties the buffer for reuse (its bytes are left as they are: only
    /// [`NameBuf::as_wire`]'s length of them is ever read).
    #[inline]
    pub fn clear(&mut self) {
        self.len = 0;
        self.hash = 0;
    }

    /// The [`key_hash`] of the name (0 before the buffer has been filled).
    #[inline]
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// The wire name, root label included.
    pub fn as_wire(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }

    /// Length of the wire name.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True before the buffer has been filled.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Fills the buffer with `prefix` followed by `rest`, lowercasing both;
    /// fails when the result would exceed 255 bytes. Neither part is
    /// validated beyond its length (callers pass wire labels).
    pub fn set_concat(&mut self, prefix: &[u8], rest: &[u8]) -> Result<()> {
        let total = prefix.len() + rest.len();
        let Some(dst) = self.bytes.get_mut(..total) else {
            return Err(Error::NameTooLong);
        };
        let (a, b) = dst.split_at_mut(prefix.len());
        a.copy_from_slice(prefix);
        b.copy_from_slice(rest);
        dst.make_ascii_lowercase();
        self.len = total;
        self.hash = key_hash(dst);
        Ok(())
    }

    /// Fills the buffer with a copy of an uncompressed wire name, lowercased.
    pub fn set(&mut self, wire: &[u8]) -> Result<()> {
        self.set_concat(&[], wire)
    }
}

impl core::fmt::Debug for NameBuf {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "NameBuf({:?})",
            self.as_wire().escape_ascii().to_string()
        )
    }
}

/// Reads the name starting at `start` in `msg` into `out` (lowercased).
///
/// Returns the offset just past the name's in-place encoding (after its
/// terminating root label or its first pointer). Compression pointers must
/// target an offset `>= min_pointer` and strictly before the segment that
/// contains them.
pub fn read_name(msg: &[u8], start: usize, min_pointer: usize, out: &mut NameBuf) -> Result<usize> {
    // Fast path: an uncompressed name is one contiguous copy.
    if let Some(len) = contiguous_name_len(msg, start) {
        let src = msg.get(start..start + len).ok_or(Error::Truncated)?;
        let dst = out.bytes.get_mut(..len).ok_or(Error::NameTooLong)?;
        out.hash = copy_lowercase(dst, src);
        out.len = len;
        return Ok(start + len);
    }
    let end = read_name_slow(msg, start, min_pointer, out)?;
    out.hash = key_hash(out.as_wire());
    Ok(end)
}

/// Length of the uncompressed, well-formed name at `start` (root included),
/// or `None` when it has a pointer or anything unusual (the slow path then
/// decides what is wrong).
#[inline]
fn contiguous_name_len(msg: &[u8], start: usize) -> Option<usize> {
    let mut i = 0;
    loop {
        let l = *msg.get(start + i)?;
        if l == 0 {
            return (i < MAX_NAME_LEN).then_some(i + 1);
        }
        if l > MAX_LABEL_LEN as u8 {
            return None;
        }
        i += 1 + l as usize;
        if i >= MAX_NAME_LEN {
            return None;
        }
    }
}

const HASH_K: u64 = 0x517c_c1b7_2722_0a95;

/// One round of [`key_hash`] over an 8-byte word.
#[inline]
fn hash_round(h: u64, w: u64) -> u64 {
    (h.rotate_left(5) ^ w).wrapping_mul(HASH_K)
}

/// The murmur3 avalanche that ends [`key_hash`].
#[inline]
fn hash_finish(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h
}

/// The fixed, fast hash of every snapshot table key (lowercased wire names and
/// child-chunk keys, `snapshot::hash`): FxHash-style rounds over 8-byte little-endian
/// words (the last one zero-padded), seeded with the length and finished with the
/// murmur3 avalanche so that both the high bits (shard choice) and the low bits (index
/// slot) are well mixed. Deterministic across runs and machines. [`read_name`] computes
/// the same value while it lowercases ([`NameBuf::hash`]).
#[inline]
pub fn key_hash(bytes: &[u8]) -> u64 {
    hash_words(bytes, |w| w)
}

/// [`key_hash`] over `bytes` with each 8-byte word mapped by `map` first (the identity,
/// or [`lower_word`] for a name not yet lowercased).
#[inline(always)]
fn hash_words(bytes: &[u8], map: impl Fn(u64) -> u64) -> u64 {
    let mut h = bytes.len() as u64;
    let mut words = bytes.chunks_exact(8);
    for c in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = hash_round(h, map(u64::from_le_bytes(w)));
    }
    let rem = words.remainder();
    if !rem.is_empty() {
        h = hash_round(h, map(tail_word(rem)));
    }
    hash_finish(h)
}

/// The [`key_hash`] of the name at `start` in `msg`, lowercased, without copying it: what
/// [`read_name`] would leave in [`NameBuf::hash`], for a name that is uncompressed and
/// well formed; `None` for any other (a caller that must know reads it with
/// [`read_name`]). For warming caches before a name is looked up.
#[inline]
pub fn name_key_hash(msg: &[u8], start: usize) -> Option<u64> {
    let len = contiguous_name_len(msg, start)?;
    Some(hash_words(msg.get(start..start + len)?, lower_word))
}

/// An 8-byte word with its ASCII capitals lowercased (length bytes are below 0x40, never
/// in `A..=Z`, so a whole name's encoding is lowercased at once).
#[inline(always)]
fn lower_word(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let low7 = w & (0x7f * ONES);
    let ge_a = low7 + (0x80 - u64::from(b'A')) * ONES;
    let gt_z = low7 + (0x80 - u64::from(b'Z') - 1) * ONES;
    let upper = ge_a & !gt_z & !w & (0x80 * ONES);
    w | (upper >> 2)
}

/// Copies a wire name, lowercased, eight bytes at a time (read from the
/// source and written once: no store-to-load stall), and returns the
/// [`key_hash`] of the copy, computed on the same words. Length bytes are below
/// 0x40, never in `A..=Z`, so the whole encoding is lowercased at once.
#[inline]
fn copy_lowercase(dst: &mut [u8], src: &[u8]) -> u64 {
    let mut h = src.len().min(dst.len()) as u64;
    let mut d = dst.chunks_exact_mut(8);
    let mut s = src.chunks_exact(8);
    for (dc, sc) in (&mut d).zip(&mut s) {
        let mut w = [0u8; 8];
        w.copy_from_slice(sc);
        let w = lower_word(u64::from_le_bytes(w));
        dc.copy_from_slice(&w.to_le_bytes());
        h = hash_round(h, w);
    }
    let (dr, sr) = (d.into_remainder(), s.remainder());
    let n = dr.len().min(sr.len());
    if n > 0 {
        let w = lower_word(tail_word(sr.get(..n).unwrap_or(&[])));
        for (i, b) in dr.iter_mut().take(n).enumerate() {
            *b = (w >> (8 * i)) as u8;
        }
        h = hash_round(h, w);
    }
    hash_finish(h)
}

/// The little-endian word of the last 1–7 bytes of a key, zero-padded: assembled byte by
/// byte, so that the hot path makes no `memcpy` call of a variable length for it.
#[inline(always)]
fn tail_word(rem: &[u8]) -> u64 {
    rem.iter().rev().fold(0, |w, &b| (w << 8) | u64::from(b))
}

fn read_name_slow(
    msg: &[u8],
    start: usize,
    min_pointer: usize,
    out: &mut NameBuf,
) -> Result<usize> {
    let mut pos = start;
    let mut segment_start = start;
    let mut end: Option<usize> = None;
    let mut len = 0usize;
    loop {
        let b = *msg.get(pos).ok_or(Error::Truncated)?;
        match b & 0xc0 {
            0x00 => {
                let label_len = b as usize;
                if label_len == 0 {
                    *out.bytes.get_mut(len).ok_or(Error::NameTooLong)? = 0;
                    out.len = len + 1;
                    return Ok(end.unwrap_or(pos + 1));
                }
                let src = msg.get(pos..pos + 1 + label_len).ok_or(Error::Truncated)?;
                // Room for the length byte, the label and at least the root label.
                let dst = out
                    .bytes
                    .get_mut(len..len + 1 + label_len)
                    .filter(|_| len + 1 + label_len < MAX_NAME_LEN)
                    .ok_or(Error::NameTooLong)?;
                copy_lowercase(dst, src);
                len += 1 + label_len;
                pos += 1 + label_len;
            }
            0xc0 => {
                let lo = *msg.get(pos + 1).ok_or(Error::Truncated)?;
                let target = (((b & 0x3f) as usize) << 8) | lo as usize;
                if target >= segment_start || target < min_pointer {
                    return Err(Error::BadPointer);
                }
                if end.is_none() {
                    end = Some(pos + 2);
                }
                segment_start = target;
                pos = target;
            }
            _ => return Err(Error::BadLabel),
        }
    }
}

/// Number of labels in an uncompressed wire name, root excluded.
pub fn label_count(wire: &[u8]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while let Some(&l) = wire.get(i) {
        if l == 0 {
            break;
        }
        n += 1;
        i += 1 + l as usize;
    }
    n
}

/// The uncompressed wire name without its leftmost label (`None` for the root
/// or a malformed name).
pub fn parent(wire: &[u8]) -> Option<&[u8]> {
    let l = *wire.first()? as usize;
    if l == 0 {
        return None;
    }
    wire.get(1 + l..)
}

/// True when the leftmost label of an uncompressed wire name is `*`.
pub fn is_wildcard(wire: &[u8]) -> bool {
    wire.starts_with(b"\x01*")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(msg: &[u8], start: usize) -> Result<(Vec<u8>, usize)> {
        let mut buf = NameBuf::new();
        let end = read_name(msg, start, 12, &mut buf)?;
        Ok((buf.as_wire().to_vec(), end))
    }

    fn msg(body: &[u8]) -> Vec<u8> {
        let mut m = vec![0u8; 12];
        m.extend_from_slice(body);
        m
    }

    #[test]
    fn reads_plain_name_lowercased() {
        let m = msg(b"\x03WwW\x07Example\x03COM\x00rest");
        let (n, end) = read(&m, 12).unwrap();
        assert_eq!(n, b"\x03www\x07example\x03com\x00");
        assert_eq!(end, 12 + 17);
    }

    #[test]
    fn reads_root() {
        let (n, end) = read(&msg(b"\x00"), 12).unwrap();
        assert_eq!((n.as_slice(), end), (&b"\x00"[..], 13));
    }

    #[test]
    fn follows_backward_pointers() {
        // "example.com" at 12, then "www" + pointer to 12 at 25.
        let m = msg(b"\x07example\x03com\x00\x03WWW\xc0\x0c");
        let (n, end) = read(&m, 25).unwrap();
        assert_eq!(n, b"\x03www\x07example\x03com\x00");
        assert_eq!(end, 31);
        // A pointer to a pointer, each strictly backwards.
        let mut m2 = m.clone();
        m2.extend_from_slice(b"\x01a\xc0\x19");
        let (n, end) = read(&m2, 31).unwrap();
        assert_eq!(n, b"\x01a\x03www\x07example\x03com\x00");
        assert_eq!(end, 35);
    }

    #[test]
    fn rejects_forward_self_and_header_pointers() {
        // Forward pointer.
        assert_eq!(read(&msg(b"\xc0\x0e\x00\x00"), 12), Err(Error::BadPointer));
        // Pointer to itself (a one-step loop).
        assert_eq!(read(&msg(b"\xc0\x0c"), 12), Err(Error::BadPointer));
        // Two-step loop: name at 14 points to 12, which points to 14.
        let m = msg(b"\xc0\x0e\xc0\x0c");
        assert_eq!(read(&m, 14), Err(Error::BadPointer));
        // Into the header.
        assert_eq!(read(&msg(b"\xc0\x02"), 12), Err(Error::BadPointer));
    }

    #[test]
    fn rejects_long_labels_and_names() {
        // Label type 01 (length 64 is 0x40) and 10 are reserved.
        let mut body = vec![0x40];
        body.extend_from_slice(&[b'a'; 64]);
        body.push(0);
        assert_eq!(read(&msg(&body), 12), Err(Error::BadLabel));
        assert_eq!(read(&msg(b"\x80\x00"), 12), Err(Error::BadLabel));
        // 63 is fine.
        let mut body = vec![63];
        body.extend_from_slice(&[b'a'; 63]);
        body.push(0);
        assert!(read(&msg(&body), 12).is_ok());
        // Exactly 255 bytes is fine: 4 labels of 63 (256 bytes) is not.
        let mut body = Vec::new();
        for _ in 0..3 {
            body.push(63);
            body.extend_from_slice(&[b'a'; 63]);
        }
        body.push(61);
        body.extend_from_slice(&[b'b'; 61]);
        body.push(0);
        assert_eq!(read(&msg(&body), 12).unwrap().0.len(), 255);
        let mut long = Vec::new();
        for _ in 0..4 {
            long.push(63);
            long.extend_from_slice(&[b'a'; 63]);
        }
        long.push(0);
        assert_eq!(read(&msg(&long), 12), Err(Error::NameTooLong));
    }

    #[test]
    fn long_names_via_pointers_are_rejected() {
        // 200-byte name, then 2x 40-byte labels + pointer back: 280 bytes expanded.
        let mut body = Vec::new();
        for _ in 0..4 {
            body.push(49);
            body.extend_from_slice(&[b'x'; 49]);
        }
        body.push(0); // 201 bytes at offset 12
        let second = 12 + body.len();
        for _ in 0..2 {
            body.push(39);
            body.extend_from_slice(&[b'y'; 39]);
        }
        body.extend_from_slice(b"\xc0\x0c");
        assert_eq!(read(&msg(&body), second), Err(Error::NameTooLong));
    }

    #[test]
    fn truncated_names_are_rejected() {
        for body in [&b""[..], b"\x03ww", b"\x03www", b"\xc0"] {
            assert_eq!(read(&msg(body), 12), Err(Error::Truncated), "{body:?}");
        }
    }

    #[test]
    fn lowercasing_touches_only_letters() {
        // Every byte value inside labels, incl. '@' (0x40), '[' (0x5b), 0xc1.
        let mut body = Vec::new();
        for chunk in (0u8..=255).collect::<Vec<_>>().chunks(63) {
            body.push(chunk.len() as u8);
            body.extend_from_slice(chunk);
            if body.len() > 180 {
                break;
            }
        }
        body.push(0);
        let m = msg(&body);
        let (n, _) = read(&m, 12).unwrap();
        let want: Vec<u8> = body.iter().map(u8::to_ascii_lowercase).collect();
        assert_eq!(n, want);
        // The slow path (via a pointer) lowercases the same way.
        let mut m2 = m.clone();
        m2.extend_from_slice(b"\x02AZ\xc0\x0c");
        let (n2, _) = read(&m2, m.len()).unwrap();
        assert_eq!(&n2[..3], b"\x02az");
        assert_eq!(&n2[3..], &want[..]);
    }

    #[test]
    fn helpers() {
        let n = b"\x01*\x03web\x05local\x00";
        assert_eq!(label_count(n), 3);
        assert!(is_wildcard(n));
        assert_eq!(parent(n), Some(&b"\x03web\x05local\x00"[..]));
        assert_eq!(parent(b"\x00"), None);
        let mut buf = NameBuf::new();
        buf.set_concat(b"\x01*", b"\x03WeB\x00").unwrap();
        assert_eq!(buf.as_wire(), b"\x01*\x03web\x00");
        assert!(buf.set(&[1u8; 256]).is_err());
    }
}
