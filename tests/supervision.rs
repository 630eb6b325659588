//! Supervision: a panic in a tokio task or in a plain thread of a running
//! `skylane serve` is logged with its location and ends the process with
//! status 101 (systemd restarts it), instead of exit 0 or a silent dead part.

mod common;

use common::{bin, free_port};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Starts a server that panics on purpose (`SKYLANE_FAULT_PANIC=kind`); returns its exit
/// code and log. Retries with fresh ports when a picked one was taken meanwhile.
fn run_with_fault(kind: &str) -> (Option<i32>, String) {
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("skylane.log");
        let (port, api_port) = (free_port(), free_port());
        let mut child = Command::new(bin())
            .args(["serve", "--cores", "0", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--api-listen")
            .arg(format!("127.0.0.1:{api_port}"))
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .env("SKYLANE_FAULT_PANIC", kind)
            .env("SKYLANE_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "{kind}: still running 60 s after start:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("Address already in use") {
            continue;
        }
        return (status.code(), text);
    }
    panic!("picked ports were taken 5 times in a row");
}

#[test]
fn a_panicking_task_or_thread_exits_non_zero_with_its_location() {
    for (kind, message) in [
        ("control-task", "injected fault: control-plane task"),
        ("thread", "injected fault: thread"),
    ] {
        let (code, log) = run_with_fault(kind);
        assert_eq!(code, Some(101), "{kind}:\n{log}");
        assert!(log.contains(message), "{kind}:\n{log}");
        assert!(log.contains("src/supervise.rs:"), "location logged:\n{log}");
    }
}
