//! A throw-away single-member etcd server for tests and benches.
//!
//! Starts the system `etcd` binary (or `$SKYLANE_ETCD`) on free loopback ports with its own data
//! directory, and kills it on drop. [`EtcdServer::start`] returns `None` (after printing why)
//! when no etcd binary is installed, so tests can skip cleanly.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// How a launch ended.
pub(crate) enum Launch {
    Ready,
    /// etcd exited because a picked port was taken meanwhile.
    PortTaken,
}

/// A running (or killed, restartable) etcd member.
pub struct EtcdServer {
    binary: PathBuf,
    dir: PathBuf,
    client_port: u16,
    peer_port: u16,
    extra: Vec<String>,
    child: Option<Child>,
    /// Member name and `--initial-cluster` (a single-member cluster unless set by a cluster).
    pub(crate) name: String,
    pub(crate) initial_cluster: Option<String>,
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The etcd binary: `$SKYLANE_ETCD`, else `/usr/bin/etcd`, else `etcd` on `PATH`.
pub fn etcd_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SKYLANE_ETCD") {
        return Some(PathBuf::from(p));
    }
    let usr = Path::new("/usr/bin/etcd");
    if usr.exists() {
        return Some(usr.to_path_buf());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("etcd"))
            .find(|p| p.exists())
    })
}

impl EtcdServer {
    /// Starts a fresh member; `None` when no etcd binary is installed (message printed).
    pub fn start() -> Option<EtcdServer> {
        Self::start_with(&[])
    }

    /// Like [`EtcdServer::start`] with extra etcd flags (e.g. `--max-txn-ops=10000`).
    pub fn start_with(extra: &[&str]) -> Option<EtcdServer> {
        let mut server = Self::unstarted(extra)?;
        // Ports are picked free, then bound by etcd: another process may take one in
        // between, so a start that fails on a taken port is retried with fresh ones.
        for _ in 0..5 {
            server.pick_ports();
            match server.launch() {
                Launch::Ready => return Some(server),
                Launch::PortTaken => {
                    eprintln!("etcd: a picked port was taken meanwhile, retrying");
                    let _ = std::fs::remove_dir_all(server.dir.join("data"));
                }
            }
        }
        panic!("etcd: picked ports were taken 5 times in a row");
    }

    /// Fresh client and peer ports (free at the time of the call).
    pub(crate) fn pick_ports(&mut self) {
        self.client_port = free_port().expect("free port");
        self.peer_port = free_port().expect("free port");
    }

    /// Forgets the member's data (before a retried first start).
    pub(crate) fn wipe(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(self.dir.join("data"));
    }

    /// A member with its own directory, not started; `None` without an etcd binary.
    pub(crate) fn unstarted(extra: &[&str]) -> Option<EtcdServer> {
        let Some(binary) = etcd_binary() else {
            assert!(
                std::env::var_os("SKYLANE_REQUIRE_ALL_TESTS").is_none(),
                "no etcd binary, but SKYLANE_REQUIRE_ALL_TESTS is set"
            );
            eprintln!("SKIPPED: no etcd binary (install the Debian `etcd-server` package or set SKYLANE_ETCD)");
            return None;
        };
        let dir = std::env::temp_dir().join(format!(
            "skylane-etcd-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create etcd data dir");
        let server = EtcdServer {
            binary,
            dir,
            client_port: 0,
            peer_port: 0,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            child: None,
            name: "skylane-test".into(),
            initial_cluster: None,
        };
        Some(server)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    pub fn client_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.client_port))
    }

    fn launch(&mut self) -> Launch {
        self.spawn();
        self.wait_ready()
    }

    /// `http://127.0.0.1:<peer port>`.
    pub(crate) fn peer_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.peer_port)
    }

    /// Starts the etcd process (without waiting for it to be healthy).
    pub(crate) fn spawn(&mut self) {
        let client = self.endpoint();
        let peer = self.peer_url();
        let cluster = self
            .initial_cluster
            .clone()
            .unwrap_or_else(|| format!("{}={peer}", self.name));
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(self.dir.join("etcd.log"))
            .expect("etcd log file");
        let child = Command::new(&self.binary)
            .arg(format!("--name={}", self.name))
            .arg(format!("--data-dir={}", self.dir.join("data").display()))
            .arg(format!("--listen-client-urls={client}"))
            .arg(format!("--advertise-client-urls={client}"))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster={cluster}"))
            .arg("--logger=zap")
            .arg("--log-level=error")
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn etcd");
        self.child = Some(child);
    }

    /// Waits until the member answers `etcdctl endpoint health` (panics after 60 s, or
    /// when etcd exits for another reason than a taken port).
    pub(crate) fn wait_ready(&mut self) -> Launch {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                self.child = None;
                let log = std::fs::read_to_string(self.dir.join("etcd.log")).unwrap_or_default();
                if log.contains("address already in use") {
                    return Launch::PortTaken;
                }
                panic!("etcd exited with {status}:\n{log}");
            }
            if TcpStream::connect_timeout(&self.client_addr(), Duration::from_millis(100)).is_ok()
                && self.etcdctl(&["endpoint", "health"]).status.success()
            {
                return Launch::Ready;
            }
            assert!(
                Instant::now() < deadline,
                "etcd did not become healthy within 60 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the member (SIGKILL) and waits for it; data stays for [`EtcdServer::restart`].
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes the member (SIGSTOP): its connections stay open but nothing answers — a hung
    /// member or one cut off by the network, as clients see it. [`EtcdServer::resume`] undoes it.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a paused member run again (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, which: &str) {
        let Some(child) = &self.child else { return };
        let sent = Command::new("kill")
            .args([which, &child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(sent, "kill {which} etcd");
    }

    /// Starts the member again on the same ports and data directory.
    pub fn restart(&mut self) {
        self.kill();
        match self.launch() {
            Launch::Ready => {}
            Launch::PortTaken => panic!("etcd restart: its port was taken while it was down"),
        }
    }

    /// Runs `ETCDCTL_API=3 etcdctl --endpoints=<this> <args>`.
    pub fn etcdctl(&self, args: &[&str]) -> Output {
        let ctl = self.binary.with_file_name("etcdctl");
        let ctl = if ctl.exists() {
            ctl
        } else {
            PathBuf::from("etcdctl")
        };
        Command::new(ctl)
            .env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={}", self.endpoint()))
            .arg("--dial-timeout=10s")
            .arg("--command-timeout=30s")
            .args(args)
            .output()
            .expect("run etcdctl")
    }

    /// Runs etcdctl and panics with its stderr unless it succeeds; returns stdout.
    pub fn etcdctl_ok(&self, args: &[&str]) -> String {
        let out = self.etcdctl(args);
        assert!(
            out.status.success(),
            "etcdctl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
