//! The TOML configuration file.
//!
//! One [`Config`] with a section per concern (`[dns]`, `[dataplane]`,
//! `[tcp]`, `[dpdk]`, `[store]`, `[etcd]`, `[api]`, `[health]`, `[rrl]` in `rrl`). Every key has a default,
//! so an empty file (or no file) is a working appliance. Unknown keys and bad
//! values are errors that name the file, line and key. docs/config.md is the
//! reference for every key; keep it true when changing this file.

mod rrl;

use crate::api::ApiConfig;
pub use crate::dns_keys::{parse_nsid, parse_reverse_zones, MAX_NSID_LEN};
pub use crate::forward::config::{parse_upstream, ForwardSection, UpstreamPolicy};
use crate::health::HealthConfig;
pub use crate::k8s::config::KubernetesSection;
use crate::store::{EtcdConfig, StoreConfig};
pub use rrl::RrlSection;
use serde::{Deserialize, Deserializer};
use skylane_dataplane::name::Name;
use skylane_dataplane::record::Policy;
use skylane_dataplane::snapshot::{SoaDefaults, ZoneConfig};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

/// A configuration that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {reason}")]
    Invalid {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{0}")]
    Semantic(String),
}

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct Config {
    pub dns: DnsConfig,
    pub dataplane: DataplaneConfig,
    pub tcp: TcpSection,
    pub dpdk: DpdkSection,
    pub store: StoreConfig,
    pub etcd: EtcdConfig,
    pub api: ApiConfig,
    pub health: HealthConfig,
    pub forward: ForwardSection,
    pub kubernetes: KubernetesSection,
    pub rrl: RrlSection,
}

/// `[dns]`: what is served and how.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct DnsConfig {
    /// Served suffixes (authoritative).
    #[serde(deserialize_with = "de_names")]
    pub domains: Vec<Name>,
    /// RFC 1035 master files loaded as static records; each apex is served.
    pub zone_files: Vec<PathBuf>,
    /// Default record TTL.
    pub ttl: u32,
    /// Default answer policy.
    #[serde(deserialize_with = "de_from_str")]
    pub policy: Policy,
    /// Per-name policy overrides: `"web.skylane.local." = "hone-one"`.
    pub policies: BTreeMap<String, String>,
    /// Generate PTR records from A/AAAA records.
    pub auto_ptr: bool,
    /// Largest UDP response payload we send (EDNS clients are clamped to it).
    pub max_udp_size: u16,
    /// Serve a few example records under `skylane.local.` (when that domain is served).
    pub example_records: bool,
    pub soa: SoaSection,
    /// The server identifier returned to clients that send the NSID option (RFC 5001):
    /// text, or `0x` and hex digits for raw bytes. Unset: none is returned.
    pub nsid: Option<String>,
    /// Reverse zones answered from the auto-PTR tree; unset: derived (docs/config.md).
    pub reverse_zones: Option<Vec<String>>,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            domains: vec![Name::from_ascii("skylane.local.").expect("valid name")],
            zone_files: Vec::new(),
            ttl: 30,
            policy: Policy::All,
            policies: BTreeMap::new(),
            auto_ptr: true,
            max_udp_size: 1232,
            example_records: true,
            soa: SoaSection::default(),
            nsid: None,
            reverse_zones: None,
        }
    }
}

/// `[dns.soa]`: the synthetic SOA made for each served domain.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct SoaSection {
    #[serde(deserialize_with = "de_opt_name")]
    pub mname: Option<Name>,
    #[serde(deserialize_with = "de_opt_name")]
    pub rname: Option<Name>,
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    /// Negative-caching TTL for NXDOMAIN/NODATA.
    pub minimum: u32,
}

impl Default for SoaSection {
    fn default() -> Self {
        let d = SoaDefaults::default();
        SoaSection {
            mname: d.mname,
            rname: d.rname,
            refresh: d.refresh,
            retry: d.retry,
            expire: d.expire,
            minimum: d.minimum,
        }
    }
}

/// Which data plane answers UDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    #[default]
    Socket,
    Dpdk,
}

/// `[dataplane]`: the per-core UDP loops.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct DataplaneConfig {
    pub backend: Backend,
    /// UDP listen addresses (socket backend; TCP uses them too unless `[tcp] listen` is set).
    pub listen: Vec<SocketAddr>,
    /// One pinned loop per entry.
    pub cores: Vec<usize>,
    /// Packets per recvmmsg/sendmmsg batch (socket backend).
    pub batch: usize,
}

impl Default for DataplaneConfig {
    fn default() -> Self {
        DataplaneConfig {
            backend: Backend::Socket,
            listen: vec!["127.0.0.1:5353".parse().expect("valid")],
            cores: vec![0],
            batch: 32,
        }
    }
}

/// `[tcp]`: DNS over TCP (RFC 7766).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct TcpSection {
    pub enabled: bool,
    /// Defaults to `[dataplane] listen`.
    pub listen: Option<Vec<SocketAddr>>,
    pub idle_timeout_ms: u64,
    pub max_connections: usize,
}

impl Default for TcpSection {
    fn default() -> Self {
        TcpSection {
            enabled: true,
            listen: None,
            idle_timeout_ms: 10_000,
            max_connections: 1024,
        }
    }
}

/// What happens to frames the DPDK loop does not answer itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ExceptionPathKind {
    #[default]
    Tap,
    None,
}

/// `[dpdk]`: the kernel-bypass backend.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct DpdkSection {
    pub eal_args: Vec<String>,
    pub port: u16,
    /// Addresses we own, `IP/prefix`.
    #[serde(deserialize_with = "de_prefixes")]
    pub addresses: Vec<(IpAddr, u8)>,
    pub exception_path: ExceptionPathKind,
    /// Frames per second each data-plane core hands to the exception path at most
    /// (`exception-pps`); the rest is dropped and counted as policed.
    pub exception_pps: u32,
}

impl Default for DpdkSection {
    fn default() -> Self {
        DpdkSection {
            eal_args: Vec::new(),
            port: 0,
            addresses: Vec::new(),
            exception_path: ExceptionPathKind::default(),
            exception_pps: 10_000,
        }
    }
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        Config::parse(&text).map_err(|(line, reason)| ConfigError::Invalid {
            path: path.to_owned(),
            line,
            reason,
        })
    }

    /// Parses config text; errors are `(line, reason)`.
    pub fn parse(text: &str) -> Result<Config, (usize, String)> {
        let cfg = Config::parse_unvalidated(text)?;
        cfg.validate()
            .map_err(|reason| (line_of_reason(text, &reason), reason))?;
        Ok(cfg)
    }

    /// Parses config text without the checks of [`Config::validate`] (syntax, types and
    /// per-value checks only); errors are `(line, reason)`.
    pub fn parse_unvalidated(text: &str) -> Result<Config, (usize, String)> {
        toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
                .unwrap_or(1);
            (line, e.message().to_string())
        })
    }

    /// Checks what types alone cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.dns.domains.is_empty() && self.dns.zone_files.is_empty() {
            return Err("domains: at least one domain (or a zone file) is required".into());
        }
        if self.dataplane.cores.is_empty() {
            return Err("cores: at least one core is required".into());
        }
        if self.dataplane.backend == Backend::Socket && self.dataplane.listen.is_empty() {
            return Err("listen: at least one address is required".into());
        }
        if !(1..=1024).contains(&self.dataplane.batch) {
            return Err("batch: must be between 1 and 1024".into());
        }
        if self.dpdk.exception_pps == 0 {
            return Err(
                "exception-pps: must be at least 1 (exception-path = \"none\" drops everything)"
                    .into(),
            );
        }
        if self.dns.max_udp_size < 512 {
            return Err("max-udp-size: must be at least 512".into());
        }
        if let Some(nsid) = &self.dns.nsid {
            parse_nsid(nsid).map_err(|e| format!("nsid: {e}"))?;
        }
        if let Some(zones) = &self.dns.reverse_zones {
            parse_reverse_zones(zones).map_err(|e| format!("reverse-zones: {e}"))?;
        }
        self.store.validate()?;
        self.health.validate()?;
        self.forward.validate()?;
        self.kubernetes.validate()?;
        self.rrl.validate()?;
        self.api.validate().map_err(|e| format!("api: {e}"))?;
        for (name, policy) in &self.dns.policies {
            Name::from_ascii(name).map_err(|e| format!("policies: bad name {name:?}: {e}"))?;
            policy
                .parse::<Policy>()
                .map_err(|e| format!("policies: {name}: {e}"))?;
        }
        Ok(())
    }

    /// The snapshot's view of this configuration. `extra_domains` are zone
    /// apexes found in zone files.
    pub fn zone_config(&self, extra_domains: &[Name]) -> ZoneConfig {
        let mut domains: Vec<Name> = Vec::new();
        for d in self
            .dns
            .domains
            .iter()
            .chain(extra_domains)
            .chain(self.kubernetes.served_zone())
        {
            let d = d.to_lowercase();
            if !domains.contains(&d) {
                domains.push(d);
            }
        }
        let policies = self
            .dns
            .policies
            .iter()
            .filter_map(|(n, p)| Some((Name::from_ascii(n).ok()?.to_lowercase(), p.parse().ok()?)))
            .collect();
        let s = &self.dns.soa;
        ZoneConfig {
            domains,
            default_ttl: self.dns.ttl,
            default_policy: self.dns.policy,
            policies,
            auto_ptr: self.dns.auto_ptr,
            soa: SoaDefaults {
                mname: s.mname.clone(),
                rname: s.rname.clone(),
                refresh: s.refresh,
                retry: s.retry,
                expire: s.expire,
                minimum: s.minimum,
            },
            nsid: self.dns.nsid.as_deref().and_then(|n| parse_nsid(n).ok()),
            reverse_zones: self
                .dns
                .reverse_zones
                .as_deref()
                .and_then(|z| parse_reverse_zones(z).ok()),
        }
    }
}

/// Line of the key a [`Config::validate`] reason starts with (`cores: …` → the `cores =`
/// line; 1 when absent).
pub fn line_of_reason(text: &str, reason: &str) -> usize {
    let key = reason.split(':').next().unwrap_or("");
    line_of_key(text, key)
}

/// Line of `key =` inside `[section]` (dotted: `dns.soa`; empty: top level), `None` when
/// the key is not in the text (its default is in force).
pub fn line_of(text: &str, section: &str, key: &str) -> Option<usize> {
    let mut current = String::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim_start();
        if let Some(rest) = l.strip_prefix('[') {
            current = rest.split(']').next().unwrap_or("").trim().to_string();
            continue;
        }
        if current == section && l.starts_with(key) && l[key.len()..].trim_start().starts_with('=')
        {
            return Some(i + 1);
        }
    }
    None
}

/// Line of the first `key =` in the text (1 when absent).
fn line_of_key(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            !key.is_empty() && l.starts_with(key) && l[key.len()..].trim_start().starts_with('=')
        })
        .map(|i| i + 1)
        .unwrap_or(1)
}

fn de_names<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Name>, D::Error> {
    let v: Vec<String> = Vec::deserialize(d)?;
    v.iter()
        .map(|s| {
            Name::from_ascii(s)
                .map_err(|e| serde::de::Error::custom(format!("bad domain {s:?}: {e}")))
        })
        .collect()
}

fn de_opt_name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Name>, D::Error> {
    let v: Option<String> = Option::deserialize(d)?;
    v.map(|s| {
        Name::from_ascii(&s).map_err(|e| serde::de::Error::custom(format!("bad name {s:?}: {e}")))
    })
    .transpose()
}

fn de_from_str<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr<Err = String>,
{
    let s = String::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

/// Parses `IP/prefix` (a bare IP means a host prefix).
pub fn parse_prefix(s: &str) -> Result<(IpAddr, u8), String> {
    let (ip, len) = match s.split_once('/') {
        Some((ip, len)) => (ip, Some(len)),
        None => (s, None),
    };
    let ip: IpAddr = ip.parse().map_err(|_| format!("bad address {s:?}"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = match len {
        Some(l) => l
            .parse::<u8>()
            .ok()
            .filter(|&l| l <= max)
            .ok_or(format!("bad prefix length in {s:?}"))?,
        None => max,
    };
    Ok((ip, len))
}

pub(crate) fn de_prefixes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(IpAddr, u8)>, D::Error> {
    let v: Vec<String> = Vec::deserialize(d)?;
    v.iter()
        .map(|s| parse_prefix(s).map_err(serde::de::Error::custom))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_default_appliance() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.dns.domains[0].to_string(), "skylane.local.");
        assert_eq!(c.dataplane.listen, vec!["127.0.0.1:5353".parse().unwrap()]);
        assert_eq!(c.dataplane.backend, Backend::Socket);
        assert!(c.tcp.enabled);
    }

    #[test]
    fn parses_the_documented_shape() {
        let text = r#"
[dns]
domains = ["skylane.local.", "cluster.local."]
zone-files = ["/etc/skylane/cluster.local.zone"]
ttl = 30
policy = "hone-one"
policies = { "web.cluster.local." = "random-one" }
[dataplane]
backend = "socket"
listen = ["127.0.0.1:5353", "[::1]:5353"]
cores = [0, 1]
[dpdk]
eal-args = ["--no-huge"]
addresses = ["10.99.0.1/24", "fd00:99::1/64"]
exception-path = "tap"
"#;
        let c = Config::parse(text).unwrap();
        assert_eq!(c.dns.domains.len(), 2);
        assert_eq!(c.dns.policy, Policy::HoneOne);
        assert_eq!(c.dataplane.cores, vec![0, 1]);
        assert_eq!(c.dpdk.addresses[1].1, 64);
        assert_eq!(c.dpdk.exception_pps, 10_000, "the default");
        let c = Config::parse(&text.replace("[dpdk]", "[dpdk]\nexception-pps = 500")).unwrap();
        assert_eq!(c.dpdk.exception_pps, 500);
        for bad in ["0", "-1", "\"fast\""] {
            let t = text.replace("[dpdk]", &format!("[dpdk]\nexception-pps = {bad}"));
            let (line, reason) = Config::parse(&t).unwrap_err();
            assert_eq!(line, 13, "{bad}: {reason}");
        }
        let z = c.zone_config(&[]);
        assert_eq!(z.policies[0].1, Policy::RandomOne);
    }

    #[test]
    fn the_documented_etcd_example_parses() {
        let text = include_str!("../../docs/examples/etcd-appliance.toml");
        let c: Config = toml::from_str(text).unwrap();
        assert_eq!(c.store.backend, crate::store::Backend::Etcd);
        assert_eq!(c.etcd.endpoints.len(), 3);
        assert_eq!(c.dataplane.cores, vec![2, 3, 4, 5]);
        assert!(c.api.token_file.is_some());
    }

    /// Each `(text, line, needle)` fails to parse at `line` with `needle` in the reason.
    fn assert_errors(cases: &[(&str, usize, &str)]) {
        for &(text, line, needle) in cases {
            let (l, reason) = Config::parse(text).unwrap_err();
            assert_eq!(l, line, "{text:?}: {reason}");
            assert!(reason.contains(needle), "{text:?}: {reason}");
        }
    }

    #[test]
    fn line_of_finds_the_key_in_its_section() {
        let text = "[dns]\nttl = 1\n[api]\nttl = 2\ntls-cert = \"x\"\n";
        assert_eq!(line_of(text, "dns", "ttl"), Some(2));
        assert_eq!(line_of(text, "api", "ttl"), Some(4));
        assert_eq!(line_of(text, "api", "tls-cert"), Some(5));
        assert_eq!(line_of(text, "api", "tls-key"), None);
    }

    #[test]
    fn errors_name_the_line_and_key() {
        let cases = [
            ("[dns]\nttl = 30\nbogus = 1\n", 3, "bogus"),
            ("[dns]\n\npolicy = \"most\"\n", 3, "unknown policy"),
            ("[dataplane]\nlisten = [\"1.2.3.4\"]\n", 2, "socket address"),
            ("[dns]\ndomains = [\"a..b\"]\n", 2, "bad domain"),
            ("[dataplane]\ncores = []\n", 2, "cores"),
            ("[dpdk]\naddresses = [\"10.0.0.1/40\"]\n", 2, "prefix"),
            ("[dns\n", 1, ""),
            ("[health]\nenabled = true\nfall = 0\n", 3, "fall"),
            ("[health]\ninterval-ms = 5\n", 2, "interval-ms"),
        ];
        assert_errors(&cases);
    }

    #[test]
    fn forward_section_parses_and_errors_name_the_key() {
        let text = r#"
[forward]
upstreams = ["10.0.0.2:53", "10.0.0.3"]
stub-domains-list = ["corp.example.@10.1.1.1:53"]
policy = "round-robin"
allow = ["10.0.0.0/8"]
cache-size-mb = 0
[forward.stub-domains]
"eu.corp.example." = ["10.2.1.1:5353"]
"#;
        let c = Config::parse(text).unwrap();
        let f = &c.forward;
        assert_eq!(f.upstreams.as_ref().unwrap()[1].port(), 53);
        assert_eq!(f.policy, UpstreamPolicy::RoundRobin);
        assert_eq!(f.stubs().unwrap().len(), 2);
        assert_eq!(f.cache_size_mb, 0);
        let d = Config::parse("").unwrap().forward;
        assert!(d.enabled && d.upstreams.is_none() && d.serve_stale && d.prefetch);
        assert_eq!(
            (d.timeout_ms, d.max_outstanding, d.cache_size_mb),
            (1500, 10_000, 64)
        );
        assert_eq!(d.allow.len(), 6);
        let cases = [
            ("[forward]\nupstreams = [\"nope\"]\n", 2, "bad upstream"),
            (
                "[forward]\nstub-domains-list = [\"corp.example.\"]\n",
                2,
                "stub-domains-list",
            ),
            ("[forward]\npolicy = \"fastest\"\n", 2, "unknown variant"),
            ("[forward]\n\ntimeout-ms = 0\n", 3, "timeout-ms"),
            ("[forward]\nmin-ttl = 10\nmax-ttl = 5\n", 2, "min-ttl"),
        ];
        assert_errors(&cases);
    }
}
