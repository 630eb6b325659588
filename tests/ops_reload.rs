//! Live reload: `skylane reload` (POST /v1/reload with the token) and SIGHUP re-read the
//! config and zone files; the data plane keeps answering; invalid configs are rejected
//! and the old one kept; listen changes are reported as "restart required".

mod common;
mod ops_support;

use common::{free_port, udp};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use ops_support::{a_addrs, text, wait_for, Appliance, ZONE};
use std::net::IpAddr;

/// The A addresses `name` answers with (empty for none).
fn a_of(app: &Appliance, name: &str) -> Vec<IpAddr> {
    a_addrs(&udp(
        app.server.addr4(),
        &common::query(name, RecordType::A),
    ))
}

#[test]
fn a_changed_zone_file_is_served_after_reload_and_sighup() {
    let mut app = Appliance::start(&[]);
    assert_eq!(
        a_of(&app, "a.ex.test."),
        vec!["10.1.1.1".parse::<IpAddr>().unwrap()]
    );
    assert!(a_of(&app, "b.ex.test.").is_empty());

    std::fs::write(&app.zone, format!("{ZONE}b 60 IN A 10.2.2.2\n")).unwrap();
    let out = app.reload();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("reloaded: applied dns, zone-files"),
        "{}",
        text(&out)
    );
    wait_for("b.ex.test. answered", || {
        a_of(&app, "b.ex.test.") == vec!["10.2.2.2".parse::<IpAddr>().unwrap()]
    });

    // SIGHUP reloads too (and no longer ends the process).
    std::fs::write(&app.zone, format!("{ZONE}c 60 IN A 10.3.3.3\n")).unwrap();
    app.sighup();
    wait_for("c.ex.test. answered", || {
        a_of(&app, "c.ex.test.") == vec!["10.3.3.3".parse::<IpAddr>().unwrap()]
    });
    assert!(
        a_of(&app, "b.ex.test.").is_empty(),
        "b was removed from the zone file"
    );
    assert!(
        app.alive(),
        "SIGHUP ended the server:\n{}",
        app.server.log_text()
    );
    assert!(app.server.stop().success());
}

#[test]
fn an_invalid_config_is_rejected_and_the_old_one_kept() {
    let mut app = Appliance::start(&[]);
    // A broken zone file: rejected with its file:line, nothing changes.
    std::fs::write(&app.zone, format!("{ZONE}b 60 IN A 10.2.2.300\n")).unwrap();
    let out = app.reload();
    assert!(!out.status.success(), "{}", text(&out));
    let zone_line = format!("{}:6", app.zone.display());
    assert!(text(&out).contains("reload rejected"), "{}", text(&out));
    assert!(text(&out).contains(&zone_line), "{}", text(&out));
    assert_eq!(
        a_of(&app, "a.ex.test."),
        vec!["10.1.1.1".parse::<IpAddr>().unwrap()]
    );
    assert!(a_of(&app, "b.ex.test.").is_empty());

    // A config with an unknown key, by SIGHUP: the error is logged, the server keeps going.
    std::fs::write(&app.zone, ZONE).unwrap();
    let mut cfg = std::fs::read_to_string(&app.config).unwrap();
    cfg.push_str("bogus-key = 1\n");
    std::fs::write(&app.config, &cfg).unwrap();
    app.sighup();
    let config_path = app.config.display().to_string();
    wait_for("the rejection logged", || {
        let log = app.server.log_text();
        log.contains("reload rejected") && log.contains(&config_path) && log.contains("bogus-key")
    });
    assert!(app.alive());
    assert_eq!(
        a_of(&app, "a.ex.test."),
        vec!["10.1.1.1".parse::<IpAddr>().unwrap()]
    );
    assert!(app.server.stop().success());
}

#[test]
fn listen_changes_are_reported_restart_required_and_domains_apply_live() {
    let app = Appliance::start(&[]);
    let r = udp(
        app.server.addr4(),
        &common::query("x.extra.test.", RecordType::A),
    );
    assert_eq!(
        r.response_code(),
        ResponseCode::Refused,
        "extra.test. not served yet"
    );

    app.rewrite_config(free_port(), "domains = [\"extra.test.\"]\nttl = 77\n");
    let out = app.reload();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("restart required for: dataplane.listen"),
        "{}",
        text(&out)
    );
    wait_for("extra.test. served", || {
        let r = udp(
            app.server.addr4(),
            &common::query("x.extra.test.", RecordType::A),
        );
        r.response_code() == ResponseCode::NXDomain
    });
    // The old listen address keeps answering; the log says why the new one is not used.
    assert_eq!(
        a_of(&app, "a.ex.test."),
        vec!["10.1.1.1".parse::<IpAddr>().unwrap()]
    );
    let log = app.server.log_text();
    assert!(
        log.contains("dataplane.listen changed: restart required"),
        "{log}"
    );
    assert!(app.server.stop().success());
}

#[test]
fn twenty_reloads_under_load_lose_no_queries() {
    let mut app = Appliance::start(&[]);
    let queries = app.server.dir().join("queries.txt");
    std::fs::write(&queries, "a.ex.test. A\nns1.ex.test. A\nex.test. SOA\n").unwrap();
    let port = app.server.port.to_string();
    // A fixed rate for a fixed time; the reloads below fit well inside it.
    let perf = std::process::Command::new(ops_support::perf_bin())
        .args(["-s", "127.0.0.1", "-p", &port, "-d"])
        .arg(&queries)
        .args(["-Q", "2000", "-l", "20", "-t", "5", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start skylane-perf");
    let mut perf = scopeguard(perf);
    std::thread::sleep(std::time::Duration::from_millis(500));
    for i in 0..20 {
        // Each reload really changes something: a record comes and goes.
        let zone = if i % 2 == 0 {
            format!("{ZONE}r{i} 60 IN A 10.9.9.{i}\n")
        } else {
            ZONE.to_string()
        };
        std::fs::write(&app.zone, zone).unwrap();
        let out = app.reload();
        assert!(out.status.success(), "reload {i}: {}", text(&out));
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        perf.0.as_mut().unwrap().try_wait().unwrap().is_none(),
        "skylane-perf ended before the 20 reloads did: lengthen -l"
    );
    let out = perf.0.take().unwrap().wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let (sent, completed, lost) = (
        report["sent"].as_u64().unwrap(),
        report["completed"].as_u64().unwrap(),
        report["lost"].as_u64().unwrap(),
    );
    eprintln!("skylane-perf across 20 reloads: {report}");
    assert!(sent > 10_000, "{report}");
    assert_eq!(lost, 0, "{report}");
    assert_eq!(completed, sent, "{report}");
    assert_eq!(
        report["rcodes"]["NOERROR"].as_u64(),
        Some(completed),
        "{report}"
    );
    assert!(app.alive());
    assert!(app.server.stop().success());
}

/// Kills the load generator if the test fails half-way.
struct Guard(Option<std::process::Child>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(c) = &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn scopeguard(child: std::process::Child) -> Guard {
    Guard(Some(child))
}
