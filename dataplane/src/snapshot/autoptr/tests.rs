//! The auto-PTR store against a plain model (a sorted map of address → owners).

use super::*;
use crate::record::rtype;
use crate::snapshot::reverse::reverse_name;
use std::collections::BTreeMap;

fn owner(i: u32) -> Vec<u8> {
    let label = format!("host{i}");
    let mut w = vec![label.len() as u8];
    w.extend_from_slice(label.as_bytes());
    w.extend_from_slice(b"\x04test\x00");
    w
}

fn v4(i: u32) -> [u8; 4] {
    // Spread over several /16s with gaps, so prefixes both exist and do not.
    (0x0a00_0000 + i * 7).to_be_bytes()
}

type Model = BTreeMap<Vec<u8>, Vec<(u32, Vec<u8>)>>;

/// Builds a store of IPv4 addresses `v4(i)` for `i` in `ids` (owner `host<i>`, TTL i).
fn built(ids: impl Iterator<Item = u32>) -> (AutoPtr, Model) {
    let mut arena = Vec::new();
    let mut inputs: [Vec<Input>; 2] = Default::default();
    let mut model = Model::new();
    for (seq, i) in ids.enumerate() {
        let o = owner(i);
        let mut bytes = [0u8; 16];
        bytes[..4].copy_from_slice(&v4(i));
        inputs[0].push(Input {
            bytes,
            seq: seq as u32,
            ttl: i,
            owner: arena.len() as u32,
            olen: o.len() as u8,
        });
        arena.extend_from_slice(&o);
        model.entry(v4(i).to_vec()).or_default().push((i, o));
    }
    (AutoPtr::build(inputs, &arena), model)
}

/// Every address of the model answers its PTR records; names next to them do not; every
/// prefix of an address is an empty non-terminal.
fn check(store: &AutoPtr, model: &Model) {
    let table = crate::snapshot::shard::Table::from_shards(Vec::new());
    assert_eq!(store.len(0), model.len());
    for (addr, owners) in model {
        let name = reverse_name(addr).unwrap();
        let node = store.node(&table, &name).expect("PTR node");
        let rr = node.rrset(rtype::PTR).expect("PTR set");
        let got: Vec<(u32, Vec<u8>)> = (0..rr.len())
            .map(|i| (rr.record_ttl(i), rr.rdata(i).to_vec()))
            .collect();
        assert_eq!(&got, owners, "{name:?}");
        // Its /24, /16 and /8 exist and show nothing.
        let mut parent = &name[..];
        for _ in 0..3 {
            parent = &parent[1 + usize::from(parent[0])..];
            let ent = store.node(&table, parent).expect("ENT");
            assert!(ent.shows_nothing() && ent.is_empty());
        }
    }
    // Neighbours not in the model are missing, prefixes without addresses too.
    for a in model.keys() {
        let n = u32::from_be_bytes(a[..4].try_into().unwrap());
        for m in [n.wrapping_sub(1), n + 1] {
            let b = m.to_be_bytes();
            if !model.contains_key(&b[..]) {
                assert!(store.node(&table, &reverse_name(&b).unwrap()).is_none());
            }
        }
    }
    let none = reverse_name(&[11, 0, 0, 1]).unwrap();
    assert!(
        store.node(&table, &none[none.len() - 22..]).is_none(),
        "11.in-addr.arpa."
    );
}

#[test]
fn parse_reads_reverse_names() {
    let r = parse(&reverse_name(&[192, 0, 2, 10]).unwrap()).unwrap();
    assert_eq!(
        (r.family, &r.bytes[..4], r.depth),
        (0, &[192, 0, 2, 10][..], 4)
    );
    let v6: std::net::Ipv6Addr = "2001:db8::1".parse().unwrap();
    let r = parse(&reverse_name(&v6.octets()).unwrap()).unwrap();
    assert_eq!((r.family, r.bytes, r.depth), (1, v6.octets(), 32));
    // Prefixes: 2.0.192.in-addr.arpa. and the nibbles 2.0.0.2.ip6.arpa.
    let r = parse(b"\x012\x010\x03192\x07in-addr\x04arpa\x00").unwrap();
    assert_eq!(
        (r.family, &r.bytes[..4], r.depth),
        (0, &[192, 0, 2, 0][..], 3)
    );
    let r = parse(b"\x012\x010\x010\x012\x03ip6\x04arpa\x00").unwrap();
    assert_eq!(
        (r.family, &r.bytes[..2], r.depth),
        (1, &[0x20, 0x02][..], 4)
    );
    assert_eq!(parse(IN_ADDR_ARPA).unwrap().depth, 0);
    // Not an address's reverse name: leading zero, > 255, two hex digits, too deep, other.
    for bad in [
        &b"\x03010\x07in-addr\x04arpa\x00"[..],
        b"\x03256\x07in-addr\x04arpa\x00",
        b"\x02ab\x03ip6\x04arpa\x00",
        b"\x011\x011\x011\x011\x011\x07in-addr\x04arpa\x00",
        b"\x04host\x07in-addr\x04arpa\x00",
        b"\x04arpa\x00",
        b"\x04test\x00",
        b"\x09x\x07in-addr\x04arpa\x00",
    ] {
        assert!(parse(bad).is_none(), "{bad:?}");
    }
}

#[test]
fn the_empty_non_terminal_entry_is_an_encoded_empty_node() {
    let mut out = Vec::new();
    let start = crate::snapshot::shard::begin_entry(&mut out, b"");
    crate::snapshot::node::NodeData::new(b"").encode_body(
        b"",
        crate::record::Policy::All,
        &mut out,
    );
    crate::snapshot::shard::end_entry(&mut out, start);
    assert_eq!(out, ENT_ENTRY);
}

#[test]
fn build_answers_every_address_and_prefix() {
    // Several chunks: 3000 addresses, two of them given twice (two owners, one repeated).
    let (store, mut model) = built((0..3000).chain([5, 6]));
    for i in [5, 6] {
        model.get_mut(v4(i).as_slice()).unwrap().truncate(1);
    }
    check(&store, &model);
}

#[test]
fn a_large_build_encoded_on_several_threads_answers_every_address() {
    // Past `PARALLEL_INPUTS`: the chunks are encoded in parts on several threads (where
    // the machine has them). Repeats at chunk edges and at the end.
    let (store, mut model) = built((0..70_000).chain([0, 1023, 1024, 2047, 69_999]));
    for i in [0, 1023, 1024, 2047, 69_999] {
        model.get_mut(v4(i).as_slice()).unwrap().truncate(1);
    }
    check(&store, &model);
}

#[test]
fn edits_match_the_model() {
    let (mut store, mut model) = built(0..2000);
    let mut step = 0u32;
    // Adds past both ends and inside, removes whole chunks, renames case, changes TTLs.
    for round in 0..6u32 {
        let mut edits = Vec::new();
        for k in 0..700u32 {
            step = step
                .wrapping_mul(1_103_515_245)
                .wrapping_add(12345 + round + k);
            let i = step % 4000;
            let addr = v4(i);
            let o = owner(i);
            let add = !step.is_multiple_of(3);
            let ttl = step % 100;
            edits.push(Edit::new(&addr, &o, ttl, add).unwrap());
            let row = model.entry(addr.to_vec()).or_default();
            if add {
                match row.iter_mut().find(|x| x.1.eq_ignore_ascii_case(&o)) {
                    Some(x) => *x = (ttl, o),
                    None => row.push((ttl, o)),
                }
            } else {
                row.retain(|x| !x.1.eq_ignore_ascii_case(&o));
            }
        }
        // A second owner on one address, then a case change of it.
        let mut upper = owner(1);
        upper[1..5].make_ascii_uppercase();
        edits.push(Edit::new(&v4(3), &owner(1), 9, true).unwrap());
        edits.push(Edit::new(&v4(3), &upper, 8, true).unwrap());
        let row = model.entry(v4(3).to_vec()).or_default();
        row.retain(|x| !x.1.eq_ignore_ascii_case(&upper));
        row.push((8, upper));
        model.retain(|_, v| !v.is_empty());
        let (next, changed) = store.applied(&edits);
        assert_eq!(changed, [true, false]);
        store = next;
        check(&store, &model);
    }
    // Everything removed: empty, and nothing answers.
    let edits: Vec<Edit> = model
        .iter()
        .flat_map(|(a, v)| v.iter().map(|(_, o)| Edit::new(a, o, 0, false).unwrap()))
        .collect();
    let (store, _) = store.applied(&edits);
    assert!(store.is_empty());
    check(&store, &Model::new());
}

#[test]
fn ipv6_nibble_prefixes() {
    let a: std::net::Ipv6Addr = "fd00:99::1:2".parse().unwrap();
    let b: std::net::Ipv6Addr = "fd00:99::1:30".parse().unwrap();
    let edits = [
        Edit::new(&a.octets(), &owner(1), 5, true).unwrap(),
        Edit::new(&b.octets(), &owner(2), 5, true).unwrap(),
    ];
    let (store, changed) = AutoPtr::default().applied(&edits);
    assert_eq!(changed, [false, true]);
    let table = crate::snapshot::shard::Table::from_shards(Vec::new());
    for addr in [a, b] {
        let name = reverse_name(&addr.octets()).unwrap();
        assert!(store
            .node(&table, &name)
            .unwrap()
            .rrset(rtype::PTR)
            .is_some());
        // Every nibble prefix exists: 31 of them.
        let mut p = &name[..];
        for _ in 0..31 {
            p = &p[2..];
            assert!(store.node(&table, p).unwrap().shows_nothing());
        }
        assert!(
            store.node(&table, &p[2..]).is_none(),
            "the apex is the table's"
        );
    }
    // 2.0.1.0... (…:1:2 ends in nibbles 0,0,0,2; …:1:30 in 0,0,3,0): x.0.0.1.0 misses.
    let c: std::net::Ipv6Addr = "fd00:99::1:10".parse().unwrap();
    let name = reverse_name(&c.octets()).unwrap();
    assert!(store.node(&table, &name).is_none());
    assert!(
        store.node(&table, &name[2..]).is_none(),
        "1.0.0.1.0… has no address"
    );
    assert!(store.node(&table, &name[4..]).unwrap().shows_nothing());
}
