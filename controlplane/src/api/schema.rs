//! The API's JSON bodies as types: the handlers answer with these (serde), and the
//! OpenAPI document (`openapi.rs`, utoipa) takes its schemas from the same types.
//!
//! Record sets are read by `body.rs`/`fields.rs` (field-path errors) and written by
//! `body::sets_json`; [`RecordSet`] describes that wire shape for both directions.

use serde::Serialize;
use serde_json::Value;
use utoipa::{IntoResponses, ToSchema};

pub use super::error::ErrorBody;

/// One SRV value.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SrvValue {
    pub target: String,
    #[schema(minimum = 1, maximum = 65535)]
    pub port: u16,
    /// Default 10.
    pub priority: Option<u16>,
    /// Default 10.
    pub weight: Option<u16>,
}

/// One MX value.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MxValue {
    pub exchange: String,
    /// Default 10.
    pub preference: Option<u16>,
}

/// One record set of a name: its `type`, the values under the type's key, and `ttl`
/// (seconds; omitted = the configured default TTL).
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum RecordSet {
    A {
        #[schema(min_items = 1, value_type = Vec<String>, format = Ipv4)]
        ips: Vec<String>,
        #[schema(minimum = 1, maximum = 2147483647)]
        ttl: Option<u32>,
    },
    #[serde(rename = "AAAA")]
    Aaaa {
        #[schema(min_items = 1, value_type = Vec<String>, format = Ipv6)]
        ips: Vec<String>,
        #[schema(minimum = 1, maximum = 2147483647)]
        ttl: Option<u32>,
    },
    #[serde(rename = "CNAME")]
    Cname {
        target: String,
        #[schema(minimum = 1, maximum = 2147483647)]
        ttl: Option<u32>,
    },
    /// Owner under in-addr.arpa. / ip6.arpa.
    #[serde(rename = "PTR")]
    Ptr {
        #[schema(min_items = 1)]
        targets: Vec<String>,
        #[schema(minimum = 1, maximum = 2147483647)]
        ttl: Option<u32>,
    },
    #[serde(rename = "SRV")]
    Srv {
        #[schema(min_items = 1)]
        targets: Vec<SrvValue>,
        #[schema(minimum = 1, maximum = 2147483647)]
        ttl: Option<u32>,
    },
    #[serde(rename = "TXT")]
    Txt {
        /// One TXT record per string, at most 255 bytes each.
        #[schema(min_items = 1)]
        texts: Vec<String>,
        #[schema(minimum = 1, maximum = 2147483647)]
        ttl: Option<u32>,
    },
    #[serde(rename = "MX")]
    Mx {
        #[schema(min_items = 1)]
        exchanges: Vec<MxValue>,
        #[schema(minimum = 1, maximum = 2147483647)]
        ttl: Option<u32>,
    },
}

/// A request body of `/v1/records/{name}`: one record set or a list of them.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum RecordSets {
    One(RecordSet),
    Many(Vec<RecordSet>),
}

/// A record set with its owner name (`/v1/import` entries); openapi.rs documents it as the
/// [`RecordSet`] variants with a required `name`.
#[derive(Debug, Serialize, ToSchema)]
pub struct NamedRecordSet {
    pub name: String,
    #[serde(flatten)]
    pub set: RecordSet,
}

/// `replace` (default): each named name's own records become the entries; `add`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ImportMode {
    Replace,
    Add,
}

/// `UP` or `DOWN` (requests take any case).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub enum HealthWord {
    #[serde(rename = "UP")]
    Up,
    #[serde(rename = "DOWN")]
    Down,
}

impl From<crate::layout::Health> for HealthWord {
    fn from(h: crate::layout::Health) -> HealthWord {
        match h {
            crate::layout::Health::Up => HealthWord::Up,
            crate::layout::Health::Down => HealthWord::Down,
        }
    }
}

/// One `/v1/import` status entry.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusEntry {
    pub ip: String,
    pub status: HealthWord,
}

/// The object form of a `/v1/import` body.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportBatch {
    pub mode: Option<ImportMode>,
    pub records: Option<Vec<NamedRecordSet>>,
    pub statuses: Option<Vec<StatusEntry>>,
}

/// A `/v1/import` body: the object form or just the list of records.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ImportBody {
    Batch(ImportBatch),
    Records(Vec<NamedRecordSet>),
}

/// `PUT /v1/status/{ip}` body; `manual` pins the status (scanners never overwrite it).
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    pub status: HealthWord,
    pub manual: Option<bool>,
}

/// A name and its own record sets (reads and writes of `/v1/records/{name}`).
#[derive(Debug, Serialize, ToSchema)]
pub struct NameRecords {
    pub name: String,
    /// The sets as `body::sets_json` renders them.
    #[schema(value_type = Vec<RecordSet>)]
    pub records: Vec<Value>,
    /// The store revision of the write (absent on reads and list entries).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<i64>,
}

/// `GET /v1/records`: one page of names.
#[derive(Debug, Serialize, ToSchema)]
pub struct NamesPage {
    pub count: usize,
    pub names: Vec<NameRecords>,
    pub revision: i64,
    /// Present when more names follow: pass it back as `?continue=` for the next page.
    #[serde(rename = "continue", skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// `DELETE /v1/records/{name}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Deleted {
    pub name: String,
    pub deleted: usize,
    pub revision: Option<i64>,
}

/// The status of one address.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusOut {
    pub ip: String,
    pub status: HealthWord,
    /// False when no status is stored (the address counts as UP).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explicit: Option<bool>,
    /// Set by an operator: health scanners leave it alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manual: Option<bool>,
    /// The store revision of the write.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<i64>,
}

/// `GET /v1/status`.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusList {
    pub statuses: Vec<StatusOut>,
    pub revision: i64,
}

/// `GET /v1/health` (each row: `ip`, `status`, `check`, and the stored status's
/// `agent`, `since`, `reason`, `manual`).
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthList {
    #[schema(value_type = Vec<Object>)]
    pub addresses: Vec<Value>,
    pub revision: i64,
}

/// `GET /v1/health/agents` (each row: `agent`, `targets`, `panic`, `updated`).
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentList {
    #[schema(value_type = Vec<Object>)]
    pub agents: Vec<Value>,
    pub revision: i64,
}

/// `POST /v1/import`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Imported {
    pub names: usize,
    pub values: usize,
    pub statuses: usize,
    pub puts: usize,
    pub deletes: usize,
    /// Store transactions the import took.
    pub chunks: usize,
    pub revision: Option<i64>,
}

/// Entries and bytes held by the forward cache.
#[derive(Debug, Serialize, ToSchema)]
pub struct CacheUsage {
    pub entries: usize,
    pub bytes: usize,
}

/// `GET /v1/cache?name=N`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CacheShow {
    pub name: String,
    pub entries: Vec<crate::forward::EntryView>,
    pub cache: CacheUsage,
}

/// `DELETE /v1/cache[?name=N]`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Purged {
    pub purged: usize,
}

/// `GET /health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Alive {
    /// Always `ok`.
    pub status: String,
}

/// `GET /ready`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    pub ready: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The errors every authenticated store route may answer.
#[derive(IntoResponses)]
pub enum StoreErrors {
    /// Bad input; `field` names the offending field. Nothing was written.
    #[response(status = 400)]
    BadInput(ErrorBody),
    /// No credentials.
    #[response(status = 401)]
    NoCredentials(ErrorBody),
    /// Wrong token.
    #[response(status = 403)]
    WrongToken(ErrorBody),
    /// The record store is unavailable.
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// The credential errors of an authenticated route.
#[derive(IntoResponses)]
pub enum AuthErrors {
    /// No credentials.
    #[response(status = 401)]
    NoCredentials(ErrorBody),
    /// Wrong token.
    #[response(status = 403)]
    WrongToken(ErrorBody),
}

/// The `{name}` path segment.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct NamePath {
    /// Owner name; without a trailing dot and outside every served domain it is completed
    /// with the first served domain.
    pub name: String,
}

/// The `{ip}` path segment.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct IpPath {
    /// An IPv4 or IPv6 address.
    pub ip: String,
}

/// `?token=` of the ContainerDNS routes.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenQuery {
    /// The API token (or the bearer header).
    pub token: Option<String>,
}

/// `?type=` of a delete.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TypeQuery {
    /// Only values of this type.
    #[param(rename = "type")]
    pub rtype: Option<String>,
}

/// The ContainerDNS routes' errors: the text `ERR, <reason>`.
#[derive(IntoResponses)]
pub enum CompatErrors {
    /// `ERR, <reason>`: bad input.
    #[response(status = 400, content_type = "text/plain")]
    BadInput(String),
    /// `ERR, <reason>`: no credentials.
    #[response(status = 401, content_type = "text/plain")]
    NoCredentials(String),
    /// `ERR, <reason>`: wrong token.
    #[response(status = 403, content_type = "text/plain")]
    WrongToken(String),
    /// `ERR, <reason>`: nothing at this name.
    #[response(status = 404, content_type = "text/plain")]
    NotFound(String),
    /// `ERR, <reason>`: the record store is unavailable.
    #[response(status = 503, content_type = "text/plain")]
    Unavailable(String),
}
