//! Owner and target names given to the API: completion and validation.
//!
//! Owner names (the record's name) are completed with the default (first)
//! served domain unless they end with a dot or already lie below a served
//! domain: `web` → `web.skylane.local.`, `cctv2.skydns.local` stays as it is.
//! An owner must lie below a served domain (or `in-addr.arpa.` / `ip6.arpa.`
//! for PTR records). Target names inside records are absolute (the trailing
//! dot is optional). Labels are letters, digits, `-` and `_`; an owner may
//! start with the wildcard label `*`.

use super::error::ApiError;
use skylane_dataplane::name::Name;
use skylane_dataplane::snapshot::ZoneConfig;

/// Reverse-mapping suffixes where PTR owners may live.
const ARPA_SUFFIXES: [&str; 2] = ["in-addr.arpa.", "ip6.arpa."];

/// Checks the characters of every label (`wildcard_ok`: leftmost `*` allowed).
fn check_labels(name: &Name, wildcard_ok: bool) -> Result<(), String> {
    for (i, label) in name.labels().enumerate() {
        if label == b"*" {
            if wildcard_ok && i == 0 {
                continue;
            }
            return Err("'*' is only allowed as the whole leftmost label".into());
        }
        if let Some(&b) = label
            .iter()
            .find(|b| !(b.is_ascii_alphanumeric() || **b == b'-' || **b == b'_'))
        {
            return Err(format!(
                "label {:?} has the character {:?}; use letters, digits, '-' and '_'",
                String::from_utf8_lossy(label),
                b as char
            ));
        }
    }
    Ok(())
}

fn parse_text(text: &str) -> Result<Name, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("name is empty".into());
    }
    if text.contains('\\') {
        return Err("escapes are not allowed in names".into());
    }
    Name::from_ascii(text).map_err(|e| format!("bad name {text:?}: {e}"))
}

/// True when `name` is under a reverse-mapping zone.
pub fn is_arpa(name: &Name) -> bool {
    ARPA_SUFFIXES
        .iter()
        .any(|s| name.is_subdomain_of(&Name::from_ascii(s).expect("valid suffix")))
}

/// The served domain containing `name`, longest first.
pub fn domain_of<'a>(name: &Name, zone: &'a ZoneConfig) -> Option<&'a Name> {
    zone.domains
        .iter()
        .filter(|d| name.is_subdomain_of(d))
        .max_by_key(|d| d.wire_len())
}

/// Completes and validates an owner name; errors name `field`.
pub fn owner_name(text: &str, zone: &ZoneConfig, field: &str) -> Result<Name, ApiError> {
    let err = |m: String| ApiError::field(field, m);
    let trimmed = text.trim();
    let parsed = parse_text(trimmed).map_err(err)?;
    let absolute = trimmed.ends_with('.');
    let name = if absolute || domain_of(&parsed, zone).is_some() || is_arpa(&parsed) {
        parsed
    } else {
        let default = zone
            .domains
            .first()
            .ok_or_else(|| err("no domains are served".into()))?;
        Name::from_ascii_relative(trimmed, default)
            .map_err(|e| err(format!("bad name {trimmed:?}: {e}")))?
    };
    check_labels(&name, true).map_err(err)?;
    if domain_of(&name, zone).is_none() && !is_arpa(&name) {
        let served: Vec<String> = zone.domains.iter().map(|d| d.to_string()).collect();
        return Err(err(format!(
            "{name} is outside the served domains ({})",
            served.join(", ")
        )));
    }
    Ok(name)
}

/// Validates a target name (CNAME/PTR target, SRV target, MX exchange).
pub fn target_name(text: &str, field: &str) -> Result<Name, ApiError> {
    let err = |m: String| ApiError::field(field, m);
    let name = parse_text(text).map_err(err)?;
    if name.is_root() {
        return Err(err("the root is not a valid target".into()));
    }
    check_labels(&name, false).map_err(err)?;
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone() -> ZoneConfig {
        ZoneConfig {
            domains: vec![
                Name::from_ascii("skydns.local.").unwrap(),
                Name::from_ascii("cluster.example.").unwrap(),
            ],
            ..ZoneConfig::default()
        }
    }

    #[test]
    fn completes_relative_owners() {
        let z = zone();
        let n = |t: &str| owner_name(t, &z, "name").map(|n| n.to_string());
        assert_eq!(n("web").unwrap(), "web.skydns.local.");
        assert_eq!(n("cctv2.skydns.local").unwrap(), "cctv2.skydns.local.");
        assert_eq!(n("a.cluster.example").unwrap(), "a.cluster.example.");
        assert_eq!(
            n("web.default.svc").unwrap(),
            "web.default.svc.skydns.local."
        );
        assert_eq!(n("*.web").unwrap(), "*.web.skydns.local.");
        assert_eq!(
            n("1.0.0.10.in-addr.arpa.").unwrap(),
            "1.0.0.10.in-addr.arpa."
        );
    }

    #[test]
    fn rejects_bad_owners() {
        let z = zone();
        for bad in [
            "",
            "www.example.com.",
            "a..b",
            "a/b",
            "we b",
            "x.*.web",
            "a\\.b",
        ] {
            let e = owner_name(bad, &z, "name").unwrap_err();
            assert_eq!(e.field.as_deref(), Some("name"), "{bad}");
        }
        let long = "a".repeat(64);
        assert!(owner_name(&long, &z, "name").is_err());
    }

    #[test]
    fn targets_are_absolute() {
        assert_eq!(
            target_name("web.example.com", "target")
                .unwrap()
                .to_string(),
            "web.example.com."
        );
        assert!(target_name(".", "target").is_err());
        assert!(target_name("*.x.", "target").is_err());
    }
}
