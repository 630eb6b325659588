//! Helpers of the health end-to-end tests: real TCP backends on loopback addresses that count
//! their connections, health config files, API calls, polling with generous deadlines.
#![allow(dead_code)]

use serde_json::Value;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Deadline of every wait: generous, for a busy 2-core machine.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// A TCP listener that accepts and closes, counting connections; stoppable and restartable.
pub struct Backend {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    count: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

fn bind_retry(addr: SocketAddr, deadline: Duration) -> std::io::Result<TcpListener> {
    let until = Instant::now() + deadline;
    loop {
        match TcpListener::bind(addr) {
            Ok(l) => return Ok(l),
            Err(e) if Instant::now() > until => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

impl Backend {
    fn spawn(listener: TcpListener) -> Backend {
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicU64::new(0));
        let mut b = Backend {
            addr,
            stop,
            count,
            thread: None,
        };
        b.run(listener);
        b
    }

    fn run(&mut self, listener: TcpListener) {
        listener.set_nonblocking(true).unwrap();
        let (stop, count) = (self.stop.clone(), self.count.clone());
        stop.store(false, Ordering::SeqCst);
        self.thread = Some(std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok(_) => {
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        }));
    }

    /// Closes the listener: connections are refused from now on.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }

    /// Listens again on the same address.
    pub fn restart(&mut self) {
        let l = bind_retry(self.addr, DEADLINE).expect("rebind backend");
        self.run(l);
    }

    pub fn connections(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }

    pub fn ip(&self) -> IpAddr {
        self.addr.ip()
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `n` backends on `127.0.<net>.1 ..= n`, all on one port (chosen free on every address).
pub fn backends(net: u8, n: u8) -> (u16, Vec<Backend>) {
    for _ in 0..100 {
        let first = TcpListener::bind((std::net::Ipv4Addr::new(127, 0, net, 1), 0)).unwrap();
        let port = first.local_addr().unwrap().port();
        let mut listeners = vec![first];
        for i in 2..=n {
            match TcpListener::bind((std::net::Ipv4Addr::new(127, 0, net, i), port)) {
                Ok(l) => listeners.push(l),
                Err(_) => break,
            }
        }
        if listeners.len() == usize::from(n) {
            return (port, listeners.into_iter().map(Backend::spawn).collect());
        }
    }
    panic!("no port free on all of 127.0.{net}.1-{n}");
}

/// Polls `f` every 50 ms until it returns `Some`, or panics after [`DEADLINE`] with `what`.
pub fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let until = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The API token the health tests configure (`[api] token`, see [`API_CONFIG`]).
pub const TOKEN: &str = "health-test-token";
/// The `[api]` section every health test's config carries.
pub const API_CONFIG: &str = "[api]\ntoken = \"health-test-token\"\n";

fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

/// GET an API path as JSON (`None` on any error).
pub fn api_get(api_port: u16, path: &str) -> Option<Value> {
    let url = format!("http://127.0.0.1:{api_port}{path}");
    ureq::get(&url)
        .header("Authorization", bearer())
        .call()
        .ok()?
        .body_mut()
        .read_json()
        .ok()
}

pub fn api_put(api_port: u16, path: &str, body: &Value) -> Value {
    let url = format!("http://127.0.0.1:{api_port}{path}");
    ureq::put(&url)
        .header("Authorization", bearer())
        .send_json(body)
        .unwrap_or_else(|e| panic!("PUT {path}: {e}"))
        .body_mut()
        .read_json()
        .unwrap()
}

pub fn api_delete(api_port: u16, path: &str) {
    let url = format!("http://127.0.0.1:{api_port}{path}");
    ureq::delete(&url)
        .header("Authorization", bearer())
        .call()
        .unwrap_or_else(|e| panic!("DELETE {path}: {e}"));
}

/// The stored status of `ip`: (status, manual, agent).
pub fn status(api_port: u16, ip: IpAddr) -> Option<(String, bool)> {
    let v = api_get(api_port, &format!("/v1/status/{ip}"))?;
    Some((v["status"].as_str()?.to_string(), v["manual"].as_bool()?))
}

/// The `/v1/health` row of `ip`.
pub fn health_row(api_port: u16, ip: IpAddr) -> Option<Value> {
    let v = api_get(api_port, "/v1/health")?;
    v["addresses"]
        .as_array()?
        .iter()
        .find(|r| r["ip"].as_str() == Some(&ip.to_string()))
        .cloned()
}

/// One value of a metric without labels from `/metrics`.
pub fn metric(api_port: u16, name: &str) -> Option<f64> {
    let url = format!("http://127.0.0.1:{api_port}/metrics");
    let text = ureq::get(&url)
        .call()
        .ok()?
        .body_mut()
        .read_to_string()
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// The A addresses in a DNS answer, sorted.
pub fn answer_addrs(m: &hickory_proto::op::Message) -> Vec<IpAddr> {
    let mut v: Vec<IpAddr> = m
        .answers()
        .iter()
        .filter_map(|r| match r.data() {
            hickory_proto::rr::RData::A(a) => Some(IpAddr::V4(a.0)),
            _ => None,
        })
        .collect();
    v.sort();
    v
}
