//! dpdk-sys: raw bindings to DPDK (Debian 22.11) plus thin safe wrappers.
//!
//! - [`raw`]: everything bindgen generated, including C wrappers for DPDK's
//!   `static inline` fast-path functions (`rte_eth_rx_burst`, `rte_pktmbuf_alloc`, …),
//!   bound under their usual names.
//! - [`consts`]: flag constants the headers define through macros bindgen cannot evaluate.
//! - Safe wrappers: [`eal`] (init, thread registration, vdevs), [`mempool`] (mbuf pools),
//!   [`mbuf`] (owned packet buffers and bursts), [`port`] (ports and queues), [`error`].

pub mod consts;
pub mod eal;
pub mod error;
pub mod mbuf;
pub mod mempool;
pub mod port;
pub mod raw;

pub use eal::Eal;
pub use error::{Error, Result};
pub use mbuf::{Burst, Mbuf, BURST};
pub use mempool::MbufPool;
pub use port::{Link, Port, PortConfig, PortInfo, PortStats, Queue};
