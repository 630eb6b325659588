//! Per-address state: rise/fall hysteresis and the last result.

use crate::layout::Health;
use serde_json::{json, Value};
use std::net::IpAddr;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

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
    pub ports: Vec<u16>,
    pub successes: u32,
    pub failures: u32,
    /// What the checks say (starts from the stored status).
    pub verdict: Health,
    pub last: Option<LastCheck>,
    pub in_flight: bool,
    /// When the next check is due.
    pub due: Instant,
}

impl Target {
    pub fn new(ports: Vec<u16>, verdict: Health, due: Instant) -> Target {
        Target {
            ports,
            successes: 0,
            failures: 0,
            verdict,
            last: None,
            in_flight: false,
            due,
        }
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
            "ports": self.ports,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rise_and_fall_hysteresis() {
        let mut t = Target::new(vec![80], Health::Up, Instant::now());
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
}
