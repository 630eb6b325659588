//! The forwarder: takes misses from the cores (and TCP), deduplicates them,
//! asks the upstreams with failover, fills the cache and answers every
//! waiting client through its backend. Serve-stale (RFC 8767) when every
//! upstream failed; prefetch requests refresh an entry without a client.

use super::exchange::{exchange, ExchangeError, Seen};
use super::fill::Cache;
use super::metrics::{rcode_label, ForwardMetrics};
use super::upstream::Upstreams;
use super::Settings;
use arc_swap::ArcSwap;
use skylane_dataplane::cache::{now_secs, Entry, ForwardRequest, Key, ReplyParams, ReplySink};
use skylane_dataplane::wire::rcode;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use tokio::sync::oneshot;
use tokio::time::Instant;

/// Who waits for an answer.
enum Waiter {
    /// A UDP client of a data-plane core: replied through the sink.
    Core(ForwardRequest),
    /// A TCP connection: gets the reply bytes.
    Tcp(ForwardRequest, oneshot::Sender<Vec<u8>>),
}

impl Waiter {
    fn request(&self) -> &ForwardRequest {
        match self {
            Waiter::Core(r) | Waiter::Tcp(r, _) => r,
        }
    }
}

/// The forwarder (one per appliance). Its settings and upstreams are swapped by a live
/// reload ([`Forwarder::reconfigure`]); a resolution uses the ones it started with.
pub struct Forwarder {
    pub(super) settings: ArcSwap<Settings>,
    pub cache: Arc<Cache>,
    pub upstreams: ArcSwap<Upstreams>,
    inflight: Mutex<HashMap<Key, Vec<Waiter>>>,
    outstanding: AtomicUsize,
    sink: OnceLock<Arc<dyn ReplySink>>,
    pub metrics: ForwardMetrics,
}

impl Forwarder {
    pub(super) fn new(settings: Settings, cores: usize) -> Forwarder {
        let cache = Cache::new(cores, settings.cache_bytes);
        let upstreams = Upstreams::new(settings.policy, &settings.upstreams, &settings.stubs);
        Forwarder {
            settings: ArcSwap::from_pointee(settings),
            cache,
            upstreams: ArcSwap::from_pointee(upstreams),
            inflight: Mutex::new(HashMap::new()),
            outstanding: AtomicUsize::new(0),
            sink: OnceLock::new(),
            metrics: ForwardMetrics::default(),
        }
    }

    /// Where replies to the cores' clients go (set once the backend runs).
    pub fn set_sink(&self, sink: Arc<dyn ReplySink>) {
        let _ = self.sink.set(sink);
    }

    /// Handles one request from a core.
    pub async fn handle(self: Arc<Self>, req: ForwardRequest) {
        self.serve(Waiter::Core(req)).await;
    }

    /// Resolves a TCP client's query (`msg`, the engine said
    /// `Forwarded::Needed`); returns the reply bytes.
    pub async fn resolve_tcp(
        self: &Arc<Self>,
        msg: &[u8],
        client: std::net::SocketAddr,
    ) -> Option<Vec<u8>> {
        let req = ForwardRequest::from_query(msg, client, usize::from(u16::MAX))?;
        let (tx, rx) = oneshot::channel();
        self.clone().serve(Waiter::Tcp(req, tx)).await;
        rx.await.ok()
    }

    async fn serve(self: Arc<Self>, waiter: Waiter) {
        let req = *waiter.request();
        let key = req.key();
        let now = now_secs();
        if !req.prefetch {
            if let Some(e) = self.cache.get(&key).filter(|e| e.remaining(now).is_some()) {
                self.answer(waiter, &e, None);
                return;
            }
        }
        let settings = self.settings.load_full();
        if self.outstanding.load(Ordering::Relaxed) >= settings.max_outstanding {
            self.metrics.overflows.fetch_add(1, Ordering::Relaxed);
            let fail = Entry::failure(key, rcode::SERVFAIL, 0, now);
            self.answer(waiter, &fail, None);
            return;
        }
        {
            let mut inflight = self.inflight.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(waiters) = inflight.get_mut(&key) {
                if !req.prefetch {
                    waiters.push(waiter);
                }
                return;
            }
            // A resolution may have completed since the first look: it fills
            // the cache before leaving `inflight`, so look again under the lock.
            if !req.prefetch {
                if let Some(e) = self.cache.get(&key).filter(|e| e.remaining(now).is_some()) {
                    drop(inflight);
                    self.answer(waiter, &e, None);
                    return;
                }
            }
            let first = if req.prefetch { vec![] } else { vec![waiter] };
            inflight.insert(key.clone(), first);
        }
        self.outstanding.fetch_add(1, Ordering::Relaxed);
        let (entry, stale) = self.resolve(&req, &key, &settings).await;
        let waiters = self
            .inflight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key)
            .unwrap_or_default();
        self.outstanding.fetch_sub(1, Ordering::Relaxed);
        let stale_ttl = stale.then_some(settings.stale_answer_ttl);
        for w in waiters {
            if stale {
                self.metrics.stale_answers.fetch_add(1, Ordering::Relaxed);
            }
            self.answer(w, &entry, stale_ttl);
        }
    }

    /// Asks the upstreams; returns the entry to answer with and whether it
    /// is a stale one.
    async fn resolve(
        &self,
        req: &ForwardRequest,
        key: &Key,
        settings: &Settings,
    ) -> (Arc<Entry>, bool) {
        let cd = req.flags & skylane_dataplane::wire::header::flags::CD != 0;
        let limits = settings.limits;
        let servers = self.upstreams.load().select(&key.name);
        for up in servers {
            let started = Instant::now();
            let mut seen = Seen::default();
            let deadline = started + settings.timeout;
            let result = exchange(up.addr, key, cd, deadline, &mut seen).await;
            self.metrics
                .mismatched
                .fetch_add(seen.mismatched, Ordering::Relaxed);
            let took = started.elapsed();
            let msg = match result {
                Ok(msg) => msg,
                Err(e) => {
                    let label = match e {
                        ExchangeError::Timeout => "timeout",
                        ExchangeError::Io(_) => "error",
                    };
                    tracing::debug!(upstream = %up.addr, error = %e, "upstream failed");
                    self.metrics.exchange(up.addr, label, took);
                    up.failed();
                    continue;
                }
            };
            let rc = u16::from(msg[3] & 0x0f);
            self.metrics.exchange(up.addr, rcode_label(rc), took);
            if rc == rcode::SERVFAIL || rc == rcode::REFUSED {
                up.failed();
                continue;
            }
            match Entry::from_response(key.clone(), &msg, &limits, now_secs()) {
                Ok(e) => {
                    up.succeeded();
                    return (self.cache.insert(e), false);
                }
                Err(e) => {
                    tracing::debug!(upstream = %up.addr, error = %e, "unusable upstream response");
                    up.failed();
                }
            }
        }
        self.failed(key, settings)
    }

    /// Every upstream failed: stale data if allowed, else a short-lived
    /// SERVFAIL (RFC 9520), never in place of data still servable stale.
    fn failed(&self, key: &Key, settings: &Settings) -> (Arc<Entry>, bool) {
        let now = now_secs();
        let old = self.cache.get(key);
        if let Some(e) = &old {
            if e.remaining(now).is_some() {
                return (e.clone(), false);
            }
            if settings.serve_stale && e.stale_usable(now) {
                return (e.clone(), true);
            }
        }
        let fail = Entry::failure(
            key.clone(),
            rcode::SERVFAIL,
            settings.limits.failure_ttl,
            now,
        );
        if old.is_some_and(|e| e.stale_usable(now)) {
            return (Arc::new(fail), false);
        }
        (self.cache.insert(fail), false)
    }

    /// Writes and sends (or hands over) one waiter's reply.
    fn answer(&self, waiter: Waiter, entry: &Entry, stale_ttl: Option<u32>) {
        let req = waiter.request();
        let mut buf = vec![0u8; usize::from(req.limit).max(512)];
        let params = ReplyParams {
            id: req.id,
            query_flags: req.flags,
            edns: req.edns,
            max_udp: self.settings.load().max_udp,
            limit: usize::from(req.limit),
            now: now_secs(),
            stale_ttl,
        };
        let len = req
            .write_question(&mut buf)
            .and_then(|_| entry.write_reply(&mut buf, &params));
        let Some(len) = len else {
            return;
        };
        buf.truncate(len);
        match waiter {
            Waiter::Core(req) => {
                let sent = self
                    .sink
                    .get()
                    .is_some_and(|s| s.send(req.core, req.via, req.client, &buf));
                if !sent {
                    self.metrics.send_errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            Waiter::Tcp(_, tx) => {
                let _ = tx.send(buf);
            }
        }
    }
}
