//! The packages: `scripts/package.sh --bin-dir` packages the binaries of this test build
//! (the script's packaging steps, without its release build: that build alone took 700 s of
//! CI's time, see docs/testing.md); their contents, config-file handling and
//! maintainer scripts are checked with dpkg-deb and rpm, the units with
//! `systemd-analyze verify`, and the packaged config with the packaged `skylane check-config`.

mod common;

use std::path::Path;
use std::process::Command;

const TOOLS: [&str; 6] = [
    "cargo-deb",
    "cargo-generate-rpm",
    "rpm",
    "dpkg-deb",
    "systemd-analyze",
    "objdump",
];

/// Paths every package holds.
const FILES: [&str; 9] = [
    "/usr/bin/skylane",
    "/usr/bin/skylanectl",
    "/usr/bin/skylane-perf",
    "/usr/lib/systemd/system/skylane.service",
    "/usr/lib/systemd/system/skylane-scan.service",
    "/etc/skylane/skylane.toml",
    "/usr/share/doc/skylane/operations.md",
    "/usr/lib/sysusers.d/skylane.conf",
    "/usr/lib/tmpfiles.d/skylane.conf",
];

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// stdout of a command that must succeed.
fn output(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().expect(cmd);
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

#[test]
fn packages_hold_the_appliance() {
    let missing: Vec<&str> = TOOLS.into_iter().filter(|t| !have(t)).collect();
    if !missing.is_empty() {
        assert!(
            std::env::var_os("SKYLANE_REQUIRE_ALL_TESTS").is_none(),
            "{missing:?} missing, but SKYLANE_REQUIRE_ALL_TESTS is set (scripts/setup.sh --test)"
        );
        eprintln!("skipping: {missing:?} missing (scripts/setup.sh --test installs them)");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The three binaries of this build (skylane-perf is another package's: built here when
    // a narrower `cargo test` left it out), in <target>/<profile>/.
    let perf = common::perf_bin();
    let bins = perf.parent().unwrap();
    let target = bins.parent().unwrap();
    let mut cmd = Command::new(root.join("scripts/package.sh"));
    // The variables cargo sets for this test (CARGO_PKG_NAME, …) are not cargo-deb's and
    // cargo-generate-rpm's to see.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if (key == "CARGO" || key.starts_with("CARGO_")) && key != "CARGO_HOME" {
            cmd.env_remove(key);
        }
    }
    let status = cmd
        .arg("--bin-dir")
        .arg(bins)
        .arg("--fast")
        .env("CARGO_TARGET_DIR", target)
        .status()
        .expect("scripts/package.sh");
    assert!(status.success(), "scripts/package.sh failed");
    let out = target.join("package");
    let deb = out.join(format!("skylane_{}-1_amd64.deb", version()));
    let rpm = out.join(format!("skylane-{}-1.x86_64.rpm", version()));
    check_deb(&deb);
    check_rpm(&rpm);
    check_units_and_config(&deb);
}

fn check_deb(deb: &Path) {
    let deb = deb.to_str().unwrap();
    let list = output("dpkg-deb", &["-c", deb]);
    for f in FILES {
        assert!(
            list.contains(&format!(".{f}\n")),
            "{f} not in the .deb:\n{list}"
        );
    }
    let info = output("dpkg-deb", &["-I", deb]);
    assert!(info.contains("Package: skylane"), "{info}");
    assert!(
        info.contains(&format!("Version: {}-1", version())),
        "{info}"
    );
    assert!(info.contains("Architecture: amd64"), "{info}");
    let conffiles = output("dpkg-deb", &["-I", deb, "conffiles"]);
    assert!(
        conffiles.contains("/etc/skylane/skylane.toml"),
        "{conffiles}"
    );
    let postinst = output("dpkg-deb", &["-I", deb, "postinst"]);
    assert!(
        postinst.contains("systemd-sysusers skylane.conf"),
        "{postinst}"
    );
    assert!(
        postinst.contains("systemd-tmpfiles --create skylane.conf"),
        "{postinst}"
    );
}

fn check_rpm(rpm: &Path) {
    let rpm = rpm.to_str().unwrap();
    let list = output("rpm", &["-qlp", rpm]);
    for f in FILES {
        assert!(list.lines().any(|l| l == f), "{f} not in the .rpm:\n{list}");
    }
    let name = output(
        "rpm",
        &["-qp", "--qf", "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}", rpm],
    );
    assert_eq!(name, format!("skylane-{}-1.x86_64", version()));
    let scripts = output("rpm", &["-qp", "--scripts", rpm]);
    assert!(scripts.contains("useradd -r -g skylane"), "{scripts}");
    assert!(
        scripts.contains("systemd-tmpfiles --create skylane.conf"),
        "{scripts}"
    );
    // %config(noreplace), owned by the skylane group.
    let flags = output(
        "rpm",
        &[
            "-qp",
            "--qf",
            "[%{FILENAMES} %{FILEFLAGS:fflags} %{FILEGROUPNAME}\n]",
            rpm,
        ],
    );
    let conf = flags
        .lines()
        .find(|l| l.starts_with("/etc/skylane/skylane.toml "))
        .unwrap_or_else(|| panic!("{flags}"));
    assert!(
        conf.contains(" cn ") && conf.ends_with(" skylane"),
        "{conf}"
    );
}

/// Extracts the .deb, verifies its units (ExecStart pointed at the extracted binary) and
/// checks its config with its own binary.
fn check_units_and_config(deb: &Path) {
    let tree = tempfile::tempdir().unwrap();
    let root = tree.path();
    output(
        "dpkg-deb",
        &["-x", deb.to_str().unwrap(), root.to_str().unwrap()],
    );
    let skylane = root.join("usr/bin/skylane");
    let mut units = Vec::new();
    for unit in ["skylane.service", "skylane-scan.service"] {
        let text = std::fs::read_to_string(root.join("usr/lib/systemd/system").join(unit)).unwrap();
        let text = text.replace("/usr/bin/skylane", skylane.to_str().unwrap());
        let path = root.join(unit);
        std::fs::write(&path, text).unwrap();
        units.push(path.display().to_string());
    }
    let mut args = vec!["verify".to_string()];
    args.extend(units);
    let out = Command::new("systemd-analyze")
        .args(&args)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && err.trim().is_empty(),
        "systemd-analyze verify:\n{err}"
    );

    let conf = root.join("etc/skylane/skylane.toml");
    let ok = output(
        skylane.to_str().unwrap(),
        &["check-config", "--config", conf.to_str().unwrap()],
    );
    assert!(ok.starts_with("config ok"), "{ok}");
    let unit =
        std::fs::read_to_string(root.join("usr/lib/systemd/system/skylane.service")).unwrap();
    for line in [
        "Type=notify",
        "User=skylane",
        "AmbientCapabilities=CAP_NET_BIND_SERVICE",
        "ExecReload=/usr/bin/skylane reload --config /etc/skylane/skylane.toml",
    ] {
        assert!(
            unit.lines().any(|l| l == line),
            "{line} not in skylane.service"
        );
    }
    assert!(
        unit.lines().any(|l| l.starts_with("WatchdogSec=")),
        "no WatchdogSec"
    );
}
