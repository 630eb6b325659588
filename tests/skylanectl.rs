//! skylanectl end to end: the built binary against an in-process API server
//! (embedded store in a temp dir, real store → snapshot sync).

use skylane_testkit::api::{TestServer, TOKEN};
use std::process::{Command, Output};

/// The testkit's in-process API server, with a scratch directory for input files.
struct Server {
    api: TestServer,
    addr: String,
    dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        let api = TestServer::start();
        Server {
            addr: api.base.clone(),
            api,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn ctl(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_skylanectl"))
            .args(args)
            .env("SKYLANE_API_ADDR", &self.addr)
            .env("SKYLANE_API_TOKEN", TOKEN)
            .output()
            .unwrap()
    }

    /// Runs skylanectl, asserting success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.ctl(args);
        assert!(
            out.status.success(),
            "skylanectl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn key_count(&self) -> usize {
        self.api.keys().len()
    }
}

#[test]
fn add_show_list_delete() {
    let s = Server::start();
    let out = s.ok(&[
        "add",
        "cctv2",
        "--type",
        "A",
        "--ip",
        "192.168.10.1",
        "--ip",
        "192.168.10.2",
    ]);
    assert_eq!(
        out,
        "domain: cctv2.skydns.local val: { type:A ips:[192.168.10.1 192.168.10.2] ttl:30 }\n"
    );
    s.ok(&[
        "add",
        "_http._tcp.web",
        "-t",
        "SRV",
        "--target",
        "web1.skydns.local.",
        "--target",
        "web2.skydns.local.",
        "--port",
        "80",
        "--priority",
        "10",
        "--weight",
        "5",
        "--weight",
        "7",
    ]);
    s.ok(&[
        "add",
        "mail",
        "--type",
        "MX",
        "--target",
        "mx1.skydns.local.",
        "--preference",
        "5",
        "--ttl",
        "300",
    ]);
    s.ok(&["add", "txt", "--type", "TXT", "--text", "hello world"]);
    s.ok(&[
        "add",
        "alias",
        "--type",
        "CNAME",
        "--target",
        "cctv2.skydns.local.",
    ]);
    let show = s.ok(&["show", "cctv2.skydns.local."]);
    assert!(show.contains("ips:[192.168.10.1 192.168.10.2]"), "{show}");
    let list = s.ok(&["list", "-o", "seed"]);
    assert_eq!(list.lines().count(), 5, "{list}");
    assert!(list.contains(
        "domain: _http._tcp.web.skydns.local val: { type:SRV targets:[{web1.skydns.local. port:80 priority:10 weight:5} {web2.skydns.local. port:80 priority:10 weight:7}] ttl:30 }"
    ), "{list}");
    assert!(list.contains("domain: mail.skydns.local val: { type:MX exchanges:[{mx1.skydns.local. preference:5}] ttl:300 }"), "{list}");
    assert!(list.contains("texts:[\"hello world\"]"), "{list}");
    let json: serde_json::Value =
        serde_json::from_str(&s.ok(&["--json", "list", "--type", "A"])).unwrap();
    assert_eq!(json["count"], 1);
    let json: serde_json::Value =
        serde_json::from_str(&s.ok(&["list", "-o", "json", "--type", "MX"])).unwrap();
    assert_eq!(json["names"][0]["name"], "mail.skydns.local.");
    // The default is a table: a header, then one aligned row per value.
    let table = s.ok(&["list"]);
    let rows: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], ["NAME", "TYPE", "TTL", "DATA"], "{table}");
    assert_eq!(rows.len(), 1 + 2 + 2 + 1 + 1 + 1, "{table}");
    assert!(
        rows.contains(&vec!["cctv2.skydns.local.", "A", "30", "192.168.10.2"]),
        "{table}"
    );
    assert!(
        rows.contains(&vec![
            "_http._tcp.web.skydns.local.",
            "SRV",
            "30",
            "10",
            "7",
            "80",
            "web2.skydns.local."
        ]),
        "{table}"
    );
    assert!(
        rows.contains(&vec![
            "mail.skydns.local.",
            "MX",
            "300",
            "5",
            "mx1.skydns.local."
        ]),
        "{table}"
    );
    let data_col = table.lines().next().unwrap().find("DATA").unwrap();
    assert!(table.lines().all(|l| l.len() > data_col), "{table}");
    let bad = s.ctl(&["list", "-o", "yaml"]);
    assert_eq!(bad.status.code(), Some(2));
    // Delete some addresses, then the whole name.
    s.ok(&["delete", "cctv2", "--ip", "192.168.10.1"]);
    assert!(s.ok(&["show", "cctv2"]).contains("ips:[192.168.10.2]"));
    assert!(s
        .ok(&["delete", "cctv2"])
        .starts_with("deleted 1 value(s) of cctv2.skydns.local."));
    let out = s.ctl(&["show", "cctv2"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no records at cctv2.skydns.local."));
}

#[test]
fn errors_exit_non_zero_with_the_server_message() {
    let s = Server::start();
    let out = s.ctl(&["add", "web", "--type", "A", "--ip", "10.0.0.300"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("400") && err.contains("ips[0]"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_skylanectl"))
        .args(["list"])
        .env("SKYLANE_API_ADDR", &s.addr)
        .env("SKYLANE_API_TOKEN", "wrong")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("403"));
    let out = s.ctl(&["--addr", "http://127.0.0.1:1", "list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach"));
    let out = s.ctl(&["add", "web", "--type", "SRV", "--target", "x."]);
    assert_eq!(out.status.code(), Some(1), "SRV without --port");
    assert_eq!(s.key_count(), 0);
}

#[test]
fn status_and_stats() {
    let s = Server::start();
    assert_eq!(s.ok(&["status", "10.0.0.1"]), "10.0.0.1 UP\n");
    assert_eq!(s.ok(&["status", "10.0.0.1", "down"]), "10.0.0.1 DOWN\n");
    assert_eq!(s.ok(&["status", "10.0.0.1"]), "10.0.0.1 DOWN\n");
    assert_eq!(s.ok(&["status", "10.0.0.1", "--clear"]), "10.0.0.1 UP\n");
    let stats = s.ok(&["stats"]);
    assert!(stats.starts_with("snapshot: "), "{stats}");
    assert!(stats.contains("store: embedded"), "{stats}");
}

#[test]
fn import_line_and_json_files_in_chunks() {
    let s = Server::start();
    let mut text = String::from("# generated\n");
    for i in 0..250 {
        text.push_str(&format!("host{i} A 10.7.{}.{}\n", i / 200, i % 200 + 1));
        text.push_str(&format!("host{i} 60 TXT \"host number {i}\"\n"));
    }
    text.push_str("_svc._tcp SRV 10 5 8080 host1.skydns.local.\n");
    let path = s.dir.path().join("records.txt");
    std::fs::write(&path, &text).unwrap();
    let out = s.ok(&["import", path.to_str().unwrap(), "--chunk", "100"]);
    assert!(
        out.starts_with("imported 501 entries for 251 names in 6 call(s)"),
        "{out}"
    );
    let list: serde_json::Value = serde_json::from_str(&s.ok(&["--json", "list"])).unwrap();
    assert_eq!(list["count"], 251);
    assert!(s
        .ok(&["show", "host7"])
        .contains("texts:[\"host number 7\"] ttl:60"));
    // Re-importing the same file writes nothing.
    let out = s.ok(&["--json", "import", path.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (v["puts"].as_u64(), v["deletes"].as_u64()),
        (Some(0), Some(0)),
        "{v}"
    );

    // JSON with statuses, add mode.
    let json_path = s.dir.path().join("more.json");
    std::fs::write(
        &json_path,
        r#"{"mode":"add","records":[{"name":"host1","type":"A","ips":["10.9.9.9"]}],
            "statuses":[{"ip":"10.7.0.2","status":"DOWN"}]}"#,
    )
    .unwrap();
    s.ok(&["import", json_path.to_str().unwrap()]);
    assert!(s.ok(&["show", "host1"]).contains("ips:[10.7.0.2 10.9.9.9]"));
    assert_eq!(s.ok(&["status", "10.7.0.2"]), "10.7.0.2 DOWN\n");

    // A bad line stops the import before anything is sent.
    let before = s.key_count();
    let bad = s.dir.path().join("bad.txt");
    std::fs::write(&bad, "ok1 A 10.1.1.1\nbroken SRV 10 x\n").unwrap();
    let out = s.ctl(&["import", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("bad.txt:2"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(s.key_count(), before);
}

#[test]
fn token_lookup_order() {
    let s = Server::start();
    let files = tempfile::tempdir().unwrap();
    let good = files.path().join("good");
    let bad = files.path().join("bad");
    std::fs::write(&good, format!("{TOKEN}\n")).unwrap();
    std::fs::write(&bad, "wrong-token\n").unwrap();
    // The default file lives in the (empty) data directory of XDG_DATA_HOME.
    let data = files.path().join("xdg");
    let run = |flags: &[&str], envs: &[(&str, &std::path::Path)], token_env: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_skylanectl"));
        cmd.args(flags)
            .args(["show", "nothing-here"])
            .env("SKYLANE_API_ADDR", &s.addr)
            .env("XDG_DATA_HOME", &data)
            .env_remove("SKYLANE_API_TOKEN")
            .env_remove("SKYLANE_API_TOKEN_FILE")
            .envs(envs.iter().copied());
        if let Some(t) = token_env {
            cmd.env("SKYLANE_API_TOKEN", t);
        }
        let out = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        // 404: authenticated (the name has no records); 401/403: not.
        ["404", "401", "403"]
            .into_iter()
            .find(|code| err.contains(code))
            .unwrap_or_else(|| panic!("{flags:?}: {err}"))
    };
    assert_eq!(run(&[], &[], None), "401");
    assert_eq!(run(&["--token", TOKEN], &[], Some("wrong")), "404");
    assert_eq!(
        run(&[], &[("SKYLANE_API_TOKEN_FILE", &bad)], Some(TOKEN)),
        "404"
    );
    let good_flag = good.to_str().unwrap();
    assert_eq!(run(&["--token-file", good_flag], &[], None), "404");
    assert_eq!(run(&[], &[("SKYLANE_API_TOKEN_FILE", &good)], None), "404");
    assert_eq!(run(&[], &[("SKYLANE_API_TOKEN_FILE", &bad)], None), "403");
    // The default file comes last.
    std::fs::create_dir_all(data.join("skylane")).unwrap();
    std::fs::write(data.join("skylane/api-token"), format!("{TOKEN}\n")).unwrap();
    assert_eq!(run(&[], &[], None), "404");
    assert_eq!(
        run(&["--token-file", bad.to_str().unwrap()], &[], None),
        "403"
    );
}

#[test]
fn host_port_address_means_http() {
    let s = Server::start();
    s.ok(&["add", "web", "--type", "A", "--ip", "10.0.0.1"]);
    let bare = s.addr.strip_prefix("http://").unwrap();
    let out = s.ok(&["--addr", bare, "list", "-o", "seed"]);
    assert_eq!(
        out,
        "domain: web.skydns.local val: { type:A ips:[10.0.0.1] ttl:30 }\n"
    );
    let with_slash = format!("{}/", s.addr);
    assert!(s
        .ok(&["--addr", &with_slash, "show", "web"])
        .contains("10.0.0.1"));
    for bad in ["ftp://127.0.0.1:9001", "127.0.0.1:9001/v1", "http://"] {
        let out = s.ctl(&["--addr", bad, "list"]);
        assert_eq!(out.status.code(), Some(1), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--addr"), "{bad}: {err}");
    }
}

#[test]
fn completions_for_bash_zsh_fish() {
    let run = |shell: &str| {
        Command::new(env!("CARGO_BIN_EXE_skylanectl"))
            .args(["completions", shell])
            .env("SKYLANE_API_ADDR", "127.0.0.1:1")
            .output()
            .unwrap()
    };
    for (shell, marker) in [
        ("bash", "complete -F _skylanectl"),
        ("zsh", "#compdef skylanectl"),
        ("fish", "complete -c skylanectl"),
    ] {
        let out = run(shell);
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(script.contains(marker), "{shell}: {script}");
        for word in ["list", "import", "completions", "seed"] {
            assert!(script.contains(word), "{shell} lacks {word}");
        }
    }
    let script = String::from_utf8(run("bash").stdout).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("skylanectl.bash");
    std::fs::write(&path, script).unwrap();
    let check = Command::new("bash").arg("-n").arg(&path).status().unwrap();
    assert!(check.success(), "bash -n rejects the script");
    assert_eq!(run("powershell").status.code(), Some(2));
}
