//! `/v1/openapi.json` against real answers: every documented operation is called on a
//! live server, the answer's status must be documented for it, and a JSON answer must
//! validate against the documented response schema (JSON Schema via `jsonschema`).

mod api_common;

use api_common::{TestServer, TOKEN};
use serde_json::{json, Map, Value};
use skylane_controlplane::api::reload::{ReloadReply, ReloadSender};
use std::collections::BTreeSet;

/// An OpenAPI 3.0 schema as JSON Schema: `nullable: true` becomes a `null` alternative.
fn json_schema(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let out: Map<String, Value> = m
                .iter()
                .filter(|(k, _)| *k != "nullable")
                .map(|(k, v)| (k.clone(), json_schema(v)))
                .collect();
            if m.get("nullable") == Some(&Value::Bool(true)) {
                json!({"anyOf": [Value::Object(out), {"type": "null"}]})
            } else {
                Value::Object(out)
            }
        }
        Value::Array(a) => Value::Array(a.iter().map(json_schema).collect()),
        other => other.clone(),
    }
}

/// The documented path template a concrete path matches (`/v1/records/web` →
/// `/v1/records/{name}`).
fn template<'a>(doc: &'a Value, path: &str) -> &'a str {
    let path = path.split('?').next().unwrap();
    let parts: Vec<&str> = path.split('/').collect();
    let matches = |t: &str| {
        let tp: Vec<&str> = t.split('/').collect();
        tp.len() == parts.len()
            && tp
                .iter()
                .zip(&parts)
                .all(|(a, b)| a == b || (a.starts_with('{') && !b.is_empty()))
    };
    let paths = doc["paths"].as_object().unwrap();
    // An exact path first (`/skydns/api/` is not `/skydns/api/{name}`).
    paths
        .keys()
        .find(|t| *t == path)
        .or_else(|| paths.keys().find(|t| matches(t)))
        .unwrap_or_else(|| panic!("{path} is not documented"))
}

/// Where the JSON text `body` breaks `schema` (a schema of `doc`, `$ref`s resolved).
fn violations(doc: &Value, schema: &Value, body: &str) -> Vec<String> {
    let root = json!({
        "allOf": [json_schema(schema)],
        "components": json_schema(&doc["components"]),
    });
    let instance: Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    let validator = jsonschema::validator_for(&root).expect("the schema compiles");
    validator
        .iter_errors(&instance)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect()
}

/// A request body the server accepted must match the documented request schema.
fn check_request(doc: &Value, method: &str, path: &str, body: &str) {
    let op = &doc["paths"][template(doc, path)][method.to_ascii_lowercase()];
    if let Some(schema) = op["requestBody"]["content"]["application/json"].get("schema") {
        let errors = violations(doc, schema, body);
        assert!(
            errors.is_empty(),
            "{method} {path} request: {errors:?}\n{body}"
        );
    }
}

/// Checks one answer against the document.
fn check(doc: &Value, method: &str, path: &str, status: u16, body: &str) -> (String, String) {
    let t = template(doc, path);
    let op = &doc["paths"][t][method.to_ascii_lowercase()];
    assert!(op.is_object(), "{method} {t} is not documented");
    let resp = &op["responses"][status.to_string()];
    assert!(
        resp.is_object(),
        "{method} {path}: status {status} not documented: {body}"
    );
    if let Some(schema) = resp["content"]["application/json"].get("schema") {
        let errors = violations(doc, schema, body);
        assert!(
            errors.is_empty(),
            "{method} {path} {status}: {errors:?}\n{body}"
        );
    } else {
        assert!(
            resp["content"].as_object().is_some_and(|c| !c.is_empty()),
            "{method} {t} {status}: no content documented"
        );
    }
    (method.to_ascii_lowercase(), t.to_string())
}

/// `METHOD PATH STATUS [BODY]`, in order (later calls see earlier writes); `TOKEN` in a
/// path is the API token; `-METHOD` calls without the bearer header.
const CASES: &str = r#"
PUT /v1/records/web 200 {"type":"A","ips":["10.0.0.1","10.0.0.2"]}
POST /v1/records/web 200 [{"type":"TXT","texts":["hi"],"ttl":60}]
PUT /v1/records/_http._tcp.web 200 {"type":"SRV","targets":[{"target":"web.skydns.local.","port":80}]}
PUT /v1/records/mail 200 {"type":"MX","exchanges":[{"exchange":"web"}]}
PUT /v1/records/alias 200 {"type":"CNAME","target":"web"}
PUT /v1/records/web 400 {"type":"A","ips":["x"]}
POST /v1/records/web 409 {"type":"CNAME","target":"mail"}
GET /v1/records 200
GET /v1/records?limit=1 200
GET /v1/records/web 200
GET /v1/records/nothing 404
DELETE /v1/records/web?type=TXT 200
DELETE /v1/records/nothing 404
PUT /v1/status/10.0.0.1 200 {"status":"DOWN"}
GET /v1/status 200
GET /v1/status/10.0.0.1 200
DELETE /v1/status/10.0.0.1 200
DELETE /v1/status/10.0.0.9 404
GET /v1/health 200
GET /v1/health/agents 200
POST /v1/import 200 {"records":[{"name":"imp","type":"A","ips":["10.1.0.1"]}],"statuses":[{"ip":"10.1.0.1","status":"UP"}]}
GET /v1/stats 200
GET /v1/stats?top=2000 400
GET /v1/cache?name=example.org 200
GET /v1/cache 400
DELETE /v1/cache?name=example.org 200 {}
DELETE /v1/cache 200 {}
POST /v1/reload 200 {}
POST /v1/reload 422 {}
GET /v1/openapi.json 200
GET /health 200
GET /ready 200
GET /metrics 200
GET /skydns/api/?token=TOKEN 200
POST /skydns/api/cctv2?token=TOKEN 200 {"type":"A","ips":["192.168.10.1"]}
PUT /skydns/api/cctv2?token=TOKEN 200 {"type":"A","update":{"192.168.10.1":"192.168.10.2"}}
GET /skydns/api/cctv2?token=TOKEN 200
DELETE /skydns/api/cctv2?token=TOKEN 200
GET /skydns/api/cctv2?token=TOKEN 404
-GET /skydns/api/cctv2?token=wrong 403
"#;

/// A reload channel whose first request is applied and second rejected, as the
/// process's reloader answers (src/reload.rs).
fn reloader() -> ReloadSender {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<tokio::sync::oneshot::Sender<ReloadReply>>(1);
    std::thread::spawn(move || {
        let applied = ReloadReply {
            ok: true,
            applied: vec!["dns".into(), "forward".into()],
            restart_required: vec!["dataplane.listen".into()],
            error: None,
        };
        let rejected = ReloadReply {
            ok: false,
            error: Some("dns.default-ttl: must be at least 1".into()),
            ..ReloadReply::default()
        };
        for reply in [applied, rejected] {
            let Some(answer) = rx.blocking_recv() else {
                return;
            };
            let _ = answer.send(reply);
        }
    });
    tx
}

/// The API with the forward cache (an unused upstream) and a reloader.
fn full_server() -> TestServer {
    api_common::start_forwarding(|state| state.with_reload(reloader()))
}

#[test]
fn every_documented_operation_answers_as_documented() {
    let s = full_server();
    let (_, text) = s.call("GET", "/v1/openapi.json", None, None);
    let doc: Value = serde_json::from_str(&text).unwrap();
    let mut covered = BTreeSet::new();
    for line in CASES.lines().filter(|l| !l.trim().is_empty()) {
        let mut f = line.splitn(4, ' ');
        let (method, path) = (f.next().unwrap(), f.next().unwrap());
        let want: u16 = f.next().unwrap().parse().unwrap();
        let body = f.next();
        let path = path.replace("TOKEN", TOKEN);
        let (status, text) = match method.strip_prefix('-') {
            Some(m) => s.call(m, &path, body, None),
            None => s.auth(method, &path, body),
        };
        let method = method.trim_start_matches('-');
        assert_eq!(status, want, "{line}: {text}");
        covered.insert(check(&doc, method, &path, status, &text));
        if let (true, Some(body)) = ((200..300).contains(&status), body) {
            check_request(&doc, method, &path, body);
        }
    }
    // A route documented later needs a case here.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item
            .as_object()
            .unwrap()
            .keys()
            .filter(|m| *m != "parameters")
        {
            assert!(
                covered.contains(&(method.clone(), path.clone())),
                "{method} {path} is documented but not exercised"
            );
        }
    }
}

#[test]
fn a_response_off_the_schema_is_caught() {
    // The check itself can fail: a record set without its type is not a NameRecords.
    let s = TestServer::start();
    let (_, text) = s.call("GET", "/v1/openapi.json", None, None);
    let doc: Value = serde_json::from_str(&text).unwrap();
    let bad = r#"{"name":"web.skydns.local.","records":[{"ips":["10.0.0.1"]}],"revision":3}"#;
    let caught = std::panic::catch_unwind(|| check(&doc, "GET", "/v1/records/web", 200, bad));
    assert!(caught.is_err(), "an invalid body passed");
    let undocumented =
        std::panic::catch_unwind(|| check(&doc, "GET", "/v1/records/web", 418, "{}"));
    assert!(undocumented.is_err(), "an undocumented status passed");
}
