//! The answer engine on arbitrary queries against a small snapshot, over UDP and TCP
//! and with buffers of several sizes (the first byte picks them;
//! `skylane_fuzz::run::engine_answer`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    skylane_fuzz::run::engine_answer(data);
});
