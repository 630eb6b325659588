//! The zone-file reader on arbitrary text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skylane_dataplane::Name;
use skylane_fuzz::zonefile::{parse_ttl, parse_zone};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let origin = Name::from_ascii("example.test.").unwrap();
    let _ = parse_zone(text, Some(&origin), 3600);
    let _ = parse_zone(text, None, 0);
    let _ = parse_ttl(text);
});
