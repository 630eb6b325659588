//! The HTTP(S) client: token, optional CA, JSON in and out, server errors as messages.

use anyhow::{bail, Context};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// A connection to one Skylane API.
pub struct Client {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

/// A non-2xx answer, with the server's message.
#[derive(Debug)]
pub struct ServerError {
    pub status: u16,
    pub message: String,
}

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "server answered {}: {}", self.status, self.message)
    }
}

impl std::error::Error for ServerError {}

impl Client {
    pub fn new(
        addr: &str,
        token: Option<String>,
        ca_cert: Option<&Path>,
    ) -> anyhow::Result<Client> {
        let base = base_url(addr)?;
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)));
        if let Some(path) = ca_cert {
            let pem =
                std::fs::read(path).with_context(|| format!("--ca-cert {}", path.display()))?;
            let certs: Vec<ureq::tls::Certificate<'static>> = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect();
            if certs.is_empty() {
                bail!("--ca-cert {}: no certificate found", path.display());
            }
            config = config.tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(ureq::tls::RootCerts::Specific(std::sync::Arc::new(certs)))
                    .build(),
            );
        }
        Ok(Client {
            base,
            token: token.filter(|t| !t.is_empty()),
            agent: config.build().into(),
        })
    }

    /// Sends a request; 2xx bodies are parsed as JSON (or returned as a string).
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        let url = format!("{}{}", self.base, path);
        let mut req = ureq::http::Request::builder().method(method).uri(&url);
        if let Some(t) = &self.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        let payload = match body {
            Some(v) => {
                req = req.header("Content-Type", "application/json");
                serde_json::to_string(v)?
            }
            None => String::new(),
        };
        let req = req.body(payload).context("building the request")?;
        let mut resp = self
            .agent
            .run(req)
            .with_context(|| format!("cannot reach the Skylane API at {}", self.base))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_string()
            .unwrap_or_default();
        if !(200..300).contains(&status) {
            let message = match serde_json::from_str::<Value>(&text) {
                Ok(v) if v.get("error").is_some() => match v.get("field").and_then(Value::as_str) {
                    Some(f) => format!("{} (field {f})", v["error"].as_str().unwrap_or_default()),
                    None => v["error"].as_str().unwrap_or_default().to_string(),
                },
                _ => text.trim().to_string(),
            };
            return Err(ServerError { status, message }.into());
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }
}

/// The base URL for `--addr`: `http://host:port` and `https://host:port` as given, a bare
/// `host:port` (or `[v6]:port`) as `http://host:port`; anything else is an error.
pub fn base_url(addr: &str) -> anyhow::Result<String> {
    let usage =
        || format!("--addr {addr:?}: expected host:port, http://host:port or https://host:port");
    let (scheme, rest) = addr
        .trim()
        .split_once("://")
        .unwrap_or(("http", addr.trim()));
    if !matches!(scheme, "http" | "https") {
        bail!("--addr {addr:?}: unsupported scheme {scheme:?} (expected http or https)");
    }
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() {
        bail!(usage());
    }
    let url = format!("{scheme}://{rest}");
    let uri: ureq::http::Uri = url.parse().with_context(usage)?;
    if uri.host().is_none_or(str::is_empty) || !matches!(uri.path(), "" | "/") {
        bail!(usage());
    }
    Ok(url)
}

/// Percent-encodes one path segment.
pub fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~*".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
