//! `GET /v1/records` pages read one page of keys from the store (a range from the `continue`
//! key), not a listing of the whole scope; every name still comes exactly once, whole.

mod api_common;

use api_common::TestServer;
use serde_json::Value;
use skylane_controlplane::layout::{name_to_key, SkyValue};
use skylane_dataplane::Name;
use std::collections::BTreeMap;

fn host(ip: &str) -> Vec<u8> {
    SkyValue {
        host: ip.into(),
        ..SkyValue::default()
    }
    .to_json()
}

fn key(name: &str) -> String {
    name_to_key("/skydns", &Name::from_ascii(name).unwrap())
}

/// Follows the `continue` tokens from `first`; every name with its record count.
fn all_pages(s: &TestServer, first: &str, limit: usize) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut path = first.to_string();
    loop {
        let v = s.json("GET", &path, None, 200);
        let names = v["names"].as_array().unwrap();
        assert!(names.len() <= limit, "{v}");
        for n in names {
            let records: usize = n["records"]
                .as_array()
                .unwrap()
                .iter()
                .map(|set| set["ips"].as_array().map_or(1, Vec::len))
                .sum();
            out.push((n["name"].as_str().unwrap().to_string(), records));
        }
        match v["continue"].as_str() {
            Some(t) => {
                let sep = if first.contains('?') { '&' } else { '?' };
                path = format!("{first}{sep}continue={t}");
            }
            None => return out,
        }
    }
}

#[test]
fn a_page_reads_a_page_not_the_store() {
    let s = TestServer::start();
    let puts: Vec<(String, Vec<u8>)> = (0..3000)
        .map(|i| (key(&format!("n{i:04}.skydns.local.")), host("10.1.0.1")))
        .collect();
    s.rt.block_on(s.store.apply_batch(puts, Vec::new()))
        .unwrap();
    let before = s.store.keys_read();
    let v = s.json("GET", "/v1/records?limit=10", None, 200);
    let read = s.store.keys_read() - before;
    assert_eq!(v["count"], 10);
    assert!(v["continue"].is_string(), "{v}");
    assert!(read < 600, "a page of 10 names read {read} of 3000 keys");
    // The next page starts at the key after the first page, again reading a page.
    let t = v["continue"].as_str().unwrap();
    let before = s.store.keys_read();
    let next = s.json(
        "GET",
        &format!("/v1/records?limit=10&continue={t}"),
        None,
        200,
    );
    assert!(s.store.keys_read() - before < 600);
    assert_eq!(next["names"][0]["name"], "n0010.skydns.local.");
    // Following every token still lists every name once.
    let before = s.store.keys_read();
    let all = all_pages(&s, "/v1/records?limit=500", 500);
    assert_eq!(all.len(), 3000);
    let distinct: BTreeMap<_, _> = all.iter().cloned().collect();
    assert_eq!(distinct.len(), 3000);
    let read = s.store.keys_read() - before;
    assert!(read < 2 * 3000, "paging through 3000 keys read {read}");
}

/// Value-id keys fold into their owner across a page of one name, keys beside a scope
/// (`web-2` sorts between `web` and `web/…`) are skipped, a type filter skips names without
/// such records, and a token of another scope is refused.
#[test]
fn pages_keep_owners_whole() {
    let s = TestServer::start();
    s.json(
        "PUT",
        "/v1/records/web",
        Some(r#"{"type":"A","ips":["10.0.0.1","10.0.0.2","10.0.0.3"]}"#),
        200,
    );
    for (name, body) in [
        ("zz.web", r#"{"type":"A","ips":["10.0.1.1"]}"#),
        ("web-2", r#"{"type":"A","ips":["10.0.2.1"]}"#),
        ("txt.web", r#"{"type":"TXT","texts":["x"]}"#),
    ] {
        s.json("PUT", &format!("/v1/records/{name}"), Some(body), 200);
    }
    let all = all_pages(&s, "/v1/records?domain=web&limit=1", 1);
    let want = [
        ("web.skydns.local.", 3),
        ("txt.web.skydns.local.", 1),
        ("zz.web.skydns.local.", 1),
    ];
    let want: Vec<(String, usize)> = want.iter().map(|(n, c)| (n.to_string(), *c)).collect();
    assert_eq!(all, want);
    let a_only = all_pages(&s, "/v1/records?domain=web&type=A&limit=1", 1);
    assert_eq!(a_only.len(), 2, "{a_only:?}");
    let whole = all_pages(&s, "/v1/records?limit=2", 2);
    assert_eq!(whole.len(), 4, "{whole:?}");
    // A token from the whole listing that lies outside domain=web is refused.
    let v: Value = s.json("GET", "/v1/records?limit=1", None, 200);
    let first_key_after = v["continue"].as_str().unwrap().to_string();
    let (status, _) = s.auth(
        "GET",
        &format!("/v1/records?domain=zz.web&continue={first_key_after}"),
        None,
    );
    assert_eq!(status, 400);
}
