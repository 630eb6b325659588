//! The `[dns]` keys whose values need more than a type to read: `nsid` (text or
//! `0x` hex, RFC 5001) and `reverse-zones` (names under `in-addr.arpa.` /
//! `ip6.arpa.`).

use skylane_dataplane::name::Name;

/// Longest `dns.nsid` accepted, in bytes.
pub const MAX_NSID_LEN: usize = 128;

/// The bytes of a `dns.nsid` value: `0x` followed by hex digits (raw bytes, as Knot and
/// BIND accept), else the text itself. Empty or longer than [`MAX_NSID_LEN`] bytes: an error.
pub fn parse_nsid(text: &str) -> Result<Vec<u8>, String> {
    let bytes = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(digits) => {
            let bad = || format!("{text:?} is not 0x followed by pairs of hex digits");
            if digits.len() % 2 != 0 || !digits.is_ascii() {
                return Err(bad());
            }
            (0..digits.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).map_err(|_| bad()))
                .collect::<Result<Vec<u8>, String>>()?
        }
        None => text.as_bytes().to_vec(),
    };
    if bytes.is_empty() {
        return Err("must not be empty (leave it unset to return no identifier)".into());
    }
    if bytes.len() > MAX_NSID_LEN {
        return Err(format!(
            "{} bytes, at most {MAX_NSID_LEN} are allowed",
            bytes.len()
        ));
    }
    Ok(bytes)
}

/// The zones of `dns.reverse-zones`: each a name at or below `in-addr.arpa.` or `ip6.arpa.`
/// (lowercased, duplicates dropped).
pub fn parse_reverse_zones(zones: &[String]) -> Result<Vec<Name>, String> {
    let apexes = [
        Name::from_ascii("in-addr.arpa.").map_err(|e| e.to_string())?,
        Name::from_ascii("ip6.arpa.").map_err(|e| e.to_string())?,
    ];
    let mut out: Vec<Name> = Vec::new();
    for z in zones {
        let name = Name::from_ascii(z)
            .map_err(|e| format!("bad name {z:?}: {e}"))?
            .to_lowercase();
        if !apexes.iter().any(|a| name.is_subdomain_of(a)) {
            return Err(format!(
                "{z:?} is not under in-addr.arpa. or ip6.arpa. (forward zones go in domains)"
            ));
        }
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn nsid_is_text_or_hex_and_checked() {
        let zone = |text: &str| Config::parse(text).map(|c| c.zone_config(&[]).nsid);
        assert_eq!(zone(""), Ok(None));
        assert_eq!(zone("[dns]\nnsid = \"sky-1\""), Ok(Some(b"sky-1".to_vec())));
        assert_eq!(
            zone("[dns]\nnsid = \"0x00fFa1\""),
            Ok(Some(vec![0, 0xff, 0xa1]))
        );
        let long = format!("[dns]\nnsid = \"{}\"", "x".repeat(MAX_NSID_LEN + 1));
        for bad in ["\"\"", "\"0x\"", "\"0x123\"", "\"0xzz\"", "\"0xé1\""] {
            let err = zone(&format!("[dns]\nnsid = {bad}")).unwrap_err();
            assert!(err.1.starts_with("nsid: "), "{bad}: {err:?}");
            assert_eq!(err.0, 2, "{bad}: the line of the key");
        }
        assert!(zone(&long).unwrap_err().1.contains("at most 128"));
    }

    #[test]
    fn reverse_zones_are_reverse_names() {
        let zones = |text: &str| Config::parse(text).map(|c| c.zone_config(&[]).reverse_zones);
        assert_eq!(zones(""), Ok(None));
        let got =
            zones("[dns]\nreverse-zones = [\"10.IN-ADDR.arpa\", \"8.b.d.0.1.0.0.2.ip6.arpa.\"]")
                .unwrap()
                .unwrap();
        let got: Vec<String> = got.iter().map(|n| n.to_string()).collect();
        assert_eq!(got, ["10.in-addr.arpa.", "8.b.d.0.1.0.0.2.ip6.arpa."]);
        assert_eq!(zones("[dns]\nreverse-zones = []"), Ok(Some(Vec::new())));
        for bad in ["\"example.com.\"", "\"arpa.\"", "\"a..b\""] {
            let err = zones(&format!("[dns]\nreverse-zones = [{bad}]")).unwrap_err();
            assert!(err.1.starts_with("reverse-zones: "), "{bad}: {err:?}");
            assert_eq!(err.0, 2, "{bad}");
        }
    }
}
