//! Wall-clock times in RFC 3339.

use std::time::SystemTime;

/// Now, RFC 3339 in UTC with milliseconds.
pub fn now_rfc3339() -> String {
    rfc3339(SystemTime::now())
}

pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}
