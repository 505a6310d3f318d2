//! A listener that holds at most N connections open at once: past that, it stops accepting and
//! new connections wait in the kernel's backlog — memory per connection stays bounded. One
//! client (an IP address) may also hold only so many of them: past that, its new connections
//! are closed at once, so that one client that opens connections and sends nothing (each held
//! until the header timeout) cannot take every place.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::serve::Listener;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::debug;

/// Wraps a listener; each accepted connection holds a permit until it is closed.
pub struct LimitedListener<L> {
    inner: L,
    permits: Arc<Semaphore>,
    per_client: usize,
    clients: Arc<Clients>,
}

/// Connections open per client address.
type Clients = Mutex<HashMap<IpAddr, usize>>;

impl<L> LimitedListener<L> {
    /// At most `max_connections` at once, `per_client` of them from one address (0: no such
    /// limit).
    pub fn new(inner: L, max_connections: usize, per_client: usize) -> Self {
        LimitedListener {
            inner,
            permits: Arc::new(Semaphore::new(max_connections.max(1))),
            per_client,
            clients: Arc::default(),
        }
    }
}

impl<L> Listener for LimitedListener<L>
where
    L: Listener<Addr = SocketAddr>,
{
    type Io = Limited<L::Io>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        // The semaphore is never closed, so this waits for a permit.
        let permit = self.permits.clone().acquire_owned().await.ok();
        loop {
            let (io, addr) = self.inner.accept().await;
            let Some(client) = self.admit(addr.ip()) else {
                debug!(client = %addr.ip(), "connection closed: client at its connection limit");
                continue;
            };
            return (
                Limited {
                    io,
                    _permit: permit,
                    _client: client,
                },
                addr,
            );
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

impl<L> LimitedListener<L> {
    /// Counts a new connection of `ip`, unless it holds its share already.
    fn admit(&self, ip: IpAddr) -> Option<Option<ClientSlot>> {
        if self.per_client == 0 {
            return Some(None);
        }
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        let open = clients.entry(ip).or_insert(0);
        if *open >= self.per_client {
            return None;
        }
        *open += 1;
        Some(Some(ClientSlot {
            ip,
            clients: self.clients.clone(),
        }))
    }
}

/// One connection counted against its client's share, until it is closed.
struct ClientSlot {
    ip: IpAddr,
    clients: Arc<Clients>,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(open) = clients.get_mut(&self.ip) {
            *open -= 1;
            if *open == 0 {
                // The map holds only clients with connections open.
                clients.remove(&self.ip);
            }
        }
    }
}

/// A connection holding its permit.
pub struct Limited<T> {
    io: T,
    _permit: Option<OwnedSemaphorePermit>,
    _client: Option<ClientSlot>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Limited<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Limited<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn second_connection_waits_for_the_first_to_close() {
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let mut listener = LimitedListener::new(tcp, 1, 0);
        let _c1 = tokio::net::TcpStream::connect(addr).await.unwrap();
        let _c2 = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (first, _) = listener.accept().await;
        let blocked = tokio::time::timeout(Duration::from_millis(100), listener.accept()).await;
        assert!(blocked.is_err(), "accepted past the limit");
        drop(first);
        let second = tokio::time::timeout(Duration::from_secs(5), listener.accept()).await;
        assert!(second.is_ok());
    }

    #[tokio::test]
    async fn a_client_past_its_share_is_closed_and_readmitted_once_one_closes() {
        use tokio::io::AsyncReadExt;
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let mut listener = LimitedListener::new(tcp, 8, 1);
        let _first = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (held, _) = listener.accept().await;
        // The same address again: closed without taking a place, the accept goes on waiting.
        let mut second = tokio::net::TcpStream::connect(addr).await.unwrap();
        let waiting = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
        assert!(
            waiting.is_err(),
            "a second connection of one client was let in"
        );
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(5), second.read(&mut byte)).await;
        assert!(
            matches!(read, Ok(Ok(0)) | Ok(Err(_))),
            "not closed: {read:?}"
        );
        // Its first connection closes: the next one is its own again.
        drop(held);
        let _third = tokio::net::TcpStream::connect(addr).await.unwrap();
        let accepted = tokio::time::timeout(Duration::from_secs(5), listener.accept()).await;
        assert!(
            accepted.is_ok(),
            "not readmitted after its connection closed"
        );
        assert_eq!(listener.clients.lock().unwrap().get(&addr.ip()), Some(&1));
        drop(accepted);
        assert!(listener.clients.lock().unwrap().is_empty());
    }
}
