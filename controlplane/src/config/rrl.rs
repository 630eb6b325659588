//! `[rrl]`: response rate limiting (BIND's `rate-limit`, Knot's `rrl` module).
//! docs/config.md explains every key; the data plane's [`RrlSettings`] is what it becomes.

use super::de_prefixes;
use serde::Deserialize;
use skylane_dataplane::rrl::RrlSettings;
use std::net::IpAddr;

/// Largest `window` (seconds), as BIND.
pub const MAX_WINDOW: u32 = 3600;
/// Largest `slip`, as BIND.
pub const MAX_SLIP: u32 = 10;
/// Largest per-second rate.
pub const MAX_RATE: u32 = 1_000_000;

/// `[rrl]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct RrlSection {
    pub enabled: bool,
    pub responses_per_second: u32,
    /// Default: `responses-per-second`.
    pub nxdomains_per_second: Option<u32>,
    /// Default: `responses-per-second`.
    pub errors_per_second: Option<u32>,
    pub window: u32,
    pub slip: u32,
    pub ipv4_prefix_length: u8,
    pub ipv6_prefix_length: u8,
    /// CIDRs never limited.
    #[serde(deserialize_with = "de_prefixes")]
    pub exempt: Vec<(IpAddr, u8)>,
}

impl Default for RrlSection {
    fn default() -> Self {
        let d = RrlSettings::default();
        RrlSection {
            enabled: d.enabled,
            responses_per_second: d.responses_per_second,
            nxdomains_per_second: None,
            errors_per_second: None,
            window: d.window,
            slip: d.slip,
            ipv4_prefix_length: d.ipv4_prefix_length,
            ipv6_prefix_length: d.ipv6_prefix_length,
            exempt: Vec::new(),
        }
    }
}

impl RrlSection {
    /// Checks the ranges; the reason starts with the key.
    pub fn validate(&self) -> Result<(), String> {
        let rates = [
            ("responses-per-second", Some(self.responses_per_second)),
            ("nxdomains-per-second", self.nxdomains_per_second),
            ("errors-per-second", self.errors_per_second),
        ];
        for (key, rate) in rates {
            if rate.is_some_and(|r| r > MAX_RATE) {
                return Err(format!(
                    "{key}: [rrl] {key} must be at most {MAX_RATE} (0 = not limited)"
                ));
            }
        }
        if !(1..=MAX_WINDOW).contains(&self.window) {
            return Err(format!(
                "window: [rrl] window must be between 1 and {MAX_WINDOW} seconds"
            ));
        }
        if self.slip > MAX_SLIP {
            return Err(format!("slip: [rrl] slip must be between 0 and {MAX_SLIP}"));
        }
        if self.ipv4_prefix_length > 32 {
            return Err("ipv4-prefix-length: [rrl] ipv4-prefix-length must be at most 32".into());
        }
        if self.ipv6_prefix_length > 128 {
            return Err("ipv6-prefix-length: [rrl] ipv6-prefix-length must be at most 128".into());
        }
        Ok(())
    }

    /// The data plane's settings (defaults filled in).
    pub fn settings(&self) -> RrlSettings {
        RrlSettings {
            enabled: self.enabled,
            responses_per_second: self.responses_per_second,
            nxdomains_per_second: self
                .nxdomains_per_second
                .unwrap_or(self.responses_per_second),
            errors_per_second: self.errors_per_second.unwrap_or(self.responses_per_second),
            window: self.window,
            slip: self.slip,
            ipv4_prefix_length: self.ipv4_prefix_length,
            ipv6_prefix_length: self.ipv6_prefix_length,
            exempt: self.exempt.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn defaults_follow_bind_and_rates_default_to_responses() {
        let s = Config::parse("").unwrap().rrl.settings();
        assert!(!s.enabled);
        assert_eq!(
            (
                s.responses_per_second,
                s.nxdomains_per_second,
                s.errors_per_second
            ),
            (20, 20, 20)
        );
        assert_eq!((s.window, s.slip), (15, 2));
        assert_eq!((s.ipv4_prefix_length, s.ipv6_prefix_length), (24, 56));
        let text = "[rrl]\nenabled = true\nresponses-per-second = 5\nerrors-per-second = 1\n\
                    exempt = [\"10.0.0.0/8\", \"fd00::/8\"]\n";
        let s = Config::parse(text).unwrap().rrl.settings();
        assert!(s.enabled);
        assert_eq!(
            (
                s.responses_per_second,
                s.nxdomains_per_second,
                s.errors_per_second
            ),
            (5, 5, 1)
        );
        assert_eq!(s.exempt.len(), 2);
    }

    #[test]
    fn bad_values_name_the_key_and_line() {
        let cases = [
            ("[rrl]\nenabled = true\nwindow = 0\n", 3, "window"),
            ("[rrl]\nwindow = 3601\n", 2, "window"),
            ("[rrl]\nslip = 11\n", 2, "slip"),
            ("[rrl]\nipv4-prefix-length = 33\n", 2, "ipv4-prefix-length"),
            ("[rrl]\nipv6-prefix-length = 129\n", 2, "ipv6-prefix-length"),
            (
                "[rrl]\nnxdomains-per-second = 2000000\n",
                2,
                "nxdomains-per-second",
            ),
            ("[rrl]\nresponses-per-second = -1\n", 2, ""),
            ("[rrl]\nexempt = [\"10.0.0.0/33\"]\n", 2, "prefix"),
            ("[rrl]\nexempt = [\"nope\"]\n", 2, "bad address"),
            ("[rrl]\nrate-limit = 5\n", 2, "rate-limit"),
        ];
        for (text, line, needle) in cases {
            let (l, reason) = Config::parse(text).unwrap_err();
            assert_eq!(l, line, "{text:?}: {reason}");
            assert!(reason.contains(needle), "{text:?}: {reason}");
        }
    }
}
