//! Command-line options of a load run (dnsperf/queryperf spelling) and their validated form,
//! [`Options`], shared by every load mode.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;

use crate::queryfile::{load_queries, QuerySpec};
use crate::wire::{Edns, QueryFlags, QueryTemplate};

/// Load-run flags as typed on the command line.
#[derive(Args, Clone, Debug)]
pub struct RunArgs {
    /// Query data file: `name [type]` per line, `#` or `;` comments.
    #[arg(short = 'd', long = "datafile", value_name = "FILE")]
    pub datafile: Option<PathBuf>,
    /// Server address (IP or host name).
    #[arg(short = 's', long = "server", default_value = "127.0.0.1")]
    pub server: String,
    /// Server port.
    #[arg(short = 'p', long = "port", default_value_t = 53)]
    pub port: u16,
    /// Run for this many seconds, cycling through the query file.
    #[arg(short = 'l', long = "limit", value_name = "SECONDS")]
    pub limit: Option<f64>,
    /// Without -l: run through the query file this many times.
    #[arg(short = 'n', long = "runs", default_value_t = 1)]
    pub runs: u32,
    /// Maximum queries per second (all threads together); unlimited if absent.
    #[arg(short = 'Q', long = "max-qps", value_name = "QPS")]
    pub max_qps: Option<u64>,
    /// Maximum outstanding queries (all sockets together).
    #[arg(short = 'q', long = "outstanding", default_value_t = 100)]
    pub outstanding: usize,
    /// Seconds before an unanswered query counts as lost.
    #[arg(short = 't', long = "timeout", default_value_t = 5.0)]
    pub timeout: f64,
    /// Number of client sockets.
    #[arg(short = 'c', long = "clients", default_value_t = 1)]
    pub clients: usize,
    /// Number of sender threads (reduced to the number of clients if larger).
    #[arg(short = 'T', long = "threads", default_value_t = 1)]
    pub threads: usize,
    /// Send EDNS0 (OPT record, UDP size 4096).
    #[arg(short = 'e', long = "edns")]
    pub edns: bool,
    /// Set the DNSSEC OK bit (implies -e).
    #[arg(short = 'D', long = "dnssec")]
    pub dnssec: bool,
    /// Clear the RD bit (it is set by default, as in dnsperf).
    #[arg(long = "no-rd")]
    pub no_rd: bool,
    /// Print the report as JSON instead of text.
    #[arg(long = "json")]
    pub json: bool,
    /// DPDK mode flags (`--dpdk-eal` selects it).
    #[cfg(feature = "dpdk")]
    #[command(flatten)]
    pub dpdk: DpdkArgs,
}

/// Flags of the DPDK mode.
#[cfg(feature = "dpdk")]
#[derive(clap::Args, Clone, Debug, Default)]
pub struct DpdkArgs {
    /// Send from a DPDK port: the EAL arguments, one string, e.g.
    /// "--no-huge --no-pci --file-prefix=perf --vdev=net_memif0,role=client,socket=/run/sky.sock".
    #[arg(long = "dpdk-eal", value_name = "ARGS", allow_hyphen_values = true)]
    pub dpdk_eal: Option<String>,
    /// DPDK port id to send from.
    #[arg(long = "dpdk-port", default_value_t = 0)]
    pub dpdk_port: u16,
    /// Source IP address of the queries (same family as the server).
    #[arg(long = "dpdk-src-ip", value_name = "IP")]
    pub dpdk_src_ip: Option<std::net::IpAddr>,
    /// Server MAC address (default: resolved with ARP / neighbour solicitation).
    #[arg(long = "dpdk-dst-mac", value_name = "MAC")]
    pub dpdk_dst_mac: Option<String>,
    /// CPUs for the sender threads, comma-separated (default: not pinned).
    #[arg(long = "dpdk-cores", value_name = "LIST", value_delimiter = ',')]
    pub dpdk_cores: Vec<usize>,
    /// The far end reflects frames unchanged (dpdk-testpmd `--forward-mode=macswap`): count a
    /// returning copy of an outstanding query as its answer, to measure the link's ceiling and
    /// calibrate the generator. Needs `--dpdk-dst-mac` (a reflector answers no ARP).
    #[arg(long = "dpdk-reflector", requires = "dpdk_dst_mac")]
    pub dpdk_reflector: bool,
    /// Send RATIO exception-path flood frames per query, interleaved with the queries:
    /// broadcast UDP and unicast UDP to the server on port 9999 (no answers expected).
    #[arg(long = "dpdk-flood", value_name = "RATIO", value_parser = flood_ratio)]
    pub dpdk_flood: Option<f64>,
}

#[cfg(feature = "dpdk")]
fn flood_ratio(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if r.is_finite() && (0.0..=64.0).contains(&r) => Ok(r),
        _ => Err(format!(
            "{s:?}: expected flood frames per query between 0 and 64"
        )),
    }
}

#[cfg(feature = "dpdk")]
impl DpdkArgs {
    /// True when `--dpdk-eal` selects the DPDK mode.
    pub fn enabled(&self) -> bool {
        self.dpdk_eal.is_some()
    }
}

/// How long a run sends queries.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RunLength {
    /// Cycle through the query file for this long.
    Duration(Duration),
    /// Send every query of the file this many times, then stop.
    Passes(u32),
}

/// Validated options of a load run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Target address.
    pub server: SocketAddr,
    /// How long to send.
    pub length: RunLength,
    /// Queries-per-second cap over all threads.
    pub max_qps: Option<u64>,
    /// Outstanding-query cap over all sockets.
    pub max_outstanding: usize,
    /// Time after which a query is lost.
    pub timeout: Duration,
    /// Client sockets.
    pub clients: usize,
    /// Sender threads (never more than `clients`).
    pub threads: usize,
    /// Header flags and EDNS of every query.
    pub flags: QueryFlags,
    /// JSON output.
    pub json: bool,
}

fn seconds(flag: &str, value: f64) -> anyhow::Result<Duration> {
    if !value.is_finite() || value <= 0.0 || value > 1e7 {
        bail!("{flag} must be a positive number of seconds, got {value}");
    }
    Ok(Duration::from_secs_f64(value))
}

impl RunArgs {
    /// Checks the flags and resolves the server address.
    pub fn options(&self) -> anyhow::Result<Options> {
        let server = (self.server.as_str(), self.port)
            .to_socket_addrs()
            .with_context(|| format!("resolving server {:?}", self.server))?
            .next()
            .with_context(|| format!("server {:?} has no address", self.server))?;
        let length = match self.limit {
            Some(l) => RunLength::Duration(seconds("-l", l)?),
            None if self.runs == 0 => bail!("-n must be at least 1"),
            None => RunLength::Passes(self.runs),
        };
        if self.max_qps == Some(0) {
            bail!("-Q must be at least 1");
        }
        if self.clients == 0 || self.threads == 0 {
            bail!("-c and -T must be at least 1");
        }
        if self.outstanding < self.clients {
            bail!(
                "-q ({}) must be at least the number of clients ({})",
                self.outstanding,
                self.clients
            );
        }
        if self.outstanding > self.clients * crate::inflight::ID_SPACE {
            bail!("-q ({}) exceeds 65536 per client socket", self.outstanding);
        }
        let edns = (self.edns || self.dnssec).then_some(Edns {
            udp_size: 4096,
            dnssec_ok: self.dnssec,
        });
        Ok(Options {
            server,
            length,
            max_qps: self.max_qps,
            max_outstanding: self.outstanding,
            timeout: seconds("-t", self.timeout)?,
            clients: self.clients,
            threads: self.threads.min(self.clients),
            flags: QueryFlags {
                recursion_desired: !self.no_rd,
                edns,
            },
            json: self.json,
        })
    }

    /// Loads the query file (`-d`, required for a run).
    pub fn queries(&self) -> anyhow::Result<Vec<QuerySpec>> {
        let path = self
            .datafile
            .as_ref()
            .context("a query file is required (-d FILE)")?;
        load_queries(path)
    }
}

/// Builds one wire template per query.
pub fn templates(queries: &[QuerySpec], flags: QueryFlags) -> Vec<QueryTemplate> {
    queries
        .iter()
        .map(|q| QueryTemplate::new(q, flags))
        .collect()
}

/// Splits `total` into `parts` shares differing by at most one; share `index`.
pub fn share(total: u64, parts: usize, index: usize) -> u64 {
    let parts = parts.max(1) as u64;
    let index = index as u64;
    total / parts + u64::from(index < total % parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        run: RunArgs,
    }

    fn parse(args: &[&str]) -> anyhow::Result<Options> {
        let cli = Cli::try_parse_from(std::iter::once("perf").chain(args.iter().copied()))?;
        cli.run.options()
    }

    #[test]
    fn accepts_dnsperf_flags() {
        let o = parse(&[
            "-s",
            "10.99.0.1",
            "-p",
            "5353",
            "-l",
            "2.5",
            "-Q",
            "1000",
            "-q",
            "64",
            "-t",
            "1",
            "-c",
            "4",
            "-T",
            "8",
            "-e",
        ])
        .unwrap();
        assert_eq!(o.server, "10.99.0.1:5353".parse().unwrap());
        assert_eq!(o.length, RunLength::Duration(Duration::from_millis(2500)));
        assert_eq!(
            (o.max_qps, o.max_outstanding, o.clients, o.threads),
            (Some(1000), 64, 4, 4)
        );
        assert_eq!(
            o.flags.edns,
            Some(Edns {
                udp_size: 4096,
                dnssec_ok: false
            })
        );
        assert!(o.flags.recursion_desired);
        let o = parse(&["-s", "::1", "-D", "--no-rd"]).unwrap();
        assert_eq!(o.length, RunLength::Passes(1));
        assert!(o.server.is_ipv6());
        assert_eq!(
            o.flags.edns,
            Some(Edns {
                udp_size: 4096,
                dnssec_ok: true
            })
        );
        assert!(!o.flags.recursion_desired);
    }

    #[test]
    fn rejects_bad_values() {
        assert!(parse(&["-l", "0"]).is_err());
        assert!(parse(&["-l", "nan"]).is_err());
        assert!(parse(&["-t", "-1"]).is_err());
        assert!(parse(&["-Q", "0"]).is_err());
        assert!(parse(&["-c", "0"]).is_err());
        assert!(parse(&["-n", "0"]).is_err());
        assert!(parse(&["-q", "2", "-c", "3"]).is_err());
        assert!(parse(&["-q", "70000"]).is_err());
        assert!(parse(&["-p", "70000"]).is_err());
    }

    #[test]
    fn shares_add_up() {
        for (total, parts) in [(10u64, 3usize), (0, 2), (7, 7), (5, 8)] {
            let sum: u64 = (0..parts).map(|i| share(total, parts, i)).sum();
            assert_eq!(sum, total);
            let max = (0..parts).map(|i| share(total, parts, i)).max().unwrap();
            let min = (0..parts).map(|i| share(total, parts, i)).min().unwrap();
            assert!(max - min <= 1);
        }
    }
}
