//! The answer engine on arbitrary queries against a small snapshot, over UDP and TCP
//! and with buffers of several sizes (the first byte picks them).
#![no_main]

use libfuzzer_sys::fuzz_target;
use skylane_fuzz::answer;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, query)) = data.split_first() else {
        return;
    };
    let room = [512usize, 1232, 4096, 65535][usize::from(mode & 3)].max(query.len());
    let mut buf = vec![0u8; room];
    buf[..query.len()].copy_from_slice(query);
    let peer = if mode & 4 == 0 {
        "10.0.0.9".parse().unwrap()
    } else {
        "fd00::9".parse().unwrap()
    };
    answer(&mut buf, query.len(), peer, mode & 8 != 0, u64::from(mode));
});
