//! Live reload of `[forward]`: [`Forwarder::reconfigure`] swaps in new settings without
//! touching the data plane.
//!
//! Applied live: `upstreams`, `stub-domains`, `stub-domains-list`, `policy`, `timeout-ms`,
//! `max-outstanding`, `cache-size-mb`, `min-ttl`, `max-ttl`, `negative-max-ttl`,
//! `stale-answer-ttl`, `stale-max-age-s`. A resolution already running finishes with the
//! settings it started with. When the upstreams or stub domains change, the cache is purged:
//! its answers came from servers that are no longer asked.
//!
//! Restart required: `allow`, `serve-stale` and `prefetch` form the client policy that every
//! data-plane core (and the TCP server) holds from start-up and consults per query without
//! synchronisation; turning forwarding on or off changes the cores' engine mode.

use super::upstream::Upstreams;
use super::{Forwarder, Settings};

/// What a reconfiguration did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reconfigured {
    /// Something was swapped in.
    pub changed: bool,
    /// The cache was purged (new upstreams or stub domains).
    pub purged: usize,
    /// `forward.*` keys that differ but keep their running value until a restart.
    pub restart_required: Vec<&'static str>,
}

/// The keys whose change needs a restart (see the module docs).
pub fn restart_keys(running: &Settings, new: &Settings) -> Vec<&'static str> {
    let checks = [
        ("forward.allow", running.allow != new.allow),
        (
            "forward.serve-stale",
            running.serve_stale != new.serve_stale,
        ),
        ("forward.prefetch", running.prefetch != new.prefetch),
    ];
    checks
        .into_iter()
        .filter(|(_, changed)| *changed)
        .map(|(key, _)| key)
        .collect()
}

impl Forwarder {
    /// The settings in force.
    pub fn settings(&self) -> std::sync::Arc<Settings> {
        self.settings.load_full()
    }

    /// Swaps in `new` (see the module docs); the client-policy keys and `max_udp` keep
    /// their running values.
    pub fn reconfigure(&self, mut new: Settings) -> Reconfigured {
        let running = self.settings.load_full();
        let restart_required = restart_keys(&running, &new);
        new.allow = running.allow.clone();
        new.serve_stale = running.serve_stale;
        new.prefetch = running.prefetch;
        new.max_udp = running.max_udp;
        if format!("{new:?}") == format!("{running:?}") {
            return Reconfigured {
                restart_required,
                ..Reconfigured::default()
            };
        }
        let servers_changed = new.upstreams != running.upstreams
            || new.stubs != running.stubs
            || new.policy != running.policy;
        if servers_changed {
            let upstreams = Upstreams::new(new.policy, &new.upstreams, &new.stubs);
            self.upstreams.store(std::sync::Arc::new(upstreams));
        }
        if new.cache_bytes != running.cache_bytes {
            self.cache.set_budget(new.cache_bytes);
        }
        let new_servers = new.upstreams != running.upstreams || new.stubs != running.stubs;
        self.settings.store(std::sync::Arc::new(new));
        let purged = if new_servers {
            self.cache.purge_all()
        } else {
            0
        };
        Reconfigured {
            changed: true,
            purged,
            restart_required,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::forward::Forwarding;

    fn settings(toml: &str) -> Settings {
        let cfg = Config::parse(toml).unwrap();
        Settings::from_config(&cfg, &[]).unwrap().unwrap()
    }

    #[test]
    fn upstreams_and_limits_swap_client_policy_waits() {
        let f = Forwarding::new(settings("[forward]\nupstreams = [\"10.0.0.1:53\"]\n"), 1);
        let fwd = &f.forwarder;
        let same = fwd.reconfigure(settings("[forward]\nupstreams = [\"10.0.0.1:53\"]\n"));
        assert_eq!(same, Reconfigured::default());
        let next = settings(
            "[forward]\nupstreams = [\"10.0.0.2:53\"]\ntimeout-ms = 300\ncache-size-mb = 1\n\
             prefetch = false\n",
        );
        let r = fwd.reconfigure(next);
        assert!(r.changed);
        assert_eq!(r.restart_required, vec!["forward.prefetch"]);
        let now = fwd.settings();
        assert_eq!(now.upstreams, vec!["10.0.0.2:53".parse().unwrap()]);
        assert_eq!(now.timeout.as_millis(), 300);
        assert_eq!(now.cache_bytes, 1 << 20);
        assert!(now.prefetch, "the running client policy is kept");
        let addrs: Vec<_> = fwd.upstreams.load().all().iter().map(|u| u.addr).collect();
        assert_eq!(addrs, vec!["10.0.0.2:53".parse().unwrap()]);
    }
}
