//! Shared harness for end-to-end tests: starts the real `skylane` binary on
//! free loopback ports with its own zone file and store, queries it with real
//! clients (kdig/dig and hickory-proto), stops it with SIGTERM.
#![allow(dead_code)]

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long a started server may take to answer on a loaded machine.
pub const READY_WITHIN: Duration = Duration::from_secs(60);
/// How long a server may take to exit after SIGTERM on a loaded machine.
pub const STOP_WITHIN: Duration = Duration::from_secs(20);

/// A running `skylane serve`.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub api_port: u16,
    pub dir: tempfile::TempDir,
    pub token: Option<String>,
    /// The server's stderr (a file, so a chatty server never blocks on a full pipe).
    pub log: PathBuf,
    /// Directories the server reads after it starts (config files a test wrote): removed
    /// when the server is, after it has stopped.
    pub held: Vec<tempfile::TempDir>,
}

/// A port free for both UDP and TCP on 127.0.0.1 and ::1 at the time of the call. Another
/// process may take it before the server binds it: start servers with [`Server::launch`],
/// which retries with fresh ports when that happens.
pub fn free_port() -> u16 {
    for _ in 0..50 {
        let t = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = t.local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok()
            && UdpSocket::bind(("::1", port)).is_ok()
            && TcpListener::bind(("::1", port)).is_ok()
        {
            return port;
        }
    }
    panic!("no free port found");
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_skylane")
}

/// What became of a started server.
enum Start {
    Ready,
    /// It exited because a picked port was taken meanwhile: try other ports.
    PortTaken,
}

/// `skylane-perf` (the perf package's binary): cargo builds it into the directory of the
/// `skylane` binary; built here with the same profile when a narrower build left it out.
pub fn perf_bin() -> PathBuf {
    let perf = Path::new(bin()).with_file_name("skylane-perf");
    if perf.exists() {
        return perf;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut build = Command::new(cargo);
    build.args(["build", "-p", "skylane-perf"]);
    if bin().contains("/release/") {
        build.arg("--release");
    }
    let built = build.status().expect("run cargo build -p skylane-perf");
    assert!(built.success() && perf.exists(), "skylane-perf not built");
    perf
}

impl Server {
    /// Starts `skylane serve` with `zone` as its zone file plus `extra` flags.
    pub fn start(zone: &str, extra: &[&str]) -> Server {
        Self::start_with(zone, extra, None)
    }

    pub fn start_with(zone: &str, extra: &[&str], token: Option<&str>) -> Server {
        let server = Server::launch_zone(zone, extra, token);
        server.wait_until_ready();
        server
    }

    /// [`Server::start_with`] without waiting for `/ready`: returns as soon as the server
    /// answers DNS (from its static snapshot) and accepts API connections.
    pub fn launch_zone(zone: &str, extra: &[&str], token: Option<&str>) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let zone_path = dir.path().join("test.zone");
        std::fs::write(&zone_path, zone).unwrap();
        let store = dir.path().join("store.redb");
        let data_dir = dir.path().join("data");
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        Server::launch(dir, token, move |port, api_port| {
            let mut args: Vec<String> = vec![
                "serve".into(),
                "--listen".into(),
                format!("127.0.0.1:{port}"),
                "--listen".into(),
                format!("[::1]:{port}"),
                "--zone".into(),
                zone_path.display().to_string(),
                "--cores".into(),
                "0".into(),
                "--api-listen".into(),
                format!("127.0.0.1:{api_port}"),
                "--store-path".into(),
                store.display().to_string(),
                "--data-dir".into(),
                data_dir.display().to_string(),
            ];
            args.extend(extra.iter().cloned());
            args
        })
    }

    /// Waits until `GET /ready` answers 200: the first snapshot from the store is live (until
    /// then names in store-backed domains answer SERVFAIL rather than NXDOMAIN).
    pub fn wait_until_ready(&self) {
        let deadline = Instant::now() + READY_WITHIN;
        let api = SocketAddr::from(([127, 0, 0, 1], self.api_port));
        loop {
            if http_status(api, "/ready") == Some(200) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "/ready never answered 200 within {READY_WITHIN:?}:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts the binary with the arguments `args(port, api_port)` gives, waits until it
    /// answers DNS on 127.0.0.1:`port` and accepts API connections on `api_port`, and
    /// retries with fresh ports when the server exits because one was taken meanwhile.
    pub fn launch(
        dir: tempfile::TempDir,
        token: Option<&str>,
        args: impl Fn(u16, u16) -> Vec<String>,
    ) -> Server {
        Server::launch_env(dir, token, &[], args)
    }

    /// [`Server::launch`] with extra environment variables for the server.
    pub fn launch_env(
        dir: tempfile::TempDir,
        token: Option<&str>,
        envs: &[(&str, &Path)],
        args: impl Fn(u16, u16) -> Vec<String>,
    ) -> Server {
        for attempt in 0..5 {
            let (port, api_port) = (free_port(), free_port());
            let log = dir.path().join(format!("skylane-{attempt}.log"));
            let mut child = Command::new(bin())
                .args(args(port, api_port))
                .envs(envs.iter().copied())
                .env("SKYLANE_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).expect("server log file"))
                .spawn()
                .expect("spawn skylane");
            match wait_ready(&mut child, port, api_port, &log) {
                Start::Ready => {
                    return Server {
                        child,
                        port,
                        api_port,
                        dir,
                        token: token.map(str::to_owned),
                        log,
                        held: Vec::new(),
                    }
                }
                Start::PortTaken => {
                    eprintln!(
                        "skylane start {attempt}: a picked port was taken meanwhile, retrying"
                    );
                }
            }
        }
        panic!("skylane: picked ports were taken 5 times in a row")
    }

    /// `skylane serve` for `skydns.local.` against etcd `endpoints`, with `data` as its data
    /// directory (kept by the caller, so a restarted server finds its files).
    pub fn start_etcd(endpoints: &[String], data: &Path) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let (endpoints, data) = (endpoints.to_vec(), data.display().to_string());
        Server::launch(dir, None, move |port, api_port| {
            let mut args: Vec<String> = [
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--api-listen",
                &format!("127.0.0.1:{api_port}"),
                "--domain",
                "skydns.local",
                "--store",
                "etcd",
                "--data-dir",
                &data,
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            for e in &endpoints {
                args.extend(["--etcd-endpoint".to_string(), e.clone()]);
            }
            args
        })
    }

    pub fn addr4(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn addr6(&self) -> SocketAddr {
        format!("[::1]:{}", self.port).parse().unwrap()
    }

    /// The server's stderr so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then waits (up to [`STOP_WITHIN`]) for the exit status.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id() as i32;
        // SAFETY-free: the `kill` command sends the signal.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status();
        let deadline = Instant::now() + STOP_WITHIN;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("skylane did not stop within {STOP_WITHIN:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// The status code of a plain `GET path` (HTTP/1.0, `Host: <addr>`), `None` on any error.
pub fn http_status(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// Waits until a started server answers DNS on 127.0.0.1:`port` and accepts API
/// connections on `api_port`; panics with its log if it exits for another reason than a
/// taken port, or takes longer than [`READY_WITHIN`].
fn wait_ready(child: &mut Child, port: u16, api_port: u16, log: &Path) -> Start {
    let deadline = Instant::now() + READY_WITHIN;
    let q = query("skylane-probe.invalid.", RecordType::A);
    let dns = SocketAddr::from(([127, 0, 0, 1], port));
    let api = SocketAddr::from(([127, 0, 0, 1], api_port));
    let log_text = || std::fs::read_to_string(log).unwrap_or_default();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let text = log_text();
            if text.contains("Address already in use") {
                return Start::PortTaken;
            }
            panic!("skylane exited with {status} before answering:\n{text}");
        }
        let answered = udp_exchange_from(dns, &q, "127.0.0.1".parse().unwrap(), 200).is_some();
        if answered && TcpStream::connect_timeout(&api, Duration::from_secs(1)).is_ok() {
            return Start::Ready;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "skylane did not answer within {READY_WITHIN:?}:\n{}",
                log_text()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A query message (RD set, random id).
pub fn query(name: &str, rtype: RecordType) -> Message {
    let mut m = Message::new();
    m.set_id(rand_id());
    m.set_message_type(MessageType::Query);
    m.set_op_code(OpCode::Query);
    m.set_recursion_desired(true);
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    m
}

/// The same query with EDNS (payload size, version).
pub fn with_edns(mut m: Message, size: u16, version: u8) -> Message {
    let mut e = Edns::new();
    e.set_max_payload(size);
    e.set_version(version);
    m.set_edns(e);
    m
}

fn rand_id() -> u16 {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    (n ^ (n >> 16)) as u16
}

/// Sends bytes over UDP from `from` and returns the raw reply.
pub fn udp_raw_from(
    server: SocketAddr,
    bytes: &[u8],
    from: IpAddr,
    timeout_ms: u64,
) -> Option<Vec<u8>> {
    let sock = UdpSocket::bind(SocketAddr::new(from, 0)).ok()?;
    sock.set_read_timeout(Some(Duration::from_millis(timeout_ms)))
        .ok()?;
    sock.send_to(bytes, server).ok()?;
    let mut buf = vec![0u8; 65535];
    let (n, _) = sock.recv_from(&mut buf).ok()?;
    buf.truncate(n);
    Some(buf)
}

pub fn udp_exchange_from(
    server: SocketAddr,
    q: &Message,
    from: IpAddr,
    timeout_ms: u64,
) -> Option<Message> {
    let raw = udp_raw_from(server, &q.to_vec().unwrap(), from, timeout_ms)?;
    Message::from_vec(&raw).ok()
}

/// UDP exchange from the loopback address of the server's family.
pub fn udp(server: SocketAddr, q: &Message) -> Message {
    let from: IpAddr = if server.is_ipv4() {
        "127.0.0.1".parse().unwrap()
    } else {
        "::1".parse().unwrap()
    };
    // Loopback does not lose datagrams, but a loaded machine may delay one: retry twice.
    (0..3)
        .find_map(|_| udp_exchange_from(server, q, from, 3000))
        .expect("UDP answer")
}

/// TCP exchange (one query, 2-byte length prefix).
pub fn tcp(server: SocketAddr, q: &Message) -> Message {
    let mut s = TcpStream::connect_timeout(&server, Duration::from_secs(10)).expect("TCP connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let body = q.to_vec().unwrap();
    let mut framed = (body.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&body);
    s.write_all(&framed).unwrap();
    let mut len = [0u8; 2];
    s.read_exact(&mut len).unwrap();
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).unwrap();
    Message::from_vec(&buf).unwrap()
}

/// Runs a command, panicking with its stderr if it cannot start.
pub fn run(cmd: &str, args: &[&str]) -> Output {
    Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd}: {e} (scripts/setup.sh --test installs it)"))
}

/// `kdig` with the given arguments against the server; returns stdout.
pub fn kdig(server: &Server, args: &[&str]) -> String {
    let port = server.port.to_string();
    // Timeouts with headroom for a loaded machine (the defaults are 2 s for kdig).
    let mut all = vec!["@127.0.0.1", "-p", port.as_str(), "+timeout=10"];
    all.extend_from_slice(args);
    let out = run("kdig", &all);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `dig` with the given arguments against the server; returns stdout.
pub fn dig(server: &Server, args: &[&str]) -> String {
    let port = server.port.to_string();
    let mut all = vec!["@127.0.0.1", "-p", port.as_str(), "+timeout=10"];
    all.extend_from_slice(args);
    let out = run("dig", &all);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn temp_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

pub mod nsd;
