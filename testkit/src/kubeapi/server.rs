//! The test API server itself: object store with resourceVersions, bounded history, list and
//! watch handlers, and the accept loop (its connections die with it, like a real restart).

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::stream::{self, StreamExt};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Kind {
    Service,
    Slice,
}

impl Kind {
    fn api_version(self) -> &'static str {
        match self {
            Kind::Service => "v1",
            Kind::Slice => "discovery.k8s.io/v1",
        }
    }
    fn kind(self) -> &'static str {
        match self {
            Kind::Service => "Service",
            Kind::Slice => "EndpointSlice",
        }
    }
}

/// One watch event as sent (`ns` empty for bookmarks, which go to every watcher of `kind`).
#[derive(Debug, Clone)]
struct Change {
    kind: Kind,
    ns: String,
    rv: u64,
    line: Bytes,
}

#[derive(Default)]
struct Objects {
    rv: u64,
    /// Watches from a resourceVersion below this get 410 Gone.
    compacted: u64,
    objects: BTreeMap<(Kind, String, String), Value>,
    history: Vec<Change>,
}

struct Inner {
    state: Mutex<Objects>,
    events: broadcast::Sender<Change>,
    /// Bumped to end every open watch stream.
    kill: watch::Sender<u64>,
    lists: AtomicU64,
    watches: AtomicU64,
    bookmarks: AtomicU64,
}

/// What one `serve` (one server lifetime between restarts) hands its handlers.
///
/// `alive` turns false in [`KubeApi::stop`] before it returns. Aborting the accept task ends
/// its connections only when the runtime next polls it, so until then an old connection
/// could still answer a request or pass on a change made after the stop. Handlers check
/// `alive` under the state lock, and watch streams after each change, so nothing made after
/// `stop` returns ever leaves through a connection of the stopped server.
#[derive(Clone)]
struct Served {
    inner: Arc<Inner>,
    alive: Arc<AtomicBool>,
}

/// A running test API server. See the module docs of [`super`].
pub struct KubeApi {
    inner: Arc<Inner>,
    addr: SocketAddr,
    task: Mutex<Option<(JoinHandle<()>, Arc<AtomicBool>)>>,
}

fn event_line(kind: &str, object: &Value) -> Bytes {
    let mut line =
        serde_json::to_vec(&json!({ "type": kind, "object": object })).expect("events serialise");
    line.push(b'\n');
    Bytes::from(line)
}

impl KubeApi {
    /// Starts on a free loopback port.
    pub async fn start() -> KubeApi {
        let (events, _) = broadcast::channel(65_536);
        let inner = Arc::new(Inner {
            state: Mutex::new(Objects::default()),
            events,
            kill: watch::channel(0).0,
            lists: AtomicU64::new(0),
            watches: AtomicU64::new(0),
            bookmarks: AtomicU64::new(0),
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let api = KubeApi {
            inner,
            addr,
            task: Mutex::new(None),
        };
        api.serve(listener);
        api
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Writes a kubeconfig (JSON, which is YAML) pointing at this server to `path`.
    pub fn write_kubeconfig(&self, path: &std::path::Path) {
        let kc = json!({
            "apiVersion": "v1", "kind": "Config", "current-context": "test",
            "clusters": [{"name": "test", "cluster": {"server": self.url()}}],
            "users": [{"name": "test", "user": {"token": "test-token"}}],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test", "namespace": "default"}}],
        });
        std::fs::write(path, serde_json::to_vec_pretty(&kc).expect("json"))
            .expect("write kubeconfig");
    }

    fn serve(&self, listener: TcpListener) {
        let alive = Arc::new(AtomicBool::new(true));
        let router = Router::new()
            .route("/api/v1/services", get(list_all_services))
            .route("/api/v1/namespaces/{ns}/services", get(list_ns_services))
            .route(
                "/apis/discovery.k8s.io/v1/endpointslices",
                get(list_all_slices),
            )
            .route(
                "/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices",
                get(list_ns_slices),
            )
            .with_state(Served {
                inner: self.inner.clone(),
                alive: alive.clone(),
            });
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    continue;
                };
                let svc = TowerToHyperService::new(router.clone());
                conns.spawn(async move {
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(sock), svc)
                        .await;
                });
                while conns.try_join_next().is_some() {}
            }
        });
        *self.task.lock().unwrap() = Some((task, alive));
    }

    /// Stops serving: the port refuses connections and every connection and watch ends.
    pub fn stop(&self) {
        if let Some((task, alive)) = self.task.lock().unwrap().take() {
            alive.store(false, Ordering::SeqCst);
            task.abort();
        }
        self.inner.kill.send_modify(|g| *g += 1);
    }

    /// Serves again on the same port with the same objects (an API server restart).
    pub async fn restart(&self) {
        self.stop();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(e) => {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "rebind {}: {e}",
                        self.addr
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        self.serve(listener);
    }

    /// Drops the watch history up to now and ends every watch: clients resuming from an
    /// older resourceVersion get 410 Gone and must relist.
    pub fn compact(&self) {
        {
            let mut st = self.inner.state.lock().unwrap();
            st.compacted = st.rv;
            st.history.clear();
        }
        self.inner.kill.send_modify(|g| *g += 1);
    }

    /// Ends every watch stream (clients resume from their last resourceVersion).
    pub fn drop_watches(&self) {
        self.inner.kill.send_modify(|g| *g += 1);
    }

    /// Sends a BOOKMARK at the current resourceVersion to every watcher.
    pub fn bookmark(&self) {
        let st = self.inner.state.lock().unwrap();
        for kind in [Kind::Service, Kind::Slice] {
            let obj = json!({"kind": kind.kind(), "apiVersion": kind.api_version(),
                "metadata": {"resourceVersion": st.rv.to_string()}});
            let _ = self.inner.events.send(Change {
                kind,
                ns: String::new(),
                rv: st.rv,
                line: event_line("BOOKMARK", &obj),
            });
        }
    }

    /// List requests served so far (a relist shows here).
    pub fn lists(&self) -> u64 {
        self.inner.lists.load(Ordering::SeqCst)
    }

    /// Watch requests served so far.
    pub fn watches(&self) -> u64 {
        self.inner.watches.load(Ordering::SeqCst)
    }

    /// Watch streams open now (each receives every change and bookmark from now on).
    pub fn open_watches(&self) -> usize {
        self.inner.events.receiver_count()
    }

    /// BOOKMARK events written to watch streams so far.
    pub fn bookmarks_sent(&self) -> u64 {
        self.inner.bookmarks.load(Ordering::SeqCst)
    }

    /// The current resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.inner.state.lock().unwrap().rv
    }

    pub fn apply_service(&self, svc: &Service) {
        self.put(Kind::Service, serde_json::to_value(svc).expect("json"));
    }

    pub fn delete_service(&self, ns: &str, name: &str) {
        self.remove(Kind::Service, ns, name);
    }

    pub fn apply_slice(&self, slice: &EndpointSlice) {
        self.put(Kind::Slice, serde_json::to_value(slice).expect("json"));
    }

    pub fn delete_slice(&self, ns: &str, name: &str) {
        self.remove(Kind::Slice, ns, name);
    }

    fn put(&self, kind: Kind, mut obj: Value) {
        let ns = obj["metadata"]["namespace"]
            .as_str()
            .expect("namespace")
            .to_string();
        let name = obj["metadata"]["name"].as_str().expect("name").to_string();
        let mut st = self.inner.state.lock().unwrap();
        st.rv += 1;
        let rv = st.rv;
        obj["apiVersion"] = json!(kind.api_version());
        obj["kind"] = json!(kind.kind());
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        obj["metadata"]["uid"] = json!(format!("uid-{ns}-{name}"));
        let key = (kind, ns.clone(), name);
        let verb = if st.objects.contains_key(&key) {
            "MODIFIED"
        } else {
            "ADDED"
        };
        let line = event_line(verb, &obj);
        st.objects.insert(key, obj);
        self.emit(&mut st, Change { kind, ns, rv, line });
    }

    fn remove(&self, kind: Kind, ns: &str, name: &str) {
        let mut st = self.inner.state.lock().unwrap();
        let Some(mut obj) = st.objects.remove(&(kind, ns.to_string(), name.to_string())) else {
            return;
        };
        st.rv += 1;
        let rv = st.rv;
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        let line = event_line("DELETED", &obj);
        self.emit(
            &mut st,
            Change {
                kind,
                ns: ns.to_string(),
                rv,
                line,
            },
        );
    }

    fn emit(&self, st: &mut Objects, change: Change) {
        st.history.push(change.clone());
        let _ = self.inner.events.send(change);
    }
}

impl Drop for KubeApi {
    fn drop(&mut self) {
        self.stop();
    }
}

type Params = Query<HashMap<String, String>>;

async fn list_all_services(State(s): State<Served>, Query(q): Params) -> Response {
    respond(s, Kind::Service, None, q).await
}
async fn list_ns_services(
    State(s): State<Served>,
    Path(ns): Path<String>,
    Query(q): Params,
) -> Response {
    respond(s, Kind::Service, Some(ns), q).await
}
async fn list_all_slices(State(s): State<Served>, Query(q): Params) -> Response {
    respond(s, Kind::Slice, None, q).await
}
async fn list_ns_slices(
    State(s): State<Served>,
    Path(ns): Path<String>,
    Query(q): Params,
) -> Response {
    respond(s, Kind::Slice, Some(ns), q).await
}

fn matches(c: &Change, kind: Kind, ns: &Option<String>) -> bool {
    c.kind == kind && (c.ns.is_empty() || ns.as_ref().is_none_or(|n| *n == c.ns))
}

async fn respond(
    served: Served,
    kind: Kind,
    ns: Option<String>,
    q: HashMap<String, String>,
) -> Response {
    if q.get("watch").is_some_and(|w| w == "true" || w == "1") {
        watch(served, kind, ns, &q)
    } else {
        list(&served, kind, ns)
    }
}

/// What an old connection of a stopped server answers (a real one would be gone).
fn stopped() -> Response {
    axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response()
}

fn list(served: &Served, kind: Kind, ns: Option<String>) -> Response {
    let st = served.inner.state.lock().unwrap();
    if !served.alive.load(Ordering::SeqCst) {
        return stopped();
    }
    served.inner.lists.fetch_add(1, Ordering::SeqCst);
    let items: Vec<&Value> = st
        .objects
        .iter()
        .filter(|((k, n, _), _)| *k == kind && ns.as_ref().is_none_or(|x| x == n))
        .map(|(_, v)| v)
        .collect();
    let list = json!({
        "apiVersion": kind.api_version(), "kind": format!("{}List", kind.kind()),
        "metadata": {"resourceVersion": st.rv.to_string()}, "items": items,
    });
    axum::Json(list).into_response()
}

fn watch(served: Served, kind: Kind, ns: Option<String>, q: &HashMap<String, String>) -> Response {
    let s = &served.inner;
    let from: u64 = q
        .get("resourceVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|v| v.parse().ok())
        .unwrap_or(300u64);
    let (backlog, rx, gone, kill) = {
        let st = s.state.lock().unwrap();
        if !served.alive.load(Ordering::SeqCst) {
            return stopped();
        }
        s.watches.fetch_add(1, Ordering::SeqCst);
        let gone = from < st.compacted;
        let backlog: Vec<Bytes> = st
            .history
            .iter()
            .filter(|c| c.rv > from && matches(c, kind, &ns))
            .map(|c| c.line.clone())
            .collect();
        // Subscribed under the lock, so a compaction or stop after it ends this stream.
        (backlog, s.events.subscribe(), gone, s.kill.subscribe())
    };
    if gone {
        let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "reason": "Expired", "code": 410,
            "message": format!("too old resource version: {from}")});
        return Body::from(event_line("ERROR", &status)).into_response();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    let live = stream::unfold((rx, kill, from), move |(mut rx, mut kill, mut last)| {
        let (ns, served) = (ns.clone(), served.clone());
        async move {
            loop {
                let c = tokio::select! {
                    biased;
                    _ = kill.changed() => return None,
                    c = rx.recv() => c,
                    _ = tokio::time::sleep_until(deadline) => return None,
                };
                // A change made after a stop or compaction never leaves on this stream: both
                // are recorded before any later change is broadcast.
                if !served.alive.load(Ordering::SeqCst) || kill.has_changed().unwrap_or(true) {
                    return None;
                }
                match c {
                    Ok(c) if matches(&c, kind, &ns) && (c.rv > last || c.ns.is_empty()) => {
                        last = last.max(c.rv);
                        if c.ns.is_empty() {
                            served.inner.bookmarks.fetch_add(1, Ordering::SeqCst);
                        }
                        return Some((c.line, (rx, kill, last)));
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => return None,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        }
    });
    let body = stream::iter(backlog)
        .chain(live)
        .map(Ok::<Bytes, std::convert::Infallible>);
    Body::from_stream(body).into_response()
}
