//! Which live agent checks which address: rendezvous (highest random weight) hashing with a
//! fixed hash, so every agent computes the same assignment from the same live set, and when an
//! agent leaves only its addresses move.

use std::net::IpAddr;
use std::time::Duration;

/// FNV-1a over the parts, then the splitmix64 finaliser: stable across hosts and versions.
fn stable_hash(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in *part {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

fn ip_bytes(ip: &IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

/// The agent (of `live`, sorted or not) that checks `ip`; `None` when `live` is empty.
pub fn owner<'a>(ip: &IpAddr, live: &'a [String]) -> Option<&'a str> {
    let bytes = ip_bytes(ip);
    live.iter()
        .map(|a| (stable_hash(&[a.as_bytes(), &bytes]), a.as_str()))
        .max()
        .map(|(_, a)| a)
}

/// The address's fixed offset inside the interval, so checks spread evenly over it.
pub fn phase(ip: &IpAddr, interval: Duration) -> Duration {
    let nanos = interval.as_nanos().max(1) as u64;
    Duration::from_nanos(stable_hash(&[b"phase", &ip_bytes(ip)]) % nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignment_is_balanced_and_only_a_dead_agents_share_moves() {
        let three: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let two: Vec<String> = ["a", "c"].iter().map(|s| s.to_string()).collect();
        let ips: Vec<IpAddr> = (0..3000u32)
            .map(|i| IpAddr::from(std::net::Ipv4Addr::from(0x7f01_0000 + i)))
            .collect();
        let mut counts = [0usize; 3];
        for ip in &ips {
            let o3 = owner(ip, &three).unwrap();
            counts[(o3.as_bytes()[0] - b'a') as usize] += 1;
            let o2 = owner(ip, &two).unwrap();
            if o3 != "b" {
                assert_eq!(o3, o2, "{ip} moved although its agent stayed");
            }
        }
        assert!(
            counts.iter().all(|&c| (800..1200).contains(&c)),
            "{counts:?}"
        );
        assert_eq!(owner(&ips[0], &[]), None);
        let p = phase(&ips[0], Duration::from_secs(10));
        assert!(p < Duration::from_secs(10));
    }
}
