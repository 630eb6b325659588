//! Shared pieces of the fuzz targets: a small snapshot built through the data plane's
//! public API, the engine call the data planes make, and Ethernet/IP/UDP framing with
//! valid checksums so fuzzed DNS payloads reach the DPDK responder's DNS path.
//!
//! It also compiles skylane-controlplane's pure parsing modules (the SkyDNS layout, the
//! zone-file reader, the REST API's body parsers) from their sources, so the fuzz build
//! does not build the control plane's server dependencies (docs/testing.md, "Fuzzing").

use skylane_dataplane::engine::{self, Client, EngineState, Transport, Verdict};
use skylane_dataplane::{Name, RData, Record, Snapshot, ZoneConfig};
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

#[path = "../../controlplane/src/layout.rs"]
#[rustfmt::skip] // formatted in skylane-controlplane
pub mod layout;
#[path = "../../controlplane/src/zonefile.rs"]
#[rustfmt::skip] // formatted in skylane-controlplane
pub mod zonefile;

pub mod api;
pub mod run;

/// The responder's MAC and addresses in the frame targets.
pub const OUR_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
pub const PEER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
pub const OUR_V4: [u8; 4] = [10, 99, 0, 1];
pub const OUR_V6: [u8; 16] = [0xfd, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

fn name(s: &str) -> Name {
    Name::from_ascii(s).expect("valid name")
}

/// A snapshot with one zone (`svc.test.`) holding one record of each kind, a union
/// (`grp` with children), a CNAME chain, a wildcard, a delegation and an A RRset too
/// large for a 512-byte response.
pub fn snapshot() -> &'static Snapshot {
    static SNAP: OnceLock<Snapshot> = OnceLock::new();
    SNAP.get_or_init(|| {
        let zone = ZoneConfig {
            domains: vec![name("svc.test.")],
            ..ZoneConfig::default()
        };
        let api = name("api.svc.test.");
        let rec = |n: &str, data: RData| Record::new(name(n), 30, data);
        let mut records = vec![
            Record::new(api.clone(), 30, RData::A("10.1.2.3".parse().unwrap())),
            Record::new(api.clone(), 60, RData::Aaaa("fd00::123".parse().unwrap())),
            rec("a1.grp.svc.test.", RData::A("10.1.0.1".parse().unwrap())),
            rec("a2.grp.svc.test.", RData::A("10.1.0.2".parse().unwrap())),
            rec("a3.grp.svc.test.", RData::A("10.1.0.1".parse().unwrap())),
            rec("alias.svc.test.", RData::Cname(name("api.svc.test."))),
            rec("loop.svc.test.", RData::Cname(name("loop2.svc.test."))),
            rec("loop2.svc.test.", RData::Cname(name("loop.svc.test."))),
            rec("*.wild.svc.test.", RData::A("10.9.9.9".parse().unwrap())),
            rec("sub.svc.test.", RData::Ns(name("ns.sub.svc.test."))),
            rec("ns.sub.svc.test.", RData::A("10.5.5.5".parse().unwrap())),
            rec(
                "_http._tcp.svc.test.",
                RData::Srv {
                    priority: 10,
                    weight: 5,
                    port: 80,
                    target: api.clone(),
                },
            ),
            rec(
                "svc.test.",
                RData::Mx {
                    preference: 10,
                    exchange: api,
                },
            ),
            rec(
                "txt.svc.test.",
                RData::Txt(vec![b"hello".to_vec(), vec![b'x'; 255]]),
            ),
        ];
        // An RRset too large for 512 bytes: truncation over UDP.
        records.extend((1..=40u8).map(|i| {
            rec(
                "big.svc.test.",
                RData::A(std::net::Ipv4Addr::new(10, 2, 0, i)),
            )
        }));
        Snapshot::build(Arc::new(zone), records)
    })
}

/// Answer the query in `buf[..query_len]` in place as a data plane does; the response
/// length, if there is one. Checks the engine's own promise: it fits the buffer.
pub fn answer(
    buf: &mut [u8],
    query_len: usize,
    peer: IpAddr,
    tcp: bool,
    seed: u64,
) -> Option<usize> {
    let mut state = EngineState::new(seed, 1232);
    let client = Client {
        addr: peer,
        port: 40000,
        transport: if tcp { Transport::Tcp } else { Transport::Udp },
        via: 0,
    };
    match engine::answer(snapshot(), buf, query_len, &client, &mut state) {
        Verdict::Reply(r) => {
            assert!(r.len <= buf.len(), "response longer than the buffer");
            assert!(r.len >= 12, "response shorter than a header");
            Some(r.len)
        }
        Verdict::Drop(_) | Verdict::Forward(_) => None,
    }
}

/// RFC 1071 one's-complement sum of `parts`, folded, not inverted.
pub fn sum(parts: &[&[u8]]) -> u16 {
    let mut s: u64 = 0;
    for p in parts {
        for c in p.chunks(2) {
            let w = if c.len() == 2 {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from_be_bytes([c[0], 0])
            };
            s += u64::from(w);
        }
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

/// An Ethernet header to us from the peer, optionally VLAN-tagged.
fn ethernet(vlan: Option<u16>, ethertype: u16) -> Vec<u8> {
    let mut f = Vec::with_capacity(1600);
    f.extend_from_slice(&OUR_MAC);
    f.extend_from_slice(&PEER_MAC);
    if let Some(tag) = vlan {
        f.extend_from_slice(&0x8100u16.to_be_bytes());
        f.extend_from_slice(&(tag & 0x0fff).to_be_bytes());
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    f
}

/// A UDP datagram to port 53 carrying `payload`, checksum over `pseudo`.
fn udp(sport: u16, payload: &[u8], pseudo: &[u8]) -> Vec<u8> {
    let len = (8 + payload.len()) as u16;
    let mut d = Vec::with_capacity(len as usize);
    d.extend_from_slice(&sport.to_be_bytes());
    d.extend_from_slice(&53u16.to_be_bytes());
    d.extend_from_slice(&len.to_be_bytes());
    d.extend_from_slice(&[0, 0]);
    d.extend_from_slice(payload);
    let c = !sum(&[pseudo, &d]);
    let c = if c == 0 { 0xffff } else { c };
    d[6..8].copy_from_slice(&c.to_be_bytes());
    d
}

/// A whole, valid Ethernet + IPv4 (or IPv6) + UDP frame to our port 53 from `src`
/// (last address byte) and `sport`, carrying `payload`.
pub fn dns_frame(v6: bool, vlan: Option<u16>, src: u8, sport: u16, payload: &[u8]) -> Vec<u8> {
    let udp_len = (8 + payload.len()) as u16;
    if v6 {
        let mut peer = OUR_V6;
        peer[15] = src;
        let mut pseudo = Vec::with_capacity(40);
        pseudo.extend_from_slice(&peer);
        pseudo.extend_from_slice(&OUR_V6);
        pseudo.extend_from_slice(&u32::from(udp_len).to_be_bytes());
        pseudo.extend_from_slice(&[0, 0, 0, 17]);
        let mut f = ethernet(vlan, 0x86dd);
        f.extend_from_slice(&[0x60, 0, 0, 0]);
        f.extend_from_slice(&udp_len.to_be_bytes());
        f.extend_from_slice(&[17, 64]);
        f.extend_from_slice(&peer);
        f.extend_from_slice(&OUR_V6);
        f.extend(udp(sport, payload, &pseudo));
        f
    } else {
        let peer = [10, 99, 0, src];
        let mut pseudo = Vec::with_capacity(12);
        pseudo.extend_from_slice(&peer);
        pseudo.extend_from_slice(&OUR_V4);
        pseudo.extend_from_slice(&[0, 17]);
        pseudo.extend_from_slice(&udp_len.to_be_bytes());
        let mut ip = vec![0x45, 0];
        ip.extend_from_slice(&(20 + udp_len).to_be_bytes());
        ip.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]);
        ip.extend_from_slice(&peer);
        ip.extend_from_slice(&OUR_V4);
        let c = !sum(&[&ip]);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        let mut f = ethernet(vlan, 0x0800);
        f.extend(ip);
        f.extend(udp(sport, payload, &pseudo));
        f
    }
}

/// Fix up an arbitrary frame's IPv4 header checksum and UDP checksum where the headers
/// are long enough to carry them, so mutations past the checksums are explored.
pub fn fix_checksums(f: &mut [u8]) {
    let l2 = if f.get(12..14) == Some(&[0x81, 0x00]) {
        18
    } else {
        14
    };
    let Some(et) = f.get(l2 - 2..l2).map(|b| u16::from_be_bytes([b[0], b[1]])) else {
        return;
    };
    if et == 0x0800 {
        let Some(&vihl) = f.get(l2) else { return };
        let hl = usize::from(vihl & 0x0f) * 4;
        if hl < 20 || f.len() < l2 + hl {
            return;
        }
        f[l2 + 10..l2 + 12].fill(0);
        let c = !sum(&[&f[l2..l2 + hl]]);
        f[l2 + 10..l2 + 12].copy_from_slice(&c.to_be_bytes());
        let total = usize::from(u16::from_be_bytes([f[l2 + 2], f[l2 + 3]]));
        let l4 = l2 + hl;
        if f[l2 + 9] != 17 || total < hl + 8 || f.len() < l2 + total {
            return;
        }
        let mut pseudo = [0u8; 12];
        pseudo[..8].copy_from_slice(&f[l2 + 12..l2 + 20]);
        pseudo[9] = 17;
        let ulen = u16::from_be_bytes([f[l4 + 4], f[l4 + 5]]);
        pseudo[10..12].copy_from_slice(&ulen.to_be_bytes());
        let end = (l4 + usize::from(ulen)).min(l2 + total).max(l4 + 8);
        f[l4 + 6..l4 + 8].fill(0);
        let c = !sum(&[&pseudo, &f[l4..end]]);
        f[l4 + 6..l4 + 8].copy_from_slice(&c.to_be_bytes());
    } else if et == 0x86dd {
        let l4 = l2 + 40;
        if f.len() < l4 + 8 || f[l2 + 6] != 17 {
            return;
        }
        let plen = usize::from(u16::from_be_bytes([f[l2 + 4], f[l2 + 5]]));
        let end = (l4 + plen).min(f.len()).max(l4 + 8);
        let mut pseudo = [0u8; 40];
        pseudo[..32].copy_from_slice(&f[l2 + 8..l2 + 40]);
        pseudo[32..36].copy_from_slice(&((end - l4) as u32).to_be_bytes());
        pseudo[39] = 17;
        f[l4 + 6..l4 + 8].fill(0);
        let c = !sum(&[&pseudo, &f[l4..end]]);
        f[l4 + 6..l4 + 8].copy_from_slice(&c.to_be_bytes());
    }
}
