//! skylane-perf: a queryperf/dnsperf-compatible DNS load generator.
//!
//! Building blocks shared by every load mode: the query file parser ([`queryfile`]), prebuilt
//! wire queries and response matching ([`wire`]), per-socket outstanding-query tracking
//! ([`inflight`]), options ([`options`]) and report aggregation/printing ([`report`]). The
//! kernel UDP mode lives in [`udp`]; [`gen`] writes test zones and query files.

#[cfg(feature = "dpdk")]
pub mod dpdk;
#[cfg(feature = "dpdk")]
pub mod dpdk_flood;
#[cfg(feature = "dpdk")]
pub mod dpdk_frame;
#[cfg(feature = "dpdk")]
pub mod dpdk_queries;
#[cfg(feature = "dpdk")]
pub mod dpdk_window;
pub mod gen;
pub mod inflight;
pub mod options;
pub mod queryfile;
pub mod report;
pub mod udp;
pub mod wire;
