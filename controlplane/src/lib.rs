//! Skylane's control plane: config, zone files, stores, sync, REST API, metrics, TCP.

pub mod api;
pub mod config;
pub mod dns_keys;
pub mod forward;
pub mod health;
pub mod k8s;
pub mod layout;
pub mod metrics;
pub mod metrics_dpdk;
pub mod metrics_rrl;
pub mod reclaim;
pub mod store;
pub mod sync;
pub mod tcp;
pub mod zonefile;
