//! End-to-end test of the DPDK backend on a veth lab: `skylane serve` with
//! `backend = "dpdk"` (`--no-huge`) runs in a server network namespace on one end of a
//! veth pair (through the `net_af_packet` or `net_af_xdp` vdev); from a client namespace
//! on the other end, with no static neighbour entries, kdig/dig get A/AAAA/NXDOMAIN over
//! IPv4 and IPv6, ICMP and ICMPv6 echo are answered, TCP queries work through the TAP
//! exception path, names outside the served zone are forwarded to NSD (started in the
//! server namespace) with the replies sent by the lcore, and `skylane-perf` runs a short
//! load with nothing lost. A flood of other-port UDP and broadcasts is then policed and
//! dropped (counted in `/metrics` while running) while DNS still answers. Then SIGTERM
//! must stop the server cleanly and remove the TAP.
//!
//! Needs root, iproute2, ethtool, kdig, dig and perl (for ICMP echo through a raw
//! socket), and a build with `--features dpdk`; otherwise every test prints SKIPPED.
//! Run: `cargo test --features dpdk --test dpdk_veth -- --test-threads=1` (or
//! `scripts/test-dpdk.sh`).

mod common;
mod dpdk_flood;

use common::nsd::Nsd;
use dpdk_flood::exception_flood;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const SERVER_V4: &str = "10.99.0.1";
const SERVER_V6: &str = "fd00:99::1";
const CLIENT_V4: &str = "10.99.0.2";
const CLIENT_V6: &str = "fd00:99::2";
/// NSD, the forwarding upstream, inside the server namespace.
const UPSTREAM_PORT: u16 = 5300;
const UPSTREAM_ZONE: &str = "$ORIGIN example.test.\n$TTL 300\n\
@ IN SOA ns1 hostmaster 1 3600 600 86400 60\n@ IN NS ns1\nns1 IN A 127.0.0.1\nwww IN A 192.0.2.1\n";

/// The exception path's token bucket in the labs (frames per second).
const EXCEPTION_PPS: u32 = 2000;
/// The API (and `/metrics`) inside the server namespace.
const API_PORT: u16 = 9001;

/// The labs share CPU 1 and the DPDK runtime directory: one at a time.
static LAB_LOCK: Mutex<()> = Mutex::new(());

/// ICMP / ICMPv6 echo through a raw socket (no iputils on the test machines): prints
/// "reply N" per matched reply, exits 0 when every request was answered.
const PING_PL: &str = r#"
use strict; use warnings;
use Socket qw(:DEFAULT inet_pton AF_INET6 pack_sockaddr_in6 IPPROTO_ICMPV6);
my ($addr, $count) = @ARGV; $count ||= 3;
my $v6 = $addr =~ /:/;
my ($fam, $proto) = $v6 ? (AF_INET6, IPPROTO_ICMPV6) : (AF_INET, 1);
socket(my $s, $fam, SOCK_RAW, $proto) or die "socket: $!";
my $dst = $v6 ? pack_sockaddr_in6(0, inet_pton(AF_INET6, $addr)) : pack_sockaddr_in(0, inet_aton($addr));
my $id = $$ & 0xffff; my $ok = 0;
sub csum { my $d = shift; $d .= "\0" if length($d) % 2; my $s = 0; $s += $_ for unpack('n*', $d);
  $s = ($s & 0xffff) + ($s >> 16) while $s >> 16; return ~$s & 0xffff; }
for my $seq (1 .. $count) {
  my $payload = "skylane-echo-$seq" x 2;
  my $msg = pack('CCnnn', $v6 ? 128 : 8, 0, 0, $id, $seq) . $payload;
  substr($msg, 2, 2) = pack('n', csum($msg)) unless $v6;
  send($s, $msg, 0, $dst) or die "send: $!";
  my $deadline = time + 10;
  while (time < $deadline) {
    my $rin = ''; vec($rin, fileno($s), 1) = 1;
    select(my $rout = $rin, undef, undef, 0.2) or next;
    recv($s, my $buf, 2048, 0);
    $buf = substr($buf, (ord($buf) & 0x0f) * 4) unless $v6;
    my ($t, $c, $ck, $rid, $rseq) = unpack('CCnnn', $buf);
    if ($t == ($v6 ? 129 : 0) && $rid == $id && $rseq == $seq && substr($buf, 8) eq $payload) {
      print "reply $seq\n"; $ok++; last;
    }
  }
}
exit($ok == $count ? 0 : 1);
"#;

fn sh(cmd: &str, args: &[&str]) -> Output {
    Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {cmd} {args:?}: {e}"))
}

fn ok(cmd: &str, args: &[&str]) -> String {
    let out = sh(cmd, args);
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Why this machine cannot run the lab, if it cannot.
fn skip_reason() -> Option<String> {
    if !cfg!(feature = "dpdk") {
        return Some("build without the dpdk feature (use --features dpdk)".into());
    }
    let uid = sh("id", &["-u"]);
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some("needs root (network namespaces, DPDK)".into());
    }
    for tool in ["ip", "ethtool", "kdig", "dig", "perl", "nsd", "curl"] {
        if !have(tool) {
            return Some(format!("{tool} is not installed"));
        }
    }
    None
}

/// Two namespaces joined by a veth pair; removed on drop.
struct Lab {
    server_ns: String,
    client_ns: String,
    server_if: String,
    client_if: String,
}

impl Lab {
    fn new(tag: &str) -> Lab {
        let id = std::process::id() % 100_000;
        let lab = Lab {
            server_ns: format!("skyd-{id}-{tag}-s"),
            client_ns: format!("skyd-{id}-{tag}-c"),
            server_if: format!("vs{id}{tag}"),
            client_if: format!("vc{id}{tag}"),
        };
        lab.destroy();
        ok("ip", &["netns", "add", &lab.server_ns]);
        ok("ip", &["netns", "add", &lab.client_ns]);
        ok(
            "ip",
            &[
                "link",
                "add",
                &lab.server_if,
                "netns",
                &lab.server_ns,
                "type",
                "veth",
                "peer",
                "name",
                &lab.client_if,
                "netns",
                &lab.client_ns,
            ],
        );
        // The server side carries no addresses: the DPDK port (and its TAP) owns them.
        lab.server(&[
            "sysctl",
            "-qw",
            &format!("net.ipv6.conf.{}.disable_ipv6=1", lab.server_if),
        ]);
        for (ns, dev) in [
            (&lab.server_ns, &lab.server_if),
            (&lab.client_ns, &lab.client_if),
        ] {
            ok("ip", &["-n", ns, "link", "set", "lo", "up"]);
            ok("ip", &["-n", ns, "link", "set", dev, "up"]);
        }
        let c = &lab.client_if;
        lab.client(&["ip", "addr", "add", &format!("{CLIENT_V4}/24"), "dev", c]);
        lab.client(&[
            "ip",
            "-6",
            "addr",
            "add",
            &format!("{CLIENT_V6}/64"),
            "dev",
            c,
            "nodad",
        ]);
        // veth hands frames over with checksums still to be computed (CHECKSUM_PARTIAL);
        // af_packet/af_xdp see them as they are, so make the client compute them, as a
        // real NIC would put complete checksums on the wire.
        lab.client(&["ethtool", "-K", c, "tx", "off"]);
        lab
    }

    fn exec(&self, ns: &str, args: &[&str]) -> Output {
        let mut all = vec!["netns", "exec", ns];
        all.extend_from_slice(args);
        sh("ip", &all)
    }

    fn client(&self, args: &[&str]) -> String {
        let out = self.exec(&self.client_ns, args);
        assert!(
            out.status.success(),
            "client: {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn server(&self, args: &[&str]) -> String {
        let out = self.exec(&self.server_ns, args);
        assert!(out.status.success(), "server: {args:?} failed");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn destroy(&self) {
        for ns in [&self.server_ns, &self.client_ns] {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.destroy();
    }
}

/// `skylane serve` on the DPDK backend inside the server namespace.
struct Skylane {
    child: Option<Child>,
    log: PathBuf,
    prefix: String,
    _dir: tempfile::TempDir,
}

impl Skylane {
    fn start(lab: &Lab, vdev: &str) -> Skylane {
        let dir = tempfile::tempdir().unwrap();
        let prefix = format!("skylane-test-{}-{vdev}", std::process::id());
        let config = format!(
            r#"[dataplane]
backend = "dpdk"
cores = [1]
[tcp]
listen = ["0.0.0.0:53", "[::]:53"]
[dpdk]
eal-args = ["--no-huge", "--no-pci", "-m", "256", "--file-prefix={prefix}", "--vdev=net_{vdev}0,iface={iface}"]
port = 0
addresses = ["{SERVER_V4}/24", "{SERVER_V6}/64"]
exception-path = "tap"
exception-pps = {EXCEPTION_PPS}
[api]
listen = "127.0.0.1:{API_PORT}"
[forward]
upstreams = ["127.0.0.1:{UPSTREAM_PORT}"]
timeout-ms = 5000
"#,
            iface = lab.server_if
        );
        let cfg = dir.path().join("skylane.toml");
        std::fs::write(&cfg, config).unwrap();
        let log = dir.path().join("skylane.log");
        let logf = std::fs::File::create(&log).unwrap();
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &lab.server_ns,
                env!("CARGO_BIN_EXE_skylane"),
                "serve",
            ])
            .arg("--config")
            .arg(&cfg)
            .arg("--store-path")
            .arg(dir.path().join("store.redb"))
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .env("SKYLANE_LOG", "info")
            .stdout(logf.try_clone().unwrap())
            .stderr(logf)
            .spawn()
            .expect("starting skylane");
        Skylane {
            child: Some(child),
            log,
            prefix,
            _dir: dir,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then the exit status (killed after 15 s).
    fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        // `ip netns exec` execs skylane: the child pid is skylane's.
        ok("kill", &["-TERM", &child.id().to_string()]);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "skylane did not stop within 15 s after SIGTERM:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Skylane {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(Path::new("/var/run/dpdk").join(&self.prefix));
    }
}

fn kdig(lab: &Lab, args: &[&str]) -> String {
    let mut all = vec!["kdig", "+timeout=5", "+retry=2"];
    all.extend_from_slice(args);
    lab.client(&all)
}

/// The skylane-perf binary next to the skylane binary (built on demand).
fn perf_binary() -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_skylane")).parent().unwrap();
    let perf = dir.join("skylane-perf");
    if !perf.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-p", "skylane-perf"]);
        if dir.ends_with("release") {
            cmd.arg("--release");
        }
        assert!(cmd.status().unwrap().success(), "building skylane-perf");
    }
    perf
}

fn run_lab(vdev: &str, tag: &str) {
    if let Some(why) = skip_reason() {
        assert!(
            std::env::var_os("SKYLANE_REQUIRE_ALL_TESTS").is_none(),
            "dpdk_veth ({vdev}) cannot run here ({why}) but SKYLANE_REQUIRE_ALL_TESTS is set"
        );
        eprintln!("SKIPPED dpdk_veth ({vdev}): {why}");
        return;
    }
    let _guard = LAB_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::new(tag);
    let _upstream = Nsd::start_in(
        &lab.server_ns,
        UPSTREAM_PORT,
        "example.test.",
        UPSTREAM_ZONE,
    );
    let mut sky = Skylane::start(&lab, vdev);

    // Ready when a query is answered (this also resolves our MAC by ARP).
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let out = lab.exec(
            &lab.client_ns,
            &[
                "kdig",
                "+timeout=1",
                "+retry=0",
                "+short",
                &format!("@{SERVER_V4}"),
                "www.skylane.local",
                "A",
            ],
        );
        if String::from_utf8_lossy(&out.stdout).contains("192.0.2.10") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "skylane never answered over {vdev}:\n{}",
            sky.log()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    // Zone-file names answer at once; negative answers wait for the store's first sync
    // (SERVFAIL until then, never NXDOMAIN): ready when a missing name gets NXDOMAIN.
    loop {
        let nx = kdig(
            &lab,
            &[&format!("@{SERVER_V4}"), "missing.skylane.local", "A"],
        );
        if nx.contains("status: NXDOMAIN") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the store never synced: {nx}\n{}",
            sky.log()
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    for server in [SERVER_V4, SERVER_V6] {
        let at = format!("@{server}");
        let a = kdig(&lab, &[&at, "www.skylane.local", "A"]);
        assert!(a.contains("status: NOERROR"), "{a}");
        assert!(a.contains("Flags: qr aa"), "{a}");
        assert!(a.contains("192.0.2.10") && a.contains("192.0.2.11"), "{a}");
        let aaaa = kdig(&lab, &[&at, "www.skylane.local", "AAAA"]);
        assert!(aaaa.contains("2001:db8::10"), "{aaaa}");
        let nx = kdig(&lab, &[&at, "missing.skylane.local", "A"]);
        assert!(nx.contains("status: NXDOMAIN"), "{nx}");
        assert!(nx.contains("SOA"), "NXDOMAIN carries the SOA: {nx}");
        let refused = kdig(&lab, &[&at, "+norec", "example.org", "A"]);
        assert!(refused.contains("status: REFUSED"), "{refused}");
        // Forwarded (a miss: the reply comes back through the lcore's TX queue),
        // then from the lcore's cache.
        for _ in 0..2 {
            let fwd = kdig(&lab, &[&at, "www.example.test", "A"]);
            assert!(fwd.contains("status: NOERROR"), "{fwd}");
            assert!(fwd.contains("Flags: qr rd ra"), "{fwd}");
            assert!(fwd.contains("192.0.2.1"), "{fwd}");
        }
        let d = lab.client(&[
            "dig",
            "+short",
            "+time=5",
            "+tries=3",
            &at,
            "web.skylane.local",
            "A",
        ]);
        assert!(
            d.contains("www.skylane.local.") && d.contains("192.0.2.1"),
            "{d}"
        );
        // TCP goes through the TAP to the kernel-side listener.
        let tcp = kdig(&lab, &["+tcp", &at, "www.skylane.local", "AAAA"]);
        assert!(
            tcp.contains("status: NOERROR") && tcp.contains("2001:db8::10"),
            "{tcp}"
        );
        // Echo requests are answered by the data plane.
        let ping = lab.exec(&lab.client_ns, &["perl", "-e", PING_PL, server, "3"]);
        assert!(
            ping.status.success(),
            "ICMP echo to {server}: {}{}",
            String::from_utf8_lossy(&ping.stdout),
            String::from_utf8_lossy(&ping.stderr)
        );
    }
    // Neighbours were learned dynamically (ARP and ND answered by the data plane).
    let neigh = lab.client(&["ip", "neigh", "show", "dev", &lab.client_if]);
    for server in [SERVER_V4, SERVER_V6] {
        let line = neigh
            .lines()
            .find(|l| l.starts_with(&format!("{server} ")))
            .unwrap_or("");
        assert!(
            line.contains("lladdr"),
            "no neighbour entry for {server}: {neigh}"
        );
        assert!(
            !line.contains("PERMANENT"),
            "static entry for {server}: {neigh}"
        );
    }

    // A short load from the client namespace: nothing lost.
    let qfile = std::env::temp_dir().join(format!("skylane-dpdk-q-{}", std::process::id()));
    std::fs::write(
        &qfile,
        "www.skylane.local A\nwww.skylane.local AAAA\nmissing.skylane.local A\n_http._tcp.skylane.local SRV\n",
    )
    .unwrap();
    let perf = perf_binary();
    let report = lab.client(&[
        perf.to_str().unwrap(),
        "-s",
        SERVER_V4,
        "-d",
        qfile.to_str().unwrap(),
        "-l",
        "2",
        "-Q",
        "20000",
        "-q",
        "64",
        "-t",
        "5",
    ]);
    let _ = std::fs::remove_file(&qfile);
    let sent = field(&report, "Queries sent:");
    assert!(sent > 1000, "too few queries sent: {report}");
    assert_eq!(field(&report, "Queries lost:"), 0, "{report}");
    assert_eq!(field(&report, "Queries completed:"), sent, "{report}");

    exception_flood(&lab, &sky);

    let status = sky.stop();
    let log = sky.log();
    assert!(status.success(), "skylane exit {status}:\n{log}");
    assert!(log.contains("DPDK data plane stopped"), "{log}");
    let tap = lab.exec(&lab.server_ns, &["ip", "link", "show", "skylane0"]);
    assert!(!tap.status.success(), "the TAP outlived skylane");
}

/// The first integer after `label` in a report.
fn field(report: &str, label: &str) -> u64 {
    let line = report
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no {label:?} in {report}"));
    line.trim_start()[label.len()..]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("bad {label:?} line: {line}"))
}

#[test]
fn dpdk_backend_over_af_packet_veth() {
    run_lab("af_packet", "p");
}

#[test]
fn dpdk_backend_over_af_xdp_veth() {
    run_lab("af_xdp", "x");
}
