//! systemd service notifications (`sd_notify`): `READY=1`, `STATUS=…`, `RELOADING=1` and
//! `WATCHDOG=1` datagrams to `$NOTIFY_SOCKET` (a path, or `@name` for an abstract socket).
//!
//! Without `$NOTIFY_SOCKET` (not started by systemd with `Type=notify`) every call is a
//! no-op. A failed send is logged at debug level and otherwise ignored: notifications never
//! stop the appliance. `$WATCHDOG_USEC` (with `$WATCHDOG_PID`, when set, naming this process)
//! turns on the watchdog; see [`Notifier::watchdog_interval`].

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// A connection to the service manager (or nothing).
pub struct Notifier {
    target: Option<(UnixDatagram, SocketAddr)>,
}

impl Notifier {
    /// From `$NOTIFY_SOCKET`; a no-op notifier when it is unset or unusable.
    pub fn from_env() -> Notifier {
        let target = std::env::var_os("NOTIFY_SOCKET").and_then(|path| {
            let path = path.to_string_lossy().into_owned();
            match open(&path) {
                Ok(t) => Some(t),
                Err(e) => {
                    tracing::warn!("NOTIFY_SOCKET={path}: {e}; systemd notifications off");
                    None
                }
            }
        });
        Notifier { target }
    }

    /// True when notifications go somewhere.
    pub fn enabled(&self) -> bool {
        self.target.is_some()
    }

    /// Sends `state` (newline-separated `KEY=value` lines).
    pub fn send(&self, state: &str) {
        if let Some((socket, addr)) = &self.target {
            if let Err(e) = socket.send_to_addr(state.as_bytes(), addr) {
                tracing::debug!("sd_notify {state:?}: {e}");
            }
        }
    }

    /// `STATUS=<text>` (shown by `systemctl status`).
    pub fn status(&self, text: &str) {
        self.send(&format!("STATUS={text}"));
    }

    /// How often to feed the watchdog: half of `$WATCHDOG_USEC`, when the watchdog is on
    /// for this process.
    pub fn watchdog_interval() -> Option<Duration> {
        if let Ok(pid) = std::env::var("WATCHDOG_PID") {
            if pid.trim() != std::process::id().to_string() {
                return None;
            }
        }
        let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.trim().parse().ok()?;
        (usec > 0).then(|| Duration::from_micros(usec / 2))
    }
}

fn open(path: &str) -> std::io::Result<(UnixDatagram, SocketAddr)> {
    let addr = match path.strip_prefix('@') {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name.as_bytes())?
        }
        None => SocketAddr::from_pathname(path)?,
    };
    Ok((UnixDatagram::unbound()?, addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_to_a_path_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let rx = UnixDatagram::bind(&path).unwrap();
        let (socket, addr) = open(path.to_str().unwrap()).unwrap();
        let n = Notifier {
            target: Some((socket, addr)),
        };
        assert!(n.enabled());
        n.status("loading");
        let mut buf = [0u8; 64];
        let len = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"STATUS=loading");
    }

    #[test]
    fn no_socket_is_a_no_op() {
        let n = Notifier { target: None };
        assert!(!n.enabled());
        n.send("READY=1");
    }
}
