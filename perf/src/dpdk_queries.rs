//! The queries of the DPDK load mode laid out for sending: every query's DNS message (ID
//! zero) in one flat buffer, each with its question's end and the 16-bit one's-complement
//! sum of its bytes precomputed. A query frame is then two copies (the client's header
//! template, the message) and a few additions for the checksums (the ID and the lengths),
//! with no per-byte checksum loop and no pointer chase per query.

use crate::dpdk_frame::sum as word_sum;
use crate::inflight::Questions;
use crate::wire::QueryTemplate;

/// One query in [`QueryFrames`].
#[derive(Clone, Copy, Debug)]
struct Entry {
    start: u32,
    len: u16,
    question_end: u16,
    /// One's-complement sum (not folded) of the message's 16-bit words, ID zero.
    sum: u32,
}

/// See the module docs.
#[derive(Debug)]
pub struct QueryFrames {
    bytes: Vec<u8>,
    entries: Vec<Entry>,
}

impl QueryFrames {
    /// The messages of `templates`, in order. Fails when one is longer than 65,535 bytes
    /// or the whole set past 4 GiB.
    pub fn new(templates: &[QueryTemplate]) -> anyhow::Result<QueryFrames> {
        let total: usize = templates.iter().map(QueryTemplate::len).sum();
        anyhow::ensure!(
            u32::try_from(total).is_ok(),
            "{total} bytes of queries: at most 4 GiB in the DPDK mode"
        );
        let mut bytes = Vec::with_capacity(total);
        let mut entries = Vec::with_capacity(templates.len());
        for (i, t) in templates.iter().enumerate() {
            let msg = t.bytes();
            let len = u16::try_from(msg.len())
                .map_err(|_| anyhow::anyhow!("query {i}: {} bytes", msg.len()))?;
            let question_end = (12 + t.question().len()) as u16;
            let sum = word_sum(&msg[2..], 0);
            entries.push(Entry {
                start: bytes.len() as u32,
                len,
                question_end,
                // At most 32,767 words of at most 0xffff: below 2^31.
                sum: sum as u32,
            });
            bytes.extend_from_slice(msg);
        }
        Ok(QueryFrames { bytes, entries })
    }

    /// Number of queries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No query.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Query `i`'s message with ID zero, and the unfolded sum of its 16-bit words.
    #[inline]
    pub fn message(&self, i: usize) -> (&[u8], u64) {
        let e = self.entries[i];
        let start = e.start as usize;
        (
            &self.bytes[start..start + usize::from(e.len)],
            u64::from(e.sum),
        )
    }
}

impl Questions for QueryFrames {
    #[inline]
    fn question(&self, i: usize) -> &[u8] {
        let e = self.entries[i];
        let start = e.start as usize;
        &self.bytes[start + 12..start + usize::from(e.question_end)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queryfile::parse_line;
    use crate::wire::{Edns, QueryFlags};

    #[test]
    fn frames_hold_the_templates_and_their_sums() {
        let specs = ["www.example.com A", "ab.c AAAA", "xyz.example.org TXT"]
            .iter()
            .map(|l| parse_line(l).unwrap().unwrap())
            .collect::<Vec<_>>();
        let flags = QueryFlags {
            recursion_desired: false,
            edns: Some(Edns {
                udp_size: 1232,
                dnssec_ok: false,
            }),
        };
        let templates: Vec<_> = specs.iter().map(|s| QueryTemplate::new(s, flags)).collect();
        let frames = QueryFrames::new(&templates).unwrap();
        assert_eq!(frames.len(), 3);
        for (i, t) in templates.iter().enumerate() {
            let (msg, sum) = frames.message(i);
            assert_eq!(msg, t.bytes());
            assert_eq!(sum, word_sum(t.bytes(), 0));
            assert_eq!(frames.question(i), t.question());
        }
        // Odd and even lengths both occur, so the odd-byte rule is exercised.
        assert!(templates.iter().any(|t| t.len() % 2 == 1));
        assert!(templates.iter().any(|t| t.len() % 2 == 0));
    }
}
