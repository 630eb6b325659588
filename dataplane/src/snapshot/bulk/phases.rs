//! Where a full build's time goes: wall and CPU time (of the whole process: the parallel
//! phases run on several threads) per phase, logged at debug level
//! (`SKYLANE_LOG=skylane_dataplane=debug`) as one `snapshot build phases` line,
//! `name=<wall ms>/<CPU ms>`. On a busy machine the CPU figures are the ones that compare.
//! Profiling a start-up needs no special build (docs/performance.md, "Memory (issue 11)" →
//! "Load time").

use nix::time::{clock_gettime, ClockId};
use std::time::{Duration, Instant};

/// Wall and CPU time of the phases of one build, in order.
pub(crate) struct Phases {
    started: Instant,
    last: (Instant, Duration),
    /// (name, wall, CPU).
    parts: Vec<(&'static str, Duration, Duration)>,
}

/// CPU time of the whole process so far (zero if the clock cannot be read).
fn process_cpu() -> Duration {
    clock_gettime(ClockId::CLOCK_PROCESS_CPUTIME_ID).map_or(Duration::ZERO, Duration::from)
}

/// `d` in milliseconds with one decimal.
fn ms(d: Duration) -> String {
    let us = d.as_micros();
    format!("{}.{}", us / 1000, us % 1000 / 100)
}

impl Phases {
    pub(crate) fn start() -> Phases {
        let now = Instant::now();
        Phases {
            started: now,
            last: (now, process_cpu()),
            parts: Vec::with_capacity(24),
        }
    }

    /// Ends phase `name` (it began at the previous mark).
    pub(crate) fn mark(&mut self, name: &'static str) {
        let now = (Instant::now(), process_cpu());
        let wall = now.0.duration_since(self.last.0);
        self.parts
            .push((name, wall, now.1.saturating_sub(self.last.1)));
        self.last = now;
    }

    /// Logs the phases when debug logging is on.
    pub(crate) fn log(&self, records: usize) {
        if !tracing::enabled!(tracing::Level::DEBUG) {
            return;
        }
        let mut text = String::new();
        let mut cpu = Duration::ZERO;
        for &(name, wall, c) in &self.parts {
            text.push_str(&format!("{name}={}/{} ", ms(wall), ms(c)));
            cpu += c;
        }
        tracing::debug!(
            records,
            total_ms = self.started.elapsed().as_millis() as u64,
            cpu_ms = cpu.as_millis() as u64,
            phases = text.trim_end(),
            "snapshot build phases"
        );
    }
}
