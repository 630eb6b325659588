//! The response rate limiting families: `skylane_rrl_dropped_total` and
//! `skylane_rrl_slipped_total`, the data plane's per-core counters summed at scrape time.
//!
//! The binary hands the running data plane's [`RrlHandle`] to the API's state
//! ([`crate::metrics::DataplaneSources`]); without one (no data plane in this process)
//! the collector is not registered and nothing is rendered.

use crate::metrics::counter;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use skylane_dataplane::rrl::RrlHandle;
use std::fmt;
use std::sync::Arc;

/// The `skylane_rrl_*` families of a rate limiter as a `/metrics` collector.
#[derive(Debug)]
pub struct RrlCollector(pub Arc<RrlHandle>);

impl Collector for RrlCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> fmt::Result {
        let h = &self.0;
        counter(
            &mut e,
            "skylane_rrl_dropped_total",
            "UDP responses not sent by response rate limiting ([rrl]).",
            h.dropped(),
        )?;
        counter(
            &mut e,
            "skylane_rrl_slipped_total",
            "UDP responses sent truncated (TC=1) instead of dropped by response rate limiting (slip).",
            h.slipped(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::registry::Registry;
    use skylane_dataplane::engine::{Client, Reply, Transport, Verdict};
    use skylane_dataplane::rrl::RrlSettings;

    #[test]
    fn renders_the_summed_counters() {
        let settings = RrlSettings {
            enabled: true,
            responses_per_second: 1,
            slip: 2,
            ..RrlSettings::default()
        };
        let h = RrlHandle::new(settings, 2);
        let msg = [0x12, 0x34, 0x84, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let reply = Reply {
            len: msg.len(),
            rcode: 0,
            qtype: 1,
            truncated: false,
            fail_open: false,
            name_hash: 1,
        };
        let client = Client::new("192.0.2.1".parse().unwrap(), Transport::Udp);
        for core in 0..2 {
            let mut l = h.limiter(core);
            for _ in 0..4 {
                let mut buf = msg;
                l.limit(&mut buf, Verdict::Reply(reply), &client);
            }
        }
        let mut registry = Registry::default();
        registry.register_collector(Box::new(RrlCollector(h)));
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry).unwrap();
        // Per core: 1 sent, then slip, drop, slip.
        assert!(out.contains("skylane_rrl_dropped_total 2\n"), "{out}");
        assert!(out.contains("skylane_rrl_slipped_total 4\n"), "{out}");
        assert!(out.contains("# TYPE skylane_rrl_dropped counter"), "{out}");
    }
}
