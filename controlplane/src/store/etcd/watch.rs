//! The etcd prefix watch: a task per watch turns etcd watch responses into [`WatchEvent`]s.
//!
//! A broken stream closes the channel (the sync re-watches from its last revision). A member
//! that dies with its process is noticed at once (its connections are closed); one that stops
//! answering without closing them (frozen, cut off) is noticed by the HTTP/2 keep-alive
//! (`[etcd] keep-alive-ms` + `keep-alive-timeout-ms`) and, sooner, by progress requests: every
//! [`PROGRESS_EVERY`] the task asks for a progress report, and once the member has answered
//! one, a request left without any message for [`PROGRESS_DEADLINE`] ends the watch. Opening a
//! watch is bounded by [`WATCH_OPEN`] (or the request timeout, if shorter), and a second attempt
//! starts when the first is not confirmed within [`WATCH_HEDGE`], so a re-watch that lands on a
//! silent member again costs half a second, not the whole wait.

use super::{err, to_string, EtcdStore};
use crate::store::{KeyValue, StoreError, WatchEvent};
use etcd_client::{EventType, WatchOptions, WatchResponse, WatchStream, Watcher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Events buffered in each watch channel.
const WATCH_CHANNEL: usize = 4096;
/// How often an idle watch asks the member for a progress report.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(1);
/// A progress request left without any message this long ends the watch.
pub const PROGRESS_DEADLINE: Duration = Duration::from_secs(2);
/// Longest wait for etcd to confirm a new watch.
pub const WATCH_OPEN: Duration = Duration::from_secs(2);
/// A second attempt to open a watch starts after this long without a confirmation.
pub const WATCH_HEDGE: Duration = Duration::from_millis(500);

impl EtcdStore {
    /// Prefix watch from `from_revision` with progress notifications and progress requests.
    pub async fn watch(
        &self,
        prefix: &str,
        from_revision: i64,
    ) -> Result<mpsc::Receiver<WatchEvent>, StoreError> {
        let options = WatchOptions::new()
            .with_prefix()
            .with_start_revision(from_revision)
            .with_progress_notify();
        // A second attempt starts if the first is not confirmed soon: it is balanced onto a
        // member on its own (usually another one), so a silent member costs WATCH_HEDGE, not
        // WATCH_OPEN. The attempt that loses is dropped (its stream is cancelled).
        let attempt = |delay: Duration| {
            let mut client = self.clients.watch.clone();
            let (prefix, options) = (prefix.to_string(), options.clone());
            Box::pin(async move {
                tokio::time::sleep(delay).await;
                client.watch(prefix, Some(options)).await
            })
        };
        let attempts = [attempt(Duration::ZERO), attempt(WATCH_HEDGE)];
        let open = tokio::time::timeout(
            self.request_timeout.min(WATCH_OPEN),
            futures_util::future::select_ok(attempts),
        )
        .await;
        let (watcher, stream) = match open {
            Ok(Ok((pair, _losers))) => pair,
            Ok(Err(e)) => {
                self.connected.store(false, Ordering::Relaxed);
                return Err(err("watch", e));
            }
            Err(_) => {
                self.connected.store(false, Ordering::Relaxed);
                return Err(err("watch", "no answer to the watch request: timed out"));
            }
        };
        self.connected.store(true, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(WATCH_CHANNEL);
        let follow = Follow {
            watcher,
            stream,
            tx,
            connected: self.connected.clone(),
            from_revision,
        };
        tokio::spawn(follow.run());
        Ok(rx)
    }
}

/// One watch's task.
struct Follow {
    watcher: Watcher,
    stream: WatchStream,
    tx: mpsc::Sender<WatchEvent>,
    connected: Arc<AtomicBool>,
    from_revision: i64,
}

/// What one etcd message meant.
enum Step {
    Go,
    Stop,
}

impl Follow {
    async fn run(mut self) {
        let mut check = tokio::time::interval(PROGRESS_EVERY);
        check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_message = Instant::now();
        // Set once the member answered a progress request: only then is silence a failure.
        let mut answers_progress = false;
        let mut asked: Option<Instant> = None;
        loop {
            let message = tokio::select! {
                m = self.stream.message() => m,
                _ = self.tx.closed() => {
                    let _ = self.watcher.cancel().await;
                    return;
                }
                _ = check.tick() => {
                    match asked.filter(|t| last_message < *t) {
                        Some(t) if answers_progress && t.elapsed() >= PROGRESS_DEADLINE => {
                            tracing::warn!(
                                "etcd watch: no answer from the member for {:?}: reconnecting",
                                t.elapsed()
                            );
                            self.connected.store(false, Ordering::Relaxed);
                            return;
                        }
                        Some(_) => {}
                        None => {
                            asked = Some(Instant::now());
                            let _ = self.watcher.request_progress().await;
                        }
                    }
                    continue;
                }
            };
            last_message = Instant::now();
            let resp = match message {
                Ok(Some(resp)) => resp,
                Ok(None) => {
                    tracing::warn!("etcd watch stream ended");
                    self.connected.store(false, Ordering::Relaxed);
                    return;
                }
                Err(e) => {
                    tracing::warn!("etcd watch stream failed: {e}");
                    self.connected.store(false, Ordering::Relaxed);
                    return;
                }
            };
            if resp.events().is_empty() && !resp.created() && !resp.canceled() {
                answers_progress = true;
            }
            if let Step::Stop = self.forward(resp).await {
                return;
            }
        }
    }

    /// Sends what one response holds to the sync.
    async fn forward(&mut self, resp: WatchResponse) -> Step {
        if resp.compact_revision() != 0 {
            tracing::warn!(
                "etcd watch from revision {} compacted (compact revision {})",
                self.from_revision,
                resp.compact_revision()
            );
            let _ = self.tx.send(WatchEvent::Resync).await;
            return Step::Stop;
        }
        if resp.canceled() {
            tracing::warn!("etcd watch canceled: {}", resp.cancel_reason());
            return Step::Stop;
        }
        self.connected.store(true, Ordering::Relaxed);
        if resp.events().is_empty() {
            let revision = resp.header().map_or(0, |h| h.revision());
            return match self.tx.send(WatchEvent::Progress { revision }).await {
                Ok(()) => Step::Go,
                Err(_) => Step::Stop,
            };
        }
        for event in resp.events() {
            let Some(kv) = event.kv() else { continue };
            let ev = match event.event_type() {
                EventType::Put => WatchEvent::Put(KeyValue {
                    key: to_string(kv.key()),
                    value: kv.value().to_vec(),
                    mod_revision: kv.mod_revision(),
                }),
                EventType::Delete => WatchEvent::Delete {
                    key: to_string(kv.key()),
                    revision: kv.mod_revision(),
                },
            };
            if self.tx.send(ev).await.is_err() {
                return Step::Stop;
            }
        }
        Step::Go
    }
}
