//! The `[dns]` keys whose values need more than a type to read: `nsid` (text or
//! `0x` hex, RFC 5001).

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
}
