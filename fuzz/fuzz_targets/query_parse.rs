//! The DNS query parser on arbitrary messages.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skylane_dataplane::wire::{parse_query, NameBuf};

fuzz_target!(|data: &[u8]| {
    let mut qname = NameBuf::new();
    if let Ok(q) = parse_query(data, &mut qname) {
        assert!(q.question.end <= data.len());
    }
});
