//! `[api] max-connections`: an axum-server acceptor that holds one semaphore
//! permit per open connection and closes connections over the limit at
//! accept, so slow or idle clients cannot exhaust the file descriptors the
//! process shares with TCP DNS.

use axum_server::accept::Accept;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Wraps another acceptor; at most `max` connections at a time.
#[derive(Clone)]
pub struct LimitAcceptor<A> {
    inner: A,
    permits: Arc<Semaphore>,
}

impl<A> LimitAcceptor<A> {
    pub fn new(inner: A, max: usize) -> LimitAcceptor<A> {
        LimitAcceptor {
            inner,
            permits: Arc::new(Semaphore::new(max)),
        }
    }
}

/// A connection holding its permit until it is dropped.
pub struct Limited<S> {
    inner: S,
    _permit: OwnedSemaphorePermit,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = io::Result<T>> + Send>>;

impl<I, S, A> Accept<I, S> for LimitAcceptor<A>
where
    A: Accept<I, S> + Clone + Send + 'static,
    A::Future: Send + 'static,
    I: Send + 'static,
    S: Send + 'static,
{
    type Stream = Limited<A::Stream>;
    type Service = A::Service;
    type Future = BoxFuture<(Self::Stream, Self::Service)>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        let permit = self.permits.clone().try_acquire_owned();
        let inner = self.inner.clone();
        Box::pin(async move {
            let Ok(permit) = permit else {
                tracing::debug!("api: connection limit reached; closing a new connection");
                return Err(io::Error::other("api connection limit reached"));
            };
            let (stream, service) = inner.accept(stream, service).await?;
            Ok((
                Limited {
                    inner: stream,
                    _permit: permit,
                },
                service,
            ))
        })
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Limited<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Limited<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
