//! The `skylane` binaries' shared code: CLI flags, start-up assembly of the
//! data plane and the control plane, the built-in example records.

pub mod check;
pub mod cli;
pub mod control;
pub mod dataplane;
#[cfg(feature = "dpdk")]
pub mod dpdk_metrics;
pub mod eal;
pub mod examples;
pub mod generations;
pub mod notify;
pub mod reload;
pub mod reload_client;
pub mod scan;
pub mod serve;
pub mod settings;
pub mod static_data;
pub mod store_wiring;
pub mod supervise;
