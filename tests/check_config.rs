//! `skylane check-config`: every error names its key and the config file's `file:line`,
//! for each kind of thing a config names (zone files, API certificate, key and token
//! files, etcd settings and TLS files, store paths, DPDK EAL arguments).

mod common;

use common::{bin, run};
use std::path::Path;

/// Runs check-config on `text` (written to `<dir>/c.toml`); (success, stdout+stderr).
fn check(dir: &Path, text: &str) -> (bool, String) {
    let path = dir.join("c.toml");
    std::fs::write(&path, text).unwrap();
    let out = run(bin(), &["check-config", "--config", path.to_str().unwrap()]);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), all)
}

/// check-config fails on `text` with a line `<dir>/c.toml:<line>: <key>: …<needle>…`.
fn assert_finding(dir: &Path, text: &str, line: usize, key: &str, needle: &str) {
    let (ok, out) = check(dir, text);
    assert!(!ok, "{text:?} passed:\n{out}");
    let prefix = format!("{}:{line}: {key}: ", dir.join("c.toml").display());
    assert!(
        out.lines()
            .any(|l| l.starts_with(&prefix) && l.contains(needle)),
        "no {prefix:?}…{needle:?} for {text:?}:\n{out}"
    );
}

#[test]
fn a_good_config_passes() {
    let dir = tempfile::tempdir().unwrap();
    let zone = dir.path().join("z.zone");
    std::fs::write(
        &zone,
        "$ORIGIN ex.test.\n@ 60 IN SOA ns admin 1 60 60 60 60\na 60 IN A 10.1.1.1\n",
    )
    .unwrap();
    let text = format!(
        "[dns]\nzone-files = [\"{}\"]\n[dpdk]\neal-args = [\"-l\", \"0-1\", \"--no-huge\"]\n",
        zone.display()
    );
    let (ok, out) = check(dir.path(), &text);
    assert!(ok, "{out}");
    assert!(out.contains("config ok: 2 domain(s)"), "{out}");
}

#[test]
fn syntax_and_value_errors_name_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_finding(
        d,
        "[dns]\nttl = 30\nbogus = 1\n",
        3,
        "dns.bogus",
        "unknown field",
    );
    assert_finding(
        d,
        "[dataplane]\n\ncores = []\n",
        3,
        "cores",
        "at least one core",
    );
}

#[test]
fn zone_file_errors_name_the_zone_file_line_too() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let zone = d.join("bad.zone");
    std::fs::write(&zone, "$ORIGIN ex.test.\na 60 IN A 10.1.1.300\n").unwrap();
    let text = format!("[dns]\n\nzone-files = [\"{}\"]\n", zone.display());
    let zone_line = format!("{}:2", zone.display());
    assert_finding(d, &text, 3, "dns.zone-files[0]", &zone_line);
    let missing = format!("[dns]\nzone-files = [\"{}/none.zone\"]\n", d.display());
    assert_finding(d, &missing, 2, "dns.zone-files[0]", "No such file");
}

#[test]
fn api_certificate_key_and_token_files_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let not_pem = d.join("not.pem");
    std::fs::write(&not_pem, "hello\n").unwrap();
    let text = format!(
        "[api]\ntls-cert = \"{0}\"\ntls-key = \"{1}/missing-key.pem\"\n",
        not_pem.display(),
        d.display()
    );
    assert_finding(d, &text, 2, "api.tls-cert", "no certificate");
    assert_finding(d, &text, 3, "api.tls-key", "No such file");
    let empty = d.join("empty-token");
    std::fs::write(&empty, "\n").unwrap();
    let text = format!(
        "[api]\nlisten = \"127.0.0.1:9001\"\ntoken-file = \"{}\"\n",
        empty.display()
    );
    assert_finding(d, &text, 3, "api.token-file", "empty");
}

#[test]
fn etcd_settings_and_files_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bad_port = "[store]\nbackend = \"etcd\"\n[etcd]\nendpoints = [\"http://10.0.0.1:99999\"]\n";
    assert_finding(d, bad_port, 4, "etcd.endpoints[0]", "bad port");
    let text = format!(
        "[store]\nbackend = \"etcd\"\n[etcd]\nendpoints = [\"https://10.0.0.1:2379\"]\n\
         ca = \"{}/no-ca.pem\"\n",
        d.display()
    );
    assert_finding(d, &text, 5, "etcd.ca", "No such file");
    let half = "[store]\nbackend = \"etcd\"\n[etcd]\nusername = \"u\"\n";
    assert_finding(d, half, 4, "etcd.username", "go together");
}

#[test]
fn dpdk_arguments_and_store_paths_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let eal = "[dpdk]\n\neal-args = [\"-l\", \"0-1\", \"--lcroes\", \"--iova-mode=io\"]\n";
    assert_finding(d, eal, 3, "dpdk.eal-args[2]", "unknown EAL option");
    assert_finding(d, eal, 3, "dpdk.eal-args[3]", "--iova-mode");
    let file = d.join("a-file");
    std::fs::write(&file, "").unwrap();
    let text = format!("[store]\ndata-dir = \"{}\"\n", file.display());
    assert_finding(d, &text, 2, "store.data-dir", "not a directory");
}

#[test]
fn every_error_is_reported_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let text = format!(
        "[dns]\nzone-files = [\"{0}/none.zone\"]\n[api]\ntoken-file = \"{0}/none\"\n\
         [dpdk]\neal-args = [\"stray\"]\n",
        d.display()
    );
    let (ok, out) = check(d, &text);
    assert!(!ok);
    for key in ["dns.zone-files[0]", "api.token-file", "dpdk.eal-args[0]"] {
        assert!(out.contains(&format!(": {key}: ")), "{key} missing:\n{out}");
    }
    assert!(out.contains("check-config: 3 error(s)"), "{out}");
}
