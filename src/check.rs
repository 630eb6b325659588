//! `skylane check-config`: validates a config file and everything it names — zone files,
//! the API's certificate, key and token files, the etcd settings (endpoints, TLS files),
//! the store paths, the forwarding settings and the DPDK EAL argument syntax. Every
//! problem found is one [`Finding`]: `FILE:LINE: key: reason` (the line of the key in the
//! config file; `FILE` alone when the key is not in the file, i.e. a default or a flag).

use crate::cli::ServeArgs;
use crate::eal::check_eal_args;
use crate::static_data::load_static;
use skylane_controlplane::api::token_file::read_token;
use skylane_controlplane::config::{line_of, line_of_reason, Config};
use skylane_controlplane::store::Backend as StoreBackend;
use skylane_controlplane::zonefile::load_zone_file;
use std::path::{Path, PathBuf};

/// One problem: where (`file:line`), which key, what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub location: String,
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {}", self.location, self.key, self.message)
    }
}

/// The config text being checked, to locate keys.
struct Source {
    path: Option<PathBuf>,
    text: String,
}

impl Source {
    /// `file:line` of `section.key` (`file` when the key is not in the file).
    fn locate(&self, section: &str, key: &str) -> String {
        let Some(path) = &self.path else {
            return "(command line)".into();
        };
        match line_of(&self.text, section, key) {
            Some(line) => format!("{}:{line}", path.display()),
            None => path.display().to_string(),
        }
    }

    fn finding(&self, section: &str, key: &str, message: impl Into<String>) -> Finding {
        Finding {
            location: self.locate(section, key),
            key: format!("{section}.{key}"),
            message: message.into(),
        }
    }
}

/// Checks everything; `Ok` with a one-line summary, or every finding.
pub fn check(args: &ServeArgs) -> Result<String, Vec<Finding>> {
    let src = match &args.config {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => Source {
                path: Some(path.clone()),
                text,
            },
            Err(e) => return Err(vec![finding_at(path, 0, "config", e.to_string())]),
        },
        None => Source {
            path: None,
            text: String::new(),
        },
    };
    let mut cfg = match Config::parse_unvalidated(&src.text) {
        Ok(cfg) => cfg,
        Err((line, reason)) => {
            let path = src.path.clone().unwrap_or_default();
            let key = key_at_line(&src.text, line);
            return Err(vec![finding_at(&path, line, &key, reason)]);
        }
    };
    if let Err(e) = args.apply(&mut cfg) {
        return Err(vec![Finding {
            location: "(command line)".into(),
            key: "flags".into(),
            message: format!("{e:#}"),
        }]);
    }
    let mut findings = Vec::new();
    check_zone_files(&src, &cfg, &mut findings);
    check_api_files(&src, &cfg, &mut findings);
    check_etcd(&src, &cfg, &mut findings);
    check_store(&src, &cfg, &mut findings);
    for (i, problem) in check_eal_args(&cfg.dpdk.eal_args) {
        let mut f = src.finding("dpdk", "eal-args", problem);
        f.key = format!("dpdk.eal-args[{i}]");
        findings.push(f);
    }
    if let Err(reason) = cfg.validate() {
        let section = reason.split(['.', ':']).next().unwrap_or("");
        if !findings.iter().any(|f| f.key.starts_with(section)) {
            let path = src.path.clone().unwrap_or_default();
            let line = line_of_reason(&src.text, &reason);
            let key = reason
                .split([':', ' '])
                .next()
                .unwrap_or("config")
                .to_string();
            let message = match reason.split_once(": ") {
                Some((head, rest)) if head == key => rest.to_string(),
                _ => reason.clone(),
            };
            findings.push(finding_at(&path, line, &key, message));
        }
    }
    if !findings.is_empty() {
        return Err(findings);
    }
    summary(&cfg).map_err(|e| vec![src.finding("forward", "upstreams", format!("{e:#}"))])
}

/// `section.key` of the `key = …` at `line` (1-based); `config` when there is none.
fn key_at_line(text: &str, line: usize) -> String {
    let mut section = String::new();
    for (i, l) in text.lines().enumerate().take(line) {
        let l = l.trim();
        if let Some(rest) = l.strip_prefix('[') {
            section = rest
                .trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_string();
            if i + 1 == line {
                return section;
            }
        } else if i + 1 == line {
            if let Some((key, _)) = l.split_once('=') {
                let key = key.trim().trim_matches('"');
                return match section.as_str() {
                    "" => key.to_string(),
                    s => format!("{s}.{key}"),
                };
            }
        }
    }
    "config".into()
}

fn finding_at(path: &Path, line: usize, key: &str, message: String) -> Finding {
    let location = match line {
        0 => path.display().to_string(),
        l => format!("{}:{l}", path.display()),
    };
    Finding {
        location,
        key: key.into(),
        message,
    }
}

fn summary(cfg: &Config) -> anyhow::Result<String> {
    let data = load_static(cfg)?;
    crate::settings::forward_settings(cfg)?;
    Ok(format!(
        "config ok: {} domain(s), {} static record(s)",
        data.zone.domains.len(),
        data.records.len()
    ))
}

fn check_zone_files(src: &Source, cfg: &Config, out: &mut Vec<Finding>) {
    for (i, path) in cfg.dns.zone_files.iter().enumerate() {
        if let Err(e) = load_zone_file(path, None, cfg.dns.ttl) {
            let mut f = src.finding("dns", "zone-files", e.to_string());
            f.key = format!("dns.zone-files[{i}]");
            out.push(f);
        }
    }
}

/// What a PEM file must hold.
#[derive(Clone, Copy)]
enum Pem {
    Certificates,
    PrivateKey,
}

/// Reads `path` and checks it holds at least one certificate (or a private key).
fn check_pem(path: &Path, want: Pem) -> Result<(), String> {
    use ureq::tls::{parse_pem, PemItem};
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut certs = 0;
    let mut keys = 0;
    for item in parse_pem(&bytes) {
        match item.map_err(|e| format!("{}: not valid PEM: {e}", path.display()))? {
            PemItem::Certificate(_) => certs += 1,
            PemItem::PrivateKey(_) => keys += 1,
            _ => {}
        }
    }
    match want {
        Pem::Certificates if certs == 0 => Err(format!("{}: no certificate in it", path.display())),
        Pem::PrivateKey if keys == 0 => Err(format!("{}: no private key in it", path.display())),
        _ => Ok(()),
    }
}

fn check_api_files(src: &Source, cfg: &Config, out: &mut Vec<Finding>) {
    let api = &cfg.api;
    let pems = [
        ("tls-cert", &api.tls_cert, Pem::Certificates),
        ("tls-key", &api.tls_key, Pem::PrivateKey),
    ];
    for (key, path, want) in pems {
        if let Some(path) = path {
            if let Err(e) = check_pem(path, want) {
                out.push(src.finding("api", key, e));
            }
        }
    }
    if let Some(path) = &api.token_file {
        match read_token(path) {
            Ok(t) if t.is_empty() => {
                out.push(src.finding("api", "token-file", format!("{}: empty", path.display())))
            }
            Ok(_) => {}
            Err(e) => {
                out.push(src.finding("api", "token-file", format!("{}: {e}", path.display())))
            }
        }
    }
}

fn check_etcd(src: &Source, cfg: &Config, out: &mut Vec<Finding>) {
    let in_file = src.text.lines().any(|l| l.trim() == "[etcd]");
    if cfg.store.backend != StoreBackend::Etcd && !in_file {
        return;
    }
    let etcd = &cfg.etcd;
    for (i, e) in etcd.endpoints.iter().enumerate() {
        if let Err(reason) = check_endpoint(e) {
            let mut f = src.finding("etcd", "endpoints", format!("{e:?}: {reason}"));
            f.key = format!("etcd.endpoints[{i}]");
            out.push(f);
        }
    }
    if let Err(reason) = etcd.validate() {
        let key = reason
            .strip_prefix("etcd.")
            .and_then(|r| r.split([' ', ':', '/']).next())
            .unwrap_or("endpoints");
        if !out
            .iter()
            .any(|f| f.key.starts_with(&format!("etcd.{key}")))
        {
            out.push(src.finding("etcd", key, reason.clone()));
        }
    }
    let pems = [
        ("cert", &etcd.cert, Pem::Certificates),
        ("key", &etcd.key, Pem::PrivateKey),
        ("ca", &etcd.ca, Pem::Certificates),
    ];
    for (key, path, want) in pems {
        if let Some(path) = path {
            if let Err(e) = check_pem(path, want) {
                out.push(src.finding("etcd", key, e));
            }
        }
    }
}

/// `http(s)://host:port` with a host and a valid port.
fn check_endpoint(e: &str) -> Result<(), String> {
    let rest = e
        .strip_prefix("http://")
        .or_else(|| e.strip_prefix("https://"))
        .ok_or("must start with http:// or https://")?;
    let authority = rest.split('/').next().unwrap_or("");
    let (host, port) = authority
        .rsplit_once(':')
        .ok_or("needs a port (host:port)")?;
    if host.is_empty() || host == "[]" {
        return Err("needs a host".into());
    }
    port.parse::<u16>()
        .ok()
        .filter(|&p| p > 0)
        .map(|_| ())
        .ok_or_else(|| format!("bad port {port:?}"))
}

fn check_store(src: &Source, cfg: &Config, out: &mut Vec<Finding>) {
    let dir_ok = |p: &Path| -> Result<(), String> {
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => Err(format!("{}: not a directory", p.display())),
            // Created at start when its parent exists.
            Err(_) => match p.parent() {
                Some(parent) if parent.as_os_str().is_empty() || parent.is_dir() => Ok(()),
                _ => Err(format!("{}: neither it nor its parent exists", p.display())),
            },
        }
    };
    if let Some(dir) = &cfg.store.data_dir {
        if let Err(e) = dir_ok(dir) {
            out.push(src.finding("store", "data-dir", e));
        }
    }
    if cfg.store.backend == StoreBackend::Embedded {
        if let Some(path) = &cfg.store.path {
            let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
            if let Some(Err(e)) = parent.map(dir_ok) {
                out.push(src.finding("store", "path", e));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_name_the_key_of_their_line() {
        let text = "[dns]\nttl = 1\n[api]\nbogus = 2\n";
        assert_eq!(key_at_line(text, 4), "api.bogus");
        assert_eq!(key_at_line(text, 2), "dns.ttl");
        assert_eq!(key_at_line(text, 3), "api");
        assert_eq!(key_at_line("", 1), "config");
    }

    #[test]
    fn endpoints() {
        assert!(check_endpoint("http://10.0.0.1:2379").is_ok());
        assert!(check_endpoint("https://[fd00::1]:2379").is_ok());
        assert!(check_endpoint("10.0.0.1:2379").is_err());
        assert!(check_endpoint("http://10.0.0.1").is_err());
        assert!(check_endpoint("http://:2379").is_err());
        assert!(check_endpoint("http://h:99999").is_err());
    }
}
