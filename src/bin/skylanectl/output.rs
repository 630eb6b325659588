//! Human output: the `list` table, the ContainerDNS seed lines
//! `domain: web.skylane.local val: { type:A ips:[10.0.0.1 10.0.0.2] ttl:30 }`, stats and health.

use serde_json::Value;

/// `skylanectl list -o …`.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
    Seed,
}

/// Prints `list`'s answer in `format`.
pub fn print_names(v: &Value, format: ListFormat) {
    match format {
        ListFormat::Json => {
            println!("{}", serde_json::to_string_pretty(v).unwrap_or_default())
        }
        ListFormat::Table => table_lines(v).iter().for_each(|l| println!("{l}")),
        ListFormat::Seed => {
            for entry in v["names"].as_array().into_iter().flatten() {
                let name = entry["name"].as_str().unwrap_or("");
                for line in name_lines(name, &entry["records"]) {
                    println!("{line}");
                }
            }
        }
    }
}

fn list(v: &Value, f: impl Fn(&Value) -> String) -> String {
    let items: Vec<String> = v
        .as_array()
        .map(|a| a.iter().map(&f).collect())
        .unwrap_or_default();
    format!("[{}]", items.join(" "))
}

fn plain(v: &Value) -> String {
    v.as_str()
        .map(str::to_string)
        .unwrap_or_else(|| v.to_string())
}

/// One record set as `{ type:A ips:[...] ttl:30 }`.
pub fn set_text(set: &Value) -> String {
    let t = set["type"].as_str().unwrap_or("?");
    let body = match t {
        "A" | "AAAA" => format!("ips:{}", list(&set["ips"], plain)),
        "CNAME" => format!("target:{}", plain(&set["target"])),
        "SRV" => format!(
            "targets:{}",
            list(&set["targets"], |s| format!(
                "{{{} port:{} priority:{} weight:{}}}",
                plain(&s["target"]),
                s["port"],
                s["priority"],
                s["weight"]
            ))
        ),
        "MX" => format!(
            "exchanges:{}",
            list(&set["exchanges"], |s| format!(
                "{{{} preference:{}}}",
                plain(&s["exchange"]),
                s["preference"]
            ))
        ),
        "TXT" => format!("texts:{}", list(&set["texts"], |s| s.to_string())),
        _ => format!("targets:{}", list(&set["targets"], plain)),
    };
    format!("{{ type:{t} {body} ttl:{} }}", set["ttl"])
}

/// One value of a record set as table text (`10 5 80 web1.skydns.local.` for SRV).
fn value_texts(set: &Value) -> Vec<String> {
    let items = |key: &str| set[key].as_array().cloned().unwrap_or_default();
    match set["type"].as_str().unwrap_or("?") {
        "A" | "AAAA" => items("ips").iter().map(plain).collect(),
        "CNAME" => vec![plain(&set["target"])],
        "SRV" => items("targets")
            .iter()
            .map(|s| {
                let t = plain(&s["target"]);
                format!("{} {} {} {t}", s["priority"], s["weight"], s["port"])
            })
            .collect(),
        "MX" => items("exchanges")
            .iter()
            .map(|s| format!("{} {}", s["preference"], plain(&s["exchange"])))
            .collect(),
        "TXT" => items("texts").iter().map(Value::to_string).collect(),
        _ => items("targets").iter().map(plain).collect(),
    }
}

/// `skylanectl list` (`-o table`): a header, then one aligned row per value.
pub fn table_lines(v: &Value) -> Vec<String> {
    let mut rows = vec![["NAME", "TYPE", "TTL", "DATA"].map(String::from)];
    for entry in v["names"].as_array().into_iter().flatten() {
        let name = plain(&entry["name"]);
        for set in entry["records"].as_array().into_iter().flatten() {
            for data in value_texts(set) {
                let ttl = set["ttl"].to_string();
                rows.push([name.clone(), plain(&set["type"]), ttl, data]);
            }
        }
    }
    let width = |i: usize| rows.iter().map(|r| r[i].len()).max().unwrap_or(0);
    let (w0, w1, w2) = (width(0), width(1), width(2));
    rows.iter()
        .map(|[n, t, ttl, d]| format!("{n:<w0$}  {t:<w1$}  {ttl:>w2$}  {d}"))
        .collect()
}

/// Lines for one name and its record sets.
pub fn name_lines(name: &str, sets: &Value) -> Vec<String> {
    let shown = name.strip_suffix('.').unwrap_or(name);
    sets.as_array()
        .map(|a| {
            a.iter()
                .map(|s| format!("domain: {shown} val: {}", set_text(s)))
                .collect()
        })
        .unwrap_or_default()
}

/// Human summary of `/v1/stats`.
pub fn stats_lines(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let snap = &v["snapshot"];
    out.push(format!(
        "snapshot: {} records, {} names, generation {}, store revision {}",
        snap["records"], snap["names"], snap["generation"], snap["store_revision"]
    ));
    out.push(format!(
        "store: {} (connected: {}), sync ready: {}",
        plain(&v["store"]["backend"]),
        v["store"]["connected"],
        v["sync"]["ready"]
    ));
    if let Some(total) = v.get("total") {
        out.push(format!(
            "total: {} queries, {} responses, rcodes {}, dropped {}, fail-open {}",
            total["queries"],
            total["responses"],
            total["rcodes"],
            total["dropped"],
            total["fail_open"]
        ));
        for c in v["cores"].as_array().into_iter().flatten() {
            let core = if c["core"].is_null() {
                "tcp".to_string()
            } else {
                c["core"].to_string()
            };
            out.push(format!(
                "  {} core {}: {} queries, {} responses, rcodes {}",
                plain(&c["backend"]),
                core,
                c["queries"],
                c["responses"],
                c["rcodes"]
            ));
        }
        let l = &v["latency_ns"];
        out.push(format!(
            "latency (sampled 1/{}): p50 {} ns, p99 {} ns, max {} ns over {} samples",
            v["sample_every"], l["p50"], l["p99"], l["max"], l["samples"]
        ));
        for t in v["top_names"].as_array().into_iter().flatten() {
            out.push(format!(
                "  top: {} ~{} queries",
                plain(&t["name"]),
                t["estimated"]
            ));
        }
    }
    out
}

/// `skylanectl health`: one line per address, then one per agent.
pub fn health_lines(addresses: &Value, agents: &Value) -> Vec<String> {
    let text = |v: &Value| match v {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut out = vec![format!(
        "{:<40} {:<6} {:<16} {:<25} {:>8} {:>4} {:>4}  reason",
        "address", "status", "agent", "checked", "ms", "ok#", "bad#"
    )];
    for a in addresses["addresses"].as_array().into_iter().flatten() {
        let check = &a["check"];
        let status = format!(
            "{}{}",
            text(&a["status"]),
            if a["manual"].as_bool() == Some(true) {
                "*"
            } else {
                ""
            }
        );
        let agent = if a["agent"].is_string() {
            &a["agent"]
        } else {
            &check["agent"]
        };
        let ms = check["latency_ms"]
            .as_f64()
            .map_or("-".to_string(), |m| format!("{m:.1}"));
        let reason = if check["reason"].is_string() {
            &check["reason"]
        } else {
            &a["reason"]
        };
        out.push(format!(
            "{:<40} {:<6} {:<16} {:<25} {:>8} {:>4} {:>4}  {}",
            text(&a["ip"]),
            status,
            text(agent),
            text(&check["checked"]),
            ms,
            text(&check["successes"]),
            text(&check["failures"]),
            text(reason)
        ));
    }
    out.push(String::new());
    out.push(format!("{:<24} {:>8} {:<5}", "agent", "targets", "panic"));
    for a in agents["agents"].as_array().into_iter().flatten() {
        out.push(format!(
            "{:<24} {:>8} {:<5}",
            text(&a["agent"]),
            text(&a["targets"]),
            text(&a["panic"])
        ));
    }
    out
}
