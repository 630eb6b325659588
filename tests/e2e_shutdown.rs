//! Shutdown of the real binary: SIGTERM while the store sync is still building its first
//! full snapshot (a zone of 200 k names: the data plane already answers from the static
//! snapshot) stops every control-plane task at once. The sync used to wait for the
//! build, and the process logged "control-plane tasks did not stop within 5 s".

mod common;

use common::{Server, STOP_WITHIN};
use std::fmt::Write;
use std::process::Command;
use std::time::{Duration, Instant};

/// Names in the zone: enough that building a snapshot of them outlasts the 5 s drain.
const NAMES: u32 = 200_000;

fn big_zone() -> String {
    let mut z = String::from("$ORIGIN big.test.\n@ 3600 IN SOA ns admin 1 3600 600 86400 60\n");
    for i in 0..NAMES {
        let _ = writeln!(
            z,
            "n{i} 60 IN A 10.{}.{}.{}",
            i >> 16,
            (i >> 8) & 255,
            i & 255
        );
    }
    z
}

#[test]
fn sigterm_while_the_sync_builds_stops_promptly_without_the_timeout_line() {
    // Launched = answering DNS (from the static snapshot); `/ready` (the sync's first full
    // snapshot) is not awaited: its build is what the signal interrupts.
    let mut server = Server::launch_zone(&big_zone(), &[], None);
    let signalled = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = loop {
        if let Some(exit) = server.child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            signalled.elapsed() < STOP_WITHIN,
            "skylane did not stop within {STOP_WITHIN:?} of SIGTERM:\n{}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let log = server.log_text();
    assert!(exit.success(), "{exit}:\n{log}");
    assert!(
        !log.contains("did not stop within"),
        "a control-plane task ignored the shutdown:\n{log}"
    );
}
