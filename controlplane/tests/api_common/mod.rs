//! The `api_*` tests' harness: the in-process API server of the testkit.
#![allow(unused_imports)]

pub use skylane_testkit::api::*;

use skylane_controlplane::api::{ApiConfig, ApiState};
use skylane_controlplane::config::Config;
use skylane_controlplane::forward::{Forwarding, Settings};

/// A server (requiring [`TOKEN`], synced and ready) whose state carries a forwarder with
/// its cache (an unused upstream) plus whatever `extend` adds.
#[allow(dead_code)] // not every api_* test binary uses it
pub fn start_forwarding(extend: impl FnOnce(ApiState) -> ApiState) -> TestServer {
    let mut cfg = Config::default();
    cfg.forward.enabled = true;
    cfg.forward.upstreams = Some(vec!["127.0.0.1:9".parse().unwrap()]);
    let settings = Settings::from_config(&cfg, &[]).unwrap().unwrap();
    let forwarding = Forwarding::new(settings, 2);
    let api = ApiConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        token: Some(TOKEN.into()),
        ..ApiConfig::default()
    };
    let s = TestServer::start_extended(api, move |state| {
        extend(state.with_forwarder(Some(forwarding.forwarder.clone())))
    });
    s.start_sync();
    s.wait_ready();
    s
}
