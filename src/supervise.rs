//! Supervision: a panic anywhere ends the process, loudly and non-zero.
//!
//! Every part of `skylane serve` — data-plane loops (socket or DPDK lcores),
//! the tokio control-plane tasks (TCP DNS, store sync, REST API, their
//! per-connection tasks) and helper threads — keeps no state that a restart
//! loses (records come back from the store or `last-known`), while a part that
//! died silently would leave an RSS queue unpolled or a store unsynced. So the
//! panic hook logs the thread, the location and the message, then exits the
//! process with status 101 at once (well within 1 s); systemd
//! (`Restart=on-failure`) starts a fresh one. docs/architecture.md lists this
//! per part.
//!
//! `SKYLANE_FAULT_PANIC=control-task|thread` makes a running server panic in a
//! tokio task or a plain thread a moment after start — fault injection for the
//! supervision tests; unset in production.

use std::time::Duration;

/// Exit status after a panic (the status of a Rust program whose main thread panicked).
pub const PANIC_EXIT_CODE: i32 = 101;

/// Installs the process-wide panic hook (log, then exit non-zero).
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        let thread = thread.name().unwrap_or("unnamed");
        let location = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_else(|| "unknown".into());
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(non-string panic payload)".into());
        tracing::error!(
            thread,
            location,
            message,
            "panic: exiting with status {PANIC_EXIT_CODE}"
        );
        // Also straight to stderr, in case the subscriber is not (yet) installed.
        eprintln!("skylane: panic in thread {thread} at {location}: {message}");
        std::process::exit(PANIC_EXIT_CODE);
    }));
}

/// Fault injection for the supervision tests (see the module docs).
pub fn inject_fault_from_env() {
    let Ok(kind) = std::env::var("SKYLANE_FAULT_PANIC") else {
        return;
    };
    tracing::warn!(
        kind,
        "SKYLANE_FAULT_PANIC set: this server will panic on purpose"
    );
    let delay = Duration::from_millis(500);
    match kind.as_str() {
        "control-task" => {
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                panic!("injected fault: control-plane task");
            });
        }
        "thread" => {
            std::thread::spawn(move || {
                std::thread::sleep(delay);
                panic!("injected fault: thread");
            });
        }
        other => tracing::warn!(other, "SKYLANE_FAULT_PANIC: unknown kind; ignored"),
    }
}
