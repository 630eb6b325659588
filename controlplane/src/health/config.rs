//! `[health]`: the scanner's configuration (docs/config.md lists every key).

use serde::{Deserialize, Serialize};

/// How the results of one address's ports make its verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Require {
    /// Every check must pass (default).
    #[default]
    All,
    /// One passing check is enough.
    Any,
}

/// `[health]`: checks, timing, agents and the partition guard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct HealthConfig {
    /// Run an agent inside `skylane serve`.
    pub enabled: bool,
    /// Agent name; default: the host name.
    pub agent: Option<String>,
    /// Each address is checked once per interval.
    pub interval_ms: u64,
    /// Timeout of one check (connect, echo or GET).
    pub timeout_ms: u64,
    /// Consecutive failures before DOWN.
    pub fall: u32,
    /// Consecutive successes before UP.
    pub rise: u32,
    /// Checks in flight at most.
    pub concurrency: usize,
    /// TCP ports checked on every address (besides SRV ports and the status's `ports`).
    pub ports: Vec<u16>,
    /// `all` or `any` of the checks must pass.
    pub require: Require,
    /// Also send an ICMP echo.
    pub icmp: bool,
    /// HTTP GET this path on the ports instead of a bare connect (2xx/3xx is healthy).
    pub http_path: Option<String>,
    /// Check the addresses of zone-file records too.
    pub zone_files: bool,
    /// Per-address last results: `<report-prefix>/<ip>`.
    pub report_prefix: String,
    /// Agent heartbeats: `<heart-prefix>/<agent>` on a lease.
    pub heart_prefix: String,
    /// Lease TTL of an agent's heartbeat: a dead agent's addresses move after this.
    pub lease_ttl_s: u64,
    /// Partition guard: hold DOWN writes when more than this share of an agent's addresses fail.
    pub panic_threshold: f64,
    /// ... and the agent holds at least this many addresses.
    pub panic_min_targets: usize,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            enabled: false,
            agent: None,
            interval_ms: 10_000,
            timeout_ms: 2_000,
            fall: 3,
            rise: 2,
            concurrency: 1024,
            ports: vec![80],
            require: Require::All,
            icmp: false,
            http_path: None,
            zone_files: false,
            report_prefix: "/skydns/monitor/report".to_string(),
            heart_prefix: "/skydns/monitor/heart".to_string(),
            lease_ttl_s: 30,
            panic_threshold: 0.5,
            panic_min_targets: 10,
        }
    }
}

impl HealthConfig {
    /// Checks what types alone cannot; the error starts with the key (`fall: ...`).
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("interval-ms", self.interval_ms >= 10, "must be at least 10"),
            ("timeout-ms", self.timeout_ms >= 1, "must be at least 1"),
            ("fall", self.fall >= 1, "must be at least 1"),
            ("rise", self.rise >= 1, "must be at least 1"),
            ("concurrency", self.concurrency >= 1, "must be at least 1"),
            ("lease-ttl-s", self.lease_ttl_s >= 1, "must be at least 1"),
            (
                "panic-threshold",
                (0.0..=1.0).contains(&self.panic_threshold),
                "must be between 0 and 1",
            ),
        ];
        if let Some((key, _, why)) = positive.iter().find(|(_, ok, _)| !ok) {
            return Err(format!("{key}: [health] {key} {why}"));
        }
        if self.ports.contains(&0) {
            return Err("ports: [health] ports must not contain 0".into());
        }
        if let Some(path) = &self.http_path {
            if !path.starts_with('/') {
                return Err(format!(
                    "http-path: [health] http-path {path:?} must start with '/'"
                ));
            }
        }
        for (key, value) in [
            ("report-prefix", &self.report_prefix),
            ("heart-prefix", &self.heart_prefix),
        ] {
            if !value.starts_with('/') || value.trim_end_matches('/').is_empty() {
                return Err(format!(
                    "{key}: [health] {key} = {value:?} must start with '/' and not be '/' alone"
                ));
            }
        }
        if let Some(agent) = &self.agent {
            if agent.is_empty() || agent.contains('/') {
                return Err(format!(
                    "agent: [health] agent {agent:?} must be non-empty without '/'"
                ));
            }
        }
        Ok(())
    }

    /// The agent name: `agent`, else the host name, else `"skylane"`.
    pub fn agent_name(&self) -> String {
        if let Some(a) = &self.agent {
            return a.clone();
        }
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().replace('/', "_"))
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "skylane".to_string())
    }

    /// The prefix without a trailing `/`.
    pub fn report_prefix(&self) -> &str {
        self.report_prefix.trim_end_matches('/')
    }

    /// The prefix without a trailing `/`.
    pub fn heart_prefix(&self) -> &str {
        self.heart_prefix.trim_end_matches('/')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_errors_name_the_key() {
        HealthConfig::default().validate().unwrap();
        let bad = |f: fn(&mut HealthConfig)| {
            let mut c = HealthConfig::default();
            f(&mut c);
            c.validate().unwrap_err()
        };
        assert!(bad(|c| c.fall = 0).starts_with("fall:"));
        assert!(bad(|c| c.panic_threshold = 1.5).starts_with("panic-threshold:"));
        assert!(bad(|c| c.http_path = Some("x".into())).starts_with("http-path:"));
        assert!(bad(|c| c.heart_prefix = "/".into()).starts_with("heart-prefix:"));
        assert!(bad(|c| c.ports = vec![0]).starts_with("ports:"));
    }
}
