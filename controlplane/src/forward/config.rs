//! `[forward]`: the forwarding section of the configuration file (upstreams, stub domains,
//! who may use forwarding, the cache's limits). Parsed with the rest of the file by
//! [`crate::config::Config`], which re-exports these types; docs/config.md lists every key.

use crate::config::{de_prefixes, parse_prefix};
use serde::{Deserialize, Deserializer};
use skylane_dataplane::name::Name;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
/// Upstream selection order (`[forward] policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum UpstreamPolicy {
    #[default]
    Sequential,
    Random,
    RoundRobin,
}

/// `[forward]`: resolving names outside the served zones through upstream
/// resolvers, with a cache. See docs/forwarding.md.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct ForwardSection {
    /// Forwarding is on when upstreams exist; `false` turns it off.
    pub enabled: bool,
    /// `ip:port` (or `ip`, port 53); `None`: the nameservers of /etc/resolv.conf.
    #[serde(deserialize_with = "de_opt_upstreams")]
    pub upstreams: Option<Vec<SocketAddr>>,
    /// `"corp.example." = ["10.1.1.1:53"]`: the longest suffix wins.
    pub stub_domains: BTreeMap<String, Vec<String>>,
    /// The seed's `suffix@ip:port` form.
    pub stub_domains_list: Vec<String>,
    /// Client prefixes that may use forwarding (default: loopback, RFC 1918, ULA).
    #[serde(deserialize_with = "de_prefixes")]
    pub allow: Vec<(IpAddr, u8)>,
    pub timeout_ms: u64,
    pub policy: UpstreamPolicy,
    pub max_outstanding: usize,
    pub cache_size_mb: u64,
    pub min_ttl: u32,
    pub max_ttl: u32,
    pub negative_max_ttl: u32,
    pub serve_stale: bool,
    pub stale_answer_ttl: u32,
    pub stale_max_age_s: u32,
    pub prefetch: bool,
}

impl Default for ForwardSection {
    fn default() -> Self {
        let allow = [
            "127.0.0.0/8",
            "::1/128",
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "fc00::/7",
        ];
        ForwardSection {
            enabled: true,
            upstreams: None,
            stub_domains: BTreeMap::new(),
            stub_domains_list: Vec::new(),
            allow: allow.iter().filter_map(|p| parse_prefix(p).ok()).collect(),
            timeout_ms: 1500,
            policy: UpstreamPolicy::Sequential,
            max_outstanding: 10_000,
            cache_size_mb: 64,
            min_ttl: 0,
            max_ttl: 86_400,
            negative_max_ttl: 3600,
            serve_stale: true,
            stale_answer_ttl: 30,
            stale_max_age_s: 86_400,
            prefetch: true,
        }
    }
}

impl ForwardSection {
    /// Every stub domain (table and `suffix@ip:port` list) as
    /// `(lowercased suffix, servers)`.
    pub fn stubs(&self) -> Result<Vec<(Name, Vec<SocketAddr>)>, String> {
        let mut out: Vec<(Name, Vec<SocketAddr>)> = Vec::new();
        let mut add = |key: &str, suffix: &str, server: &str| -> Result<(), String> {
            let name = Name::from_ascii(suffix)
                .map_err(|e| format!("{key}: bad domain {suffix:?}: {e}"))?
                .to_lowercase();
            let addr = parse_upstream(server).map_err(|e| format!("{key}: {suffix}: {e}"))?;
            match out.iter_mut().find(|(n, _)| *n == name) {
                Some((_, v)) => v.push(addr),
                None => out.push((name, vec![addr])),
            }
            Ok(())
        };
        for (suffix, servers) in &self.stub_domains {
            if servers.is_empty() {
                return Err(format!("stub-domains: {suffix}: no server given"));
            }
            for server in servers {
                add("stub-domains", suffix, server)?;
            }
        }
        for item in &self.stub_domains_list {
            let (suffix, server) = item
                .rsplit_once('@')
                .ok_or(format!("stub-domains-list: {item:?} is not suffix@ip:port"))?;
            add("stub-domains-list", suffix, server)?;
        }
        Ok(out)
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        self.stubs()?;
        if self.timeout_ms == 0 {
            return Err("timeout-ms: must be above 0".into());
        }
        if self.max_outstanding == 0 {
            return Err("max-outstanding: must be above 0".into());
        }
        if self.min_ttl > self.max_ttl {
            return Err("min-ttl: must not exceed max-ttl".into());
        }
        if self.cache_size_mb > 1 << 20 {
            return Err("cache-size-mb: at most 1048576".into());
        }
        Ok(())
    }
}

/// `ip:port`, `[v6]:port` or a bare IP (port 53).
pub fn parse_upstream(s: &str) -> Result<SocketAddr, String> {
    let s = s.trim();
    s.parse::<SocketAddr>()
        .or_else(|_| s.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
        .map_err(|_| format!("bad upstream {s:?} (want ip:port)"))
}

fn de_opt_upstreams<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<SocketAddr>>, D::Error> {
    let v: Vec<String> = Vec::deserialize(d)?;
    v.iter()
        .map(|s| parse_upstream(s).map_err(serde::de::Error::custom))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}
