//! Human output: `domain: web.skylane.local val: { type:A ips:[10.0.0.1 10.0.0.2] ttl:30 }`.

use serde_json::Value;

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
