//! systemd notifications: with NOTIFY_SOCKET set, `skylane serve` sends STATUS= lines,
//! READY=1 once the first snapshot is live, WATCHDOG=1 (with WATCHDOG_USEC) while its
//! data-plane cores make progress, and RELOADING=1 … READY=1 around a reload.

mod common;
mod ops_support;

use ops_support::{Appliance, WITHIN};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::{Duration, Instant};

/// Reads datagrams until `want` is among them (or panics after WITHIN); returns all read.
fn read_until(sock: &UnixDatagram, seen: &mut Vec<String>, want: &str) {
    let deadline = Instant::now() + WITHIN;
    let mut buf = [0u8; 4096];
    while !seen.iter().any(|m| m.lines().any(|l| l == want)) {
        assert!(
            Instant::now() < deadline,
            "no {want:?} within {WITHIN:?}: {seen:?}"
        );
        if let Ok(n) = sock.recv(&mut buf) {
            seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
}

#[test]
fn ready_status_watchdog_and_reloading_reach_the_notify_socket() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let envs: [(&str, &Path); 2] = [
        ("NOTIFY_SOCKET", &path),
        ("WATCHDOG_USEC", Path::new("1000000")),
    ];
    let app = Appliance::start(&envs);
    let mut seen = Vec::new();
    read_until(&sock, &mut seen, "READY=1");
    assert!(
        seen.iter().any(|m| m.starts_with("STATUS=")),
        "no STATUS= before READY=1: {seen:?}"
    );
    read_until(&sock, &mut seen, "WATCHDOG=1");

    seen.clear();
    app.sighup();
    read_until(&sock, &mut seen, "RELOADING=1");
    read_until(&sock, &mut seen, "READY=1");
    let last = seen.iter().rev().find(|m| m.contains("READY=1")).unwrap();
    assert!(last.contains("STATUS=serving (reloaded)"), "{seen:?}");
    // The watchdog keeps being fed after the reload.
    seen.clear();
    read_until(&sock, &mut seen, "WATCHDOG=1");
    assert!(app.server.stop().success());
}
