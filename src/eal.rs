//! Syntax check of DPDK EAL arguments (`[dpdk] eal-args`, `--dpdk-eal`) for
//! `skylane check-config`: known options, their values present and well-formed, no stray
//! words. It does not start DPDK, so it cannot tell whether a device or core exists.

/// EAL options that take a value (`--opt value`, `--opt=value`, `-o value`, `-ovalue`).
const WITH_VALUE: &[&str] = &[
    "-l",
    "-c",
    "-n",
    "-m",
    "-a",
    "-b",
    "-d",
    "-r",
    "-S",
    "--lcores",
    "--main-lcore",
    "--master-lcore",
    "--file-prefix",
    "--vdev",
    "--allow",
    "--block",
    "--pci-whitelist",
    "--pci-blacklist",
    "--socket-mem",
    "--socket-limit",
    "--huge-dir",
    "--proc-type",
    "--iova-mode",
    "--log-level",
    "--base-virtaddr",
    "--mbuf-pool-ops-name",
    "--trace",
    "--trace-dir",
    "--trace-bufsz",
    "--trace-mode",
    "--service-corelist",
    "--service-coremask",
    "--vfio-intr",
    "--vfio-vf-token",
    "--huge-worker-stack",
    "--force-max-simd-bitwidth",
    "--syslog",
];

/// EAL options without a value.
const FLAGS: &[&str] = &[
    "-v",
    "--version",
    "--no-huge",
    "--no-pci",
    "--no-hpet",
    "--no-shconf",
    "--in-memory",
    "--legacy-mem",
    "--single-file-segments",
    "--no-telemetry",
    "--telemetry",
    "--create-uio-dev",
    "--match-allocations",
    "--huge-unlink",
    "--no-auto-probing",
];

/// Problems as `(index into args, reason)`; empty when the syntax is fine.
pub fn check_eal_args(args: &[String]) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let (at, arg) = (i, &args[i]);
        let (name, inline) = split_option(arg);
        if !arg.starts_with('-') {
            out.push((
                i,
                format!("{arg:?}: not an option (EAL arguments start with -)"),
            ));
        } else if FLAGS.contains(&name) {
            if inline.is_some() {
                out.push((i, format!("{name} takes no value")));
            }
        } else if WITH_VALUE.contains(&name) {
            let value = match inline {
                Some(v) => Some(v.to_string()),
                None => match args.get(i + 1) {
                    Some(next) if !next.starts_with('-') => {
                        i += 1;
                        Some(next.clone())
                    }
                    _ => None,
                },
            };
            match value {
                Some(v) => {
                    if let Err(e) = check_value(name, &v) {
                        out.push((at, format!("{name} {v:?}: {e}")));
                    }
                }
                None => out.push((at, format!("{name} needs a value"))),
            }
        } else {
            out.push((i, format!("{arg:?}: unknown EAL option")));
        }
        i += 1;
    }
    out
}

/// `--opt=value` → (`--opt`, value); `-l0-3` → (`-l`, `0-3`); else (arg, None).
fn split_option(arg: &str) -> (&str, Option<&str>) {
    if arg.starts_with("--") {
        return match arg.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (arg, None),
        };
    }
    if arg.len() > 2 && arg.starts_with('-') && arg.is_char_boundary(2) {
        return (&arg[..2], Some(&arg[2..]));
    }
    (arg, None)
}

fn check_value(name: &str, v: &str) -> Result<(), String> {
    let all = |ok: fn(char) -> bool| !v.is_empty() && v.chars().all(ok);
    let good = match name {
        "-l" | "--lcores" | "--service-corelist" => {
            all(|c| c.is_ascii_digit() || ",-@()".contains(c))
        }
        "-c" | "--service-coremask" => {
            let hex = v.strip_prefix("0x").unwrap_or(v);
            !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit())
        }
        "-n" | "-r" | "-m" | "--main-lcore" | "--master-lcore" => all(|c| c.is_ascii_digit()),
        "--socket-mem" | "--socket-limit" => all(|c| c.is_ascii_digit() || c == ','),
        "--proc-type" => matches!(v, "primary" | "secondary" | "auto"),
        "--iova-mode" => matches!(v, "pa" | "va"),
        _ => !v.is_empty(),
    };
    if good {
        Ok(())
    } else {
        Err("bad value".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(args: &[&str]) -> Vec<(usize, String)> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        check_eal_args(&args)
    }

    #[test]
    fn good_arguments_pass() {
        let ok = check(&[
            "-l",
            "0-3",
            "-n4",
            "--no-huge",
            "--file-prefix=sky",
            "--vdev",
            "net_memif0,role=server",
            "--iova-mode",
            "va",
            "-a",
            "0000:01:00.0",
        ]);
        assert!(ok.is_empty(), "{ok:?}");
    }

    #[test]
    fn errors_name_the_argument() {
        let bad = check(&[
            "-l",
            "x",
            "--lcroes",
            "1",
            "--no-huge=1",
            "--file-prefix",
            "--iova-mode=io",
        ]);
        let text: Vec<String> = bad.iter().map(|(i, m)| format!("{i}: {m}")).collect();
        assert_eq!(text.len(), 6, "{text:?}");
        assert!(text[0].starts_with("0: -l \"x\": bad value"), "{text:?}");
        assert!(text[1].contains("unknown EAL option"), "{text:?}");
        assert!(text[2].contains("not an option"), "{text:?}");
        assert!(text[3].contains("takes no value"), "{text:?}");
        assert!(text[4].contains("--file-prefix needs a value"), "{text:?}");
        assert!(text[5].contains("--iova-mode \"io\""), "{text:?}");
    }
}
