//! Shared by the operations tests: a `skylane serve --config FILE` whose config file and
//! zone file the test rewrites, and `skylane reload` runs against it.
#![allow(dead_code)]

use crate::common::{bin, Server};
use hickory_proto::op::Message;
use hickory_proto::rr::RData;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const TOKEN: &str = "ops-test-token";

/// The zone file the server starts with: `a.ex.test.` → 10.1.1.1.
pub const ZONE: &str = "$ORIGIN ex.test.\n\
@ 3600 IN SOA ns1 admin 1 3600 600 86400 60\n\
@ 3600 IN NS ns1\n\
ns1 3600 IN A 10.0.0.53\n\
a 60 IN A 10.1.1.1\n";

/// A server started from `<dir>/skylane.toml` (see [`config_text`]).
pub struct Appliance {
    pub server: Server,
    pub config: PathBuf,
    pub zone: PathBuf,
}

/// `[forward]` of the tests that do not forward.
pub const NO_FORWARD: &str = "enabled = false\n";

/// The config file for `dir` and the given ports, with `extra` TOML in `[dns]` and
/// `forward` as the `[forward]` section.
pub fn config_text(dir: &Path, port: u16, api_port: u16, extra: &str, forward: &str) -> String {
    format!(
        "[dns]\nzone-files = [\"{zone}\"]\nexample-records = false\n{extra}\n\
         [dataplane]\nlisten = [\"127.0.0.1:{port}\"]\ncores = [0]\n\
         [api]\nlisten = \"127.0.0.1:{api_port}\"\ntoken = \"{TOKEN}\"\n\
         [store]\ndata-dir = \"{data}\"\n\
         [forward]\n{forward}\n",
        zone = dir.join("z.zone").display(),
        data = dir.join("data").display(),
    )
}

impl Appliance {
    /// Starts `skylane serve --config` with [`ZONE`] and `envs` in its environment.
    pub fn start(envs: &[(&str, &Path)]) -> Appliance {
        Appliance::start_forwarding(envs, NO_FORWARD)
    }

    /// [`Appliance::start`] with `forward` as the `[forward]` section.
    pub fn start_forwarding(envs: &[(&str, &Path)], forward: &str) -> Appliance {
        let forward = forward.to_string();
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().to_path_buf();
        let (config, zone) = (base.join("skylane.toml"), base.join("z.zone"));
        std::fs::write(&zone, ZONE).unwrap();
        let cfg = config.clone();
        let server = Server::launch_env(dir, Some(TOKEN), envs, move |port, api_port| {
            std::fs::write(&cfg, config_text(&base, port, api_port, "", &forward)).unwrap();
            vec!["serve".into(), "--config".into(), cfg.display().to_string()]
        });
        server.wait_until_ready();
        Appliance {
            server,
            config,
            zone,
        }
    }

    /// Rewrites the config file with `extra` in `[dns]` (and `port` as the listen port).
    pub fn rewrite_config(&self, port: u16, extra: &str) {
        let text = config_text(
            self.server.dir(),
            port,
            self.server.api_port,
            extra,
            NO_FORWARD,
        );
        std::fs::write(&self.config, text).unwrap();
    }

    /// Rewrites the config file with `forward` as the `[forward]` section (same ports).
    pub fn rewrite_forward(&self, forward: &str) {
        let (dir, port) = (self.server.dir(), self.server.port);
        let text = config_text(dir, port, self.server.api_port, "", forward);
        std::fs::write(&self.config, text).unwrap();
    }

    /// `skylane reload --config <file>`.
    pub fn reload(&self) -> Output {
        Command::new(bin())
            .args(["reload", "--config", self.config.to_str().unwrap()])
            .output()
            .expect("run skylane reload")
    }

    /// SIGHUP to the server.
    pub fn sighup(&self) {
        let pid = self.server.child.id().to_string();
        let status = Command::new("kill").args(["-HUP", &pid]).status().unwrap();
        assert!(status.success(), "kill -HUP {pid}");
    }

    /// True while the server process runs.
    pub fn alive(&mut self) -> bool {
        self.server.child.try_wait().unwrap().is_none()
    }
}

/// The A addresses of an answer (empty for none).
pub fn a_addrs(msg: &Message) -> Vec<IpAddr> {
    msg.answers()
        .iter()
        .filter_map(|rr| match rr.data() {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            _ => None,
        })
        .collect()
}

/// `skylane reload` of the rewritten config: its output, asserting success (`ok`) or failure.
pub fn reload_expecting(app: &Appliance, ok: bool) -> String {
    let out = app.reload();
    let said = text(&out);
    assert_eq!(out.status.success(), ok, "{said}");
    said
}

/// stdout and stderr of a finished command, for assertions.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// How long a reload may take to show on a loaded machine.
pub const WITHIN: std::time::Duration = std::time::Duration::from_secs(60);

/// Polls `check` every 50 ms until it holds; panics naming `what` after [`WITHIN`].
pub fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + WITHIN;
    while !check() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: not within {WITHIN:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The skylane-perf binary next to the skylane binary (built on demand, same profile).
pub fn perf_bin() -> PathBuf {
    let dir = Path::new(bin()).parent().unwrap().to_path_buf();
    let perf = dir.join("skylane-perf");
    if !perf.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let release = dir.ends_with("release");
        let mut args = vec!["build", "-p", "skylane-perf"];
        if release {
            args.push("--release");
        }
        let ok = Command::new(cargo).args(&args).status().unwrap().success();
        assert!(ok, "cargo {args:?}");
    }
    perf
}
