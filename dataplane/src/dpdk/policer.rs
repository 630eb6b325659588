//! The token bucket in front of the exception path: each lcore owns one and admits at
//! most `rate` frames per second to the kernel TAP (`[dpdk] exception-pps`), with a
//! burst allowance of [`BURST_SECONDS`] of the rate (at least [`MIN_BURST`] frames), so
//! a flood of frames we do not answer costs the loop a counter increment each instead of
//! a system call.
//!
//! Credit is kept in TSC cycles: refilling is one subtraction and one `min` per received
//! burst, admitting one comparison and one subtraction per frame. No allocation, no
//! division on the per-frame path, no lock (each lcore owns its policer).

/// Share of a second the bucket holds when full.
pub const BURST_SECONDS: f64 = 0.01;
/// The smallest bucket, in frames (one full RX burst always fits).
pub const MIN_BURST: u64 = 32;

/// A per-lcore token bucket clocked by the TSC.
#[derive(Debug, Clone)]
pub struct Policer {
    /// Cycles one frame costs (`tsc_hz / rate`); `u64::MAX` when the rate is 0.
    cost: u64,
    /// Most credit the bucket holds.
    cap: u64,
    /// Credit, in cycles.
    credit: u64,
    /// TSC of the last refill.
    last: u64,
}

impl Policer {
    /// A full bucket admitting `rate` frames per second on a clock of `tsc_hz` cycles per
    /// second, starting at TSC `now`. A rate of 0 admits nothing.
    pub fn new(rate: u32, tsc_hz: u64, now: u64) -> Policer {
        if rate == 0 {
            return Policer {
                cost: u64::MAX,
                cap: 0,
                credit: 0,
                last: now,
            };
        }
        let cost = (tsc_hz / u64::from(rate)).max(1);
        let burst = ((f64::from(rate) * BURST_SECONDS) as u64).max(MIN_BURST);
        let cap = cost.saturating_mul(burst);
        Policer {
            cost,
            cap,
            credit: cap,
            last: now,
        }
    }

    /// Add the credit earned since the last refill (call once per received burst).
    #[inline]
    pub fn refill(&mut self, now: u64) {
        let elapsed = now.wrapping_sub(self.last);
        self.last = now;
        self.credit = self.credit.saturating_add(elapsed).min(self.cap);
    }

    /// Take one frame's worth of credit; false (police the frame) when there is none.
    #[inline]
    pub fn admit(&mut self) -> bool {
        if self.credit >= self.cost {
            self.credit -= self.cost;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HZ: u64 = 2_000_000_000;

    fn admitted(p: &mut Policer, n: u32) -> u32 {
        (0..n).map(|_| u32::from(p.admit())).sum()
    }

    #[test]
    fn a_full_bucket_admits_its_burst_then_polices() {
        let mut p = Policer::new(10_000, HZ, 0);
        // 10 ms of 10 000 pps = 100 frames.
        assert_eq!(admitted(&mut p, 1_000), 100);
        assert!(!p.admit());
        // A small rate still admits a whole RX burst.
        let mut p = Policer::new(10, HZ, 0);
        assert_eq!(admitted(&mut p, 1_000), MIN_BURST as u32);
    }

    #[test]
    fn credit_accrues_at_the_rate_and_is_capped() {
        let mut p = Policer::new(10_000, HZ, 0);
        admitted(&mut p, 1_000);
        // 1 ms later: 10 frames.
        p.refill(HZ / 1_000);
        assert_eq!(admitted(&mut p, 1_000), 10);
        // One second of silence refills the bucket, no more.
        p.refill(HZ / 1_000 + HZ);
        assert_eq!(admitted(&mut p, 100_000), 100);
        // Over one simulated second in 1 ms steps: about the rate.
        let mut total = 0;
        for ms in 1..=1_000u64 {
            p.refill(HZ / 1_000 + HZ + ms * HZ / 1_000);
            total += admitted(&mut p, 1_000);
        }
        assert!((9_900..=10_100).contains(&total), "{total}");
    }

    #[test]
    fn zero_admits_nothing_and_the_clock_may_wrap() {
        let mut p = Policer::new(0, HZ, 0);
        p.refill(HZ);
        assert!(!p.admit());
        let mut p = Policer::new(1_000, HZ, u64::MAX - 10);
        admitted(&mut p, 1_000);
        assert!(!p.admit());
        // Wrapped TSC: 10 ms later, 10 frames.
        p.refill((HZ / 100).wrapping_sub(11));
        assert_eq!(admitted(&mut p, 1_000), 10);
    }
}
