//! The agent's loop: keeps the inventory current (list + watch of the store), assigns
//! addresses by rendezvous hashing over the live agents, runs each assigned address's check
//! once per interval at its fixed phase (at most `concurrency` in flight, polled by this one
//! task: no task per check), applies rise/fall, and writes status transitions (only on change,
//! never over a manual status, DOWN ones held by the partition guard) and per-address reports
//! (when they change, else every `REPORT_REFRESH_CHECKS` checks).

use super::assign::{owner, phase};
use super::check::{Checker, Outcome};
use super::membership::{HeartInfo, Live};
use super::state::{LastCheck, Target};
use super::targets::{inventory, parse_stored, ports_of, Inventory};
use super::writer::{report_key, transition_doc, write_reports, write_status, WriteResult};
use super::{HealthConfig, HealthMetrics};
use crate::layout::{self, status_key, Health, KeyKind};
use crate::store::{Store, WatchEvent};
use futures_util::stream::{FuturesUnordered, StreamExt};
use skylane_dataplane::record::Record;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// What the loop needs; built by [`super::run_agent`].
pub struct Scheduler {
    pub cfg: Arc<HealthConfig>,
    pub agent: String,
    pub heart_key: String,
    pub store: Arc<Store>,
    pub static_records: Vec<Record>,
    pub metrics: Arc<HealthMetrics>,
    pub live: watch::Receiver<Live>,
    pub heart_info: watch::Sender<HeartInfo>,
}

/// One check in flight: its address and, when done, its outcome.
type Check = Pin<Box<dyn Future<Output = (IpAddr, Outcome)> + Send>>;

/// The checks in flight (at most `concurrency`), polled by the loop itself. Kept out of
/// [`Run`] so that `Run` stays `Sync` (the futures are only `Send`).
type Checks = FuturesUnordered<Check>;

/// Why the loop woke up.
enum Wake {
    Due,
    Result(IpAddr, Outcome),
    Event(WatchEvent),
    Live,
    Report,
}

/// The loop's mutable state.
struct Run {
    s: Scheduler,
    inv: Inventory,
    targets: HashMap<IpAddr, Target>,
    due: BinaryHeap<Reverse<(Instant, IpAddr)>>,
    epoch: Instant,
    interval: Duration,
    dirty: bool,
    records_changed: bool,
    panic: bool,
    /// Addresses whose report is due at the next flush.
    reported: Vec<IpAddr>,
    /// The lease the reports were last written with (a new lease: every report again).
    report_lease: Option<i64>,
    /// Reports to delete: their addresses left the records.
    stale_reports: Vec<IpAddr>,
    /// Assigned addresses whose last check failed.
    failing: usize,
    checker: Checker,
}

impl Scheduler {
    /// Runs until `stop` turns true.
    pub async fn run(self, mut stop: watch::Receiver<bool>) -> anyhow::Result<()> {
        let interval = Duration::from_millis(self.cfg.interval_ms);
        let mut run = Run {
            checker: Checker::new(&self.cfg),
            s: self,
            inv: Inventory::default(),
            targets: HashMap::new(),
            due: BinaryHeap::new(),
            epoch: Instant::now(),
            interval,
            dirty: true,
            records_changed: false,
            panic: false,
            reported: Vec::new(),
            report_lease: None,
            stale_reports: Vec::new(),
            failing: 0,
        };
        let mut checks = Checks::new();
        loop {
            let Some(mut events) = run.relist(&mut stop).await else {
                return Ok(());
            };
            if run.serve(&mut events, &mut checks, &mut stop).await {
                return Ok(());
            }
        }
    }
}

impl Run {
    fn root(&self) -> String {
        let p = self.s.store.prefixes();
        crate::sync::watch_root(&p.prefix, &p.monitor_prefix)
    }

    /// Lists the store and opens the watch; `None` when stopping.
    async fn relist(
        &mut self,
        stop: &mut watch::Receiver<bool>,
    ) -> Option<mpsc::Receiver<WatchEvent>> {
        loop {
            let root = self.root();
            let listed = self.s.store.list(&root).await;
            match listed {
                Ok((kvs, revision)) => {
                    let p = self.s.store.prefixes();
                    let statics: &[Record] = if self.s.cfg.zone_files {
                        &self.s.static_records
                    } else {
                        &[]
                    };
                    self.inv = inventory(&kvs, &p.prefix, &p.monitor_prefix, statics);
                    self.dirty = true;
                    match self.s.store.watch(&root, revision + 1).await {
                        Ok(rx) => return Some(rx),
                        Err(e) => tracing::warn!("health: watch failed: {e}"),
                    }
                }
                Err(e) => tracing::warn!("health: listing the store failed: {e}"),
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.wait_for(|s| *s) => return None,
            }
        }
    }

    /// Serves until the watch ends (false: list again) or `stop` (true).
    async fn serve(
        &mut self,
        events: &mut mpsc::Receiver<WatchEvent>,
        checks: &mut Checks,
        stop: &mut watch::Receiver<bool>,
    ) -> bool {
        let mut reports = tokio::time::interval(self.interval);
        reports.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut live = self.s.live.clone();
        loop {
            if self.dirty {
                self.reassign(&live.borrow_and_update().clone());
            }
            // With `concurrency` checks in flight, the next due one waits for a result.
            let slot = checks.len() < self.s.cfg.concurrency;
            let next = self.due.peek().map(|Reverse((t, _))| *t).filter(|_| slot);
            let far = Instant::now() + Duration::from_secs(3600);
            let wake = tokio::select! {
                _ = tokio::time::sleep_until(next.unwrap_or(far)) => Wake::Due,
                Some((ip, outcome)) = checks.next() => Wake::Result(ip, outcome),
                ev = events.recv() => match ev {
                    Some(WatchEvent::Resync) | None => return false,
                    Some(ev) => Wake::Event(ev),
                },
                r = live.changed() => if r.is_ok() { Wake::Live } else { Wake::Due },
                _ = reports.tick() => Wake::Report,
                _ = stop.wait_for(|s| *s) => return true,
            };
            match wake {
                Wake::Due => self.dispatch(checks),
                Wake::Result(ip, outcome) => self.on_result(ip, outcome).await,
                Wake::Event(ev) => self.on_event(ev),
                Wake::Live => self.dirty = true,
                Wake::Report => {
                    self.flush_reports().await;
                    if std::mem::take(&mut self.records_changed) {
                        return false;
                    }
                }
            }
        }
    }

    /// Applies one watch event to the inventory.
    fn on_event(&mut self, ev: WatchEvent) {
        let (key, kv) = match &ev {
            WatchEvent::Put(kv) => (kv.key.as_str(), Some(kv)),
            WatchEvent::Delete { key, .. } => (key.as_str(), None),
            _ => return,
        };
        let p = self.s.store.prefixes();
        match layout::classify_key(&p.prefix, &p.monitor_prefix, key) {
            KeyKind::Status(ip) => {
                let stored = kv.map(parse_stored).unwrap_or_default();
                let ports_changed = self
                    .inv
                    .statuses
                    .get(&ip)
                    .map(|s| &s.doc)
                    .map(|d| d.as_ref().map(|d| &d.ports))
                    != Some(stored.doc.as_ref().map(|d| &d.ports));
                self.inv.statuses.insert(ip, stored);
                if ports_changed {
                    self.dirty = true;
                }
            }
            // Records changed: list again at the next report tick (at most once per interval).
            KeyKind::Name(_) => self.records_changed = true,
            KeyKind::Other => {}
        }
    }
}

impl Run {
    /// Recomputes this agent's addresses from the inventory and the live agents.
    fn reassign(&mut self, live: &Live) {
        self.dirty = false;
        let me = self.s.agent.as_str();
        // With leases, an agent that is not (yet) in the live set checks nothing.
        let agents: Vec<String> = live.agents.clone();
        self.s.metrics.set_agents_live(agents.len());
        let mut kept: HashMap<IpAddr, Target> = HashMap::new();
        let now = Instant::now();
        for (ip, srv_ports) in &self.inv.book.addresses {
            if owner(ip, &agents) != Some(me) {
                continue;
            }
            let stored = self.inv.statuses.get(ip);
            let ports = ports_of(srv_ports, &self.s.cfg.ports, stored);
            let target = match self.targets.remove(ip) {
                Some(mut t) => {
                    if *t.ports != *ports {
                        t.ports = ports.into();
                        self.reported.push(*ip);
                    }
                    t
                }
                None => {
                    let verdict = stored.map_or(Health::Up, |s| s.health());
                    Target::new(ports.into(), verdict, self.next_phase(ip, now))
                }
            };
            kept.insert(*ip, target);
        }
        let (before, after) = (self.targets.len() + kept.len(), kept.len());
        let gone = self
            .targets
            .keys()
            .filter(|ip| !self.inv.book.addresses.contains_key(ip));
        self.stale_reports.extend(gone);
        self.targets = kept;
        self.failing = self.targets.values().filter(|t| t.failing()).count();
        self.due = self
            .targets
            .iter()
            .map(|(ip, t)| Reverse((t.due, *ip)))
            .collect();
        self.s.metrics.set_targets(self.targets.len());
        tracing::info!(
            agent = me,
            live = agents.len(),
            targets = after,
            before,
            "health: addresses assigned"
        );
        self.update_panic();
    }

    /// The first time ≥ `now` at `ip`'s phase of the interval.
    fn next_phase(&self, ip: &IpAddr, now: Instant) -> Instant {
        let offset = phase(ip, self.interval);
        let mut t = self.epoch + offset;
        if t < now {
            let behind = (now - t).as_nanos() / self.interval.as_nanos().max(1);
            t += self.interval * (behind as u32 + 1);
        }
        t
    }

    /// Starts every check that is due or due within the batching slack (up to 10 ms, a
    /// 64th of the interval: one wake-up starts the checks of the next few milliseconds
    /// instead of one wake-up per check), while fewer than `concurrency` are in flight (the
    /// rest start as results free slots).
    fn dispatch(&mut self, checks: &mut Checks) {
        let now = Instant::now();
        let horizon = now + (self.interval / 64).min(Duration::from_millis(10));
        while let Some(Reverse((due, ip))) = self.due.peek().copied() {
            if due > horizon || checks.len() >= self.s.cfg.concurrency {
                break;
            }
            self.due.pop();
            let Some(t) = self.targets.get_mut(&ip) else {
                continue;
            };
            if t.due != due {
                continue;
            }
            let mut next = due + self.interval;
            if next <= now {
                next = now + self.interval;
            }
            t.due = next;
            self.due.push(Reverse((next, ip)));
            if t.in_flight {
                continue;
            }
            t.in_flight = true;
            let (ports, checker) = (t.ports.clone(), self.checker.clone());
            checks.push(Box::pin(
                async move { (ip, checker.check(ip, &ports).await) },
            ));
        }
    }

    /// Counts a result, then writes the status if it differs from the stored one.
    async fn on_result(&mut self, ip: IpAddr, outcome: Outcome) {
        self.s.metrics.record(&outcome);
        let (rise, fall) = (self.s.cfg.rise, self.s.cfg.fall);
        let Some(t) = self.targets.get_mut(&ip) else {
            return;
        };
        t.in_flight = false;
        let was_failing = t.failing();
        let last = LastCheck {
            at: std::time::SystemTime::now(),
            latency: outcome.latency,
            ok: outcome.ok,
            reason: outcome.reason,
        };
        if t.record(last, rise, fall) {
            self.reported.push(ip);
        }
        if was_failing != t.failing() {
            if t.failing() {
                self.failing += 1;
            } else {
                self.failing -= 1;
            }
            self.update_panic();
        }
        self.reconcile(ip).await;
    }

    /// Partition guard: more than `panic-threshold` of at least `panic-min-targets`
    /// addresses failing means our own network is the likelier fault.
    fn update_panic(&mut self) {
        let (n, failing) = (self.targets.len(), self.failing);
        let cfg = &self.s.cfg;
        let panic = n >= cfg.panic_min_targets && failing as f64 > cfg.panic_threshold * n as f64;
        if panic != self.panic {
            if panic {
                tracing::error!(failing, targets = n, "health: partition guard on: too many addresses fail at once, DOWN transitions are held");
            } else {
                tracing::warn!(failing, targets = n, "health: partition guard off");
            }
            self.panic = panic;
            self.s.metrics.set_panic(panic);
        }
        self.s.heart_info.send_if_modified(|h| {
            let next = HeartInfo { targets: n, panic };
            let changed = *h != next;
            *h = next;
            changed
        });
    }

    /// Writes `ip`'s verdict when it differs from the stored status (never over a manual
    /// one; DOWN held while the partition guard is on).
    async fn reconcile(&mut self, ip: IpAddr) {
        let Some(t) = self.targets.get(&ip) else {
            return;
        };
        // Cloned only when a write follows (this runs after every check).
        let stored = match self.inv.statuses.get(&ip) {
            Some(s) if s.manual() || s.health() == t.verdict => return,
            None if t.verdict == Health::Up => return,
            _ if t.verdict == Health::Down && self.panic => return,
            s => s.cloned().unwrap_or_default(),
        };
        let reason = t.last.as_ref().and_then(|l| l.reason.clone());
        let doc = transition_doc(&stored, t.verdict, &self.s.agent, reason);
        let key = status_key(&self.s.store.prefixes().monitor_prefix, &ip);
        let lease = self.s.live.borrow().lease;
        let guard = lease.map(|l| (self.s.heart_key.as_str(), l));
        match write_status(&self.s.store, &key, &stored, &doc, guard).await {
            Ok(WriteResult::Written(rev)) => {
                tracing::info!(%ip, status = ?doc.status, reason = doc.reason.as_deref().unwrap_or(""), "health: status written");
                self.inv.statuses.insert(
                    ip,
                    super::targets::Stored {
                        doc: Some(doc),
                        mod_revision: rev,
                    },
                );
            }
            Ok(WriteResult::Conflict(now)) => {
                tracing::debug!(%ip, "health: status changed under us (or no lease); not written");
                self.inv.statuses.insert(ip, now);
            }
            Err(e) => tracing::warn!(%ip, "health: status write failed: {e}"),
        }
    }

    /// Writes the reports that are due (every one after a change of lease: on etcd the old
    /// lease's reports vanish with it); those not written are due again at the next flush.
    async fn flush_reports(&mut self) {
        let lease = self.s.live.borrow().lease;
        if lease != self.report_lease {
            let checked = self.targets.iter().filter(|(_, t)| t.last.is_some());
            self.reported.extend(checked.map(|(ip, _)| *ip));
        }
        let mut ips = std::mem::take(&mut self.reported);
        ips.sort_unstable();
        ips.dedup();
        let prefix = self.s.cfg.report_prefix();
        let puts: Vec<(String, Vec<u8>)> = ips
            .iter()
            .filter_map(|ip| {
                let t = self.targets.get(ip)?;
                Some((
                    report_key(prefix, ip),
                    t.report(ip, &self.s.agent).to_string().into_bytes(),
                ))
            })
            .collect();
        let deletes: Vec<String> = std::mem::take(&mut self.stale_reports)
            .iter()
            .map(|ip| report_key(prefix, ip))
            .collect();
        if puts.is_empty() && deletes.is_empty() {
            self.report_lease = lease;
            return;
        }
        match write_reports(&self.s.store, puts, deletes, lease).await {
            Ok(true) => self.report_lease = lease,
            Ok(false) => self.reported = ips,
            Err(e) => {
                tracing::warn!("health: report write failed: {e}");
                self.reported = ips;
            }
        }
    }
}
