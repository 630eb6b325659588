//! Turning stored wire RDATA back into [`RData`] (for `Snapshot::records`,
//! a control-plane helper; never used per packet).

use crate::name::Name;
use crate::record::{rtype, RData};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Splits an uncompressed wire name off the front of `b`.
fn take_name(b: &[u8]) -> Option<(Name, &[u8])> {
    let mut i = 0;
    loop {
        let l = *b.get(i)? as usize;
        i += 1 + l;
        if l == 0 {
            break;
        }
    }
    let name = Name::from_wire(b.get(..i)?).ok()?;
    Some((name, &b[i..]))
}

fn take_u16(b: &[u8]) -> Option<(u16, &[u8])> {
    Some((u16::from_be_bytes([*b.first()?, *b.get(1)?]), &b[2..]))
}

fn take_u32(b: &[u8]) -> Option<(u32, &[u8])> {
    let s = b.get(..4)?;
    Some((u32::from_be_bytes([s[0], s[1], s[2], s[3]]), &b[4..]))
}

/// The [`RData`] of stored wire RDATA, `None` if it does not parse.
pub(crate) fn decode_rdata(t: u16, b: &[u8]) -> Option<RData> {
    Some(match t {
        rtype::A => RData::A(Ipv4Addr::from(<[u8; 4]>::try_from(b).ok()?)),
        rtype::AAAA => RData::Aaaa(Ipv6Addr::from(<[u8; 16]>::try_from(b).ok()?)),
        rtype::CNAME | rtype::NS | rtype::PTR => {
            let (n, rest) = take_name(b)?;
            if !rest.is_empty() {
                return None;
            }
            match t {
                rtype::CNAME => RData::Cname(n),
                rtype::NS => RData::Ns(n),
                _ => RData::Ptr(n),
            }
        }
        rtype::MX => {
            let (preference, b) = take_u16(b)?;
            let (exchange, _) = take_name(b)?;
            RData::Mx {
                preference,
                exchange,
            }
        }
        rtype::SRV => {
            let (priority, b) = take_u16(b)?;
            let (weight, b) = take_u16(b)?;
            let (port, b) = take_u16(b)?;
            let (target, _) = take_name(b)?;
            RData::Srv {
                priority,
                weight,
                port,
                target,
            }
        }
        rtype::TXT => {
            let mut strings = Vec::new();
            let mut rest = b;
            while let Some(&l) = rest.first() {
                strings.push(rest.get(1..1 + l as usize)?.to_vec());
                rest = &rest[1 + l as usize..];
            }
            if strings.len() == 1 && strings[0].is_empty() {
                strings.clear();
            }
            RData::Txt(strings)
        }
        rtype::SOA => {
            let (mname, b) = take_name(b)?;
            let (rname, b) = take_name(b)?;
            let (serial, b) = take_u32(b)?;
            let (refresh, b) = take_u32(b)?;
            let (retry, b) = take_u32(b)?;
            let (expire, b) = take_u32(b)?;
            let (minimum, _) = take_u32(b)?;
            RData::Soa {
                mname,
                rname,
                serial,
                refresh,
                retry,
                expire,
                minimum,
            }
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrips_every_type() {
        let n = |s: &str| Name::from_ascii(s).unwrap();
        let all = [
            RData::A("10.1.2.3".parse().unwrap()),
            RData::Aaaa("2001:db8::7".parse().unwrap()),
            RData::Cname(n("Target.Example.")),
            RData::Ns(n("ns1.example.")),
            RData::Ptr(n("host.example.")),
            RData::Mx {
                preference: 10,
                exchange: n("mx.example."),
            },
            RData::Srv {
                priority: 1,
                weight: 2,
                port: 8080,
                target: n("svc.example."),
            },
            RData::Txt(vec![b"hello".to_vec(), b"".to_vec(), b"x".to_vec()]),
            RData::Txt(vec![]),
            RData::Soa {
                mname: n("ns.example."),
                rname: n("hostmaster.example."),
                serial: 7,
                refresh: 1,
                retry: 2,
                expire: 3,
                minimum: 4,
            },
        ];
        for d in all {
            let mut w = Vec::new();
            d.write_wire(&mut w);
            assert_eq!(decode_rdata(d.rtype(), &w), Some(d));
        }
        assert_eq!(decode_rdata(rtype::A, &[1, 2, 3]), None);
    }
}
