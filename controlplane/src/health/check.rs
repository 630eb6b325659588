//! One health check of one address: TCP connect (or HTTP GET) to each port, ICMP echo.

use super::config::{HealthConfig, Require};
use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// What was checked (the `kind` label of `skylane_health_checks_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckKind {
    Tcp,
    Http,
    Icmp,
}

impl CheckKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::Tcp => "tcp",
            CheckKind::Http => "http",
            CheckKind::Icmp => "icmp",
        }
    }
}

/// The result of one probe (one port, or the echo).
#[derive(Debug, Clone)]
pub struct ProbeResult {
    pub kind: CheckKind,
    pub ok: bool,
    /// Why it failed, e.g. `tcp 10.0.0.7:80: connection refused`.
    pub reason: Option<String>,
}

/// The verdict of one check of an address.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub ok: bool,
    /// Wall time of the whole check.
    pub latency: Duration,
    /// The first failure's reason (when not ok).
    pub reason: Option<String>,
    pub probes: Vec<ProbeResult>,
}

/// Runs checks with one configuration. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Checker {
    timeout: Duration,
    require: Require,
    icmp: bool,
    http_path: Option<String>,
}

impl Checker {
    pub fn new(cfg: &HealthConfig) -> Checker {
        Checker {
            timeout: Duration::from_millis(cfg.timeout_ms),
            require: cfg.require,
            icmp: cfg.icmp,
            http_path: cfg.http_path.clone(),
        }
    }

    /// Checks `ip` on `ports` (concurrently) and by echo when configured.
    pub async fn check(&self, ip: IpAddr, ports: &[u16]) -> Outcome {
        let started = Instant::now();
        let mut probes = Vec::with_capacity(ports.len() + usize::from(self.icmp));
        if let [port] = ports {
            probes.push(self.port(SocketAddr::new(ip, *port)).await);
        } else {
            let port_checks = ports.iter().map(|&p| self.port(SocketAddr::new(ip, p)));
            probes.extend(futures_util::future::join_all(port_checks).await);
        }
        if self.icmp {
            probes.push(super::icmp::echo(ip, self.timeout).await);
        }
        let ok = match self.require {
            _ if probes.is_empty() => true,
            Require::All => probes.iter().all(|p| p.ok),
            Require::Any => probes.iter().any(|p| p.ok),
        };
        let reason = if ok {
            None
        } else {
            probes.iter().find_map(|p| p.reason.clone())
        };
        Outcome {
            ok,
            latency: started.elapsed(),
            reason,
            probes,
        }
    }

    async fn port(&self, addr: SocketAddr) -> ProbeResult {
        match &self.http_path {
            Some(path) => {
                let r = tokio::time::timeout(self.timeout, http_get(addr, path)).await;
                let r = r.unwrap_or_else(|_| Err(self.timed_out()));
                probe(CheckKind::Http, addr, r)
            }
            None => {
                let r = tokio::time::timeout(self.timeout, tcp_connect(addr)).await;
                let r = match r {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(e.kind().to_string()),
                    Err(_) => Err(self.timed_out()),
                };
                probe(CheckKind::Tcp, addr, r)
            }
        }
    }

    fn timed_out(&self) -> String {
        format!("timed out after {} ms", self.timeout.as_millis())
    }
}

fn probe(kind: CheckKind, addr: SocketAddr, r: Result<(), String>) -> ProbeResult {
    ProbeResult {
        kind,
        ok: r.is_ok(),
        reason: r
            .err()
            .map(|why| format!("{} {addr}: {why}", kind.as_str())),
    }
}

/// Connects to `addr`, then closes with a reset (`SO_LINGER` 0): the handshake is the whole
/// check, and the reset spares both ends the FIN exchange and this end a `TIME_WAIT` socket per
/// check (HAProxy closes its TCP checks the same way). The backend sees a connection that is
/// reset before it sends anything.
async fn tcp_connect(addr: SocketAddr) -> std::io::Result<()> {
    let stream = TcpStream::connect(addr).await?;
    // The connect succeeded, which is the check; without the option the close is a FIN.
    let _ = stream.set_zero_linger();
    Ok(())
}

/// `GET path` over HTTP/1.1; 2xx/3xx is healthy.
async fn http_get(addr: SocketAddr, path: &str) -> Result<(), String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| e.kind().to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let req = hyper::Request::get(path)
        .header(hyper::header::HOST, addr.to_string())
        .header(hyper::header::USER_AGENT, "skylane-health")
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status();
    if status.is_success() || status.is_redirection() {
        Ok(())
    } else {
        Err(format!("HTTP {}", status.as_u16()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A one-shot-per-connection HTTP server answering `status`.
    async fn http_server(status: &'static str) -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let reply = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n");
                let _ = s.write_all(reply.as_bytes()).await;
            }
        });
        addr
    }

    fn checker(http_path: Option<&str>) -> Checker {
        Checker::new(&HealthConfig {
            http_path: http_path.map(str::to_owned),
            timeout_ms: 5000,
            ..HealthConfig::default()
        })
    }

    #[tokio::test]
    async fn tcp_and_http_probes() {
        let ok = http_server("200 OK").await;
        let bad = http_server("503 Service Unavailable").await;
        let tcp = checker(None);
        assert!(tcp.check(ok.ip(), &[ok.port()]).await.ok);
        // A port nobody listens on (bound, then closed).
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let out = tcp.check(ok.ip(), &[ok.port(), port]).await;
        assert!(!out.ok);
        let reason = out.reason.unwrap();
        assert!(
            reason.starts_with(&format!("tcp 127.0.0.1:{port}: ")),
            "{reason}"
        );
        let http = checker(Some("/healthz"));
        assert!(http.check(ok.ip(), &[ok.port()]).await.ok);
        let out = http.check(bad.ip(), &[bad.port()]).await;
        assert_eq!(
            out.reason.as_deref(),
            Some(&*format!("http {bad}: HTTP 503"))
        );
        let any = Checker {
            require: Require::Any,
            ..checker(Some("/"))
        };
        assert!(any.check(ok.ip(), &[ok.port(), bad.port()]).await.ok);
    }
}
