//! The DPDK lab's exception-path flood: other-port UDP and broadcasts sent from the client
//! namespace while kdig queries must keep being answered, then the `skylane_dpdk_*`
//! counters read from `/metrics` while the server runs.

use super::{kdig, Lab, Skylane, API_PORT, SERVER_V4, SERVER_V6};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// UDP to port 9999 of ADDR and broadcasts to BCAST:9999 for SECS seconds, as fast as
/// perl sends; prints the number of datagrams sent.
const FLOOD_PL: &str = r#"
use strict; use warnings; use Socket;
my ($addr, $bcast, $secs) = @ARGV;
socket(my $s, AF_INET, SOCK_DGRAM, 0) or die "socket: $!";
setsockopt($s, SOL_SOCKET, SO_BROADCAST, 1) or die "broadcast: $!";
my ($u, $b) = (pack_sockaddr_in(9999, inet_aton($addr)), pack_sockaddr_in(9999, inet_aton($bcast)));
my ($n, $end, $p) = (0, time + $secs, "f" x 64);
while (time < $end) { for (1 .. 500) { $n++ if send($s, $p, 0, $u); $n++ if send($s, $p, 0, $b); } }
print "$n
";
"#;

/// The value of the sample `series` (name and labels) in the server's `/metrics`.
fn metric(lab: &Lab, series: &str) -> Option<u64> {
    let url = format!("http://127.0.0.1:{API_PORT}/metrics");
    let out = lab.exec(&lab.server_ns, &["curl", "-sf", "--max-time", "10", &url]);
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with(series))?;
    line[series.len()..].trim().parse().ok()
}

/// Other-port UDP and broadcasts flood the port while kdig queries keep being answered;
/// `/metrics` (read while running) counts frames to the kernel, policed and dropped.
pub fn exception_flood(lab: &Lab, sky: &Skylane) {
    let flood = Command::new("ip")
        .args(["netns", "exec", &lab.client_ns, "perl", "-e", FLOOD_PL])
        .args([SERVER_V4, "10.99.0.255", "8"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting the flood");
    for i in 0..5 {
        let a = kdig(lab, &[&format!("@{SERVER_V4}"), "www.skylane.local", "A"]);
        assert!(
            a.contains("status: NOERROR"),
            "query {i} during the flood: {a}"
        );
    }
    let out = flood.wait_with_output().expect("flood");
    let sent: u64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    assert!(sent > 0, "the flood sent nothing");
    let series = |name: &str| format!("{name}{{core=\"1\"}}");
    let policed = series("skylane_dpdk_lcore_policed_total");
    let to_kernel = series("skylane_dpdk_lcore_to_kernel_packets_total");
    let unneeded = "skylane_dpdk_lcore_dropped_total{core=\"1\",cause=\"unneeded\"}";
    let rx = "skylane_dpdk_port_packets_total{device=\"port\",direction=\"rx\"}";
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let values = [&policed, &to_kernel, unneeded, rx].map(|s| metric(lab, s));
        if values.iter().all(|v| v.is_some_and(|n| n > 0)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after {sent} flood datagrams: policed, to kernel, unneeded, rx = {values:?}\n{}",
            sky.log()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // DNS still answers after the flood.
    let a = kdig(
        lab,
        &[&format!("@{SERVER_V6}"), "www.skylane.local", "AAAA"],
    );
    assert!(a.contains("2001:db8::10"), "{a}");
}
