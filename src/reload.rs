//! Live reload (SIGHUP, `skylane reload`, `POST /v1/reload`): re-reads the config file
//! (with the command line's flags applied again) and the zone files, and swaps in what can
//! change live without touching the data plane:
//!
//! - `[dns]` (domains, zone files, TTL, policies, auto-PTR, SOA, example records): the
//!   store sync restarts with the new zone configuration and static records and publishes
//!   a fully rebuilt snapshot; the data plane serves the old snapshot until then. The API's
//!   zone view is swapped at once.
//! - `[health]` (while the agent runs): the health agent restarts with the new settings.
//! - `[forward]` (while forwarding runs): upstreams, stub domains, policy, timeout,
//!   outstanding limit, cache size and TTL limits are swapped into the running forwarder
//!   (see `skylane_controlplane::forward::live`); the cache is purged when the upstreams or
//!   stub domains change. `allow`, `serve-stale`, `prefetch` and turning forwarding on or off
//!   need a restart: the data-plane cores hold them from start-up.
//! - `[rrl]`: the settings are swapped into a shared handle; each data-plane core takes them
//!   at its next batch, with an empty account table.
//!
//! Everything else that changed is reported as "restart required" (log and reply) and keeps
//! its running value: see [`restart_required`]. A config that fails to load, validate or
//! whose zone files fail to parse is rejected: its error is logged and returned, nothing
//! changes.

use crate::cli::ServeArgs;
use crate::notify::Notifier;
use crate::static_data::{load_static, StaticData};
use anyhow::Context;
use arc_swap::ArcSwap;
use skylane_controlplane::api::reload::ReloadReply;
use skylane_controlplane::config::Config;
use skylane_controlplane::forward::{Forwarder, Settings};
use skylane_controlplane::health::HealthConfig;
use skylane_controlplane::sync::SyncMetrics;
use skylane_dataplane::record::Record;
use skylane_dataplane::rrl::RrlHandle;
use skylane_dataplane::snapshot::ZoneConfig;
use std::fmt::Debug;
use std::sync::Arc;
use tokio::sync::watch;
use tracing::{error, info, warn};

/// The health agent's inputs: its settings and the zone-file records it may check.
#[derive(Clone)]
pub struct HealthInputs {
    pub cfg: HealthConfig,
    pub statics: Arc<[Record]>,
}

impl HealthInputs {
    pub fn new(cfg: &HealthConfig, data: &StaticData) -> HealthInputs {
        HealthInputs {
            cfg: cfg.clone(),
            statics: data.zone_file_records().into(),
        }
    }
}

/// Where a reload publishes what changed (made by `store_wiring::spawn`).
pub struct LiveHandles {
    pub sync_metrics: Arc<SyncMetrics>,
    /// The store sync's zone configuration and static records.
    pub statics: watch::Sender<Arc<StaticData>>,
    /// The health agent's inputs (`None`: no agent runs in this process).
    pub health: Option<watch::Sender<HealthInputs>>,
    /// The API's view of the served zones.
    pub api_zone: Arc<ArcSwap<ZoneConfig>>,
    /// The running forwarder (`None`: forwarding is off in this process).
    pub forwarder: Option<Arc<Forwarder>>,
    /// The data plane's response rate limiter (`None`: no data plane in this process).
    pub rrl: Option<Arc<RrlHandle>>,
}

fn differs<T: Debug>(a: &T, b: &T) -> bool {
    // Cold path: sections without PartialEq compare by their Debug form.
    format!("{a:?}") != format!("{b:?}")
}

/// The keys (sections) that differ between the running and the new config and only take
/// effect after a restart.
pub fn restart_required(running: &Config, new: &Config) -> Vec<&'static str> {
    let (r, n) = (running, new);
    let checks = [
        (
            "dataplane.backend",
            r.dataplane.backend != n.dataplane.backend,
        ),
        ("dataplane.listen", r.dataplane.listen != n.dataplane.listen),
        ("dataplane.cores", r.dataplane.cores != n.dataplane.cores),
        ("dataplane.batch", r.dataplane.batch != n.dataplane.batch),
        ("dns.max-udp-size", r.dns.max_udp_size != n.dns.max_udp_size),
        ("tcp", r.tcp != n.tcp),
        ("dpdk", r.dpdk != n.dpdk),
        ("store", r.store != n.store),
        ("etcd", r.etcd != n.etcd),
        ("api", r.api != n.api),
        ("kubernetes", differs(&r.kubernetes, &n.kubernetes)),
        ("health.enabled", r.health.enabled != n.health.enabled),
        (
            "health.report-prefix",
            r.health.report_prefix != n.health.report_prefix,
        ),
        (
            "health.heart-prefix",
            r.health.heart_prefix != n.health.heart_prefix,
        ),
    ];
    checks
        .into_iter()
        .filter(|(_, changed)| *changed)
        .map(|(key, _)| key)
        .collect()
}

/// A new config, its static data and its forwarding settings.
pub struct Prepared {
    pub cfg: Config,
    pub data: StaticData,
    pub forward: Option<Settings>,
}

/// Loads a new config and its static data (blocking: file reads, zone parsing).
pub fn prepare(args: &ServeArgs) -> anyhow::Result<Prepared> {
    let cfg = args.resolve()?;
    let data = load_static(&cfg)?;
    let forward = crate::settings::forward_settings(&cfg)?;
    Ok(Prepared { cfg, data, forward })
}

/// Owns the running config and applies reloads.
pub struct Reloader {
    args: ServeArgs,
    running: Config,
    live: LiveHandles,
    notifier: Arc<Notifier>,
}

impl Reloader {
    pub fn new(
        args: ServeArgs,
        running: Config,
        live: LiveHandles,
        notifier: Arc<Notifier>,
    ) -> Self {
        Reloader {
            args,
            running,
            live,
            notifier,
        }
    }

    /// The sync's metrics (readiness).
    pub fn sync_metrics(&self) -> &Arc<SyncMetrics> {
        &self.live.sync_metrics
    }

    /// Re-reads the config and zone files and applies them (see the module docs).
    pub async fn reload(&mut self, trigger: &str) -> ReloadReply {
        info!("{trigger}: reloading the configuration");
        self.notifier
            .send("RELOADING=1\nSTATUS=reloading the configuration");
        let args = self.args.clone();
        let prepared = tokio::task::spawn_blocking(move || prepare(&args))
            .await
            .context("reload task")
            .and_then(|r| r);
        let reply = match prepared {
            Ok(p) => self.apply(p),
            Err(e) => {
                error!("reload rejected, the running configuration is kept: {e:#}");
                ReloadReply {
                    ok: false,
                    error: Some(format!("{e:#}")),
                    ..ReloadReply::default()
                }
            }
        };
        let status = match &reply.error {
            Some(e) => format!("reload rejected ({e}); serving the previous configuration"),
            None if reply.restart_required.is_empty() => "serving (reloaded)".to_string(),
            None => format!(
                "serving (reloaded; restart required for {})",
                reply.restart_required.join(", ")
            ),
        };
        self.notifier.send(&format!("READY=1\nSTATUS={status}"));
        reply
    }

    fn apply(&mut self, prepared: Prepared) -> ReloadReply {
        let Prepared {
            cfg: new,
            data,
            forward,
        } = prepared;
        let mut restart: Vec<String> = restart_required(&self.running, &new)
            .into_iter()
            .map(str::to_owned)
            .collect();
        let mut applied = vec!["dns".to_string(), "zone-files".to_string()];
        let max_udp = self.running.dns.max_udp_size;
        self.running.dns = new.dns.clone();
        self.running.dns.max_udp_size = max_udp;
        let data = Arc::new(data);
        self.live.api_zone.store(data.zone.clone());
        self.live.statics.send_replace(data.clone());
        crate::dataplane::reload_rrl(
            self.live.rrl.as_deref(),
            &mut self.running,
            &new,
            &mut applied,
        );

        let health_live = self.running.health.enabled
            && new.health.enabled
            && self.running.health.report_prefix == new.health.report_prefix
            && self.running.health.heart_prefix == new.health.heart_prefix;
        if let (Some(tx), true) = (&self.live.health, health_live) {
            let next = HealthInputs::new(&new.health, &data);
            let changed = {
                let current = tx.borrow();
                current.cfg != next.cfg || current.statics != next.statics
            };
            if changed {
                tx.send_replace(next);
                self.running.health = new.health.clone();
                applied.push("health".to_string());
            }
        }
        if let Some(done) = self.apply_forward(&new, forward, &mut restart) {
            applied.push(done);
        }
        for key in &restart {
            warn!("reload: {key} changed: restart required (the running value is kept until then)");
        }
        info!(
            applied = ?applied,
            restart_required = ?restart,
            domains = ?data.zone.domains.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
            static_records = data.records.len(),
            "configuration reloaded"
        );
        ReloadReply {
            ok: true,
            applied,
            restart_required: restart,
            error: None,
        }
    }
}

impl Reloader {
    /// Swaps the new `[forward]` into the running forwarder; `Some("forward")` when
    /// something changed. Keys that cannot change live are added to `restart`.
    fn apply_forward(
        &mut self,
        new: &Config,
        settings: Option<Settings>,
        restart: &mut Vec<String>,
    ) -> Option<String> {
        if !differs(&self.running.forward, &new.forward) {
            return None;
        }
        let (fwd, settings) = match (&self.live.forwarder, settings) {
            (Some(fwd), Some(s)) => (fwd, s),
            (None, None) => {
                self.running.forward = new.forward.clone();
                return None;
            }
            _ => {
                restart.push("forward.enabled".to_string());
                return None;
            }
        };
        let done = fwd.reconfigure(settings);
        restart.extend(done.restart_required.iter().map(|k| k.to_string()));
        let (allow, stale, prefetch) = {
            let f = &self.running.forward;
            (f.allow.clone(), f.serve_stale, f.prefetch)
        };
        self.running.forward = new.forward.clone();
        self.running.forward.allow = allow;
        self.running.forward.serve_stale = stale;
        self.running.forward.prefetch = prefetch;
        if !done.changed {
            return None;
        }
        let now = fwd.settings();
        info!(upstreams = ?now.upstreams, stubs = now.stubs.len(), purged = done.purged,
            "forwarding reconfigured");
        Some("forward".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_changes_need_no_restart() {
        let running = Config::parse("").unwrap();
        let new = Config::parse("[dns]\nttl = 99\ndomains = [\"a.test.\"]\n[health]\nfall = 5\n")
            .unwrap();
        assert!(restart_required(&running, &new).is_empty());
    }

    #[test]
    fn listen_backend_cores_store_need_a_restart() {
        let running = Config::parse("").unwrap();
        let new = Config::parse(
            "[dataplane]\nlisten = [\"127.0.0.1:6000\"]\ncores = [1]\n[store]\nbackend = \"etcd\"\n\
             [dns]\nmax-udp-size = 4096\n[api]\nlisten = \"127.0.0.1:9100\"\n",
        )
        .unwrap();
        assert_eq!(
            restart_required(&running, &new),
            vec![
                "dataplane.listen",
                "dataplane.cores",
                "dns.max-udp-size",
                "store",
                "api"
            ]
        );
    }
}
