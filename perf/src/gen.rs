//! Test data for benchmarks: a synthetic zone and query files (hits, NXDOMAIN misses, mixed
//! types), either for the synthetic zone or for any RFC 1035 master file.
//!
//! The synthetic zone for origin `O` and `N` names holds SOA and NS at the apex, `ns1.O`, and
//! for each `i < N`: `host<i>.O` A, plus AAAA when `i` is even and TXT when `i % 8 == 0`.
//! Every record is written fully qualified on one line, so any master-file reader accepts it.

use std::collections::HashSet;
use std::io::{self, Write};

use anyhow::{bail, Context};

use crate::queryfile::{parse_name, parse_type, type_name};

/// A small deterministic PRNG (splitmix64): same seed, same files.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`; tiny modulo bias is irrelevant here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// Normalises an origin to lower case with a trailing dot, checking it is a valid name.
pub fn normalize_origin(origin: &str) -> anyhow::Result<String> {
    let mut o = origin.trim().to_ascii_lowercase();
    if !o.ends_with('.') {
        o.push('.');
    }
    parse_name(&o).with_context(|| format!("invalid origin {origin:?}"))?;
    Ok(o)
}

/// Writes the synthetic zone for `origin` (normalised) with `names` hosts.
pub fn write_zone(out: &mut dyn Write, origin: &str, names: u64) -> io::Result<()> {
    writeln!(out, "; skylane-perf synthetic zone: {names} hosts")?;
    writeln!(out, "$TTL 300")?;
    writeln!(
        out,
        "{origin} 3600 IN SOA ns1.{origin} hostmaster.{origin} 1 3600 900 604800 300"
    )?;
    writeln!(out, "{origin} 3600 IN NS ns1.{origin}")?;
    writeln!(out, "ns1.{origin} 3600 IN A 192.0.2.53")?;
    for i in 0..names {
        let (a, b, c) = ((i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff);
        writeln!(out, "host{i}.{origin} 300 IN A 10.{a}.{b}.{c}")?;
        if i % 2 == 0 {
            writeln!(
                out,
                "host{i}.{origin} 300 IN AAAA fd00:99::{:x}:{:x}",
                i >> 16,
                i & 0xffff
            )?;
        }
        if i % 8 == 0 {
            writeln!(out, "host{i}.{origin} 300 IN TXT \"host {i}\"")?;
        }
    }
    Ok(())
}

/// One `(name, type)` pair that exists in a zone, in presentation form.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Existing {
    /// Fully qualified owner name, lower case, trailing dot.
    pub name: String,
    /// Record type.
    pub rtype: u16,
}

/// Reads owner names and types from an RFC 1035 master file: `$ORIGIN`, `$TTL`, `@`,
/// relative owners, blank owners (previous owner), `;` comments and `( ... )` groups.
/// Returns the origin (`$ORIGIN`, or the SOA owner) and the distinct pairs in file order.
pub fn read_zone(
    text: &str,
    default_origin: Option<&str>,
) -> anyhow::Result<(String, Vec<Existing>)> {
    let mut origin: Option<String> = default_origin.map(normalize_origin).transpose()?;
    let mut soa_owner: Option<String> = None;
    let mut last_owner: Option<String> = None;
    let mut seen = HashSet::new();
    let mut pairs = Vec::new();
    let mut pending = String::new();
    let mut depth = 0i32;
    for (index, raw) in text.lines().enumerate() {
        let line = strip_comment(raw);
        depth += line.matches('(').count() as i32 - line.matches(')').count() as i32;
        pending.push_str(line);
        pending.push(' ');
        if depth > 0 {
            continue;
        }
        let entry = std::mem::take(&mut pending).replace(['(', ')'], " ");
        depth = 0;
        let lineno = index + 1;
        if entry.trim().is_empty() {
            continue;
        }
        let starts_blank = entry.starts_with([' ', '\t']);
        let mut fields = entry.split_whitespace();
        let first = fields.next().unwrap_or_default();
        if first.eq_ignore_ascii_case("$ORIGIN") {
            let o = fields
                .next()
                .with_context(|| format!("line {lineno}: $ORIGIN needs a name"))?;
            origin = Some(absolute(o, origin.as_deref(), lineno)?);
            continue;
        }
        if first.starts_with('$') {
            continue; // $TTL, $INCLUDE (not followed), $GENERATE
        }
        let mut rest: Vec<&str> = fields.collect();
        let owner = if starts_blank {
            rest.insert(0, first);
            last_owner
                .clone()
                .with_context(|| format!("line {lineno}: record without owner"))?
        } else {
            absolute(first, origin.as_deref(), lineno)?
        };
        let rtype_text = rest
            .iter()
            .find(|f| !is_ttl_or_class(f))
            .with_context(|| format!("line {lineno}: record without a type"))?;
        let rtype = parse_type(rtype_text).with_context(|| format!("line {lineno}"))?;
        if rtype == 6 && soa_owner.is_none() {
            soa_owner = Some(owner.clone());
        }
        if seen.insert(Existing {
            name: owner.clone(),
            rtype,
        }) {
            pairs.push(Existing {
                name: owner.clone(),
                rtype,
            });
        }
        last_owner = Some(owner);
    }
    let origin = soa_owner
        .or(origin)
        .context("zone has neither SOA nor $ORIGIN")?;
    Ok((origin, pairs))
}

fn strip_comment(line: &str) -> &str {
    let mut in_quotes = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            ';' if !in_quotes => return &line[..i],
            _ => {}
        }
    }
    line
}

fn is_ttl_or_class(field: &str) -> bool {
    field.bytes().all(|b| b.is_ascii_digit())
        || ["IN", "CH", "HS", "CS"]
            .iter()
            .any(|c| c.eq_ignore_ascii_case(field))
}

fn absolute(name: &str, origin: Option<&str>, lineno: usize) -> anyhow::Result<String> {
    let name = name.to_ascii_lowercase();
    let full = if name == "@" {
        origin
            .with_context(|| format!("line {lineno}: @ without $ORIGIN"))?
            .to_string()
    } else if name.ends_with('.') {
        name
    } else {
        let o = origin.with_context(|| format!("line {lineno}: relative name without $ORIGIN"))?;
        if o == "." {
            format!("{name}.")
        } else {
            format!("{name}.{o}")
        }
    };
    parse_name(&full).with_context(|| format!("line {lineno}: bad name {full:?}"))?;
    Ok(full)
}

/// How to mix a generated query file.
#[derive(Clone, Debug)]
pub struct QueryMix {
    /// Number of query lines.
    pub count: u64,
    /// Percentage (0–100) of queries for names that do not exist (NXDOMAIN).
    pub miss_percent: u8,
    /// Hit types: only pairs of these types are used (empty: all types).
    pub types: Vec<u16>,
    /// PRNG seed.
    pub seed: u64,
}

/// Parses `A,AAAA,TXT` into type codes.
pub fn parse_type_list(list: &str) -> anyhow::Result<Vec<u16>> {
    list.split(',')
        .filter(|t| !t.trim().is_empty())
        .map(|t| parse_type(t.trim()).map_err(anyhow::Error::from))
        .collect()
}

/// Writes `mix.count` query lines: hits drawn uniformly from `existing` (filtered by type),
/// misses `nx<random>.<origin>` with a type from the mix (or A).
pub fn write_queries(
    out: &mut dyn Write,
    origin: &str,
    existing: &[Existing],
    mix: &QueryMix,
) -> anyhow::Result<()> {
    if mix.miss_percent > 100 {
        bail!("miss percentage {} is over 100", mix.miss_percent);
    }
    let hits: Vec<&Existing> = existing
        .iter()
        .filter(|e| mix.types.is_empty() || mix.types.contains(&e.rtype))
        .collect();
    if hits.is_empty() && mix.miss_percent < 100 {
        bail!("the zone has no records of the requested types");
    }
    let miss_types: &[u16] = if mix.types.is_empty() {
        &[1]
    } else {
        &mix.types
    };
    let mut rng = SplitMix64::new(mix.seed);
    writeln!(
        out,
        "# skylane-perf queries for {origin}: {} lines, {}% misses",
        mix.count, mix.miss_percent
    )?;
    for _ in 0..mix.count {
        if rng.below(100) < u64::from(mix.miss_percent) {
            let t = miss_types[rng.below(miss_types.len() as u64) as usize];
            writeln!(
                out,
                "nx{:x}.{origin} {}",
                rng.next_u64() >> 16,
                type_name(t)
            )?;
        } else {
            let e = hits[rng.below(hits.len() as u64) as usize];
            writeln!(out, "{} {}", e.name, type_name(e.rtype))?;
        }
    }
    Ok(())
}

/// The `(name, type)` pairs of the synthetic zone, without building its text.
pub fn synthetic_pairs(origin: &str, names: u64) -> Vec<Existing> {
    let mut pairs = vec![
        Existing {
            name: origin.to_string(),
            rtype: 6,
        },
        Existing {
            name: origin.to_string(),
            rtype: 2,
        },
        Existing {
            name: format!("ns1.{origin}"),
            rtype: 1,
        },
    ];
    for i in 0..names {
        let name = format!("host{i}.{origin}");
        pairs.push(Existing {
            name: name.clone(),
            rtype: 1,
        });
        if i % 2 == 0 {
            pairs.push(Existing {
                name: name.clone(),
                rtype: 28,
            });
        }
        if i % 8 == 0 {
            pairs.push(Existing { name, rtype: 16 });
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queryfile::parse_queries;

    #[test]
    fn synthetic_zone_reads_back_as_its_pairs() {
        let mut text = Vec::new();
        write_zone(&mut text, "perf.test.", 20).unwrap();
        let text = String::from_utf8(text).unwrap();
        let (origin, pairs) = read_zone(&text, None).unwrap();
        assert_eq!(origin, "perf.test.");
        assert_eq!(pairs, synthetic_pairs("perf.test.", 20));
        assert_eq!(pairs.len(), 3 + 20 + 10 + 3);
    }

    #[test]
    fn reads_a_hand_written_zone() {
        let text = "$ORIGIN Example.COM.\n$TTL 60\n@ IN SOA ns hm ( 1 2\n 3 4 5 ) ; comment\n\
                    @ NS ns\nns 30 IN A 192.0.2.1\n   IN AAAA 2001:db8::1\n\
                    txt IN TXT \"a;b\" ; c\nabs.other. IN CNAME x\n";
        let (origin, pairs) = read_zone(text, None).unwrap();
        assert_eq!(origin, "example.com.");
        let got: Vec<(String, u16)> = pairs.into_iter().map(|e| (e.name, e.rtype)).collect();
        assert_eq!(
            got,
            vec![
                ("example.com.".into(), 6),
                ("example.com.".into(), 2),
                ("ns.example.com.".into(), 1),
                ("ns.example.com.".into(), 28),
                ("txt.example.com.".into(), 16),
                ("abs.other.".into(), 5),
            ]
        );
        assert!(
            read_zone("foo A 1.2.3.4\n", None).is_err(),
            "relative name without origin"
        );
        assert!(read_zone("foo. IN BOGUS x\n", None).is_err());
    }

    #[test]
    fn query_mix_has_requested_misses_and_types() {
        let pairs = synthetic_pairs("perf.test.", 1000);
        let mix = QueryMix {
            count: 2000,
            miss_percent: 25,
            types: vec![1, 28],
            seed: 7,
        };
        let mut out = Vec::new();
        write_queries(&mut out, "perf.test.", &pairs, &mix).unwrap();
        let text = String::from_utf8(out).unwrap();
        let queries = parse_queries(&text).unwrap();
        assert_eq!(queries.len(), 2000);
        let misses = text.lines().filter(|l| l.starts_with("nx")).count();
        assert!((400..600).contains(&misses), "misses {misses}");
        assert!(queries.iter().all(|q| q.qtype == 1 || q.qtype == 28));
        let existing: HashSet<(Vec<u8>, u16)> = pairs
            .iter()
            .map(|e| (parse_name(&e.name).unwrap(), e.rtype))
            .collect();
        let hits = queries
            .iter()
            .filter(|q| existing.contains(&(q.name.clone(), q.qtype)))
            .count();
        assert_eq!(hits + misses, 2000, "every non-miss is an existing pair");
        // Same seed, same file.
        let mut again = Vec::new();
        write_queries(&mut again, "perf.test.", &pairs, &mix).unwrap();
        assert_eq!(again, text.as_bytes());
    }

    #[test]
    fn rejects_impossible_mixes() {
        let pairs = synthetic_pairs("perf.test.", 4);
        let mix = QueryMix {
            count: 1,
            miss_percent: 0,
            types: vec![15],
            seed: 1,
        };
        assert!(write_queries(&mut Vec::new(), "perf.test.", &pairs, &mix).is_err());
        let mix = QueryMix {
            count: 1,
            miss_percent: 101,
            types: vec![],
            seed: 1,
        };
        assert!(write_queries(&mut Vec::new(), "perf.test.", &pairs, &mix).is_err());
        assert!(parse_type_list("A,BOGUS").is_err());
        assert_eq!(parse_type_list("a, aaaa").unwrap(), vec![1, 28]);
        assert!(normalize_origin("bad..origin").is_err());
    }
}
