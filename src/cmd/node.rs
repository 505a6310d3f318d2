//! The ingest node as one running thing, shared by `firewatch serve` and `firewatch up`: the
//! store, the ingest endpoint, the query API, the streaming detectors with alert delivery, and
//! an orderly stop (server, then detectors, then delivery, then the store).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use firewatch_detectors::{AlertReader, Alerting, AlertingConfig, Destination};
use firewatch_index::{Store, StoreConfig};
use firewatch_ingest::endpoint::server::{serve, ServeConfig};
use firewatch_ingest::endpoint::{self, EndpointConfig};
use firewatch_query::api::ApiConfig;
use serde::Deserialize;
use tokio::sync::watch as signal;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::watch::{self, NodeSink};

/// The `[alerts]` table: where alerts are delivered, besides `--webhook`/`--alertmanager`.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    pub destination: Vec<Destination>,
    /// A firing alert quiet for this long (log time) resolves [default: 1800].
    pub resolve_after_secs: Option<u64>,
}

/// The node's config file; command-line flags override it.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct NodeConfig {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    /// How long in-flight batches get to finish after SIGTERM/SIGINT.
    pub shutdown_grace_secs: Option<u64>,
    /// Connections held open at once; more wait to be accepted.
    pub max_connections: Option<usize>,
    /// Connections one client address holds at once (default: half of `max_connections`);
    /// more from it are closed at once. 0: no such limit.
    pub max_connections_per_client: Option<usize>,
    /// A connection that does not send a complete request head this long after it starts
    /// waiting for one (a new or an idle keep-alive connection) is closed.
    pub header_timeout_secs: Option<u64>,
    pub ingest: EndpointConfig,
    pub store: StoreConfig,
    pub alerts: AlertsConfig,
}

/// Default address of the node.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 7600);

impl NodeConfig {
    /// Reads `path`, or the defaults when there is none.
    pub fn load(path: Option<&Path>) -> anyhow::Result<NodeConfig> {
        let Some(path) = path else {
            return Ok(NodeConfig::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("read config {}", path.display()))?;
        let cfg: NodeConfig =
            toml::from_str(&text).with_context(|| format!("parse config {}", path.display()))?;
        cfg.check()
            .with_context(|| format!("config {}", path.display()))?;
        Ok(cfg)
    }

    /// Limits that cannot work together: a batch the endpoint would take must fit one WAL entry.
    fn check(&self) -> anyhow::Result<()> {
        let most = firewatch_index::wal::MAX_BATCH_BYTES;
        for (name, value) in [
            ("max_body_bytes", self.ingest.max_body_bytes),
            ("max_decoded_bytes", self.ingest.max_decoded_bytes),
        ] {
            anyhow::ensure!(
                value <= most,
                "ingest.{name} = {value} is more than one write-ahead-log entry holds ({most})"
            );
        }
        let (block, record) = (self.store.block_bytes, self.ingest.max_record_bytes);
        let room = firewatch_index::archive::MAX_BLOCK / 2;
        anyhow::ensure!(
            block.saturating_add(record) <= room,
            "store.block_bytes ({block}) plus ingest.max_record_bytes ({record}) is more than an archive block may hold ({room})"
        );
        Ok(())
    }

    /// Applies the flags every node command shares (flags win over the file).
    pub fn apply_flags(
        &mut self,
        data_dir: Option<PathBuf>,
        listen: Option<SocketAddr>,
        webhooks: &[String],
        alertmanagers: &[String],
    ) {
        self.listen = listen.or(self.listen).or(Some(DEFAULT_LISTEN));
        let dir = data_dir
            .or(self.data_dir.take())
            .unwrap_or_else(|| PathBuf::from("firewatch-data"));
        self.store.data_dir = dir.clone();
        self.data_dir = Some(dir);
        let alerts = &mut self.alerts.destination;
        alerts.extend(webhooks.iter().map(|u| Destination::webhook(u)));
        alerts.extend(alertmanagers.iter().map(|u| Destination::alertmanager(u)));
    }
}

/// A started node. Stop it with [`Node::stop`]; dropping it leaves the store unsealed.
pub struct Node {
    addr: SocketAddr,
    alerts: AlertReader,
    stop: signal::Sender<bool>,
    done: signal::Receiver<bool>,
    server: JoinHandle<()>,
    store: Store,
}

impl Node {
    /// Opens the store, binds the address and starts serving; prints `listening ADDR` on
    /// stdout (scripts and tests read the bound address from it, useful with port 0).
    pub async fn start(cfg: NodeConfig) -> anyhow::Result<Node> {
        let listen = cfg.listen.unwrap_or(DEFAULT_LISTEN);
        let grace = Duration::from_secs(cfg.shutdown_grace_secs.unwrap_or(10));
        let max_connections = cfg.max_connections.unwrap_or(1024);
        let max_connections_per_client = cfg
            .max_connections_per_client
            .unwrap_or(max_connections / 2);
        let header_timeout = Duration::from_secs(cfg.header_timeout_secs.unwrap_or(30).max(1));
        let data_dir = cfg.store.data_dir.clone();
        let store = {
            let config = cfg.store;
            tokio::task::spawn_blocking(move || Store::open(config))
                .await?
                .with_context(|| format!("open store in {}", data_dir.display()))?
        };
        let listener = match tokio::net::TcpListener::bind(listen).await {
            Ok(l) => l,
            Err(e) => {
                close(store).await;
                return Err(e).with_context(|| format!("listen on {listen}"));
            }
        };
        let addr = listener.local_addr()?;
        let alerts_dir = data_dir.join("alerts");
        let mut alerting_cfg = AlertingConfig::new(
            alerts_dir.clone(),
            &format!("http://{addr}"),
            cfg.alerts.destination,
        );
        if let Some(secs) = cfg.alerts.resolve_after_secs {
            alerting_cfg.lifecycle.resolve_after =
                (secs.max(1) as i64).saturating_mul(1_000_000_000);
        }
        let alerting = match Alerting::start(alerting_cfg) {
            Ok(a) => a,
            Err(e) => {
                close(store).await;
                return Err(e)
                    .with_context(|| format!("start alerting in {}", alerts_dir.display()));
            }
        };
        let (stop, stop_rx) = signal::channel(false);
        let (done_tx, done) = signal::channel(false);
        // Followed before the first batch can arrive, so the detectors see every record. They
        // stop once the server has answered its last batch, so they see that one too.
        let (served, served_rx) = signal::channel(false);
        let detectors = tokio::spawn(watch::run_detectors(
            store.follow(),
            alerting.sender(),
            served_rx,
        ));
        let alerts = alerting.reader();
        let alerting = Arc::new(alerting);
        let (reader, durable) = (store.reader(), store.clone());
        let sink = NodeSink {
            store: store.clone(),
            alerting: alerting.clone(),
        };
        let app = endpoint::router(Arc::new(sink), cfg.ingest)
            .merge(firewatch_query::api::router(
                reader,
                move || durable.subscribe(),
                ApiConfig::default(),
            ))
            .merge(firewatch_detectors::api::router(&alerting));
        info!(%addr, "serving");
        println!("listening {addr}");
        let stop_all = stop.clone();
        let server = tokio::spawn(async move {
            let serving = ServeConfig {
                max_connections,
                max_connections_per_client,
                header_timeout,
                grace,
            };
            let mut stop_rx = stop_rx;
            serve(listener, app, serving, async move {
                let _ = stop_rx.wait_for(|s| *s).await;
            })
            .await;
            let _ = done_tx.send(true);
            let _ = stop_all.send(true);
            let _ = served.send(true);
            let _ = detectors.await;
            // The router (and its handle on alerting) is gone once the server stopped; what is
            // not delivered now stays in the durable outboxes for the next start.
            match Arc::try_unwrap(alerting) {
                Ok(alerting) => alerting.shutdown(Duration::from_secs(2)).await,
                Err(_) => warn!("alert delivery still in use at shutdown; outboxes kept"),
            }
        });
        Ok(Node {
            addr,
            alerts,
            stop,
            done,
            server,
            store,
        })
    }

    /// The address the node listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The alert state, for callers that show alerts as they change.
    pub fn alerts(&self) -> AlertReader {
        self.alerts.clone()
    }

    /// Resolves when the server stopped on its own (an accept error), not when asked to.
    pub async fn failed(&self) {
        let mut done = self.done.clone();
        let _ = done.wait_for(|d| *d).await;
    }

    /// Stops taking requests (in-flight ones get the grace period), stops the detectors and
    /// delivery, then seals the store.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        let served = self
            .server
            .await
            .map_err(|e| anyhow::anyhow!("node task failed: {e}"));
        close(self.store).await;
        served
    }
}

/// Seals the store after the last batch was answered.
async fn close(store: Store) {
    let _ = tokio::task::spawn_blocking(move || store.close()).await;
}

/// Resolves on SIGTERM or SIGINT; the handlers are installed when this is called, so a signal
/// that arrives before the caller awaits is not lost.
pub fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("install SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("install SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_limit_past_what_the_wal_holds_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(&path, "[ingest]\nmax_decoded_bytes = 67108864\n").unwrap();
        assert!(NodeConfig::load(Some(&path)).is_ok());
        std::fs::write(&path, "[ingest]\nmax_decoded_bytes = 4294967296\n").unwrap();
        let err = format!("{:#}", NodeConfig::load(Some(&path)).err().unwrap());
        assert!(
            err.contains("ingest.max_decoded_bytes = 4294967296"),
            "{err}"
        );
    }

    #[test]
    fn archive_blocks_that_would_not_read_back_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(&path, "[store]\nblock_bytes = 16777216\n").unwrap();
        assert!(NodeConfig::load(Some(&path)).is_ok());
        for text in [
            "[store]\nblock_bytes = 33554432\n",
            "[ingest]\nmax_record_bytes = 33554432\n",
        ] {
            std::fs::write(&path, text).unwrap();
            let err = format!("{:#}", NodeConfig::load(Some(&path)).err().unwrap());
            assert!(err.contains("more than an archive block may hold"), "{err}");
        }
    }
}
