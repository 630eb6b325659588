//! `skylanectl import FILE`: JSON or a zone-like line format, sent in chunks.
//!
//! JSON: the `/v1/import` body (`{"mode", "records", "statuses"}`) or a list
//! of `{"name", "type", ...}` entries. Line format, one value per line:
//!
//! ```text
//! # comment
//! web            A     10.0.0.1
//! web        60  A     10.0.0.2
//! v6             AAAA  2001:db8::1
//! alias          CNAME web.skylane.local.
//! _http._tcp.web SRV   10 5 80 web.skylane.local.   ; comment
//! mail           MX    10 mx1.skylane.local.
//! txt            TXT   "any text up to 255 bytes"
//! 1.0.0.10.in-addr.arpa. PTR web.skylane.local.
//! ```
//!
//! Entries of one name always travel in the same chunk (a `replace` import
//! of a name split over two calls would lose the first half). Each chunk is
//! atomic on the server; the file as a whole is not.

use anyhow::{bail, Context};
use serde_json::{json, Map, Value};

/// Entries and statuses read from a file.
pub struct ImportFile {
    pub mode: Option<String>,
    pub records: Vec<Value>,
    pub statuses: Vec<Value>,
}

pub fn read(path: &std::path::Path) -> anyhow::Result<ImportFile> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let v: Value = serde_json::from_str(&text)
            .with_context(|| format!("{}: not valid JSON", path.display()))?;
        return from_json(v).with_context(|| format!("{}", path.display()));
    }
    let mut records = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if let Some(entry) = parse_line(line)
            .with_context(|| format!("{}:{}: {:?}", path.display(), i + 1, line.trim()))?
        {
            records.push(entry);
        }
    }
    Ok(ImportFile {
        mode: None,
        records,
        statuses: Vec::new(),
    })
}

fn from_json(v: Value) -> anyhow::Result<ImportFile> {
    match v {
        Value::Array(records) => Ok(ImportFile {
            mode: None,
            records,
            statuses: Vec::new(),
        }),
        Value::Object(mut obj) => {
            let take_list =
                |obj: &mut Map<String, Value>, key: &str| -> anyhow::Result<Vec<Value>> {
                    match obj.remove(key) {
                        None => Ok(Vec::new()),
                        Some(Value::Array(a)) => Ok(a),
                        Some(_) => bail!("\"{key}\" must be a list"),
                    }
                };
            let records = take_list(&mut obj, "records")?;
            let statuses = take_list(&mut obj, "statuses")?;
            let mode = match obj.remove("mode") {
                None => None,
                Some(Value::String(m)) => Some(m),
                Some(_) => bail!("\"mode\" must be a string"),
            };
            if let Some(k) = obj.keys().next() {
                bail!("unknown field {k:?} (expected mode, records, statuses)");
            }
            Ok(ImportFile {
                mode,
                records,
                statuses,
            })
        }
        _ => bail!("expected a JSON object or list"),
    }
}

/// Splits a line into fields; a `"quoted string"` is one field.
fn fields(line: &str) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == ';' || c == '#' {
            break; // a comment runs to the end of the line
        } else if c == '"' {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => s.extend(chars.next()),
                    Some(c) => s.push(c),
                    None => bail!("unterminated quote"),
                }
            }
            out.push(s);
        } else {
            let mut s = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                s.push(c);
                chars.next();
            }
            out.push(s);
        }
    }
    Ok(out)
}

fn num(s: &str, what: &str) -> anyhow::Result<u64> {
    s.parse()
        .with_context(|| format!("{what} {s:?} is not a number"))
}

/// One line → one import entry (None for blank lines and comments).
pub fn parse_line(line: &str) -> anyhow::Result<Option<Value>> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
        return Ok(None);
    }
    let f = fields(line)?;
    if f.len() < 3 {
        bail!("expected NAME [TTL] TYPE DATA...");
    }
    let name = &f[0];
    let (ttl, rest) = match f[1].parse::<u64>() {
        Ok(t) => (Some(t), &f[2..]),
        Err(_) => (None, &f[1..]),
    };
    let Some((t, data)) = rest.split_first() else {
        bail!("missing type");
    };
    let t = t.to_ascii_uppercase();
    let want = |n: usize, form: &str| -> anyhow::Result<()> {
        if data.len() != n {
            bail!("{t} wants {form}");
        }
        Ok(())
    };
    let mut entry = match t.as_str() {
        "A" | "AAAA" => {
            want(1, "one address")?;
            json!({"ips": [data[0]]})
        }
        "CNAME" => {
            want(1, "one target")?;
            json!({"target": data[0]})
        }
        "PTR" => {
            want(1, "one target")?;
            json!({"targets": [data[0]]})
        }
        "SRV" => {
            want(4, "PRIORITY WEIGHT PORT TARGET")?;
            json!({"targets": [{
                "priority": num(&data[0], "priority")?, "weight": num(&data[1], "weight")?,
                "port": num(&data[2], "port")?, "target": data[3]
            }]})
        }
        "MX" => {
            want(2, "PREFERENCE EXCHANGE")?;
            json!({"exchanges": [{"preference": num(&data[0], "preference")?, "exchange": data[1]}]})
        }
        "TXT" => {
            if data.is_empty() {
                bail!("TXT wants a text");
            }
            json!({"texts": [data.join(" ")]})
        }
        other => bail!("unknown type {other:?} (expected A, AAAA, CNAME, PTR, SRV, MX, TXT)"),
    };
    entry["name"] = json!(name);
    entry["type"] = json!(t);
    if let Some(ttl) = ttl {
        entry["ttl"] = json!(ttl);
    }
    Ok(Some(entry))
}

/// Splits entries into chunks of at most `chunk` entries, never splitting a name.
pub fn chunks(records: Vec<Value>, chunk: usize) -> Vec<Vec<Value>> {
    let mut order: Vec<String> = Vec::new();
    let mut by_name: std::collections::HashMap<String, Vec<Value>> = Default::default();
    for r in records {
        let key = r
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim_end_matches('.')
            .to_ascii_lowercase();
        by_name
            .entry(key.clone())
            .or_insert_with(|| {
                order.push(key.clone());
                Vec::new()
            })
            .push(r);
    }
    let mut out: Vec<Vec<Value>> = Vec::new();
    let mut current: Vec<Value> = Vec::new();
    for key in order {
        let group = by_name.remove(&key).unwrap_or_default();
        if !current.is_empty() && current.len() + group.len() > chunk {
            out.push(std::mem::take(&mut current));
        }
        current.extend(group);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines() {
        let e = parse_line("web 60 A 10.0.0.1").unwrap().unwrap();
        assert_eq!(
            e,
            json!({"name":"web","type":"A","ips":["10.0.0.1"],"ttl":60})
        );
        let e = parse_line("_x._tcp.web SRV 10 5 80 web.skylane.local.")
            .unwrap()
            .unwrap();
        assert_eq!(e["targets"][0]["port"], 80);
        let e = parse_line("t TXT \"hello world\"").unwrap().unwrap();
        assert_eq!(e["texts"][0], "hello world");
        assert!(parse_line("# comment").unwrap().is_none());
        let e = parse_line("m MX 10 mx1.x. ; PREFERENCE EXCHANGE")
            .unwrap()
            .unwrap();
        assert_eq!(e["exchanges"][0]["exchange"], "mx1.x.");
        let e = parse_line("t TXT \"a;b # c\" # note").unwrap().unwrap();
        assert_eq!(e["texts"][0], "a;b # c");
        assert!(parse_line("web A").is_err());
        assert!(parse_line("web NAPTR x").is_err());
        assert!(parse_line("web SRV 10 5 port x.").is_err());
    }

    #[test]
    fn chunks_keep_names_together() {
        let recs: Vec<Value> = ["a", "a", "b", "c", "c", "c", "d"]
            .iter()
            .map(|n| json!({"name": n}))
            .collect();
        let c = chunks(recs, 3);
        let sizes: Vec<usize> = c.iter().map(Vec::len).collect();
        assert_eq!(sizes, [3, 3, 1]);
        assert_eq!(c[1][0]["name"], "c");
        // A name bigger than a chunk still travels whole.
        let big: Vec<Value> = (0..5).map(|_| json!({"name": "x"})).collect();
        assert_eq!(chunks(big, 2).len(), 1);
    }
}
