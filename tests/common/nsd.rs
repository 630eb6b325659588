//! NSD (from Debian) as a real upstream for forwarding tests: one zone on a
//! loopback port, in this network namespace or in a named one.

use super::{free_port, query, udp_exchange_from};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long any condition may take on a busy machine.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Polls `ok` every 100 ms until it holds; panics after [`DEADLINE`].
pub fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while Instant::now() < deadline {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what}: not within {DEADLINE:?}");
}

/// NSD serving one zone on 127.0.0.1; killed on drop.
pub struct Nsd {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Nsd {
    /// Serves `zone` (apex `apex`) here on a free port; returns once it answers.
    pub fn start(apex: &str, zone: &str) -> Nsd {
        let nsd = Nsd::spawn(None, free_port(), apex, zone);
        let addr = nsd.addr();
        let probe = query(&format!("ns1.{apex}"), RecordType::A);
        wait_for(&format!("NSD on {addr}"), || {
            udp_exchange_from(addr, &probe, "127.0.0.1".parse().unwrap(), 500)
                .is_some_and(|r| r.response_code() == ResponseCode::NoError)
        });
        nsd
    }

    /// Serves `zone` on 127.0.0.1:`port` inside network namespace `netns`;
    /// returns once it answers there.
    pub fn start_in(netns: &str, port: u16, apex: &str, zone: &str) -> Nsd {
        let nsd = Nsd::spawn(Some(netns), port, apex, zone);
        let at = "@127.0.0.1";
        let p = port.to_string();
        let name = format!("ns1.{apex}");
        wait_for(&format!("NSD in {netns}"), || {
            Command::new("ip")
                .args(["netns", "exec", netns, "kdig", "+timeout=1", "+retry=0"])
                .args([at, "-p", p.as_str(), name.as_str(), "A"])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("NOERROR"))
        });
        nsd
    }

    fn spawn(netns: Option<&str>, port: u16, apex: &str, zone: &str) -> Nsd {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        std::fs::write(dir.path().join("zone"), zone).unwrap();
        let conf = format!(
            "server:\n  ip-address: 127.0.0.1@{port}\n  zonesdir: \"{d}\"\n  pidfile: \"{d}/nsd.pid\"\n  \
             database: \"\"\n  username: \"\"\n  chroot: \"\"\n  logfile: \"{d}/nsd.log\"\n  \
             xfrdfile: \"{d}/xfrd.state\"\n  xfrdir: \"{d}\"\n  zonelistfile: \"{d}/zone.list\"\n  server-count: 1\n\
             remote-control:\n  control-enable: no\n\
             zone:\n  name: {apex}\n  zonefile: zone\n"
        );
        let conf_path = dir.path().join("nsd.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let mut cmd = match netns {
            // `ip netns exec` execs nsd: the child pid is nsd's.
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, "nsd"]);
                c
            }
            None => Command::new("nsd"),
        };
        let child = cmd
            .arg("-d")
            .arg("-c")
            .arg(&conf_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nsd (scripts/setup.sh --test installs it)");
        Nsd {
            child,
            port,
            _dir: dir,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Stops it (the port then refuses queries).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Nsd {
    fn drop(&mut self) {
        self.kill();
    }
}
