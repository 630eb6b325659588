//! Command-line flags of `skylane serve`, and how they override the config file.

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use skylane_controlplane::config::{Backend, Config};
use skylane_controlplane::store::Backend as StoreBackend;
use skylane_dataplane::name::Name;
use skylane_dataplane::record::Policy;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Skylane: authoritative DNS for service discovery.
#[derive(Debug, Parser)]
#[command(name = "skylane", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve DNS (UDP+TCP), the REST API and metrics.
    Serve(ServeArgs),
    /// Validate a config file and everything it names (zone files, certificates, keys,
    /// token files, etcd settings, DPDK arguments); every error as `FILE:LINE: key: reason`.
    CheckConfig(ServeArgs),
    /// Ask the running server to reload its config and zone files (`POST /v1/reload`
    /// with the API token, or SIGHUP to `--pid`).
    Reload(ReloadArgs),
    /// Run a standalone health agent (no DNS): reads `[store]`, `[etcd]` and `[health]`.
    Scan(ScanArgs),
}

/// `skylane scan` flags.
#[derive(Debug, Clone, Args, Default)]
pub struct ScanArgs {
    /// TOML config file.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Agent name; default `[health] agent`, else the host name.
    #[arg(long, value_name = "NAME")]
    pub agent: Option<String>,
}

impl ScanArgs {
    /// The config file (or defaults) with `--agent` applied, validated.
    pub fn resolve(&self) -> anyhow::Result<Config> {
        let mut cfg = match &self.config {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        if let Some(agent) = &self.agent {
            cfg.health.agent = Some(agent.clone());
        }
        cfg.health
            .validate()
            .map_err(anyhow::Error::msg)
            .context("--agent")?;
        Ok(cfg)
    }
}

/// `skylane reload` flags.
#[derive(Debug, Clone, Args, Default)]
pub struct ReloadArgs {
    /// The server's config file: its `[api]` section says where to ask and which token to use.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// API address (`host:port`); replaces `[api] listen`.
    #[arg(long, value_name = "ADDR")]
    pub api: Option<String>,
    /// Data directory holding the generated `api-token`; replaces `[store] data-dir`.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Send SIGHUP to this process instead of calling the API (no reply: see the log).
    #[arg(long, value_name = "PID", conflicts_with = "api")]
    pub pid: Option<i32>,
}

/// Flags override the config file.
#[derive(Debug, Clone, Args, Default)]
pub struct ServeArgs {
    /// TOML config file.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// UDP/TCP listen address (repeatable); replaces `[dataplane] listen`.
    #[arg(long, value_name = "ADDR")]
    pub listen: Vec<SocketAddr>,
    /// RFC 1035 master file (repeatable); its apex becomes a served domain.
    #[arg(long, value_name = "FILE")]
    pub zone: Vec<PathBuf>,
    /// Served domain (repeatable); replaces `[dns] domains`.
    #[arg(long, value_name = "NAME")]
    pub domain: Vec<String>,
    /// Data-plane cores: `0,1`, `2-5` or a mix.
    #[arg(long, value_name = "LIST")]
    pub cores: Option<String>,
    /// Default answer policy.
    #[arg(long, value_name = "all|random-one|hone-one")]
    pub policy: Option<String>,
    /// Data-plane backend.
    #[arg(long, value_name = "socket|dpdk")]
    pub backend: Option<String>,
    /// DPDK EAL arguments (one string, split on whitespace); implies nothing else.
    #[arg(long = "dpdk-eal", value_name = "ARGS", allow_hyphen_values = true)]
    pub dpdk_eal: Option<String>,
    /// REST API listen address; replaces `[api] listen`.
    #[arg(long, value_name = "ADDR")]
    pub api_listen: Option<SocketAddr>,
    /// Record store: `embedded` or `etcd`.
    #[arg(long, value_name = "embedded|etcd")]
    pub store: Option<String>,
    /// Embedded store file.
    #[arg(long, value_name = "PATH")]
    pub store_path: Option<PathBuf>,
    /// Data directory (generated API token, last-known records, default store file);
    /// replaces `[store] data-dir`.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// etcd endpoint (repeatable); replaces `[etcd] endpoints`.
    #[arg(long, value_name = "URL")]
    pub etcd_endpoint: Vec<String>,
}

/// Parses a core list such as `0,2-4`.
pub fn parse_cores(s: &str) -> anyhow::Result<Vec<usize>> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let a: usize = a
                    .trim()
                    .parse()
                    .with_context(|| format!("bad core {a:?}"))?;
                let b: usize = b
                    .trim()
                    .parse()
                    .with_context(|| format!("bad core {b:?}"))?;
                if a > b {
                    bail!("bad core range {part:?}");
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().with_context(|| format!("bad core {part:?}"))?),
        }
    }
    if out.is_empty() {
        bail!("empty core list");
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

impl ServeArgs {
    /// The config file (or defaults) with these flags applied, validated.
    pub fn resolve(&self) -> anyhow::Result<Config> {
        let mut cfg = match &self.config {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        self.apply(&mut cfg)?;
        cfg.validate().map_err(anyhow::Error::msg)?;
        Ok(cfg)
    }

    /// Applies these flags to `cfg` (not validated).
    pub fn apply(&self, cfg: &mut Config) -> anyhow::Result<()> {
        if !self.listen.is_empty() {
            cfg.dataplane.listen = self.listen.clone();
        }
        if !self.zone.is_empty() {
            cfg.dns.zone_files = self.zone.clone();
        }
        if !self.domain.is_empty() {
            cfg.dns.domains = self
                .domain
                .iter()
                .map(|d| Name::from_ascii(d).with_context(|| format!("--domain {d:?}")))
                .collect::<anyhow::Result<_>>()?;
        }
        if let Some(c) = &self.cores {
            cfg.dataplane.cores = parse_cores(c).context("--cores")?;
        }
        if let Some(p) = &self.policy {
            cfg.dns.policy = p
                .parse::<Policy>()
                .map_err(anyhow::Error::msg)
                .context("--policy")?;
        }
        if let Some(b) = &self.backend {
            cfg.dataplane.backend = match b.as_str() {
                "socket" => Backend::Socket,
                "dpdk" => Backend::Dpdk,
                other => bail!("--backend: unknown backend {other:?} (socket or dpdk)"),
            };
        }
        if let Some(eal) = &self.dpdk_eal {
            cfg.dpdk.eal_args = eal.split_whitespace().map(str::to_owned).collect();
        }
        self.apply_control_plane(cfg)
    }
}

impl ServeArgs {
    /// Store, etcd and API flags.
    fn apply_control_plane(&self, cfg: &mut Config) -> anyhow::Result<()> {
        if let Some(addr) = self.api_listen {
            cfg.api.listen = addr;
        }
        if let Some(store) = &self.store {
            cfg.store.backend = match store.as_str() {
                "embedded" => StoreBackend::Embedded,
                "etcd" => StoreBackend::Etcd,
                other => bail!("--store: unknown store {other:?} (embedded or etcd)"),
            };
        }
        if let Some(path) = &self.store_path {
            cfg.store.path = Some(path.clone());
        }
        if let Some(dir) = &self.data_dir {
            cfg.store.data_dir = Some(dir.clone());
        }
        if !self.etcd_endpoint.is_empty() {
            cfg.etcd.endpoints = self.etcd_endpoint.clone();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_lists() {
        assert_eq!(parse_cores("0").unwrap(), vec![0]);
        assert_eq!(parse_cores("3,0-2").unwrap(), vec![0, 1, 2, 3]);
        assert!(parse_cores("2-1").is_err());
        assert!(parse_cores("x").is_err());
        assert!(parse_cores("").is_err());
    }

    #[test]
    fn flags_override_defaults() {
        let args = ServeArgs {
            listen: vec!["127.0.0.1:9953".parse().unwrap()],
            domain: vec!["cluster.local".into()],
            cores: Some("1".into()),
            policy: Some("hone-one".into()),
            ..Default::default()
        };
        let c = args.resolve().unwrap();
        assert_eq!(c.dataplane.listen[0].port(), 9953);
        assert_eq!(c.dns.domains[0].to_string(), "cluster.local.");
        assert_eq!(c.dataplane.cores, vec![1]);
        assert_eq!(c.dns.policy, Policy::HoneOne);
        let bad = ServeArgs {
            policy: Some("sometimes".into()),
            ..Default::default()
        };
        assert!(bad.resolve().is_err());
    }
}
