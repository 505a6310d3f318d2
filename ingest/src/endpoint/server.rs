//! Serving a [`Router`] the way every firewatch port is served: at most `max_connections`
//! connections at once and `max_connections_per_client` from one address ([`LimitedListener`]),
//! a request head due within `header_timeout`, and a stop that lets requests finish for
//! `grace`, then closes what is still open.
//!
//! axum::serve gives hyper no timer, so hyper enforced no header timeout there: a connection
//! that never completed its request head held a place for good, and 1 100 idle or half-sent
//! requests locked every client out of a node. hyper counts the timeout from when a connection
//! starts waiting for a head, so idle keep-alive connections close after it too.

use std::future::Future;
use std::time::Duration;

use axum::serve::Listener;
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tracing::warn;

use super::limit::LimitedListener;

/// How a port is served.
#[derive(Debug, Clone, Copy)]
pub struct ServeConfig {
    /// Connections held open at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// Connections one client address holds at once; more from it are closed (0: no limit).
    pub max_connections_per_client: usize,
    /// A connection (new, or idle between requests) that sends no complete request head
    /// within this is closed.
    pub header_timeout: Duration,
    /// After `shutdown`, how long requests in progress get to finish.
    pub grace: Duration,
}

/// Serves HTTP/1 on `listener` until `shutdown` resolves, then stops as [`ServeConfig`] says.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    cfg: ServeConfig,
    shutdown: impl Future<Output = ()>,
) {
    let mut listener = LimitedListener::new(
        listener,
        cfg.max_connections,
        cfg.max_connections_per_client,
    );
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(cfg.header_timeout);
    let graceful = GracefulShutdown::new();
    let mut connections = tokio::task::JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (io, _) = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut shutdown => break,
        };
        while connections.try_join_next().is_some() {}
        let service = TowerToHyperService::new(app.clone());
        let conn = graceful.watch(builder.serve_connection(TokioIo::new(io), service));
        connections.spawn(async move {
            // A connection's errors (reset, timed out) are the client's business.
            let _ = conn.await;
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(cfg.grace) => {
            // Live tails never finish on their own. Closing them also lets go of the router
            // and what it holds (the node's alert delivery, which its stop flushes next).
            warn!(open = connections.len(), "grace period over, closing remaining connections");
            connections.shutdown().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use axum::body::{Body, Bytes};
    use axum::routing::get;

    use super::*;

    #[tokio::test]
    async fn stalled_heads_are_closed_and_a_stop_closes_endless_responses() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let endless = || async {
            Body::from_stream(futures::stream::pending::<Result<Bytes, std::io::Error>>())
        };
        let app = Router::new()
            .route("/ok", get(|| async { "ok" }))
            .route("/endless", get(endless));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let cfg = ServeConfig {
            max_connections: 2,
            max_connections_per_client: 0,
            header_timeout: Duration::from_secs(1),
            grace: Duration::from_millis(200),
        };
        let server = tokio::spawn(serve(listener, app, cfg, async {
            let _ = stopped.await;
        }));
        // More half-sent heads than places: they are closed, and a real request gets through.
        let stalled: Vec<std::net::TcpStream> = (0..3)
            .map(|_| {
                let mut s = std::net::TcpStream::connect(addr).unwrap();
                s.write_all(b"GET /ok HTTP/1.1\r\n").unwrap();
                s
            })
            .collect();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let ok = client.get(format!("http://{addr}/ok")).send().await;
        let ok = ok.expect("answered once the stalled heads time out");
        assert_eq!(ok.text().await.unwrap(), "ok");
        drop(stalled);
        // A response that never ends, then a stop: serving returns after the grace period and
        // the response is cut.
        let open = client.get(format!("http://{addr}/endless")).send().await;
        assert_eq!(open.as_ref().map(|r| r.status()).unwrap(), 200);
        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("serving stops after its grace period")
            .unwrap();
        let rest = tokio::time::timeout(Duration::from_secs(5), open.unwrap().bytes()).await;
        assert!(rest.expect("the endless response is closed").is_err());
    }
}
