//! Run statistics: per-thread [`Stats`] (counters plus an HDR latency histogram) merged into a
//! [`Report`], printed as dnsperf/queryperf-like text or JSON. Any load mode (kernel UDP,
//! DPDK) fills `Stats` the same way and reuses the printers.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::wire::rcode_name;

/// Highest latency the histogram can hold, in nanoseconds (10 minutes).
const MAX_LATENCY_NS: u64 = 600_000_000_000;

/// Counters and latencies gathered by one sender thread.
#[derive(Clone, Debug)]
pub struct Stats {
    /// Queries handed to the kernel (or NIC).
    pub sent: u64,
    /// Queries answered with a matching response.
    pub completed: u64,
    /// Queries that timed out or were still unanswered at the end.
    pub lost: u64,
    /// Responses matching no outstanding query (late, duplicated or foreign).
    pub unexpected: u64,
    /// Send calls that failed with an error other than "would block".
    pub send_errors: u64,
    /// Queries refused by a full TX ring (DPDK mode): offered, but the far end was not
    /// draining the link fast enough.
    pub tx_full: u64,
    /// Exception-path flood frames sent between the queries (`--dpdk-flood`), and those
    /// a full TX ring refused.
    pub flood_sent: u64,
    pub flood_tx_full: u64,
    /// Completed responses with the TC bit.
    pub truncated: u64,
    /// DPDK mode: nanoseconds of the sending period the sender loop passed waiting
    /// (nothing received, nothing it could send: its window full, or the rate limit), and the length of that
    /// period summed over the sender threads.
    pub idle_ns: u64,
    pub loop_ns: u64,
    /// Completed responses per header RCODE.
    pub rcodes: [u64; 16],
    /// Response latency in nanoseconds.
    pub latency_ns: Histogram<u64>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats::new()
    }
}

impl Stats {
    /// Empty statistics.
    pub fn new() -> Stats {
        Stats {
            sent: 0,
            completed: 0,
            lost: 0,
            unexpected: 0,
            send_errors: 0,
            tx_full: 0,
            flood_sent: 0,
            flood_tx_full: 0,
            idle_ns: 0,
            loop_ns: 0,
            truncated: 0,
            rcodes: [0; 16],
            latency_ns: Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3)
                .expect("static histogram bounds are valid"),
        }
    }

    /// Counts one matched response.
    pub fn record_response(&mut self, rcode: u8, truncated: bool, latency: Duration) {
        self.completed += 1;
        self.rcodes[usize::from(rcode & 0x0f)] += 1;
        if truncated {
            self.truncated += 1;
        }
        let ns = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX).max(1);
        self.latency_ns.saturating_record(ns);
    }

    /// Adds another thread's statistics.
    pub fn merge(&mut self, other: &Stats) {
        self.sent += other.sent;
        self.completed += other.completed;
        self.lost += other.lost;
        self.unexpected += other.unexpected;
        self.send_errors += other.send_errors;
        self.tx_full += other.tx_full;
        self.flood_sent += other.flood_sent;
        self.flood_tx_full += other.flood_tx_full;
        self.idle_ns += other.idle_ns;
        self.loop_ns += other.loop_ns;
        self.truncated += other.truncated;
        for (a, b) in self.rcodes.iter_mut().zip(other.rcodes.iter()) {
            *a += b;
        }
        // Same bounds on both sides, so adding cannot fail; saturate rather than panic anyway.
        if self.latency_ns.add(&other.latency_ns).is_err() {
            for v in other.latency_ns.iter_recorded() {
                self.latency_ns
                    .saturating_record_n(v.value_iterated_to(), v.count_at_value());
            }
        }
    }
}

/// Latency summary in microseconds.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LatencySummary {
    pub min_us: f64,
    pub mean_us: f64,
    pub stddev_us: f64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
}

/// Everything printed at the end of a run.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Load mode (`udp`, `dpdk`).
    pub mode: String,
    /// Target `address:port`.
    pub server: String,
    pub threads: usize,
    pub clients: usize,
    /// Sending period in seconds (queries per second are computed over it).
    pub run_time_s: f64,
    pub sent: u64,
    pub completed: u64,
    pub lost: u64,
    pub unexpected: u64,
    pub send_errors: u64,
    /// Queries refused by a full TX ring (DPDK mode).
    pub tx_full: u64,
    /// Flood frames sent between the queries, and refused by a full TX ring (`--dpdk-flood`).
    pub flood_sent: u64,
    pub flood_tx_full: u64,
    pub truncated: u64,
    /// DPDK mode: share of the sending period the sender threads waited with their
    /// window full or held by the rate limit (0..1), and their busy (not waiting) nanoseconds per query sent:
    /// the generator's own CPU cost per frame. `None` in the socket mode.
    pub sender_idle: Option<f64>,
    pub sender_busy_ns_per_query: Option<f64>,
    pub completed_pct: f64,
    pub lost_pct: f64,
    /// Completed queries per second.
    pub qps: f64,
    /// Completed responses per RCODE mnemonic (only those seen).
    pub rcodes: BTreeMap<String, u64>,
    /// `None` when nothing completed.
    pub latency: Option<LatencySummary>,
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

impl Report {
    /// Summarises merged statistics of a run whose sending period lasted `run_time`.
    pub fn new(
        mode: &str,
        server: String,
        threads: usize,
        clients: usize,
        stats: &Stats,
        run_time: Duration,
    ) -> Report {
        let secs = run_time.as_secs_f64();
        let h = &stats.latency_ns;
        let us = |ns: u64| ns as f64 / 1000.0;
        let latency = (!h.is_empty()).then(|| LatencySummary {
            min_us: us(h.min()),
            mean_us: h.mean() / 1000.0,
            stddev_us: h.stdev() / 1000.0,
            p50_us: us(h.value_at_quantile(0.50)),
            p90_us: us(h.value_at_quantile(0.90)),
            p99_us: us(h.value_at_quantile(0.99)),
            p999_us: us(h.value_at_quantile(0.999)),
            max_us: us(h.max()),
        });
        let rcodes = stats
            .rcodes
            .iter()
            .enumerate()
            .filter(|(_, &n)| n > 0)
            .map(|(code, &n)| {
                let name = match rcode_name(code as u8) {
                    "RESERVED" => format!("RCODE{code}"),
                    known => known.to_string(),
                };
                (name, n)
            })
            .collect();
        Report {
            mode: mode.to_string(),
            server,
            threads,
            clients,
            run_time_s: secs,
            sent: stats.sent,
            completed: stats.completed,
            lost: stats.lost,
            unexpected: stats.unexpected,
            send_errors: stats.send_errors,
            tx_full: stats.tx_full,
            flood_sent: stats.flood_sent,
            flood_tx_full: stats.flood_tx_full,
            truncated: stats.truncated,
            sender_idle: (stats.loop_ns > 0).then(|| stats.idle_ns as f64 / stats.loop_ns as f64),
            sender_busy_ns_per_query: (stats.loop_ns > 0 && stats.sent > 0)
                .then(|| stats.loop_ns.saturating_sub(stats.idle_ns) as f64 / stats.sent as f64),
            completed_pct: percent(stats.completed, stats.sent),
            lost_pct: percent(stats.lost, stats.sent),
            qps: if secs > 0.0 {
                stats.completed as f64 / secs
            } else {
                0.0
            },
            rcodes,
            latency,
        }
    }

    /// Writes the dnsperf/queryperf-style statistics block.
    pub fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "Statistics:")?;
        writeln!(out)?;
        writeln!(
            out,
            "  Mode:                 {} to {}",
            self.mode, self.server
        )?;
        writeln!(
            out,
            "  Threads / clients:    {} / {}",
            self.threads, self.clients
        )?;
        writeln!(out, "  Queries sent:         {}", self.sent)?;
        writeln!(
            out,
            "  Queries completed:    {} ({:.2}%)",
            self.completed, self.completed_pct
        )?;
        writeln!(
            out,
            "  Queries lost:         {} ({:.2}%)",
            self.lost, self.lost_pct
        )?;
        if self.unexpected > 0 {
            writeln!(out, "  Unexpected responses: {}", self.unexpected)?;
        }
        if self.send_errors > 0 {
            writeln!(out, "  Send errors:          {}", self.send_errors)?;
        }
        if self.tx_full > 0 {
            writeln!(out, "  TX ring full:         {}", self.tx_full)?;
        }
        if self.flood_sent + self.flood_tx_full > 0 {
            writeln!(
                out,
                "  Flood frames sent:    {} (TX ring full {})",
                self.flood_sent, self.flood_tx_full
            )?;
        }
        if self.truncated > 0 {
            writeln!(out, "  Truncated (TC):       {}", self.truncated)?;
        }
        if let (Some(idle), Some(busy)) = (self.sender_idle, self.sender_busy_ns_per_query) {
            writeln!(
                out,
                "  Sender waiting:       {:.1}% of the run; busy {busy:.0} ns per query sent (waiting: nothing received, nothing to send: window full or rate limit)",
                idle * 100.0
            )?;
        }
        writeln!(out)?;
        let codes: Vec<String> = self
            .rcodes
            .iter()
            .map(|(name, n)| format!("{name} {n} ({:.2}%)", percent(*n, self.completed)))
            .collect();
        writeln!(out, "  Response codes:       {}", codes.join(", "))?;
        writeln!(out, "  Run time (s):         {:.6}", self.run_time_s)?;
        writeln!(out, "  Queries per second:   {:.6}", self.qps)?;
        writeln!(out)?;
        match &self.latency {
            Some(l) => {
                writeln!(
                    out,
                    "  Average Latency (s):  {:.6} (min {:.6}, max {:.6})",
                    l.mean_us / 1e6,
                    l.min_us / 1e6,
                    l.max_us / 1e6
                )?;
                writeln!(out, "  Latency StdDev (s):   {:.6}", l.stddev_us / 1e6)?;
                writeln!(
                    out,
                    "  Latency (us):         p50 {:.1}  p90 {:.1}  p99 {:.1}  p99.9 {:.1}",
                    l.p50_us, l.p90_us, l.p99_us, l.p999_us
                )?;
            }
            None => writeln!(out, "  Latency:              no responses")?,
        }
        writeln!(out)
    }

    /// Prints the report on stdout: JSON when `json`, else the text block.
    pub fn print(&self, json: bool) -> io::Result<()> {
        let mut out = io::stdout().lock();
        if json {
            writeln!(out, "{}", self.to_json())
        } else {
            self.write_text(&mut out)
        }
    }

    /// The report as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_and_summarises() {
        let mut a = Stats::new();
        a.sent = 4;
        a.record_response(0, false, Duration::from_micros(100));
        a.record_response(3, false, Duration::from_micros(200));
        let mut b = Stats::new();
        b.sent = 6;
        b.lost = 1;
        for _ in 0..5 {
            b.record_response(0, true, Duration::from_micros(300));
        }
        a.merge(&b);
        assert_eq!((a.sent, a.completed, a.lost, a.truncated), (10, 7, 1, 5));
        let r = Report::new(
            "udp",
            "127.0.0.1:53".into(),
            1,
            2,
            &a,
            Duration::from_secs(2),
        );
        assert_eq!(r.qps, 3.5);
        assert_eq!(r.completed_pct, 70.0);
        assert_eq!(r.rcodes.get("NOERROR"), Some(&6));
        assert_eq!(r.rcodes.get("NXDOMAIN"), Some(&1));
        let l = r.latency.as_ref().unwrap();
        assert!((l.min_us - 100.0).abs() < 1.0, "{l:?}");
        assert!((l.p50_us - 300.0).abs() < 1.0, "{l:?}");
        assert!((l.max_us - 300.0).abs() < 1.0, "{l:?}");

        let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(json["completed"], 7);
        assert_eq!(json["rcodes"]["NXDOMAIN"], 1);
        let mut text = Vec::new();
        r.write_text(&mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains("Queries completed:    7 (70.00%)"), "{text}");
        assert!(text.contains("NXDOMAIN 1 (14.29%)"), "{text}");
    }

    #[test]
    fn empty_run_has_no_latency() {
        let r = Report::new("udp", "x".into(), 1, 1, &Stats::new(), Duration::ZERO);
        assert_eq!((r.qps, r.lost_pct), (0.0, 0.0));
        assert!(r.latency.is_none());
        let mut text = Vec::new();
        r.write_text(&mut text).unwrap();
        assert!(String::from_utf8(text).unwrap().contains("no responses"));
    }
}
