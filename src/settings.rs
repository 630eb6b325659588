//! Settings derived from a resolved [`Config`] that several parts need: the TCP listen
//! addresses and the forwarding settings. Pure functions of the config, so `serve`,
//! `control`, `reload` and `check-config` all depend on this module and never on each other.

use skylane_controlplane::config::{Backend, Config};
use skylane_controlplane::forward::Settings;
use std::net::SocketAddr;

/// TCP listen addresses: `[tcp] listen`, else the UDP addresses — for the
/// DPDK backend each owned `[dpdk] addresses` entry on port 53 (TCP reaches
/// the kernel through the exception-path TAP, which carries them).
pub fn tcp_listen(cfg: &Config) -> Vec<SocketAddr> {
    if let Some(listen) = &cfg.tcp.listen {
        return listen.clone();
    }
    match cfg.dataplane.backend {
        Backend::Socket => cfg.dataplane.listen.clone(),
        Backend::Dpdk => cfg
            .dpdk
            .addresses
            .iter()
            .map(|(ip, _)| SocketAddr::new(*ip, 53))
            .collect(),
    }
}

/// `[forward]` resolved against our own listen addresses (`None`: off).
pub fn forward_settings(cfg: &Config) -> anyhow::Result<Option<Settings>> {
    let mut own = cfg.dataplane.listen.clone();
    own.extend(tcp_listen(cfg));
    Settings::from_config(cfg, &own).map_err(|e| anyhow::anyhow!("[forward] {e}"))
}
