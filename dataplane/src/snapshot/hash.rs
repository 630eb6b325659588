//! The fixed, fast hash used for every table key (lowercased wire names and
//! child-chunk keys): FxHash-style rounds over 8-byte words, finished with the
//! murmur3 avalanche so that both the high bits (shard choice) and the low bits
//! (index slot) are well mixed. Deterministic across runs and machines.
//!
//! The implementation lives with the name reader ([`crate::wire::name::key_hash`]),
//! which computes the same hash while it lowercases a query's name, so that the
//! engine's lookup of that name does not hash it again.

pub(crate) use crate::wire::name::key_hash;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differs_on_small_changes_and_is_stable() {
        let a = key_hash(b"\x03www\x07example\x03com\x00");
        let b = key_hash(b"\x03wwx\x07example\x03com\x00");
        assert_ne!(a, b);
        assert_eq!(a, key_hash(b"\x03www\x07example\x03com\x00"));
        // Trailing zero bytes must matter (length is mixed in).
        assert_ne!(key_hash(b"\x01a"), key_hash(b"\x01a\x00"));
    }

    #[test]
    fn a_name_read_from_a_message_carries_its_key_hash() {
        use crate::wire::name::{read_name, NameBuf};
        // Lengths around the 8-byte words, mixed case, and a compressed name.
        let mut msg = vec![0u8; 12];
        let names: [&[u8]; 5] = [
            b"\x00",
            b"\x03WwW\x07ExAmple\x03COM\x00",
            b"\x06abcdef\x00",
            b"\x07abcdefg\x00",
            b"\x0fabcdefghijklmNO\x03svc\x07cluster\x05local\x00",
        ];
        let mut starts = Vec::new();
        for n in names {
            starts.push(msg.len());
            msg.extend_from_slice(n);
        }
        starts.push(msg.len());
        msg.extend_from_slice(b"\x04Host\xc0\x0d");
        for (k, start) in starts.into_iter().enumerate() {
            let mut out = NameBuf::new();
            read_name(&msg, start, 12, &mut out).unwrap();
            assert_eq!(out.hash(), key_hash(out.as_wire()), "{:?}", out);
            // Hashed in place (the warm-up stage): the same value, or none for the
            // compressed one (the last).
            let in_place = crate::wire::name::name_key_hash(&msg, start);
            assert_eq!(
                in_place,
                (k < names.len()).then_some(out.hash()),
                "{:?}",
                out
            );
            let lower = out.as_wire().to_ascii_lowercase();
            assert_eq!(out.as_wire(), &lower[..]);
        }
        let mut set = NameBuf::new();
        set.set(b"\x03WwW\x07ExAmple\x03COM\x00").unwrap();
        assert_eq!(set.hash(), key_hash(b"\x03www\x07example\x03com\x00"));
    }
}
