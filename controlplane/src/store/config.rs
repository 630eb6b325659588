//! `[store]` and `[etcd]` configuration sections.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Which backend holds the records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// A local redb file (default).
    #[default]
    Embedded,
    /// An etcd v3 cluster.
    Etcd,
}

/// `[store]`: where records live and under which key prefixes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct StoreConfig {
    /// `"embedded"` (default) or `"etcd"`.
    pub backend: Backend,
    /// Directory of Skylane's own files (`api-token`, `last-known`, the embedded store);
    /// default `~/.local/share/skylane` (the user's data directory + `skylane`).
    pub data_dir: Option<PathBuf>,
    /// Embedded store file; default `<data-dir>/store.redb`.
    pub path: Option<PathBuf>,
    /// Key prefix of records (SkyDNS layout).
    pub prefix: String,
    /// Key prefix of health status keys (`<monitor-prefix>/<ip>`).
    pub monitor_prefix: String,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            backend: Backend::Embedded,
            data_dir: None,
            path: None,
            prefix: "/skydns".to_string(),
            monitor_prefix: "/skydns/monitor/status".to_string(),
        }
    }
}

impl StoreConfig {
    /// Checks the prefixes; the error says which key is wrong.
    pub fn validate(&self) -> Result<(), String> {
        for (key, value) in [
            ("prefix", &self.prefix),
            ("monitor-prefix", &self.monitor_prefix),
        ] {
            let trimmed = value.trim_end_matches('/');
            if !value.starts_with('/') || trimmed.is_empty() {
                return Err(format!(
                    "store.{key} = {value:?}: must start with '/' and not be '/' alone"
                ));
            }
            if trimmed.contains("//") {
                return Err(format!("store.{key} = {value:?}: empty path segment"));
            }
        }
        Ok(())
    }

    /// The data directory: `data-dir`, else [`default_data_dir`].
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(default_data_dir)
    }

    /// The embedded store file: `path`, else `<data-dir>/store.redb`.
    pub fn embedded_path(&self) -> PathBuf {
        match &self.path {
            Some(p) => p.clone(),
            None => self.data_dir().join("store.redb"),
        }
    }
}

/// `~/.local/share/skylane` (the user's data directory + `skylane`; `./skylane` without one).
pub fn default_data_dir() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("skylane")
}

/// The key prefixes a store's records and status keys live under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPrefixes {
    pub prefix: String,
    pub monitor_prefix: String,
}

impl Default for KeyPrefixes {
    fn default() -> Self {
        KeyPrefixes::from(&StoreConfig::default())
    }
}

impl From<&StoreConfig> for KeyPrefixes {
    fn from(cfg: &StoreConfig) -> Self {
        KeyPrefixes {
            prefix: cfg.prefix.clone(),
            monitor_prefix: cfg.monitor_prefix.clone(),
        }
    }
}

/// `[etcd]`: how to reach etcd when `store.backend = "etcd"`. Debug output redacts the
/// password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct EtcdConfig {
    /// Client URLs (`http://` or `https://`).
    pub endpoints: Vec<String>,
    /// Client certificate (PEM) for mutual TLS; needs `key`.
    pub cert: Option<PathBuf>,
    /// Client private key (PEM); needs `cert`.
    pub key: Option<PathBuf>,
    /// CA bundle (PEM) to verify the servers; default: system roots.
    pub ca: Option<PathBuf>,
    /// Server name checked in the certificate; default: the endpoint's host.
    pub tls_server_name: Option<String>,
    /// etcd user (role-based auth); needs `password`.
    pub username: Option<String>,
    pub password: Option<String>,
    /// Timeout to establish a connection.
    pub dial_timeout_ms: u64,
    /// Timeout of each unary request (get / put / txn / one list page).
    pub request_timeout_ms: u64,
    /// HTTP/2 keep-alive ping interval (detects a dead server).
    pub keep_alive_ms: u64,
    /// Keep-alive ping answer timeout.
    pub keep_alive_timeout_ms: u64,
    /// Keys per range request while listing (all pages at one revision). Large on purpose:
    /// etcd 3.4 walks the whole remaining range for every page, so small pages make a list
    /// quadratic (1 M keys: 11.4 s with 10 k pages, 3.1 s with 100 k pages).
    pub page_size: i64,
    /// The servers' `--max-txn-ops` (default 128): imports are split into transactions of at
    /// most this many operations and compares each.
    pub max_txn_ops: usize,
}

impl Default for EtcdConfig {
    fn default() -> Self {
        EtcdConfig {
            endpoints: vec!["http://127.0.0.1:2379".to_string()],
            cert: None,
            key: None,
            ca: None,
            tls_server_name: None,
            username: None,
            password: None,
            dial_timeout_ms: 5000,
            request_timeout_ms: 10_000,
            keep_alive_ms: 5000,
            keep_alive_timeout_ms: 3000,
            page_size: 100_000,
            max_txn_ops: 128,
        }
    }
}

/// The password is a secret: Debug output never shows it.
impl std::fmt::Debug for EtcdConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdConfig")
            .field("endpoints", &self.endpoints)
            .field("cert", &self.cert)
            .field("key", &self.key)
            .field("ca", &self.ca)
            .field("tls_server_name", &self.tls_server_name)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("dial_timeout_ms", &self.dial_timeout_ms)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .field("keep_alive_ms", &self.keep_alive_ms)
            .field("keep_alive_timeout_ms", &self.keep_alive_timeout_ms)
            .field("page_size", &self.page_size)
            .field("max_txn_ops", &self.max_txn_ops)
            .finish()
    }
}

impl EtcdConfig {
    /// Checks endpoints and credential pairs; the error says which key is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.endpoints.is_empty() {
            return Err("etcd.endpoints: at least one endpoint is needed".into());
        }
        for e in &self.endpoints {
            if !(e.starts_with("http://") || e.starts_with("https://")) {
                return Err(format!(
                    "etcd.endpoints: {e:?} must start with http:// or https://"
                ));
            }
        }
        let tls = self.endpoints.iter().any(|e| e.starts_with("https://"));
        if tls && self.endpoints.iter().any(|e| e.starts_with("http://")) {
            return Err("etcd.endpoints: do not mix http:// and https://".into());
        }
        if !tls && (self.cert.is_some() || self.key.is_some() || self.ca.is_some()) {
            return Err("etcd.cert/key/ca need https:// endpoints".into());
        }
        if self.cert.is_some() != self.key.is_some() {
            return Err("etcd.cert and etcd.key go together".into());
        }
        if self.username.is_some() != self.password.is_some() {
            return Err("etcd.username and etcd.password go together".into());
        }
        if self.max_txn_ops < 2 {
            return Err("etcd.max-txn-ops must be at least 2".into());
        }
        if self.page_size < 1 {
            return Err("etcd.page-size must be at least 1".into());
        }
        for (k, v) in [
            ("dial-timeout-ms", self.dial_timeout_ms),
            ("request-timeout-ms", self.request_timeout_ms),
            ("keep-alive-ms", self.keep_alive_ms),
            ("keep-alive-timeout-ms", self.keep_alive_timeout_ms),
        ] {
            if v == 0 {
                return Err(format!("etcd.{k} must be greater than 0"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kebab_case_and_rejects_unknown_keys() {
        let cfg: StoreConfig = toml::from_str(
            "backend = \"etcd\"\nprefix = \"/dns\"\nmonitor-prefix = \"/dns/mon\"\n",
        )
        .unwrap();
        assert_eq!(cfg.backend, Backend::Etcd);
        assert_eq!(cfg.prefix, "/dns");
        assert_eq!(cfg.monitor_prefix, "/dns/mon");
        assert!(toml::from_str::<StoreConfig>("prefx = \"/a\"").is_err());
        assert!(toml::from_str::<StoreConfig>("backend = \"zk\"").is_err());
        let etcd: EtcdConfig = toml::from_str(
            "endpoints = [\"https://e:2379\"]\ndial-timeout-ms = 100\nca = \"/ca.pem\"",
        )
        .unwrap();
        assert_eq!(etcd.dial_timeout_ms, 100);
        assert!(etcd.validate().is_ok());
    }

    #[test]
    fn validation_names_the_bad_key() {
        let bad = StoreConfig {
            prefix: "skydns".into(),
            ..StoreConfig::default()
        };
        assert!(bad.validate().unwrap_err().contains("store.prefix"));
        assert!(StoreConfig::default().validate().is_ok());
        let e = EtcdConfig {
            cert: Some("/c".into()),
            ..EtcdConfig::default()
        };
        assert!(e.validate().is_err());
        let e = EtcdConfig {
            username: Some("u".into()),
            ..EtcdConfig::default()
        };
        assert!(e.validate().unwrap_err().contains("password"));
        assert!(EtcdConfig::default().validate().is_ok());
    }

    #[test]
    fn secrets_and_data_dir() {
        let e = EtcdConfig {
            username: Some("u".into()),
            password: Some("hunter2-secret".into()),
            ..EtcdConfig::default()
        };
        let shown = format!("{e:?}");
        assert!(
            !shown.contains("hunter2-secret") && shown.contains("<redacted>"),
            "{shown}"
        );
        let s: StoreConfig = toml::from_str("data-dir = \"/var/lib/skylane\"").unwrap();
        assert_eq!(
            s.embedded_path(),
            PathBuf::from("/var/lib/skylane/store.redb")
        );
        assert_eq!(StoreConfig::default().data_dir(), default_data_dir());
    }
}
