//! The router and the HTTP(S) server: binding, TLS, the token (configured or
//! generated), header-read timeout, connection limit, graceful shutdown.

use super::config::ApiConfig;
use super::conn_limit::LimitAcceptor;
use super::error::ApiError;
use super::guard::{self, HostPolicy};
use super::schema::{Alive, Readiness};
use super::{
    auth, cache, compat, health, import, list, openapi, oversize, records, reload, stats, status,
    ApiState,
};
use anyhow::Context;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_server::accept::DefaultAcceptor;
use axum_server::tls_rustls::RustlsConfig;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Largest request body of ordinary calls.
pub const MAX_BODY_BYTES: usize = 2 << 20;
/// Largest `/v1/import` body.
pub const MAX_IMPORT_BYTES: usize = 64 << 20;
/// How long in-flight requests may take to finish at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// How long a client may take to send a request's headers (HTTP/1).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest body the route at `path` takes.
pub fn body_limit(path: &str) -> usize {
    if path == "/v1/import" {
        MAX_IMPORT_BYTES
    } else {
        MAX_BODY_BYTES
    }
}

/// Every route. `state` must carry the token and Host policy already (see
/// [`ApiState::with_token`], [`ApiState::with_hosts`]).
pub fn router(state: ApiState) -> Router {
    let v1 = Router::new()
        .route("/v1/records", get(list::list_records))
        .route(
            "/v1/records/{name}",
            get(records::get_name)
                .put(records::put_name)
                .post(records::post_name)
                .delete(records::delete_name),
        )
        .route(
            "/v1/import",
            post(import::import).layer(DefaultBodyLimit::max(body_limit("/v1/import"))),
        )
        .route("/v1/stats", get(stats::stats))
        .route("/v1/reload", post(reload::reload))
        .route("/v1/cache", get(cache::show).delete(cache::purge))
        .route("/v1/status", get(status::list_status))
        .route("/v1/health", get(health::health))
        .route("/v1/health/agents", get(health::agents))
        .route(
            "/v1/status/{ip}",
            get(status::get_status)
                .put(status::put_status)
                .delete(status::delete_status),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_bearer,
        ));
    let skydns = Router::new()
        .route("/skydns/api", get(compat::list))
        .route("/skydns/api/", get(compat::list))
        .route(
            "/skydns/api/{name}",
            get(compat::show)
                .post(compat::post)
                .put(compat::put)
                .delete(compat::delete),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_token_compat,
        ));
    Router::new()
        .merge(v1)
        .merge(skydns)
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(stats::prometheus))
        .route("/v1/openapi.json", get(openapi::openapi))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(oversize::refuse_oversized))
        .layer(middleware::from_fn_with_state(state.clone(), guard::guard))
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

/// `GET /health`.
#[utoipa::path(get, path = "/health", security(()), summary = "Liveness",
    responses((status = 200, description = "Alive", body = Alive)))]
pub(crate) async fn health() -> Json<Alive> {
    Json(Alive {
        status: "ok".into(),
    })
}

/// `GET /ready`.
#[utoipa::path(get, path = "/ready", security(()),
    summary = "Readiness: the first snapshot from the store is live",
    responses((status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "Not ready yet", body = Readiness)))]
pub(crate) async fn ready(State(state): State<ApiState>) -> Response {
    if state.is_ready() {
        Json(Readiness {
            ready: true,
            reason: None,
        })
        .into_response()
    } else {
        let not_yet = Readiness {
            ready: false,
            reason: Some("no snapshot from the store yet".into()),
        };
        (StatusCode::SERVICE_UNAVAILABLE, Json(not_yet)).into_response()
    }
}

async fn not_found(req: Request) -> ApiError {
    ApiError::not_found(format!(
        "no route for {} {}",
        req.method(),
        req.uri().path()
    ))
}

/// Logs method, path (never the query: it may hold a token) and status.
async fn log_request(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let started = std::time::Instant::now();
    let resp = next.run(req).await;
    tracing::debug!(
        %method, path, status = resp.status().as_u16(),
        micros = started.elapsed().as_micros() as u64, "api request"
    );
    resp
}

/// Loads a PEM certificate chain and key into a rustls config (ring provider).
pub fn load_tls(cert: &Path, key: &Path) -> anyhow::Result<RustlsConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("api: tls-cert {}", cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("api: tls-cert {}", cert.display()))?;
    if certs.is_empty() {
        anyhow::bail!("api: tls-cert {}: no certificate found", cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("api: tls-key {}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("api: TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("api: tls-cert and tls-key do not form a usable pair")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(RustlsConfig::from_config(Arc::new(config)))
}

/// A bound, not yet running API server.
pub struct ApiServer {
    listener: std::net::TcpListener,
    tls: Option<RustlsConfig>,
    app: Router,
    addr: SocketAddr,
    max_connections: usize,
}

impl ApiServer {
    /// Validates `cfg`, resolves the token (the configured one, else the one generated
    /// in `<data_dir>/api-token`), loads TLS material and binds the listen address.
    pub fn bind(cfg: &ApiConfig, data_dir: &Path, state: ApiState) -> anyhow::Result<ApiServer> {
        let token = cfg.resolve_token(data_dir)?;
        let tls = match (&cfg.tls_cert, &cfg.tls_key) {
            (Some(cert), Some(key)) => Some(load_tls(cert, key)?),
            _ => None,
        };
        if token.is_none() {
            tracing::warn!(listen = %cfg.listen, "api: auth = \"none\": the API is open to every local user");
        }
        let listener = std::net::TcpListener::bind(cfg.listen)
            .with_context(|| format!("api: cannot listen on {}", cfg.listen))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let hosts = HostPolicy::new(cfg.listen.ip(), &cfg.hostnames);
        let app = router(state.with_token(token).with_hosts(hosts));
        Ok(ApiServer {
            listener,
            tls,
            app,
            addr,
            max_connections: cfg.max_connections,
        })
    }

    /// The bound address (the real port when `listen` used port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// True when serving HTTPS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Serves until `shutdown` becomes true (or its sender is dropped).
    pub async fn run(self, mut shutdown: tokio::sync::watch::Receiver<bool>) -> anyhow::Result<()> {
        let handle: axum_server::Handle<SocketAddr> = axum_server::Handle::new();
        let stopper = handle.clone();
        tokio::spawn(async move {
            while !*shutdown.borrow_and_update() {
                if shutdown.changed().await.is_err() {
                    break;
                }
            }
            stopper.graceful_shutdown(Some(SHUTDOWN_GRACE));
        });
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        tracing::info!("api: serving on {scheme}://{}", self.addr);
        let service = self.app.into_make_service_with_connect_info::<SocketAddr>();
        let max = self.max_connections;
        match self.tls {
            Some(tls) => {
                let mut server = axum_server::from_tcp_rustls(self.listener, tls)?
                    .map(|acceptor| LimitAcceptor::new(acceptor, max));
                limit_header_reads(server.http_builder());
                server.handle(handle).serve(service).await
            }
            None => {
                let mut server = axum_server::from_tcp(self.listener)?
                    .acceptor(LimitAcceptor::new(DefaultAcceptor, max));
                limit_header_reads(server.http_builder());
                server.handle(handle).serve(service).await
            }
        }
        .context("api: server failed")?;
        tracing::info!("api: stopped");
        Ok(())
    }
}

/// HTTP/1 clients get [`HEADER_READ_TIMEOUT`] to send their headers (slowloris).
fn limit_header_reads(
    builder: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
) {
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
}

/// Serves the REST API on `cfg.listen` until `shutdown` turns true; a generated token
/// lives in `data_dir`.
pub async fn serve_api(
    cfg: ApiConfig,
    data_dir: std::path::PathBuf,
    state: ApiState,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    ApiServer::bind(&cfg, &data_dir, state)?.run(shutdown).await
}
