//! Skylane's control plane: config, zone files, stores, sync, REST API, metrics, TCP.

pub mod store;
