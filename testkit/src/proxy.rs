//! A loopback TCP proxy that tests can cut and restore, to disconnect a client from a server
//! without stopping the server.

use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

/// Forwards `listen → upstream` while up; [`TcpProxy::cut`] drops every connection and stops
/// listening, [`TcpProxy::restore`] listens again on the same address.
pub struct TcpProxy {
    addr: SocketAddr,
    upstream: SocketAddr,
    accept: Option<JoinHandle<()>>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl TcpProxy {
    /// Starts on a free loopback port.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<TcpProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let mut proxy = TcpProxy {
            addr: listener.local_addr()?,
            upstream,
            accept: None,
            conns: Arc::default(),
        };
        proxy.serve(listener);
        Ok(proxy)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn serve(&mut self, listener: TcpListener) {
        let upstream = self.upstream;
        let conns = self.conns.clone();
        self.accept = Some(tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                conns.lock().await.push(task);
            }
        }));
    }

    /// Closes the listener and every forwarded connection.
    pub async fn cut(&mut self) {
        if let Some(accept) = self.accept.take() {
            accept.abort();
            let _ = accept.await;
        }
        for task in self.conns.lock().await.drain(..) {
            task.abort();
        }
    }

    /// Listens again on the same address.
    pub async fn restore(&mut self) -> std::io::Result<()> {
        let listener = TcpListener::bind(self.addr).await?;
        self.serve(listener);
        Ok(())
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        if let Some(accept) = self.accept.take() {
            accept.abort();
        }
        if let Ok(mut conns) = self.conns.try_lock() {
            for task in conns.drain(..) {
                task.abort();
            }
        }
    }
}
