//! The exception path: a kernel TAP interface (DPDK `net_tap` vdev) that carries the
//! port's MAC address and our addresses. Frames the loop does not answer (TCP, SSH, ARP
//! replies, …) are written to it, and what the kernel sends on it goes out the port, so
//! the kernel's TCP DNS listener serves TCP and the host stays reachable.
//!
//! The TAP gets as many queues as the port: lcore `i` uses TAP queue `i`.

use super::DpdkError;
use dpdk_sys::{Eal, MbufPool, Port, PortConfig, Queue};
use std::net::IpAddr;
use std::process::Command;
use tracing::{info, warn};

/// A TAP created for the exception path.
pub struct Tap {
    /// DPDK device name (`net_tap_skylaneN`).
    pub vdev: String,
    /// Kernel interface name (`skylaneN`).
    pub iface: String,
    pub port: Port,
}

/// Kernel interface name of the TAP of port `port`.
pub fn iface_name(port: u16) -> String {
    format!("skylane{port}")
}

fn dpdk(context: impl Into<String>) -> impl FnOnce(dpdk_sys::Error) -> DpdkError {
    let context = context.into();
    move |source| DpdkError::Dpdk { context, source }
}

/// Create the TAP for data port `port` with `queues` queue pairs, give it `mac` and
/// `addresses`, and start it.
pub fn create(
    eal: &Eal,
    port: u16,
    mac: &[u8; 6],
    queues: u16,
    pool: MbufPool,
    addresses: &[(IpAddr, u8)],
) -> Result<(Tap, Vec<Queue>), DpdkError> {
    let iface = iface_name(port);
    let vdev = format!("net_tap_{iface}");
    let mac_s = super::net::ethernet::format_mac(mac);
    eal.vdev_init(&vdev, &format!("iface={iface},mac={mac_s}"))
        .map_err(dpdk(format!(
            "creating the exception-path TAP {iface} (needs /dev/net/tun and CAP_NET_ADMIN)"
        )))?;
    let tap_port =
        Port::by_name(eal, &vdev).map_err(dpdk(format!("finding the port of {vdev}")))?;
    let tap = Tap {
        vdev,
        iface,
        port: tap_port,
    };
    let cfg = PortConfig {
        queues,
        rx_desc: 512,
        tx_desc: 512,
        rss_hf: 0,
        rx_offloads: 0,
        tx_offloads: 0,
    };
    let result = tap_port
        .configure(&cfg, &[pool])
        .map_err(dpdk(format!("configuring TAP {}", tap.iface)))
        .and_then(|q| {
            tap_port
                .start()
                .map_err(dpdk(format!("starting TAP {}", tap.iface)))?;
            Ok(q)
        })
        .and_then(|q| {
            configure_kernel_side(&tap.iface, addresses)?;
            Ok(q)
        });
    match result {
        Ok(q) => {
            info!(iface = %tap.iface, mac = %mac_s, queues, "exception path: TAP ready");
            Ok((tap, q))
        }
        Err(e) => {
            tap.destroy(eal);
            Err(e)
        }
    }
}

/// Bring the kernel interface up with our addresses (IPv6 without duplicate address
/// detection: the data plane already answers for them).
fn configure_kernel_side(iface: &str, addresses: &[(IpAddr, u8)]) -> Result<(), DpdkError> {
    ip(&["link", "set", "dev", iface, "up"])?;
    for (addr, prefix) in addresses {
        let cidr = format!("{addr}/{prefix}");
        match addr {
            IpAddr::V4(_) => ip(&["addr", "replace", &cidr, "dev", iface])?,
            IpAddr::V6(_) => ip(&["-6", "addr", "replace", &cidr, "dev", iface, "nodad"])?,
        }
    }
    Ok(())
}

/// Run `ip ARGS`, failing with its stderr.
fn ip(args: &[&str]) -> Result<(), DpdkError> {
    let out = Command::new("ip").args(args).output().map_err(|e| {
        DpdkError::Exception(format!(
            "running `ip {}`: {e} (is iproute2 installed?)",
            args.join(" ")
        ))
    })?;
    if !out.status.success() {
        return Err(DpdkError::Exception(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

impl Tap {
    /// Stop and close the port and remove the kernel interface.
    pub fn destroy(&self, eal: &Eal) {
        if let Err(e) = self.port.stop() {
            warn!(iface = %self.iface, error = %e, "stopping the TAP");
        }
        if let Err(e) = self.port.close() {
            warn!(iface = %self.iface, error = %e, "closing the TAP");
        }
        if let Err(e) = eal.vdev_uninit(&self.vdev) {
            // Closing the port usually releases the device already.
            tracing::debug!(vdev = %self.vdev, error = %e, "vdev uninit");
        }
    }
}
