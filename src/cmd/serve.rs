//! `firewatch serve`: the ingest node — the store, the ingest endpoint, the query API, the
//! streaming detectors with alert delivery, graceful shutdown.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use firewatch_detectors::{Alerting, AlertingConfig, Destination};
use firewatch_index::{Store, StoreConfig};
use firewatch_ingest::endpoint::limit::LimitedListener;
use firewatch_ingest::endpoint::{self, EndpointConfig};
use firewatch_query::api::ApiConfig;
use serde::Deserialize;
use tokio::sync::watch as signal;
use tracing::{info, warn};

use super::watch::{self, NodeSink};

#[derive(clap::Args)]
pub struct Args {
    /// Where the WAL, segments and index live [default: ./firewatch-data].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:7600].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// TOML config file (`listen`, `data_dir`, `shutdown_grace_secs`, `[ingest]`, `[store]`,
    /// `[[alerts.destination]]`).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Send alerts as JSON to this webhook URL (repeatable).
    #[arg(long, value_name = "URL")]
    webhook: Vec<String>,
    /// Send alerts to this Prometheus Alertmanager (base URL, repeatable).
    #[arg(long, value_name = "URL")]
    alertmanager: Vec<String>,
}

/// The `[alerts]` table: where alerts are delivered, besides `--webhook`/`--alertmanager`.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct AlertsConfig {
    destination: Vec<Destination>,
}

/// The config file; command-line flags override it.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct Config {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    /// How long in-flight batches get to finish after SIGTERM/SIGINT.
    shutdown_grace_secs: Option<u64>,
    /// Connections held open at once; more wait to be accepted.
    max_connections: Option<usize>,
    ingest: EndpointConfig,
    store: StoreConfig,
    alerts: AlertsConfig,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut cfg = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("read config {}", path.display()))?;
            toml::from_str::<Config>(&text)
                .with_context(|| format!("parse config {}", path.display()))?
        }
        None => Config::default(),
    };
    let listen = args
        .listen
        .or(cfg.listen)
        .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 7600)));
    cfg.store.data_dir = args
        .data_dir
        .or(cfg.data_dir.take())
        .unwrap_or_else(|| PathBuf::from("firewatch-data"));
    let grace = Duration::from_secs(cfg.shutdown_grace_secs.unwrap_or(10));
    let max_connections = cfg.max_connections.unwrap_or(1024);
    let data_dir = cfg.store.data_dir.clone();
    let store =
        Store::open(cfg.store).with_context(|| format!("open store in {}", data_dir.display()))?;
    let mut destinations = cfg.alerts.destination;
    destinations.extend(args.webhook.iter().map(|u| Destination::webhook(u)));
    destinations.extend(
        args.alertmanager
            .iter()
            .map(|u| Destination::alertmanager(u)),
    );
    let rt = tokio::runtime::Runtime::new()?;
    let served = rt.block_on(serve(
        store.clone(),
        cfg.ingest,
        destinations,
        data_dir.join("alerts"),
        listen,
        max_connections,
        grace,
    ));
    // Seal and stop after the last batch was answered.
    rt.block_on(async {
        let _ = tokio::task::spawn_blocking(move || store.close()).await;
    });
    served?;
    info!("stopped");
    Ok(ExitCode::SUCCESS)
}

async fn serve(
    store: Store,
    ingest: EndpointConfig,
    destinations: Vec<Destination>,
    alerts_dir: PathBuf,
    listen: SocketAddr,
    max_connections: usize,
    grace: Duration,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listen on {listen}"))?;
    let addr = listener.local_addr()?;
    let alerting = Alerting::start(AlertingConfig::new(
        alerts_dir.clone(),
        &format!("http://{addr}"),
        destinations,
    ))
    .with_context(|| format!("start alerting in {}", alerts_dir.display()))?;
    let (stop_tx, mut stop_rx) = signal::channel(false);
    // Subscribed before the first batch can arrive, so the detectors see every record.
    let detectors = tokio::spawn(watch::run_detectors(
        store.subscribe(),
        alerting.sender(),
        stop_rx.clone(),
    ));
    let alerting = Arc::new(alerting);
    let (reader, durable) = (store.reader(), store.clone());
    let sink = NodeSink {
        store,
        alerting: alerting.clone(),
    };
    let app = endpoint::router(Arc::new(sink), ingest)
        .merge(firewatch_query::api::router(
            reader,
            move || durable.subscribe(),
            ApiConfig::default(),
        ))
        .merge(firewatch_detectors::api::router(&alerting));
    info!(%addr, "serving");
    // Tests and scripts read the bound address (useful with port 0) from stdout.
    println!("listening {addr}");
    let on_signal = stop_tx.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        info!("shutting down");
        let _ = on_signal.send(true);
    });
    let mut stopped = stop_rx.clone();
    let listener = LimitedListener::new(listener, max_connections);
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        let _ = stopped.wait_for(|s| *s).await;
    });
    let served = tokio::select! {
        res = server => res.context("server"),
        _ = async {
            let _ = stop_rx.wait_for(|s| *s).await;
            tokio::time::sleep(grace).await;
        } => {
            warn!("grace period over, closing remaining connections");
            Ok(())
        }
    };
    let _ = stop_tx.send(true);
    let _ = detectors.await;
    // The router (and its handle on alerting) is gone once the server stopped; what is not
    // delivered now stays in the durable outboxes for the next start.
    match Arc::try_unwrap(alerting) {
        Ok(alerting) => alerting.shutdown(Duration::from_secs(2)).await,
        Err(_) => warn!("alert delivery still in use at shutdown; outboxes kept for next start"),
    }
    served
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
