//! Unit tests of the sync state (full list and watch batches).

use super::*;
use skylane_dataplane::record::RData;
use std::net::Ipv4Addr;

fn n(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn put(key: &str, value: &str, rev: i64) -> WatchEvent {
    WatchEvent::Put(KeyValue {
        key: key.into(),
        value: value.as_bytes().to_vec(),
        mod_revision: rev,
    })
}

fn del(key: &str, rev: i64) -> WatchEvent {
    WatchEvent::Delete {
        key: key.into(),
        revision: rev,
    }
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: value.as_bytes().to_vec(),
        mod_revision: 1,
    }
}

fn state() -> SyncState {
    let static_a = Record::new(
        n("Static.skydns.local."),
        300,
        RData::Txt(vec![b"zonefile".to_vec()]),
    );
    SyncState::new("/skydns", "/skydns/monitor/status", 30, vec![static_a])
}

fn srv_weights(records: &[Record]) -> Vec<u16> {
    records
        .iter()
        .filter_map(|r| match r.data {
            RData::Srv { weight, .. } => Some(weight),
            _ => None,
        })
        .collect()
}

#[test]
fn full_list_merges_static_and_store_and_skips_bad_values() {
    let mut st = state();
    let records = st.full_records(&[
        kv("/skydns/local/skydns/a", r#"{"host":"10.0.0.1"}"#),
        kv("/skydns/local/skydns/bad", "{not json"),
        kv("/skydns/monitor/status/10.0.0.1", r#"{"status":"DOWN"}"#),
        kv("/skydns/monitor/status/10.0.0.2", r#"{"status":"UP"}"#),
        kv("/skydns/local/skydns/static", r#"{"host":"10.0.0.9"}"#),
    ]);
    // IP hosts without a port also serve an SRV with port 0 (CoreDNS).
    assert_eq!(
        records.len(),
        5,
        "static TXT + two A (+ SRV) records: {records:?}"
    );
    assert!(records
        .iter()
        .any(|r| r.data == RData::A(Ipv4Addr::new(10, 0, 0, 1))));
    assert_eq!(st.down(), vec!["10.0.0.1".parse::<IpAddr>().unwrap()]);
    assert_eq!(st.parse_errors(), 1);
    assert_eq!(st.bad_key_count(), 1);
}

#[test]
fn watch_batches_replace_whole_names_keeping_static_records() {
    let mut st = state();
    st.full_records(&[]);
    let out = st.apply_events(&[put(
        "/skydns/local/skydns/static",
        r#"{"host":"10.0.0.9"}"#,
        2,
    )]);
    assert!(!out.down_changed);
    assert_eq!(out.changes.len(), 1);
    assert_eq!(out.changes[0].name, n("static.skydns.local."));
    assert_eq!(
        out.changes[0].records.len(),
        3,
        "static TXT kept with the new A (+ its port-0 SRV)"
    );

    let out = st.apply_events(&[del("/skydns/local/skydns/static", 3)]);
    assert_eq!(
        out.changes[0].records.len(),
        1,
        "only the static TXT is left"
    );

    // Last write in a batch wins; a delete then put of the same key is one change.
    let out = st.apply_events(&[
        put("/skydns/local/skydns/x", r#"{"host":"10.0.0.1"}"#, 4),
        del("/skydns/local/skydns/x", 5),
        put("/skydns/local/skydns/x", r#"{"host":"10.0.0.2"}"#, 6),
    ]);
    assert_eq!(out.changes.len(), 1);
    assert_eq!(
        out.changes[0].records[0].data,
        RData::A(Ipv4Addr::new(10, 0, 0, 2))
    );
}

#[test]
fn status_keys_drive_the_down_set() {
    let mut st = state();
    st.full_records(&[]);
    let key = "/skydns/monitor/status/10.0.0.1";
    let out = st.apply_events(&[put(key, r#"{"status":"DOWN"}"#, 2)]);
    assert!(out.down_changed && out.changes.is_empty());
    assert_eq!(st.down().len(), 1);
    let out = st.apply_events(&[put(key, r#"{"status":"DOWN"}"#, 3)]);
    assert!(!out.down_changed, "same status again changes nothing");
    let out = st.apply_events(&[put(key, r#"{"status":"UP"}"#, 4)]);
    assert!(out.down_changed);
    assert!(st.down().is_empty());
    st.apply_events(&[put(key, r#"{"status":"DOWN"}"#, 5)]);
    let out = st.apply_events(&[del(key, 6)]);
    assert!(out.down_changed, "a missing status key means UP");
    assert!(st.down().is_empty());
}

#[test]
fn bad_values_are_skipped_counted_and_forgotten_when_fixed() {
    let mut st = state();
    st.full_records(&[]);
    let key = "/skydns/local/skydns/a";
    st.apply_events(&[put(key, r#"{"host":"10.0.0.1"}"#, 2)]);
    let out = st.apply_events(&[put(key, "garbage", 3)]);
    assert_eq!(out.changes.len(), 1);
    assert!(out.changes[0].records.is_empty(), "bad value = no records");
    assert_eq!((st.parse_errors(), st.bad_key_count()), (1, 1));
    st.apply_events(&[put(key, r#"{"host":"10.0.0.1"}"#, 4)]);
    assert_eq!((st.parse_errors(), st.bad_key_count()), (1, 0));
}

#[test]
fn srv_weights_are_handed_over_raw() {
    let mut st = state();
    let records = st.full_records(&[kv(
        "/skydns/local/skydns/web/x1",
        r#"{"host":"10.0.0.1","port":80}"#,
    )]);
    assert_eq!(srv_weights(&records), vec![0]);

    let out = st.apply_events(&[put(
        "/skydns/local/skydns/web/x2",
        r#"{"host":"10.0.0.2","port":80,"weight":300}"#,
        2,
    )]);
    // The snapshot normalises over each answer (it needs the raw weights): only x2 changes.
    let got: Vec<(String, Vec<u16>)> = out
        .changes
        .iter()
        .map(|c| (c.name.to_string(), srv_weights(&c.records)))
        .collect();
    assert_eq!(got, vec![("x2.web.skydns.local.".to_string(), vec![300])]);
    // The A record of an IP host stays with the SRV.
    assert!(out.changes.iter().all(|c| c.records.len() == 2));

    let out = st.apply_events(&[del("/skydns/local/skydns/web/x2", 3)]);
    let got: Vec<(String, Vec<u16>)> = out
        .changes
        .iter()
        .map(|c| (c.name.to_string(), srv_weights(&c.records)))
        .collect();
    assert_eq!(got, vec![("x2.web.skydns.local.".to_string(), vec![])]);
}

mod incremental_matches_full {
    //! Property: any sequence of watch batches applied to a full list gives the same records
    //! per name as a full list of the final store — with keys that alias one name (case, a
    //! `.` inside a segment), value-id children and SRV siblings in the mix.

    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    const KEYS: &[&str] = &[
        "/skydns/local/skydns/a",
        "/skydns/local/skydns/A",
        "/skydns/local/skydns/a/x1",
        "/skydns/local/skydns/x1/a",
        "/skydns/local/skydns/x1.a",
        "/skydns/local/skydns/X1/a",
        "/skydns/local/skydns/_tcp/s1",
        "/skydns/local/skydns/_tcp/s2",
        "/skydns/local/skydns/_TCP/s1",
        "/skydns/local/skydns/static",
        "/skydns/local/skydns/Static",
    ];
    const VALUES: &[&str] = &[
        r#"{"host":"10.0.0.1"}"#,
        r#"{"host":"10.0.0.2","ttl":60}"#,
        r#"{"host":"t.skydns.local.","port":80,"weight":10}"#,
        r#"{"host":"u.skydns.local.","port":81,"weight":30}"#,
        r#"{"text":"hello"}"#,
        r#"not json"#,
    ];

    /// name → sorted record texts (records compared by their Debug form).
    type View = BTreeMap<String, Vec<String>>;

    fn view(records: impl IntoIterator<Item = Record>) -> View {
        let mut v = View::new();
        for r in records {
            v.entry(r.name.to_string().to_ascii_lowercase())
                .or_default()
                .push(format!("{:?}", (r.ttl, &r.data)));
        }
        for recs in v.values_mut() {
            recs.sort();
        }
        v.retain(|_, recs| !recs.is_empty());
        v
    }

    fn kvs(store: &BTreeMap<&str, &str>) -> Vec<KeyValue> {
        store.iter().map(|(k, v)| kv(k, v)).collect()
    }

    /// One event: a put (Some(value index)) or a delete (None) of a key.
    fn event() -> impl Strategy<Value = (usize, Option<usize>)> {
        (
            0..KEYS.len(),
            proptest::option::weighted(0.7, 0..VALUES.len()),
        )
    }

    proptest! {
        #[test]
        fn same_records(
            initial in proptest::collection::vec(event(), 0..8),
            batches in proptest::collection::vec(proptest::collection::vec(event(), 1..5), 1..6),
        ) {
            let mut store: BTreeMap<&str, &str> = BTreeMap::new();
            for (k, v) in &initial {
                match v {
                    Some(v) => { store.insert(KEYS[*k], VALUES[*v]); }
                    None => { store.remove(KEYS[*k]); }
                }
            }
            let mut st = state();
            let mut live = view(st.full_records(&kvs(&store)));
            let mut rev = 10;
            for batch in &batches {
                let mut events = Vec::new();
                for (k, v) in batch {
                    rev += 1;
                    match v {
                        Some(v) => {
                            store.insert(KEYS[*k], VALUES[*v]);
                            events.push(put(KEYS[*k], VALUES[*v], rev));
                        }
                        None => {
                            store.remove(KEYS[*k]);
                            events.push(del(KEYS[*k], rev));
                        }
                    }
                }
                for change in st.apply_events(&events).changes {
                    let name = change.name.to_string().to_ascii_lowercase();
                    live.remove(&name);
                    live.extend(view(change.records));
                }
            }
            let full = view(state().full_records(&kvs(&store)));
            prop_assert_eq!(live, full);
        }
    }
}
