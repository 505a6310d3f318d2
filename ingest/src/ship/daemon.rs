//! [`Shipper`]: wires discovery, the reader thread, the spool and the sender together, serves
//! the status endpoint, and shuts down gracefully (stop reading, spool what was read, give the
//! node a moment to take it, write the checkpoints).

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tracing::{error, info, warn};

use super::archive::ArchiveLedger;
use super::checkpoint::{CheckpointError, Checkpoints};
use super::client::{ClientError, NodeClient};
use super::config::{ConfigError, ShipConfig};
use super::discovery::{Discovery, GlobError, Watcher};
use super::fdlimit;
use super::metrics::{self, Metrics};
use super::reader::{Reader, Source};
use super::sender::Sender;
use super::spool::Spool;
use crate::endpoint::server::{serve, ServeConfig};

/// Connections the status endpoint holds open at once (it is scraped, not browsed).
const STATUS_CONNECTIONS: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum ShipError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Glob(#[from] GlobError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

pub struct Shipper {
    cfg: ShipConfig,
    metrics: Arc<Metrics>,
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

impl Shipper {
    pub fn new(cfg: ShipConfig) -> Result<Self, ShipError> {
        cfg.validate()?;
        Ok(Shipper {
            cfg,
            metrics: Arc::new(Metrics::default()),
        })
    }

    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// Binds the status endpoint (`/metrics`, `/status`) and returns its address.
    pub async fn serve_status(&self, addr: SocketAddr) -> Result<SocketAddr, ShipError> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ShipError::Io {
                what: "status address",
                path: addr.to_string().into(),
                source,
            })?;
        let local = listener.local_addr().map_err(|source| ShipError::Io {
            what: "status address",
            path: addr.to_string().into(),
            source,
        })?;
        let app = metrics::router(self.metrics.clone());
        // Bounded like the node's ports: unbounded idle connections here would take the
        // file descriptors the shipper needs for the files it tails.
        let serving = ServeConfig {
            max_connections: STATUS_CONNECTIONS,
            // Its clients are on this host: one address.
            max_connections_per_client: 0,
            header_timeout: Duration::from_secs(30),
            grace: Duration::ZERO,
        };
        tokio::spawn(serve(listener, app, serving, std::future::pending()));
        Ok(local)
    }

    /// Ships until `shutdown` resolves, then stops gracefully.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ShipError> {
        let cfg = &self.cfg;
        let mut limits = cfg.limits.clone();
        let nofile = fdlimit::raise_nofile().unwrap_or_else(|e| {
            warn!(error = %e, "cannot read the open-files limit; assuming 1024");
            1024
        });
        limits.max_open_files = fdlimit::budget(nofile, limits.max_open_files);
        info!(
            open_files_limit = nofile,
            max_tailed = limits.max_open_files,
            "open files"
        );
        let data = &cfg.data_dir;
        let io = |what, path: &PathBuf| {
            let path = path.clone();
            move |source| ShipError::Io { what, path, source }
        };
        std::fs::create_dir_all(data).map_err(io("data dir", data))?;
        let cp_path = data.join("checkpoints.json");
        let mut cps = match Checkpoints::load(&cp_path) {
            // Record ids are the file's fingerprint and the line's offset, so every file read
            // again from its start is stored once by the node (within its retention): better
            // than a shipper that does not start, or one that skips what it cannot place.
            Err(CheckpointError::Corrupt { path, message }) => {
                let kept = path.with_extension("json.corrupt");
                std::fs::rename(&path, &kept).map_err(io("checkpoint file", &path))?;
                error!(
                    file = %path.display(),
                    kept = %kept.display(),
                    error = %message,
                    "checkpoint file corrupt, set aside; reading every file from its start"
                );
                Checkpoints::default()
            }
            loaded => loaded?,
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        cps.prune(
            now,
            limits.checkpoint_retention_days.saturating_mul(86_400),
            |c| std::path::Path::new(&c.path).exists(),
        );
        let checkpoints = Arc::new(Mutex::new(cps));
        let spool_dir = data.join("spool");
        let spool = Arc::new(
            Spool::open(&spool_dir, limits.spool_max_bytes, limits.spool_fsync)
                .map_err(io("spool", &spool_dir))?,
        );
        let mut sources = Vec::new();
        let mut roots = Vec::new();
        for s in &cfg.sources {
            let discovery = Discovery::new(&s.include, &s.exclude, s.compressed)?;
            roots.extend(discovery.watch_roots());
            sources.push(Source {
                discovery,
                service: s.service.clone(),
                fields: s.fields.clone(),
                parse: s.parse_options(&limits)?,
            });
        }
        let client = NodeClient::new(&cfg.sink.urls, cfg.sink.client_options())?;
        if let Some(addr) = cfg.status_addr {
            let local = self.serve_status(addr).await?;
            info!(addr = %local, "status endpoint listening");
        }

        let stop_reading = Arc::new(AtomicBool::new(false));
        let watcher = Watcher::start(roots, 8192);
        let reader = Reader::new(
            sources,
            limits.clone(),
            cfg.host.clone().unwrap_or_else(host_name),
            cfg.sink.zstd_level,
            checkpoints.clone(),
            ArchiveLedger::load(data.join("archives.json")),
            spool.clone(),
            self.metrics.clone(),
            stop_reading.clone(),
        );
        let Watcher { events, guard } = watcher;
        let reader = std::thread::Builder::new()
            .name("ship-reader".into())
            .spawn(move || reader.run(events))
            .map_err(io("reader thread", &PathBuf::new()))?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let sender = Sender {
            spool: spool.clone(),
            client,
            checkpoints,
            checkpoint_path: cp_path,
            checkpoint_interval: Duration::from_millis(limits.checkpoint_interval_ms),
            metrics: self.metrics.clone(),
        };
        let sender = tokio::spawn(sender.run(stop_rx));
        info!(
            sources = cfg.sources.len(),
            nodes = cfg.sink.urls.len(),
            "shipping"
        );

        shutdown.await;
        info!("stopping: spooling what was read");
        stop_reading.store(true, Ordering::Relaxed);
        let _ = tokio::task::spawn_blocking(move || reader.join()).await;
        drop(guard);
        let deadline = Instant::now() + Duration::from_millis(limits.drain_timeout_ms);
        while spool.usage().0 > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = stop_tx.send(true);
        let _ = sender.await;
        let (batches, bytes) = spool.usage();
        info!(
            spooled_batches = batches,
            spooled_bytes = bytes,
            "stopped; checkpoints written"
        );
        Ok(())
    }
}
