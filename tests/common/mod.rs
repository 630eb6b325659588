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

/// A running `skylane serve`.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub api_port: u16,
    pub dir: tempfile::TempDir,
    pub token: Option<String>,
}

/// A port free for both UDP and TCP on 127.0.0.1 and ::1 (best effort).
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

impl Server {
    /// Starts `skylane serve` with `zone` as its zone file plus `extra` flags.
    pub fn start(zone: &str, extra: &[&str]) -> Server {
        Self::start_with(zone, extra, None)
    }

    pub fn start_with(zone: &str, extra: &[&str], token: Option<&str>) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let zone_path = dir.path().join("test.zone");
        std::fs::write(&zone_path, zone).unwrap();
        let port = free_port();
        let api_port = free_port();
        let mut cmd = Command::new(bin());
        cmd.arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--listen")
            .arg(format!("[::1]:{port}"))
            .arg("--zone")
            .arg(&zone_path)
            .arg("--cores")
            .arg("0")
            .arg("--api-listen")
            .arg(format!("127.0.0.1:{api_port}"))
            .arg("--store-path")
            .arg(dir.path().join("store.redb"))
            .args(extra)
            .env("SKYLANE_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let child = cmd.spawn().expect("spawn skylane");
        let server = Server {
            child,
            port,
            api_port,
            dir,
            token: token.map(str::to_owned),
        };
        server.wait_ready();
        server
    }

    pub fn addr4(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn addr6(&self) -> SocketAddr {
        format!("[::1]:{}", self.port).parse().unwrap()
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let q = query("skylane-probe.invalid.", RecordType::A);
        while Instant::now() < deadline {
            if udp_exchange_from(self.addr4(), &q, "127.0.0.1".parse().unwrap(), 200).is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("skylane did not answer within 20 s");
    }

    /// SIGTERM, then the exit status must be success within 5 s.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id() as i32;
        // SAFETY-free: the `kill` command sends the signal.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("skylane did not stop within 5 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
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
    udp_exchange_from(server, q, from, 2000).expect("UDP answer")
}

/// TCP exchange (one query, 2-byte length prefix).
pub fn tcp(server: SocketAddr, q: &Message) -> Message {
    let mut s = TcpStream::connect_timeout(&server, Duration::from_secs(2)).expect("TCP connect");
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
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
    let mut all = vec!["@127.0.0.1", "-p", port.as_str()];
    all.extend_from_slice(args);
    let out = run("kdig", &all);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `dig` with the given arguments against the server; returns stdout.
pub fn dig(server: &Server, args: &[&str]) -> String {
    let port = server.port.to_string();
    let mut all = vec!["@127.0.0.1", "-p", port.as_str()];
    all.extend_from_slice(args);
    let out = run("dig", &all);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn temp_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

pub mod nsd;
