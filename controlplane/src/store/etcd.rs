//! The etcd v3 store (`etcd-client`).
//!
//! `range` is one range request with a limit (a page of the API's record list). `list` reads a
//! prefix in pages (`page-size` keys each) all pinned to the revision of the
//! first page, so the result is one consistent view at revision R. `watch` (in `watch.rs`) opens
//! a prefix watch from a revision with progress notifications; a compacted start revision
//! becomes [`super::WatchEvent::Resync`], a broken or silent stream closes the channel (the
//! caller re-watches from its last revision). Unary requests are bounded by
//! `request-timeout-ms`.

use super::{EtcdConfig, Guard, KeyPrefixes, KeyValue, RangePage, StoreError};
use etcd_client::{
    Certificate, Client, Compare, CompareOp, ConnectOptions, DeleteOptions, GetOptions, Identity,
    KvClient, LeaseClient, TlsOptions, Txn, TxnOp, WatchClient,
};
use std::future::Future;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Largest gRPC message accepted (big list pages, big watch batches).
const MAX_MESSAGE: usize = 256 << 20;
/// A paginated list restarts this many times if compaction overtakes it.
const LIST_ATTEMPTS: usize = 3;

/// The gRPC clients (cloned per request; kept behind an `Arc` to keep `EtcdStore` small).
struct Clients {
    kv: KvClient,
    watch: WatchClient,
    lease: LeaseClient,
}

mod lease;
mod watch;
pub use lease::{KeepAlive, PutGuard};
pub use watch::{PROGRESS_DEADLINE, PROGRESS_EVERY, WATCH_HEDGE, WATCH_OPEN};

/// A connection to an etcd cluster. Cheap to clone.
#[derive(Clone)]
pub struct EtcdStore {
    clients: Arc<Clients>,
    connected: Arc<AtomicBool>,
    /// Keys returned by `list`/`range`.
    keys_read: Arc<AtomicU64>,
    request_timeout: Duration,
    page_size: i64,
    max_txn_ops: usize,
    prefixes: KeyPrefixes,
}

/// Extra attempts of a KV request after a transient failure.
const TRANSIENT_RETRIES: u32 = 4;
/// Pause before retry n: n × this.
const TRANSIENT_BACKOFF: Duration = Duration::from_millis(250);

/// True for failures a retry (possibly on another member) can fix.
fn is_transient(e: &StoreError) -> bool {
    let text = e.to_string().to_ascii_lowercase();
    [
        "leader changed",
        "no leader",
        "tcp connect error",
        "transport error",
        "unavailable",
        "timed out",
        "connection refused",
        "connection reset",
        "broken pipe",
    ]
    .iter()
    .any(|p| text.contains(p))
}

fn err(context: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Etcd(format!("{context}: {e}"))
}

/// The first key after every key starting with `prefix` (etcd's `with_prefix` range end).
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

fn to_string(key: &[u8]) -> String {
    String::from_utf8_lossy(key).into_owned()
}

impl EtcdStore {
    /// Sets the key prefixes the sync and API use (default `/skydns`, `/skydns/monitor/status`).
    pub fn with_prefixes(mut self, prefixes: KeyPrefixes) -> Self {
        self.prefixes = prefixes;
        self
    }

    pub fn prefixes(&self) -> &KeyPrefixes {
        &self.prefixes
    }

    /// Connects (lazily: an unreachable cluster is not an error here unless auth is needed).
    pub async fn connect(cfg: &EtcdConfig) -> Result<EtcdStore, StoreError> {
        cfg.validate().map_err(StoreError::Config)?;
        let mut options = ConnectOptions::new()
            .with_connect_timeout(Duration::from_millis(cfg.dial_timeout_ms))
            .with_keep_alive(
                Duration::from_millis(cfg.keep_alive_ms),
                Duration::from_millis(cfg.keep_alive_timeout_ms),
            )
            .with_keep_alive_while_idle(true);
        if let (Some(user), Some(password)) = (&cfg.username, &cfg.password) {
            options = options.with_user(user.clone(), password.clone());
        }
        if cfg.endpoints.iter().any(|e| e.starts_with("https://")) {
            let mut tls = TlsOptions::new();
            if let Some(ca) = &cfg.ca {
                let pem = std::fs::read(ca)
                    .map_err(|e| StoreError::Config(format!("etcd.ca {}: {e}", ca.display())))?;
                tls = tls.ca_certificate(Certificate::from_pem(pem));
            } else {
                tls = tls.with_native_roots();
            }
            if let (Some(cert), Some(key)) = (&cfg.cert, &cfg.key) {
                let read = |p: &std::path::Path, what: &str| {
                    std::fs::read(p).map_err(|e| {
                        StoreError::Config(format!("etcd.{what} {}: {e}", p.display()))
                    })
                };
                tls = tls.identity(Identity::from_pem(read(cert, "cert")?, read(key, "key")?));
            }
            if let Some(name) = &cfg.tls_server_name {
                tls = tls.domain_name(name.clone());
            }
            options = options.with_tls(tls);
        }
        let dial = Duration::from_millis(cfg.dial_timeout_ms);
        let client = tokio::time::timeout(dial, Client::connect(&cfg.endpoints, Some(options)))
            .await
            .map_err(|_| err("connect", "dial timeout"))?
            .map_err(|e| err("connect", e))?;
        Ok(EtcdStore {
            clients: Arc::new(Clients {
                kv: client
                    .kv_client()
                    .max_decoding_message_size(MAX_MESSAGE)
                    .max_encoding_message_size(MAX_MESSAGE),
                watch: client.watch_client().max_decoding_message_size(MAX_MESSAGE),
                lease: client.lease_client(),
            }),
            connected: Arc::new(AtomicBool::new(false)),
            keys_read: Arc::new(AtomicU64::new(0)),
            request_timeout: Duration::from_millis(cfg.request_timeout_ms),
            prefixes: KeyPrefixes::default(),
            page_size: cfg.page_size,
            max_txn_ops: cfg.max_txn_ops,
        })
    }

    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// Runs one KV request (made by `op` from a client), retrying it a few times on a
    /// transient failure — a leader change, a member that is down (the next attempt is
    /// balanced onto another endpoint), a timeout. Every KV call of this store is safe to
    /// repeat: reads, puts/deletes of fixed values, and guarded transactions (whose compares
    /// fail if an earlier attempt did commit).
    async fn kv_call<T, F, Fut>(&self, what: &str, mut op: F) -> Result<T, StoreError>
    where
        F: FnMut(KvClient) -> Fut,
        Fut: Future<Output = Result<T, etcd_client::Error>>,
    {
        let mut attempt = 0;
        loop {
            match self.call(what, op(self.clients.kv.clone())).await {
                Err(e) if attempt < TRANSIENT_RETRIES && is_transient(&e) => {
                    attempt += 1;
                    tracing::debug!("etcd {what}: {e}; retrying (attempt {attempt})");
                    tokio::time::sleep(TRANSIENT_BACKOFF * attempt).await;
                }
                other => return other,
            }
        }
    }

    /// Runs one request with the timeout, tracking the connected state.
    async fn call<T, E: std::fmt::Display>(
        &self,
        what: &str,
        fut: impl Future<Output = Result<T, E>>,
    ) -> Result<T, StoreError> {
        let result = match tokio::time::timeout(self.request_timeout, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(err(what, e)),
            Err(_) => Err(err(what, "request timed out")),
        };
        self.connected.store(result.is_ok(), Ordering::Relaxed);
        result
    }

    pub async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        let resp = self
            .kv_call("get", |mut kv| async move { kv.get(key, None).await })
            .await?;
        Ok(resp.kvs().first().map(|k| KeyValue {
            key: to_string(k.key()),
            value: k.value().to_vec(),
            mod_revision: k.mod_revision(),
        }))
    }

    /// Every key under `prefix` at one revision, read in pages.
    pub async fn list(&self, prefix: &str) -> Result<(Vec<KeyValue>, i64), StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.list_once(prefix).await {
                Err(e) if attempt < LIST_ATTEMPTS && e.to_string().contains("compacted") => {
                    tracing::warn!("etcd list overtaken by compaction, restarting: {e}");
                }
                other => return other,
            }
        }
    }

    async fn list_once(&self, prefix: &str) -> Result<(Vec<KeyValue>, i64), StoreError> {
        let end = prefix_end(prefix.as_bytes());
        let mut start = prefix.as_bytes().to_vec();
        let mut revision = 0;
        let mut out = Vec::new();
        loop {
            let page = self
                .range_at(start, end.clone(), self.page_size, revision)
                .await?;
            revision = page.revision;
            out.extend(page.kvs);
            match out.last() {
                Some(last) if page.more => {
                    start = last.key.clone().into_bytes();
                    start.push(0);
                }
                _ => return Ok((out, revision)),
            }
        }
    }

    /// Up to `limit` keys in `[start, end)`: one range request with a limit.
    pub async fn range(&self, span: Range<&str>, limit: usize) -> Result<RangePage, StoreError> {
        let (start, end) = (span.start, span.end);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX).max(1);
        let end = if end == char::MAX.to_string() {
            vec![0]
        } else {
            end.as_bytes().to_vec()
        };
        self.range_at(start.as_bytes().to_vec(), end, limit, 0)
            .await
    }

    /// One range request of up to `limit` keys, at `revision` (0: the current one).
    async fn range_at(
        &self,
        start: Vec<u8>,
        end: Vec<u8>,
        limit: i64,
        revision: i64,
    ) -> Result<RangePage, StoreError> {
        let mut options = GetOptions::new().with_range(end).with_limit(limit);
        if revision > 0 {
            options = options.with_revision(revision);
        }
        let mut resp = self
            .kv_call("range", |mut kv| {
                let (start, options) = (start.clone(), options.clone());
                async move { kv.get(start, Some(options)).await }
            })
            .await?;
        let revision = match revision {
            0 => resp.header().map_or(0, |h| h.revision()),
            r => r,
        };
        let more = resp.more();
        let kvs: Vec<KeyValue> = resp
            .take_kvs()
            .into_iter()
            .map(|k| {
                let mod_revision = k.mod_revision();
                let (key, value) = k.into_key_value();
                KeyValue {
                    key: to_string(&key),
                    value,
                    mod_revision,
                }
            })
            .collect();
        self.keys_read
            .fetch_add(kvs.len() as u64, Ordering::Relaxed);
        Ok(RangePage {
            kvs,
            revision,
            more,
        })
    }

    /// Keys returned by `list` and `range` so far.
    pub fn keys_read(&self) -> u64 {
        self.keys_read.load(Ordering::Relaxed)
    }

    pub async fn put(&self, key: &str, value: Vec<u8>) -> Result<i64, StoreError> {
        let resp = self
            .kv_call("put", |mut kv| {
                let value = value.clone();
                async move { kv.put(key, value, None).await }
            })
            .await?;
        Ok(resp.header().map_or(0, |h| h.revision()))
    }

    pub async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let resp = self
            .kv_call("delete", |mut kv| async move {
                kv.delete(key, None::<DeleteOptions>).await
            })
            .await?;
        Ok(resp.deleted() > 0)
    }

    /// One etcd transaction (limited by the server's `--max-txn-ops`, default 128).
    pub async fn apply_batch(
        &self,
        puts: Vec<(String, Vec<u8>)>,
        deletes: Vec<String>,
    ) -> Result<i64, StoreError> {
        // Without compares the transaction always succeeds.
        let done = self
            .apply_batch_if(&Guard::default(), puts, deletes)
            .await?;
        Ok(done.unwrap_or(0))
    }

    /// One etcd transaction that first compares every revision in `guard` (mod_revision of
    /// each key, 0 = absent; every key under each prefix no newer than its revision); `None`
    /// when a compare failed — nothing was written.
    pub async fn apply_batch_if(
        &self,
        guard: &Guard,
        puts: Vec<(String, Vec<u8>)>,
        deletes: Vec<String>,
    ) -> Result<Option<i64>, StoreError> {
        let mut compares: Vec<Compare> = guard
            .keys
            .iter()
            .map(|(k, rev)| Compare::mod_revision(k.as_str(), CompareOp::Equal, *rev))
            .collect();
        compares.extend(guard.unchanged_since.iter().map(|(prefix, rev)| {
            Compare::mod_revision(prefix.as_str(), CompareOp::Less, rev + 1)
                .with_range(prefix_end(prefix.as_bytes()))
        }));
        let mut ops: Vec<TxnOp> = puts
            .into_iter()
            .map(|(k, v)| TxnOp::put(k, v, None))
            .collect();
        ops.extend(deletes.into_iter().map(|k| TxnOp::delete(k, None)));
        let txn = Txn::new().when(compares).and_then(ops);
        let resp = self
            .kv_call("txn", |mut kv| {
                let txn = txn.clone();
                async move { kv.txn(txn).await }
            })
            .await?;
        if !resp.succeeded() {
            return Ok(None);
        }
        Ok(Some(resp.header().map_or(0, |h| h.revision())))
    }

    /// `[etcd] max-txn-ops`: operations (and, separately, compares) per transaction.
    pub fn max_txn_ops(&self) -> usize {
        self.max_txn_ops
    }

    /// Compacts history up to `revision` (tests and tools).
    pub async fn compact(&self, revision: i64) -> Result<(), StoreError> {
        let mut kv = self.clients.kv.clone();
        self.call("compact", kv.compact(revision, None)).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn prefix_end_increments_the_last_byte() {
        assert_eq!(prefix_end(b"/skydns/"), b"/skydns0".to_vec());
        assert_eq!(prefix_end(b"a\xff"), b"b".to_vec());
        assert_eq!(prefix_end(b"\xff"), vec![0]);
    }
}
