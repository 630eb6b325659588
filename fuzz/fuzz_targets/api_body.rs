//! The REST API's record-set body parser on arbitrary bodies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skylane_fuzz::api::body::{parse_body, parse_type};

fuzz_target!(|data: &[u8]| {
    let _ = parse_body(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_type(text);
    }
});
