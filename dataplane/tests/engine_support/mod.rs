//! Test-only helpers for the engine and wire tests: a fixture snapshot, a
//! query builder, and a small DNS message parser written independently of
//! `skylane_dataplane::wire` (so the writer is checked against a second
//! reading of RFC 1035).
#![allow(dead_code)]

use skylane_dataplane::engine::{answer, Client, EngineState, Reply, Transport, Verdict};
use skylane_dataplane::record::rtype;
use skylane_dataplane::snapshot::ZoneConfig;
use skylane_dataplane::{Name, Policy, RData, Record, Snapshot};
use std::net::IpAddr;
use std::sync::Arc;

pub fn n(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

pub fn rec(name: &str, data: RData) -> Record {
    Record::new(n(name), 60, data)
}

pub fn a(name: &str, ip: &str) -> Record {
    rec(name, RData::A(ip.parse().unwrap()))
}

pub fn aaaa(name: &str, ip: &str) -> Record {
    rec(name, RData::Aaaa(ip.parse().unwrap()))
}

pub fn cname(name: &str, target: &str) -> Record {
    rec(name, RData::Cname(n(target)))
}

pub fn srv(name: &str, prio: u16, port: u16, target: &str) -> Record {
    rec(
        name,
        RData::Srv {
            priority: prio,
            weight: 10,
            port,
            target: n(target),
        },
    )
}

/// The fixture: zones `skylane.local.` and `example.test.`.
pub fn records() -> Vec<Record> {
    let mut r = vec![
        a("web.skylane.local.", "10.0.0.1"),
        aaaa("v6.skylane.local.", "2001:db8::1"),
        a("multi.skylane.local.", "10.0.1.1"),
        a("multi.skylane.local.", "10.0.1.2"),
        a("multi.skylane.local.", "10.0.1.3"),
        cname("alias.skylane.local.", "Web.Skylane.Local."),
        cname("chain1.skylane.local.", "chain2.skylane.local."),
        cname("chain2.skylane.local.", "web.skylane.local."),
        cname("loop1.skylane.local.", "loop2.skylane.local."),
        cname("loop2.skylane.local.", "loop1.skylane.local."),
        cname("ext.skylane.local.", "www.example.org."),
        cname("intozone.skylane.local.", "host.example.test."),
        a("host.example.test.", "192.0.2.10"),
        cname("dangling.skylane.local.", "nothere.skylane.local."),
        srv(
            "_http._tcp.svc.skylane.local.",
            10,
            80,
            "multi.skylane.local.",
        ),
        srv("_http._tcp.svc.skylane.local.", 20, 80, "v6.skylane.local."),
        srv(
            "_http._tcp.svc.skylane.local.",
            30,
            80,
            "other.example.org.",
        ),
        a("*.wild.skylane.local.", "10.0.2.1"),
        a("sub.wild.skylane.local.", "10.0.2.9"),
        rec("txt.skylane.local.", RData::Txt(vec![b"hello".to_vec()])),
        a("x1.db.skylane.local.", "10.0.3.1"),
        a("x2.db.skylane.local.", "10.0.3.2"),
        aaaa("x2.db.skylane.local.", "2001:db8::32"),
    ];
    for i in 1..=5 {
        r.push(a("hone.skylane.local.", &format!("10.0.4.{i}")));
    }
    for i in 1..=4 {
        r.push(a("rnd.skylane.local.", &format!("10.0.5.{i}")));
    }
    for i in 1..=60 {
        r.push(a("big.skylane.local.", &format!("10.0.6.{i}")));
    }
    r
}

pub fn config() -> Arc<ZoneConfig> {
    Arc::new(ZoneConfig {
        domains: vec![n("skylane.local."), n("example.test.")],
        policies: vec![
            (n("hone.skylane.local."), Policy::HoneOne),
            (n("rnd.skylane.local."), Policy::RandomOne),
            (n("db.skylane.local."), Policy::HoneOne),
        ],
        auto_ptr: true,
        ..ZoneConfig::default()
    })
}

pub fn snapshot() -> Snapshot {
    Snapshot::build(config(), records())
}

/// EDNS parameters of a query: (udp size, version, DO).
pub type EdnsOpt = (u16, u8, bool);

/// A query with ID 0x1234, RD set.
pub fn query(name: &str, qtype: u16, edns: Option<EdnsOpt>) -> Vec<u8> {
    query_with(0x0100, name, qtype, 1, edns, &[])
}

/// A query with explicit flags, class and EDNS options (raw option bytes).
pub fn query_with(
    flags: u16,
    name: &str,
    qtype: u16,
    qclass: u16,
    edns: Option<EdnsOpt>,
    options: &[u8],
) -> Vec<u8> {
    let mut m = vec![0x12, 0x34];
    m.extend_from_slice(&flags.to_be_bytes());
    m.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, u8::from(edns.is_some())]);
    m.extend_from_slice(n(name).as_wire());
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&qclass.to_be_bytes());
    if let Some((size, version, dnssec_ok)) = edns {
        m.push(0);
        m.extend_from_slice(&rtype::OPT.to_be_bytes());
        m.extend_from_slice(&size.to_be_bytes());
        m.extend_from_slice(&[0, version, if dnssec_ok { 0x80 } else { 0 }, 0]);
        m.extend_from_slice(&(options.len() as u16).to_be_bytes());
        m.extend_from_slice(options);
    }
    m
}

pub fn udp(ip: &str) -> Client {
    Client {
        addr: ip.parse::<IpAddr>().unwrap(),
        transport: Transport::Udp,
        port: 0,
        via: 0,
    }
}

pub fn tcp(ip: &str) -> Client {
    Client {
        addr: ip.parse::<IpAddr>().unwrap(),
        transport: Transport::Tcp,
        port: 0,
        via: 0,
    }
}

/// Runs the engine on `q` in a 4096-byte buffer (65537 for TCP).
pub fn run(
    snap: &Snapshot,
    state: &mut EngineState,
    q: &[u8],
    client: &Client,
) -> (Verdict, Vec<u8>) {
    let size = match client.transport {
        Transport::Udp => 4096,
        Transport::Tcp => 65537,
    };
    let mut buf = vec![0u8; size.max(q.len())];
    buf[..q.len()].copy_from_slice(q);
    let v = answer(snap, &mut buf, q.len(), client, state);
    let len = match v {
        Verdict::Reply(r) => r.len,
        Verdict::Drop(_) | Verdict::Forward(_) => 0,
    };
    buf.truncate(len);
    (v, buf)
}

/// Asks over UDP from 192.0.2.1 and parses the reply (panics on drop).
pub fn ask(snap: &Snapshot, q: &[u8]) -> (Reply, Msg) {
    let mut st = EngineState::new(1, 1232);
    ask_from(snap, &mut st, q, &udp("192.0.2.1"))
}

pub fn ask_from(snap: &Snapshot, st: &mut EngineState, q: &[u8], client: &Client) -> (Reply, Msg) {
    match run(snap, st, q, client) {
        (Verdict::Reply(r), bytes) => {
            let m =
                Msg::parse(&bytes).unwrap_or_else(|e| panic!("unparsable reply ({e}): {bytes:?}"));
            (r, m)
        }
        (Verdict::Drop(d), _) => panic!("dropped: {d:?}"),
        (Verdict::Forward(f), _) => panic!("forwarded: {f:?}"),
    }
}

/// One parsed resource record; RDATA rendered as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rr {
    pub name: String,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    pub data: String,
}

/// A parsed message.
#[derive(Debug, Clone)]
pub struct Msg {
    pub id: u16,
    pub flags: u16,
    pub question: Vec<(String, u16, u16)>,
    pub answer: Vec<Rr>,
    pub authority: Vec<Rr>,
    /// Additional records other than OPT.
    pub additional: Vec<Rr>,
    /// OPT: (udp size, ext rcode, version, flags, rdlength).
    pub opt: Option<(u16, u8, u8, u16, u16)>,
    pub opt_count: usize,
}

impl Msg {
    pub fn qr(&self) -> bool {
        self.flags & 0x8000 != 0
    }
    pub fn opcode(&self) -> u16 {
        (self.flags >> 11) & 0xf
    }
    pub fn aa(&self) -> bool {
        self.flags & 0x0400 != 0
    }
    pub fn tc(&self) -> bool {
        self.flags & 0x0200 != 0
    }
    pub fn rd(&self) -> bool {
        self.flags & 0x0100 != 0
    }
    /// Full rcode (header + OPT extension).
    pub fn rcode(&self) -> u16 {
        (self.flags & 0xf) | self.opt.map_or(0, |o| u16::from(o.1) << 4)
    }
    pub fn answer_data(&self, rt: u16) -> Vec<String> {
        self.answer
            .iter()
            .filter(|r| r.rtype == rt)
            .map(|r| r.data.clone())
            .collect()
    }

    pub fn parse(m: &[u8]) -> Result<Msg, String> {
        let u16_at = |i: usize| -> Result<u16, String> {
            m.get(i..i + 2)
                .map(|b| u16::from_be_bytes([b[0], b[1]]))
                .ok_or_else(|| format!("short at {i}"))
        };
        let u32_at = |i: usize| -> Result<u32, String> {
            Ok((u32::from(u16_at(i)?) << 16) | u32::from(u16_at(i + 2)?))
        };
        let id = u16_at(0)?;
        let flags = u16_at(2)?;
        let counts = [u16_at(4)?, u16_at(6)?, u16_at(8)?, u16_at(10)?];
        let mut pos = 12;
        let mut question = Vec::new();
        for _ in 0..counts[0] {
            let (name, p) = read_name(m, pos)?;
            question.push((name, u16_at(p)?, u16_at(p + 2)?));
            pos = p + 4;
        }
        let mut sections: [Vec<Rr>; 3] = Default::default();
        let mut opt = None;
        let mut opt_count = 0;
        for (s, &count) in counts[1..].iter().enumerate() {
            for _ in 0..count {
                let (name, p) = read_name(m, pos)?;
                let rt = u16_at(p)?;
                let class = u16_at(p + 2)?;
                let ttl = u32_at(p + 4)?;
                let rdlen = u16_at(p + 8)? as usize;
                let start = p + 10;
                let end = start + rdlen;
                let rdata = m.get(start..end).ok_or("rdata past end")?;
                pos = end;
                if rt == rtype::OPT {
                    if s != 2 || name != "." {
                        return Err("misplaced OPT".into());
                    }
                    opt_count += 1;
                    opt = Some((
                        class,
                        (ttl >> 24) as u8,
                        (ttl >> 16) as u8,
                        ttl as u16,
                        rdlen as u16,
                    ));
                    continue;
                }
                let data = render(m, start, rdata, rt)?;
                sections[s].push(Rr {
                    name,
                    rtype: rt,
                    class,
                    ttl,
                    data,
                });
            }
        }
        if pos != m.len() {
            return Err(format!("{} trailing bytes", m.len() - pos));
        }
        let [answer, authority, additional] = sections;
        Ok(Msg {
            id,
            flags,
            question,
            answer,
            authority,
            additional,
            opt,
            opt_count,
        })
    }
}

/// Reads a possibly-compressed name (original case) in presentation form.
pub fn read_name(m: &[u8], mut pos: usize) -> Result<(String, usize), String> {
    let mut out = String::new();
    let mut end = None;
    let mut jumps = 0;
    let mut wire_len = 1;
    loop {
        let l = *m.get(pos).ok_or("name past end")? as usize;
        if l & 0xc0 == 0xc0 {
            let target = ((l & 0x3f) << 8) | *m.get(pos + 1).ok_or("pointer past end")? as usize;
            if target >= pos {
                return Err("forward pointer".into());
            }
            end.get_or_insert(pos + 2);
            jumps += 1;
            if jumps > 64 {
                return Err("pointer loop".into());
            }
            pos = target;
            continue;
        }
        if l > 63 {
            return Err("bad label".into());
        }
        if l == 0 {
            if out.is_empty() {
                out.push('.');
            }
            return Ok((out, end.unwrap_or(pos + 1)));
        }
        let label = m.get(pos + 1..pos + 1 + l).ok_or("label past end")?;
        wire_len += 1 + l;
        if wire_len > 255 {
            return Err("name too long".into());
        }
        out.push_str(&String::from_utf8_lossy(label));
        out.push('.');
        pos += 1 + l;
    }
}

fn render(m: &[u8], start: usize, rdata: &[u8], rt: u16) -> Result<String, String> {
    let name_at = |off: usize| -> Result<(String, usize), String> {
        let (name, end) = read_name(m, start + off)?;
        if end > start + rdata.len() {
            return Err("name past rdata".into());
        }
        Ok((name, end - start))
    };
    let exact = |used: usize, s: String| -> Result<String, String> {
        if used == rdata.len() {
            Ok(s)
        } else {
            Err(format!("rdata length mismatch for type {rt}"))
        }
    };
    match rt {
        rtype::A => {
            let b: [u8; 4] = rdata.try_into().map_err(|_| "bad A")?;
            Ok(std::net::Ipv4Addr::from(b).to_string())
        }
        rtype::AAAA => {
            let b: [u8; 16] = rdata.try_into().map_err(|_| "bad AAAA")?;
            Ok(std::net::Ipv6Addr::from(b).to_string())
        }
        rtype::CNAME | rtype::NS | rtype::PTR => {
            let (name, used) = name_at(0)?;
            exact(used, name)
        }
        rtype::MX => {
            let pref = u16::from_be_bytes([rdata[0], rdata[1]]);
            let (name, used) = name_at(2)?;
            exact(used, format!("{pref} {name}"))
        }
        rtype::SRV => {
            let v = |i: usize| u16::from_be_bytes([rdata[i], rdata[i + 1]]);
            // SRV targets must not be compressed (RFC 2782): plain labels
            // ending with the root label exactly at the end of the RDATA.
            let mut i = 6;
            while let Some(&l) = rdata.get(i) {
                if l & 0xc0 != 0 {
                    return Err("compressed SRV target".into());
                }
                i += 1 + l as usize;
                if l == 0 {
                    break;
                }
            }
            let (name, used) = name_at(6)?;
            if used != i {
                return Err("bad SRV target".into());
            }
            exact(used, format!("{} {} {} {}", v(0), v(2), v(4), name))
        }
        rtype::SOA => {
            let (mname, u1) = name_at(0)?;
            let (rname, u2) = name_at(u1)?;
            let nums: Vec<String> = (0..5)
                .map(|i| {
                    let o = u2 + 4 * i;
                    rdata
                        .get(o..o + 4)
                        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]).to_string())
                        .unwrap_or_default()
                })
                .collect();
            exact(u2 + 20, format!("{mname} {rname} {}", nums.join(" ")))
        }
        _ => Ok(format!("{rdata:?}")),
    }
}
