//! `/v1/openapi.json`: the OpenAPI 3.0 description of the API, hand-written.
//!
//! Keep it in step with the router (server.rs) and docs/api.md; the
//! `api_misc` test checks that every path and method listed here is routed.

use axum::Json;
use serde_json::{json, Value};

fn ttl() -> Value {
    json!({"type":"integer","minimum":1,"maximum":2147483647,
           "description":"Seconds; omitted = the configured default TTL."})
}

fn names(desc: &str) -> Value {
    json!({"type":"array","minItems":1,"items":{"type":"string"},"description":desc})
}

fn set_schema(t: &str, field: &str, items: Value, required_field: bool) -> Value {
    let mut required = vec![json!("type")];
    if required_field {
        required.push(json!(field));
    }
    json!({
        "type":"object","additionalProperties":false,"required":required,
        "properties":{"type":{"type":"string","enum":[t]}, field: items, "ttl": ttl()}
    })
}

fn json_body(schema: Value) -> Value {
    json!({"required":true,"content":{"application/json":{"schema":schema}}})
}

fn ok(desc: &str, schema: Value) -> Value {
    json!({"description":desc,"content":{"application/json":{"schema":schema}}})
}

fn err(desc: &str) -> Value {
    ok(desc, json!({"$ref":"#/components/schemas/Error"}))
}

fn text(desc: &str) -> Value {
    json!({"description":desc,"content":{"text/plain":{"schema":{"type":"string"}}}})
}

fn errors() -> Value {
    json!({
        "400": err("Bad input; `field` names the offending field. Nothing was written."),
        "401": err("No credentials."),
        "403": err("Wrong token."),
        "503": err("The record store is unavailable.")
    })
}

fn with(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    base
}

fn name_param() -> Value {
    json!({"name":"name","in":"path","required":true,"schema":{"type":"string"},
           "description":"Owner name; without a trailing dot and outside every served domain it is completed with the first served domain."})
}

/// The whole document.
pub fn document() -> Value {
    let sets = json!({"oneOf":[
        {"$ref":"#/components/schemas/RecordSet"},
        {"type":"array","minItems":1,"items":{"$ref":"#/components/schemas/RecordSet"}}
    ]});
    let name_result = ok(
        "The name's records after the call.",
        json!({"$ref":"#/components/schemas/NameRecords"}),
    );
    let compat_ok = text("`OK`");
    let compat_err = text("`ERR, <reason>` (4xx/5xx, 401 and 403 for credentials)");
    let compat_body =
        json!({"required":false,"content":{"application/json":{"schema":{"type":"object"}}}});
    json!({
      "openapi":"3.0.3",
      "info":{"title":"Skylane API","version":env!("CARGO_PKG_VERSION"),
              "description":"Records in SkyDNS layout, health status, bulk import, statistics."},
      "security":[{"bearer":[]}],
      "paths":{
        "/v1/records":{"get":{
          "summary":"List names and their record sets",
          "parameters":[
            {"name":"domain","in":"query","schema":{"type":"string"},"description":"Only names at or below this name."},
            {"name":"type","in":"query","schema":{"type":"string"},"description":"Only records of this type."},
            {"name":"limit","in":"query","schema":{"type":"integer","minimum":1,"maximum":10000,"default":1000},"description":"Names per page."},
            {"name":"continue","in":"query","schema":{"type":"string"},"description":"The continue token of the previous page."}],
          "responses":with(json!({"200":ok("Names", json!({"type":"object","properties":{
              "count":{"type":"integer"},"revision":{"type":"integer"},
              "continue":{"type":"string","description":"Present when more names follow: pass it back as ?continue= for the next page."},
              "names":{"type":"array","items":{"$ref":"#/components/schemas/NameRecords"}}}}))}), errors())}},
        "/v1/records/{name}":{
          "parameters":[name_param()],
          "get":{"summary":"The name's own record sets",
                 "responses":with(json!({"200":name_result,"404":err("No records at this name.")}), errors())},
          "put":{"summary":"Replace all of the name's own records","requestBody":json_body(sets.clone()),
                 "responses":with(json!({"200":name_result,"409":err("A CNAME cannot share its name.")}), errors())},
          "post":{"summary":"Add values to the name's records","requestBody":json_body(sets.clone()),
                  "responses":with(json!({"200":name_result,"409":err("A CNAME cannot share its name.")}), errors())},
          "delete":{"summary":"Delete the name's own values (never names below it)",
                    "parameters":[{"name":"type","in":"query","schema":{"type":"string"},"description":"Only values of this type."}],
                    "requestBody":{"required":false,"content":{"application/json":{"schema":sets}}},
                    "responses":with(json!({"200":ok("Deleted", json!({"type":"object","properties":{
                        "name":{"type":"string"},"deleted":{"type":"integer"},"revision":{"type":"integer"}}})),
                      "404":err("Nothing to delete.")}), errors())}},
        "/v1/status":{"get":{"summary":"Every address with a stored status",
          "responses":with(json!({"200":ok("Statuses", json!({"type":"object","properties":{
              "statuses":{"type":"array","items":{"$ref":"#/components/schemas/Status"}},"revision":{"type":"integer"}}}))}), errors())}},
        "/v1/status/{ip}":{
          "parameters":[{"name":"ip","in":"path","required":true,"schema":{"type":"string"}}],
          "get":{"summary":"Status of an address (UP when none is stored)",
                 "responses":with(json!({"200":ok("Status", json!({"$ref":"#/components/schemas/Status"}))}), errors())},
          "put":{"summary":"Mark an address UP or DOWN (manual: health scanners never overwrite it)",
                 "requestBody":json_body(json!({"type":"object","additionalProperties":false,"required":["status"],
                     "properties":{"status":{"type":"string","enum":["UP","DOWN"]},"manual":{"type":"boolean"}}})),
                 "responses":with(json!({"200":ok("Stored", json!({"$ref":"#/components/schemas/Status"}))}), errors())},
          "delete":{"summary":"Forget the stored status (the address counts as UP)",
                    "responses":with(json!({"200":ok("Removed", json!({"$ref":"#/components/schemas/Status"})),
                                           "404":err("No status stored.")}), errors())}},
        "/v1/health":{"get":{"summary":"Each address's status and last health check (from the scanners' reports)",
          "responses":with(json!({"200":ok("Addresses", json!({"type":"object"}))}), errors())}},
        "/v1/health/agents":{"get":{"summary":"Live health agents and their address counts",
          "responses":with(json!({"200":ok("Agents", json!({"type":"object"}))}), errors())}},
        "/v1/import":{"post":{"summary":"Many names and statuses in one atomic store batch",
          "requestBody":json_body(json!({"oneOf":[
              {"type":"object","additionalProperties":false,"properties":{
                  "mode":{"type":"string","enum":["replace","add"],"default":"replace"},
                  "records":{"type":"array","items":{"$ref":"#/components/schemas/NamedRecordSet"}},
                  "statuses":{"type":"array","items":{"$ref":"#/components/schemas/Status"}}}},
              {"type":"array","items":{"$ref":"#/components/schemas/NamedRecordSet"}}]})),
          "responses":with(json!({"200":ok("Imported", json!({"type":"object","properties":{
              "names":{"type":"integer"},"values":{"type":"integer"},"statuses":{"type":"integer"},
              "puts":{"type":"integer"},"deletes":{"type":"integer"},"revision":{"type":"integer","nullable":true}}})),
              "409":err("A CNAME cannot share its name."),
              "413":err("Body over 64 MiB, or more operations than the store takes in one transaction.")}), errors())}},
        "/v1/stats":{"get":{"summary":"Per-core counters, latency, top names, snapshot and sync figures",
          "parameters":[{"name":"top","in":"query","schema":{"type":"integer","minimum":0,"maximum":1000,"default":10}}],
          "responses":with(json!({"200":ok("Statistics", json!({"type":"object"}))}), errors())}},
        // POST /v1/reload (issue 12, part A: re-read the config and zone files) goes here,
        // beside the other operations routes.
        "/v1/openapi.json":{"get":{"summary":"This document","security":[],
          "responses":{"200":ok("OpenAPI 3.0", json!({"type":"object"}))}}},
        "/health":{"get":{"summary":"Liveness","security":[],"responses":{"200":ok("Alive", json!({"type":"object"}))}}},
        "/ready":{"get":{"summary":"Readiness: the first snapshot from the store is live","security":[],
          "responses":{"200":ok("Ready", json!({"type":"object"})),"503":ok("Not ready yet", json!({"type":"object"}))}}},
        "/metrics":{"get":{"summary":"Prometheus metrics","security":[],
          "responses":{"200":{"description":"OpenMetrics 1.0 text (docs/api.md lists the metrics)",
              "content":{crate::metrics::CONTENT_TYPE:{"schema":{"type":"string"}}}}}}},
        "/skydns/api/":{"get":{"summary":"ContainerDNS: every name with its record sets",
          "parameters":[{"name":"token","in":"query","schema":{"type":"string"}}],
          "responses":{"200":ok("Name → record sets", json!({"type":"object"})),"401":compat_err.clone(),"403":compat_err.clone()}}},
        "/skydns/api/{name}":{
          "parameters":[name_param(),{"name":"token","in":"query","schema":{"type":"string"},
                        "description":"The API token (or the bearer header)."}],
          "get":{"summary":"ContainerDNS: one name","responses":{"200":ok("Name → record sets", json!({"type":"object"})),
                 "404":compat_err.clone()}},
          "post":{"summary":"ContainerDNS: add values, or `{\"type\":\"cname\",\"alias\":A}` to make A a CNAME to {name}",
                  "requestBody":json_body(json!({"type":"object"})),
                  "responses":{"200":compat_ok.clone(),"400":compat_err.clone(),"401":compat_err.clone(),"403":compat_err.clone()}},
          "put":{"summary":"ContainerDNS: `{\"type\":\"A\",\"update\":{\"old\":\"new\"}}` swaps addresses; other bodies replace",
                 "requestBody":json_body(json!({"type":"object"})),
                 "responses":{"200":compat_ok.clone(),"400":compat_err.clone(),"404":compat_err.clone()}},
          "delete":{"summary":"ContainerDNS: remove listed values, an alias, or (no body) every value of the name",
                    "requestBody":compat_body,
                    "responses":{"200":compat_ok,"404":compat_err}}}
      },
      "components":{
        "securitySchemes":{"bearer":{"type":"http","scheme":"bearer"}},
        "schemas":{
          "Error":{"type":"object","required":["error"],"properties":{
              "error":{"type":"string"},"field":{"type":"string","description":"Path of the offending field, e.g. ips[1]."}}},
          "Status":{"type":"object","properties":{"ip":{"type":"string"},
              "status":{"type":"string","enum":["UP","DOWN"]},"explicit":{"type":"boolean"}}},
          "NameRecords":{"type":"object","properties":{"name":{"type":"string"},
              "records":{"type":"array","items":{"$ref":"#/components/schemas/RecordSet"}},
              "revision":{"type":"integer"}}},
          "NamedRecordSet":{"allOf":[{"$ref":"#/components/schemas/RecordSet"},
              {"type":"object","required":["name"],"properties":{"name":{"type":"string"}}}]},
          "RecordSet":{"oneOf":[
            set_schema("A","ips",json!({"type":"array","minItems":1,"items":{"type":"string","format":"ipv4"}}),true),
            set_schema("AAAA","ips",json!({"type":"array","minItems":1,"items":{"type":"string","format":"ipv6"}}),true),
            set_schema("CNAME","target",json!({"type":"string"}),true),
            set_schema("PTR","targets",names("Target names (owner under in-addr.arpa. / ip6.arpa.)."),true),
            set_schema("SRV","targets",json!({"type":"array","minItems":1,"items":{"type":"object","additionalProperties":false,
                "required":["target","port"],"properties":{"target":{"type":"string"},
                "port":{"type":"integer","minimum":0,"maximum":65535},
                "priority":{"type":"integer","minimum":0,"maximum":65535,"default":10},
                "weight":{"type":"integer","minimum":0,"maximum":65535,"default":10}}}}),true),
            set_schema("TXT","texts",json!({"type":"array","minItems":1,"items":{"type":"string","maxLength":255}}),true),
            set_schema("MX","exchanges",json!({"type":"array","minItems":1,"items":{"type":"object","additionalProperties":false,
                "required":["exchange"],"properties":{"exchange":{"type":"string"},
                "preference":{"type":"integer","minimum":0,"maximum":65535,"default":10}}}}),true)
          ]}
        }
      }
    })
}

/// `GET /v1/openapi.json`.
pub(crate) async fn openapi() -> Json<Value> {
    Json(document())
}
