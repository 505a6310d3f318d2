//! `firewatch serve`: the ingest node — the store, the ingest endpoint, the query API, the
//! streaming detectors with alert delivery, graceful shutdown (see [`super::node`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use tracing::info;

use super::node::{shutdown_signal, Node, NodeConfig};

#[derive(clap::Args)]
pub struct Args {
    /// Where the WAL, segments and index live [default: ./firewatch-data].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:7600].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// TOML config file (`listen`, `data_dir`, `shutdown_grace_secs`, `[ingest]`, `[store]`,
    /// `[alerts]`, `[[alerts.destination]]`).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Send alerts as JSON to this webhook URL (repeatable).
    #[arg(long, value_name = "URL")]
    webhook: Vec<String>,
    /// Send alerts to this Prometheus Alertmanager (base URL, repeatable).
    #[arg(long, value_name = "URL")]
    alertmanager: Vec<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut cfg = NodeConfig::load(args.config.as_deref())?;
    cfg.apply_flags(
        args.data_dir,
        args.listen,
        &args.webhook,
        &args.alertmanager,
    );
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let shutdown = shutdown_signal()?;
        let node = Node::start(cfg).await?;
        tokio::select! {
            _ = shutdown => info!("shutting down"),
            _ = node.failed() => {}
        }
        node.stop().await
    })?;
    info!("stopped");
    Ok(ExitCode::SUCCESS)
}
