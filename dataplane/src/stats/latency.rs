//! Sampled processing-time histograms.
//!
//! Each loop records a sample (1 query in N) into a histogram it owns and
//! now and then adds it into its slot's shared histogram with `try_lock`
//! (never waiting). [`LatencySummary`] is what readers get after merging.
//! Bounds are fixed (1 ns ..= 10 s, 2 significant digits) so recording and
//! adding never allocate.

use hdrhistogram::Histogram;

/// Largest recordable processing time, in nanoseconds (larger values saturate).
pub const MAX_NANOS: u64 = 10_000_000_000;

/// A histogram with the fixed bounds every slot and loop uses.
pub fn new_histogram() -> Histogram<u64> {
    // 1 <= 2 * low, sigfig 2 and a finite high are always valid bounds.
    Histogram::new_with_bounds(1, MAX_NANOS, 2).expect("fixed bounds are valid")
}

/// Quantiles of sampled processing times, in nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LatencySummary {
    /// Samples taken.
    pub samples: u64,
    pub mean_ns: f64,
    pub p50_ns: u64,
    pub p90_ns: u64,
    pub p99_ns: u64,
    pub p999_ns: u64,
    pub max_ns: u64,
}

impl LatencySummary {
    /// Summarises `h` (all zeros when empty).
    pub fn of(h: &Histogram<u64>) -> LatencySummary {
        if h.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            samples: h.len(),
            mean_ns: h.mean(),
            p50_ns: h.value_at_quantile(0.5),
            p90_ns: h.value_at_quantile(0.9),
            p99_ns: h.value_at_quantile(0.99),
            p999_ns: h.value_at_quantile(0.999),
            max_ns: h.max(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_known_samples() {
        let mut h = new_histogram();
        assert_eq!(LatencySummary::of(&h), LatencySummary::default());
        for v in 1..=1000u64 {
            h.saturating_record(v * 100);
        }
        h.saturating_record(MAX_NANOS * 10);
        let s = LatencySummary::of(&h);
        assert_eq!(s.samples, 1001);
        // 2 significant digits: within 1%.
        assert!((49_500..=50_500).contains(&s.p50_ns), "{}", s.p50_ns);
        assert!((98_000..=100_000).contains(&s.p99_ns), "{}", s.p99_ns);
        assert!(s.max_ns >= MAX_NANOS / 100 * 99, "saturated at the top");
    }
}
