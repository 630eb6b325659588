//! The SkyDNS key/value layout: JSON values into records, keys into names and back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skylane_dataplane::Name;
use skylane_fuzz::layout::{
    classify_key, key_to_name, name_to_key, status_key_to_ip, value_to_records, KeyKind, SkyValue,
    StatusValue,
};

const PREFIX: &str = "/skydns";
const MONITOR: &str = "/skydns/monitor/status";

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = SkyValue::from_json(data) {
        let name = Name::from_ascii("x.skydns.local.").unwrap();
        let _ = value_to_records(&name, &v, 30);
        let _ = SkyValue::from_json(&v.to_json());
    }
    if let Ok(s) = StatusValue::from_json(data) {
        let _ = s.is_down();
    }
    let Ok(key) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(name) = key_to_name(PREFIX, key) {
        // A name read from a key maps back to a key that reads as the same name.
        let again = name_to_key(PREFIX, &name);
        assert_eq!(
            key_to_name(PREFIX, &again).as_ref(),
            Some(&name),
            "{key} -> {again}"
        );
    }
    let _ = status_key_to_ip(MONITOR, key);
    if let KeyKind::Name(n) = classify_key(PREFIX, MONITOR, key) {
        let _ = n.to_lowercase();
    }
});
