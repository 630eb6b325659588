//! Skylane's control plane: config, zone files, stores, sync, REST API, metrics, TCP.

#[doc(hidden)]
pub mod api;
pub mod config;
pub mod layout;
pub mod metrics;
pub mod store;
pub mod sync;
pub mod tcp;
pub mod testing;
pub mod zonefile;
