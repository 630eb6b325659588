//! Three `skylane scan` agents sharing a real etcd: exactly one checker per address (counted at
//! the backends), and a SIGKILLed agent's addresses taken over by the others.

mod common;
mod health_support;

use common::{bin, Server};
use health_support::*;
use serde_json::{json, Value};
use skylane_testkit::etcd::EtcdServer;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const INTERVAL_MS: u64 = 300;

struct Agent {
    name: String,
    child: Child,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_config(dir: &std::path::Path, etcd: &str, port: u16) -> std::path::PathBuf {
    let cfg = dir.join("scan.toml");
    std::fs::write(
        &cfg,
        format!(
            "[dns]\nexample-records = false\n[store]\nbackend = \"etcd\"\n[etcd]\n\
             endpoints = [\"{etcd}\"]\n[health]\ninterval-ms = {INTERVAL_MS}\ntimeout-ms = 300\n\
             fall = 3\nrise = 2\nports = [{port}]\nlease-ttl-s = 2\n{API_CONFIG}"
        ),
    )
    .unwrap();
    cfg
}

fn start_agent(cfg: &std::path::Path, dir: &std::path::Path, name: &str) -> Agent {
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    let child = Command::new(bin())
        .args(["scan", "--config", cfg.to_str().unwrap(), "--agent", name])
        .env("SKYLANE_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn skylane scan");
    Agent {
        name: name.into(),
        child,
    }
}

/// ip → agent named in its report.
fn report_agents(api: u16) -> Option<BTreeMap<IpAddr, String>> {
    let v = api_get(api, "/v1/health")?;
    v["addresses"]
        .as_array()?
        .iter()
        .map(|r| {
            Some((
                r["ip"].as_str()?.parse().ok()?,
                r["check"]["agent"].as_str()?.to_string(),
            ))
        })
        .collect()
}

fn live_agents(api: u16) -> Option<Vec<(String, u64)>> {
    let v: Value = api_get(api, "/v1/health/agents")?;
    v["agents"]
        .as_array()?
        .iter()
        .map(|a| Some((a["agent"].as_str()?.to_string(), a["targets"].as_u64()?)))
        .collect()
}

#[test]
fn three_agents_one_checker_each_and_takeover_after_sigkill() {
    let Some(etcd) = EtcdServer::start() else {
        return;
    };
    let (port, mut bs) = backends(21, 6);
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &etcd.endpoint(), port);
    let zone = "$ORIGIN other.test.\n$TTL 5\nx A 127.0.0.1\n";
    let s = Server::start(zone, &["--config", cfg.to_str().unwrap()]);
    let ips: Vec<String> = bs.iter().map(|b| b.ip().to_string()).collect();
    api_put(
        s.api_port,
        "/v1/records/svc.skylane.local.",
        &json!([{"type": "A", "ips": ips}]),
    );
    let agents: Vec<Agent> = ["a1", "a2", "a3"]
        .iter()
        .map(|n| start_agent(&cfg, dir.path(), n))
        .collect();

    wait_for("three live agents sharing six addresses", || {
        let live = live_agents(s.api_port)?;
        (live.len() == 3 && live.iter().map(|(_, t)| t).sum::<u64>() == 6).then_some(())
    });
    wait_for("a report for every address", || {
        (report_agents(s.api_port)?.len() == 6).then_some(())
    });

    // Steady state: each backend is checked by one agent, once per interval.
    let before: Vec<u64> = bs.iter().map(Backend::connections).collect();
    let window = Duration::from_secs(3);
    std::thread::sleep(window);
    let counts: Vec<u64> = bs
        .iter()
        .zip(&before)
        .map(|(b, c)| b.connections() - c)
        .collect();
    let one_checker = window.as_millis() as u64 / INTERVAL_MS;
    println!("connections per backend in {window:?}: {counts:?} (one checker: ~{one_checker})");
    for (b, &n) in bs.iter().zip(&counts) {
        assert!(n >= 1, "{} was not checked", b.ip());
        assert!(
            n <= one_checker + one_checker / 2 + 2,
            "{} got {n} connections: more than one checker",
            b.ip()
        );
    }

    // SIGKILL the agent checking the first address.
    let owners = report_agents(s.api_port).unwrap();
    let victim_name = owners[&bs[0].ip()].clone();
    let mut agents = agents;
    let pos = agents.iter().position(|a| a.name == victim_name).unwrap();
    let mut victim = agents.remove(pos);
    let t0 = Instant::now();
    victim.child.kill().unwrap();
    let _ = victim.child.wait();
    let orphaned: Vec<IpAddr> = owners
        .iter()
        .filter(|(_, a)| **a == victim_name)
        .map(|(ip, _)| *ip)
        .collect();
    wait_for(
        "the other agents to take over the killed agent's addresses",
        || {
            let now = report_agents(s.api_port)?;
            orphaned
                .iter()
                .all(|ip| now.get(ip).is_some_and(|a| *a != victim_name))
                .then_some(())
        },
    );
    println!(
        "takeover of {} address(es): {} ms (lease TTL + interval = {} ms)",
        orphaned.len(),
        t0.elapsed().as_millis(),
        2000 + INTERVAL_MS
    );
    let live = live_agents(s.api_port).unwrap();
    assert_eq!(live.len(), 2, "{live:?}");

    // A backend stopped afterwards is still detected, by a surviving agent.
    bs[0].stop();
    let gone = bs[0].ip();
    wait_for("the orphaned backend to be marked DOWN", || {
        let row = health_row(s.api_port, gone)?;
        (row["status"] == "DOWN").then_some(row)
    });
    let row = health_row(s.api_port, gone).unwrap();
    assert_ne!(row["agent"], victim_name.as_str(), "{row}");
    drop(agents);
    s.stop();
}
