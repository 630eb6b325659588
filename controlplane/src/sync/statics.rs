//! The static records (zone files, example records) kept once and compactly for the sync's
//! rebuilds: every record encoded into one byte arena (owner in wire form, TTL, flags, group,
//! type and RDATA), plus the arena offsets sorted by lowercased owner for per-name lookups
//! (sorted at the first lookup, off the start-up path: a full build needs no lookup).
//!
//! A zone file of 1.2 M records takes about 30 bytes per record here where a `Vec<Record>`
//! takes about 130 (the record, its owner's heap allocation, allocator overhead); see
//! docs/performance.md, "Memory (issue 11)". Cloning a [`StaticRecords`] shares the arena.
//! Records come back as [`Record`]s only when asked: all of them for a full build, a name's
//! for a watch batch.

use skylane_dataplane::name::Name;
use skylane_dataplane::record::{RData, Record};
use std::cmp::Ordering;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, OnceLock};

const AS_WRITTEN: u8 = 1;
const GROUPED: u8 = 2;

/// Static records in one shared arena. See the module docs.
#[derive(Clone, Default)]
pub struct StaticRecords(Arc<Arena>);

#[derive(Default)]
struct Arena {
    bytes: Vec<u8>,
    /// Number of records.
    count: usize,
    /// Offsets of the records ordered by lowercased owner (then by position), made at the
    /// first lookup.
    by_name: OnceLock<Vec<usize>>,
}

impl Arena {
    fn by_name(&self) -> &[usize] {
        self.by_name.get_or_init(|| {
            let bytes = &self.bytes;
            let mut idx = Vec::with_capacity(self.count);
            let mut at = 0;
            while at < bytes.len() {
                idx.push(at);
                at = decode(bytes, at).1;
            }
            idx.sort_unstable_by(|&a, &b| {
                cmp_lower(owner_at(bytes, a), owner_at(bytes, b)).then(a.cmp(&b))
            });
            idx
        })
    }
}

impl From<Vec<Record>> for StaticRecords {
    fn from(records: Vec<Record>) -> StaticRecords {
        StaticRecords::new(&records)
    }
}

impl StaticRecords {
    /// Encodes `records` (kept in this order).
    pub fn new(records: &[Record]) -> StaticRecords {
        let mut bytes = Vec::with_capacity(records.len() * 32);
        for r in records {
            encode(r, &mut bytes);
        }
        bytes.shrink_to_fit();
        StaticRecords(Arc::new(Arena {
            bytes,
            count: records.len(),
            by_name: OnceLock::new(),
        }))
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.0.count
    }

    /// True when there are no records.
    pub fn is_empty(&self) -> bool {
        self.0.count == 0
    }

    /// True when both share one arena (clones of one [`StaticRecords`]), not merely equal
    /// records.
    pub fn same_arena(&self, other: &StaticRecords) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// Bytes held (arena and indexes).
    pub fn heap_bytes(&self) -> usize {
        let sorted = self.0.by_name.get().map_or(0, Vec::capacity);
        self.0.bytes.capacity() + sorted * std::mem::size_of::<usize>()
    }

    /// The first `n` records, in the order given (all of them when `n >= len()`).
    pub fn first(&self, n: usize) -> Vec<Record> {
        let mut out = Vec::with_capacity(n.min(self.len()));
        let mut at = 0;
        while out.len() < n && at < self.0.bytes.len() {
            let (r, next) = decode(&self.0.bytes, at);
            out.push(r);
            at = next;
        }
        out
    }

    /// Appends every record, in the order given, to `out`.
    pub fn decode_into(&self, out: &mut Vec<Record>) {
        out.reserve(self.len());
        out.extend(self.iter());
    }

    /// Every record, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = Record> + '_ {
        let bytes = &self.0.bytes;
        let mut at = 0;
        std::iter::from_fn(move || {
            (at < bytes.len()).then(|| {
                let (r, next) = decode(bytes, at);
                at = next;
                r
            })
        })
    }

    /// The records owned by `lname` (lowercased), in the order given.
    pub fn records_of(&self, lname: &Name) -> Vec<Record> {
        let (bytes, idx) = (&self.0.bytes, self.0.by_name());
        let key = lname.as_wire();
        let start = idx.partition_point(|&o| cmp_lower(owner_at(bytes, o), key) == Ordering::Less);
        idx[start..]
            .iter()
            .take_while(|&&o| cmp_lower(owner_at(bytes, o), key) == Ordering::Equal)
            .map(|&o| decode(bytes, o).0)
            .collect()
    }
}

impl PartialEq for StaticRecords {
    fn eq(&self, other: &Self) -> bool {
        self.0.bytes == other.0.bytes
    }
}

impl std::fmt::Debug for StaticRecords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticRecords")
            .field("records", &self.len())
            .field("bytes", &self.heap_bytes())
            .finish()
    }
}

/// Orders wire names as if both were lowercased.
fn cmp_lower(a: &[u8], b: &[u8]) -> Ordering {
    let lower = u8::to_ascii_lowercase;
    a.iter().map(lower).cmp(b.iter().map(lower))
}

/// Length of the wire name starting at `at`.
fn name_len(bytes: &[u8], at: usize) -> usize {
    let mut i = at;
    while bytes[i] != 0 {
        i += 1 + bytes[i] as usize;
    }
    i + 1 - at
}

/// The owner of the record at `at`.
fn owner_at(bytes: &[u8], at: usize) -> &[u8] {
    &bytes[at..at + name_len(bytes, at)]
}

fn put_name(out: &mut Vec<u8>, n: &Name) {
    out.extend_from_slice(n.as_wire());
}

/// Record layout: owner, ttl (4), flags (1), [group: len (4) + bytes], rtype (2), RDATA
/// length (2) and the RDATA in wire form ([`RData::write_wire`]; zone-file TXT strings are at
/// most 255 bytes, so it loses nothing).
fn encode(r: &Record, out: &mut Vec<u8>) {
    put_name(out, &r.name);
    out.extend_from_slice(&r.ttl.to_le_bytes());
    let written = if r.as_written { AS_WRITTEN } else { 0 };
    let grouped = if r.group.is_some() { GROUPED } else { 0 };
    out.push(written | grouped);
    if let Some(g) = &r.group {
        out.extend_from_slice(&(g.len() as u32).to_le_bytes());
        out.extend_from_slice(g.as_bytes());
    }
    out.extend_from_slice(&r.data.rtype().to_le_bytes());
    let len_at = out.len();
    out.extend_from_slice(&[0, 0]);
    r.data.write_wire(out);
    let len = (out.len() - len_at - 2) as u16;
    out[len_at..len_at + 2].copy_from_slice(&len.to_le_bytes());
}

/// Reads what [`encode`] wrote.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> &[u8] {
        let s = &self.bytes[self.at..self.at + n];
        self.at += n;
        s
    }

    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N));
        a
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.array())
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.array())
    }

    fn name(&mut self) -> Name {
        let len = name_len(self.bytes, self.at);
        Name::from_wire(self.take(len)).expect("the arena holds names written from a Name")
    }
}

/// The record at `at` and the offset of the next one.
fn decode(bytes: &[u8], at: usize) -> (Record, usize) {
    let mut c = Cursor { bytes, at };
    let name = c.name();
    let ttl = c.u32();
    let flags = c.take(1)[0];
    let group = (flags & GROUPED != 0).then(|| {
        let len = c.u32() as usize;
        String::from_utf8_lossy(c.take(len))
            .into_owned()
            .into_boxed_str()
    });
    let rtype = c.u16();
    let len = c.u16() as usize;
    let data = rdata(rtype, c.take(len));
    let record = Record {
        name,
        ttl,
        data,
        as_written: flags & AS_WRITTEN != 0,
        group,
    };
    (record, c.at)
}

/// RDATA of type `t` from the wire form [`encode`] stored.
fn rdata(t: u16, wire: &[u8]) -> RData {
    use skylane_dataplane::record::rtype;
    let mut c = Cursor { bytes: wire, at: 0 };
    let be16 = |c: &mut Cursor| u16::from_be_bytes(c.array());
    let be32 = |c: &mut Cursor| u32::from_be_bytes(c.array());
    match t {
        rtype::A => RData::A(Ipv4Addr::from(c.array::<4>())),
        rtype::AAAA => RData::Aaaa(Ipv6Addr::from(c.array::<16>())),
        rtype::CNAME => RData::Cname(c.name()),
        rtype::NS => RData::Ns(c.name()),
        rtype::PTR => RData::Ptr(c.name()),
        rtype::MX => RData::Mx {
            preference: be16(&mut c),
            exchange: c.name(),
        },
        rtype::SRV => RData::Srv {
            priority: be16(&mut c),
            weight: be16(&mut c),
            port: be16(&mut c),
            target: c.name(),
        },
        rtype::TXT => {
            let mut strings = Vec::new();
            while c.at < wire.len() {
                let len = c.take(1)[0] as usize;
                strings.push(c.take(len).to_vec());
            }
            RData::Txt(strings)
        }
        _ => RData::Soa {
            mname: c.name(),
            rname: c.name(),
            serial: be32(&mut c),
            refresh: be32(&mut c),
            retry: be32(&mut c),
            expire: be32(&mut c),
            minimum: be32(&mut c),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    /// Every type a zone file gives, owners in mixed case, some grouped or as written.
    fn every_kind() -> Vec<Record> {
        let text = "$ORIGIN Example.\n@ SOA ns hostmaster 7 3600 600 86400 30\n\
                    Web A 10.0.0.1\na AAAA fd00::1\nweb CNAME t\na NS ns1\n\
                    WEB PTR web\na MX 10 mx\nweb SRV 1 2 80 web\n\
                    a TXT \"hello\" \"\" x\nweb TXT y\n";
        let zone = crate::zonefile::parse_zone(text, None, 60).unwrap();
        zone.records
            .into_iter()
            .enumerate()
            .map(|(i, r)| match i % 3 {
                0 => r,
                1 => r.with_group("blue"),
                _ => Record {
                    as_written: false,
                    ..r
                },
            })
            .collect()
    }

    #[test]
    fn records_come_back_unchanged_in_order() {
        let records = every_kind();
        let s = StaticRecords::new(&records);
        assert_eq!(s.len(), records.len());
        assert_eq!(s.iter().collect::<Vec<_>>(), records);
        let mut all = Vec::new();
        s.decode_into(&mut all);
        assert_eq!(all, records);
        assert_eq!(s.first(3), records[..3]);
        assert_eq!(s.first(100), records);
    }

    #[test]
    fn records_of_matches_owners_case_insensitively() {
        let records = every_kind();
        let s = StaticRecords::from(records.clone());
        let want = |owner: &str| -> Vec<Record> {
            let key = n(owner).to_lowercase();
            records
                .iter()
                .filter(|r| r.name.to_lowercase() == key)
                .cloned()
                .collect()
        };
        let web = s.records_of(&n("web.example."));
        assert_eq!(web, want("web.example."));
        assert_eq!(web.len(), 5);
        assert_eq!(s.records_of(&n("a.example.")), want("a.example."));
        assert!(s.records_of(&n("b.example.")).is_empty());
        assert_eq!(s.records_of(&n("example.")), want("Example."));
        assert!(s.records_of(&n("x.a.example.")).is_empty());
        assert!(StaticRecords::default()
            .records_of(&n("a.example."))
            .is_empty());
    }

    #[test]
    fn the_arena_is_smaller_than_the_records() {
        let records: Vec<Record> = (0..1000)
            .map(|i| {
                Record::new(
                    n(&format!("host{i}.perf.test.")),
                    300,
                    RData::A([10, 0, 0, 1].into()),
                )
            })
            .collect();
        let s = StaticRecords::new(&records);
        let vec_bytes = records.len() * std::mem::size_of::<Record>();
        assert!(
            s.heap_bytes() * 2 < vec_bytes,
            "{} vs {vec_bytes}",
            s.heap_bytes()
        );
    }
}
