//! Per-address state: rise/fall hysteresis, the last result, and when its report is due.

use crate::layout::Health;
use serde_json::{json, Value};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// A report whose result, reason and verdict stay the same is rewritten every this many
/// checks (its `checked`, `latency_ms` and counters refreshed); changes are written at once.
pub const REPORT_REFRESH_CHECKS: u32 = 6;

/// The last check of an address.
#[derive(Debug, Clone)]
pub struct LastCheck {
    pub at: SystemTime,
    pub latency: Duration,
    pub ok: bool,
    pub reason: Option<String>,
}

/// One assigned address.
#[derive(Debug, Clone)]
pub struct Target {
    pub ports: Arc<[u16]>,
    pub successes: u32,
    pub failures: u32,
    /// What the checks say (starts from the stored status).
    pub verdict: Health,
    pub last: Option<LastCheck>,
    pub in_flight: bool,
    /// When the next check is due.
    pub due: Instant,
    /// Checks since the report was last due.
    pub unreported: u32,
}

impl Target {
    pub fn new(ports: Arc<[u16]>, verdict: Health, due: Instant) -> Target {
        Target {
            ports,
            successes: 0,
            failures: 0,
            verdict,
            last: None,
            in_flight: false,
            due,
            unreported: 0,
        }
    }

    /// Counts the result of a check (rise/fall) and keeps it as the last one; true when the
    /// report is due: the first result, a change of result, reason or verdict, a streak that
    /// has not yet reached `rise`/`fall` (a transition in progress), or
    /// [`REPORT_REFRESH_CHECKS`] checks since the last one.
    pub fn record(&mut self, last: LastCheck, rise: u32, fall: u32) -> bool {
        let changed = self
            .last
            .as_ref()
            .is_none_or(|prev| prev.ok != last.ok || prev.reason != last.reason);
        let verdict_changed = self.observe(last.ok, rise, fall);
        self.last = Some(last);
        let (streak, threshold) = if self.failing() {
            (self.failures, fall)
        } else {
            (self.successes, rise)
        };
        self.unreported = self.unreported.saturating_add(1);
        let due = changed
            || verdict_changed
            || streak <= threshold
            || self.unreported >= REPORT_REFRESH_CHECKS;
        if due {
            self.unreported = 0;
        }
        due
    }

    /// Counts a result; true when the verdict changed (`rise` successes turn DOWN into UP,
    /// `fall` failures turn UP into DOWN).
    pub fn observe(&mut self, ok: bool, rise: u32, fall: u32) -> bool {
        if ok {
            self.successes = self.successes.saturating_add(1);
            self.failures = 0;
            if self.verdict == Health::Down && self.successes >= rise {
                self.verdict = Health::Up;
                return true;
            }
        } else {
            self.failures = self.failures.saturating_add(1);
            self.successes = 0;
            if self.verdict == Health::Up && self.failures >= fall {
                self.verdict = Health::Down;
                return true;
            }
        }
        false
    }

    /// True when the last check failed.
    pub fn failing(&self) -> bool {
        self.failures > 0
    }

    /// The report value at `<report-prefix>/<ip>`.
    pub fn report(&self, ip: &IpAddr, agent: &str) -> Value {
        let last = self.last.as_ref();
        json!({
            "ip": ip.to_string(),
            "agent": agent,
            "verdict": if self.verdict == Health::Up { "UP" } else { "DOWN" },
            "ok": last.map(|l| l.ok),
            "checked": last.map(|l| super::time::rfc3339(l.at)),
            "latency_ms": last.map(|l| l.latency.as_secs_f64() * 1000.0),
            "reason": last.and_then(|l| l.reason.clone()),
            "successes": self.successes,
            "failures": self.failures,
            "ports": &*self.ports,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rise_and_fall_hysteresis() {
        let mut t = Target::new(Arc::from([80u16]), Health::Up, Instant::now());
        // fall = 3: two failures and a success change nothing.
        assert!(!t.observe(false, 2, 3));
        assert!(!t.observe(false, 2, 3));
        assert!(!t.observe(true, 2, 3));
        assert!(!t.observe(false, 2, 3));
        assert!(!t.observe(false, 2, 3));
        assert!(t.observe(false, 2, 3));
        assert_eq!(t.verdict, Health::Down);
        // rise = 2.
        assert!(!t.observe(true, 2, 3));
        assert!(!t.observe(false, 2, 3));
        assert!(!t.observe(true, 2, 3));
        assert!(t.observe(true, 2, 3));
        assert_eq!(t.verdict, Health::Up);
    }

    fn check(ok: bool, reason: Option<&str>) -> LastCheck {
        LastCheck {
            at: SystemTime::now(),
            latency: Duration::from_millis(1),
            ok,
            reason: reason.map(str::to_owned),
        }
    }

    /// Which checks make the report due, with rise 2 and fall 3.
    fn due_pattern(t: &mut Target, results: &[(bool, Option<&str>)]) -> Vec<bool> {
        results
            .iter()
            .map(|&(ok, reason)| t.record(check(ok, reason), 2, 3))
            .collect()
    }

    #[test]
    fn reports_are_due_on_change_during_transitions_and_every_refresh() {
        let mut t = Target::new(Arc::from([80u16]), Health::Up, Instant::now());
        let up = (true, None);
        let refused = (false, Some("tcp 10.0.0.1:80: connection refused"));
        let timed_out = (false, Some("tcp 10.0.0.1:80: timed out after 2000 ms"));
        // First result, then successes up to `rise`, then quiet until the refresh.
        let mut results = vec![up; 2 + REPORT_REFRESH_CHECKS as usize];
        let mut want = vec![true, true];
        want.extend(vec![false; REPORT_REFRESH_CHECKS as usize - 1]);
        want.push(true);
        assert_eq!(due_pattern(&mut t, &results), want);
        // A failure streak: every failure up to `fall` (the verdict turns DOWN at the third),
        // then a new reason at once, then quiet again until the refresh.
        results = vec![refused; 4];
        results.push(timed_out);
        results.extend(vec![timed_out; REPORT_REFRESH_CHECKS as usize]);
        let mut want = vec![true, true, true, false, true];
        want.extend(vec![false; REPORT_REFRESH_CHECKS as usize - 1]);
        want.push(true);
        assert_eq!(due_pattern(&mut t, &results), want);
        assert_eq!(t.verdict, Health::Down);
        assert_eq!(t.failures, 5 + REPORT_REFRESH_CHECKS);
        // Back up: the first success (a change) and the second (rise, the verdict turns UP).
        assert_eq!(due_pattern(&mut t, &[up, up, up]), [true, true, false]);
        assert_eq!(t.verdict, Health::Up);
    }
}
