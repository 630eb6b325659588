//! OpenAPI document, probes, statistics, Prometheus metrics and TLS.

mod api_common;

use api_common::{TestServer, TOKEN};
use serde_json::Value;
use skylane_controlplane::api::ApiConfig;

#[test]
fn openapi_lists_every_routed_path() {
    let s = TestServer::start();
    let (status, text) = s.call("GET", "/v1/openapi.json", None, None);
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/v1/records",
        "/v1/records/{name}",
        "/v1/status",
        "/v1/status/{ip}",
        "/v1/import",
        "/v1/stats",
        "/v1/reload",
        "/v1/cache",
        "/v1/openapi.json",
        "/health",
        "/ready",
        "/metrics",
        "/skydns/api/",
        "/skydns/api/{name}",
    ] {
        assert!(paths.contains_key(p), "{p} missing");
    }
    // Every documented path and method is routed (no "no route" 404, no 405).
    for (path, item) in paths {
        let concrete = path
            .replace("{name}", "doc-check")
            .replace("{ip}", "10.0.0.1");
        for method in item
            .as_object()
            .unwrap()
            .keys()
            .filter(|m| *m != "parameters")
        {
            let method = method.to_ascii_uppercase();
            let (status, text) = s.auth(&method, &concrete, Some(""));
            assert_ne!(status, 405, "{method} {path}");
            assert!(!text.contains("no route"), "{method} {path}: {text}");
        }
    }
}

#[test]
fn ready_waits_for_the_first_snapshot() {
    let s = TestServer::start_without_sync(ApiConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        token: Some(TOKEN.into()),
        ..ApiConfig::default()
    });
    let (status, _) = s.call("GET", "/ready", None, None);
    assert_eq!(status, 503);
    let (status, _) = s.call("GET", "/health", None, None);
    assert_eq!(status, 200);
    s.start_sync();
    s.wait_ready();
    let (status, _) = s.call("GET", "/ready", None, None);
    assert_eq!(status, 200);
}

#[test]
fn stats_and_metrics_show_counters() {
    let s = TestServer::start();
    s.wait_ready();
    s.json(
        "PUT",
        "/v1/records/web",
        Some(r#"{"type":"A","ips":["10.0.0.1","10.0.0.2"]}"#),
        200,
    );
    s.wait_dns("web.skydns.local.", 1, |_, a| a.len() == 2);
    // Core 1 answers one NXDOMAIN A query and one NOERROR AAAA query.
    let core1 = s.stats.slot(s.stats.core_slot(1).unwrap()).counters();
    core1.count_reply(3, 1, false, false);
    core1.count_reply(0, 28, false, true);
    let v = s.json("GET", "/v1/stats?top=5", None, 200);
    assert_eq!(v["total"]["responses"], 2, "{v}");
    assert_eq!(v["cores"][1]["rcodes"]["NXDOMAIN"], 1);
    assert_eq!(v["cores"][1]["qtypes"]["AAAA"], 1);
    assert_eq!(v["cores"][1]["fail_open"], 1);
    assert_eq!(v["cores"][0]["queries"], 0);
    assert_eq!(v["cores"][2]["backend"], "tcp");
    assert_eq!(v["store"]["backend"], "embedded");
    assert_eq!(v["sync"]["source"], "store");
    assert!(v["snapshot"]["records"].as_u64().unwrap() >= 2, "{v}");
    assert!(v["top_names"].is_array());
    let (status, _) = s.auth("GET", "/v1/stats?top=5000", None);
    assert_eq!(status, 400);

    let (status, text) = s.call("GET", "/metrics", None, None);
    assert_eq!(status, 200);
    for needle in [
        "skylane_dns_responses_total{rcode=\"NXDOMAIN\",backend=\"socket\",core=\"1\"} 1",
        "skylane_dns_requests_by_qtype_total{qtype=\"AAAA\",backend=\"socket\",core=\"1\"} 1",
        "skylane_dns_fail_open_total{backend=\"socket\",core=\"1\"} 1",
        "# TYPE skylane_dns_request_duration_seconds histogram",
        "# TYPE skylane_sync_propagation_seconds histogram",
        "skylane_store_connected{backend=\"embedded\"} 1",
        "skylane_ready 1",
        "skylane_data_source{source=\"store\"} 1",
        "skylane_data_source{source=\"last-known\"} 0",
        "skylane_data_age_seconds 0",
    ] {
        assert!(text.contains(needle), "{needle} not in:\n{text}");
    }
    // The write above reached the snapshot through the watch: one propagation sample at least.
    let count_line = text
        .lines()
        .find(|l| l.starts_with("skylane_sync_propagation_seconds_count "))
        .unwrap();
    let n: u64 = count_line.rsplit_once(' ').unwrap().1.parse().unwrap();
    assert!(n >= 1, "{count_line}");
    let records_line = text
        .lines()
        .find(|l| l.starts_with("skylane_snapshot_records "))
        .unwrap();
    assert_ne!(records_line, "skylane_snapshot_records 0");
}

#[test]
fn tls_serves_https_only() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    let s = TestServer::start_with(ApiConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        token: Some(TOKEN.into()),
        tls_cert: Some(cert_path),
        tls_key: Some(key_path),
        ..ApiConfig::default()
    });
    assert!(s.base.starts_with("https://"));
    let port = s.base.rsplit_once(':').unwrap().1;
    let root = ureq::tls::Certificate::from_der(cert.cert.der()).to_owned();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::Specific(std::sync::Arc::new(vec![
                    root,
                ])))
                .build(),
        )
        .build()
        .into();
    let mut resp = agent
        .put(&format!("https://localhost:{port}/v1/records/secure"))
        .header("Authorization", &format!("Bearer {TOKEN}"))
        .header("Content-Type", "application/json")
        .send(r#"{"type":"A","ips":["10.5.0.1"]}"#)
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        200,
        "{}",
        resp.body_mut().read_to_string().unwrap()
    );
    // Plain HTTP to the TLS port does not get an answer.
    let plain = api_common::agent()
        .get(&format!("http://127.0.0.1:{port}/health"))
        .call();
    assert!(plain.is_err() || plain.unwrap().status().as_u16() >= 400);
}
