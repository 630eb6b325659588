//! `skylane reload`: asks a running server to reload its config and zone files.
//!
//! By default it calls `POST /v1/reload` on the API named by the config's `[api] listen`
//! (or `--api`), with the token the server uses (`[api] token`, `token-file`, else
//! `<data-dir>/api-token`), over HTTPS trusting `[api] tls-cert` when TLS is on, prints
//! the reply and fails when the new config was rejected. With `--pid` it sends SIGHUP to
//! that process instead (the outcome is then only in the server's log).

use crate::cli::ReloadArgs;
use anyhow::{bail, Context};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use skylane_controlplane::api::reload::ReloadReply;
use skylane_controlplane::api::token_file::{default_token_path, read_token};
use skylane_controlplane::config::Config;
use std::net::SocketAddr;

/// Runs `skylane reload`.
pub fn run(args: &ReloadArgs) -> anyhow::Result<()> {
    if let Some(pid) = args.pid {
        kill(Pid::from_raw(pid), Signal::SIGHUP)
            .with_context(|| format!("sending SIGHUP to process {pid}"))?;
        println!("SIGHUP sent to {pid}: the server's log shows the outcome");
        return Ok(());
    }
    let cfg = match &args.config {
        Some(path) => Config::load(path)
            .context("the config file is invalid: nothing was sent to the server")?,
        None => Config::default(),
    };
    let addr = match &args.api {
        Some(a) => a.clone(),
        None => loopback_for(cfg.api.listen).to_string(),
    };
    let token = token(&cfg, args)?;
    let reply = call(&cfg, &addr, token.as_deref())?;
    print_reply(&reply);
    if !reply.ok {
        bail!(
            "reload rejected: {}",
            reply.error.as_deref().unwrap_or("(no reason given)")
        );
    }
    Ok(())
}

/// An unspecified listen address (`0.0.0.0`, `::`) is reached on loopback.
fn loopback_for(listen: SocketAddr) -> SocketAddr {
    let mut addr = listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    addr
}

fn token(cfg: &Config, args: &ReloadArgs) -> anyhow::Result<Option<String>> {
    use skylane_controlplane::api::AuthMode;
    if cfg.api.auth == AuthMode::None {
        return Ok(None);
    }
    if let Some(t) = &cfg.api.token {
        return Ok(Some(t.clone()));
    }
    let path = match &cfg.api.token_file {
        Some(p) => p.clone(),
        None => {
            let dir = args
                .data_dir
                .clone()
                .unwrap_or_else(|| cfg.store.data_dir());
            default_token_path(&dir)
        }
    };
    let token =
        read_token(&path).with_context(|| format!("reading the API token {}", path.display()))?;
    Ok(Some(token))
}

fn call(cfg: &Config, addr: &str, token: Option<&str>) -> anyhow::Result<ReloadReply> {
    let mut config = ureq::Agent::config_builder().http_status_as_error(false);
    let scheme = match &cfg.api.tls_cert {
        Some(cert) => {
            let pem = std::fs::read(cert).with_context(|| format!("reading {}", cert.display()))?;
            let roots: Vec<_> = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect();
            let tls = ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::Specific(std::sync::Arc::new(roots)))
                .build();
            config = config.tls_config(tls);
            "https"
        }
        None => "http",
    };
    let agent: ureq::Agent = config.build().into();
    let url = format!("{scheme}://{addr}/v1/reload");
    let mut req = agent.post(&url).header("Content-Type", "application/json");
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    let mut resp = req.send("{}").with_context(|| format!("POST {url}"))?;
    let status = resp.status();
    let body = resp
        .body_mut()
        .read_to_string()
        .with_context(|| format!("reading the reply of POST {url}"))?;
    serde_json::from_str(&body).with_context(|| format!("POST {url}: {status}: {body}"))
}

fn print_reply(reply: &ReloadReply) {
    if reply.ok {
        println!("reloaded: applied {}", reply.applied.join(", "));
    }
    if !reply.restart_required.is_empty() {
        println!(
            "restart required for: {} (running values kept until a restart)",
            reply.restart_required.join(", ")
        );
    }
}
