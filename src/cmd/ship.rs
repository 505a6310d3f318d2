//! `firewatch ship`: tail log files and forward them to an ingest node, exactly once.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use firewatch_ingest::ship::{ShipConfig, Shipper};

#[derive(clap::Args)]
pub struct Args {
    /// Node URL to ship to (repeat for failover, tried in order).
    #[arg(long = "to", value_name = "URL")]
    to: Vec<String>,
    /// Where checkpoints and the spool live.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// TOML config (sources, sink, limits); flags given as well override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Serve `/metrics` and `/status` on this address.
    #[arg(long, value_name = "ADDR")]
    status: Option<SocketAddr>,
    /// Files or globs to tail (`**` allowed; quote globs so the shell leaves them alone).
    #[arg(value_name = "PATH/GLOB")]
    paths: Vec<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut cfg = match &args.config {
        Some(path) => ShipConfig::load(path)?,
        None => {
            if args.to.is_empty() || args.paths.is_empty() {
                anyhow::bail!("give --to URL and at least one PATH/GLOB, or --config FILE");
            }
            ShipConfig::simple(Vec::new(), PathBuf::from("firewatch-ship"), Vec::new())
        }
    };
    if !args.to.is_empty() {
        cfg.sink.urls = args.to;
    }
    if let Some(dir) = args.data_dir {
        cfg.data_dir = dir;
    }
    if args.status.is_some() {
        cfg.status_addr = args.status;
    }
    if !args.paths.is_empty() {
        let absolute = args.paths.iter().map(|p| absolutize(p)).collect();
        if args.config.is_some() {
            cfg.sources
                .push(firewatch_ingest::ship::config::SourceConfig::new(absolute));
        } else {
            cfg.sources[0].include = absolute;
        }
    }
    let shipper = Shipper::new(cfg)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("start runtime")?;
    rt.block_on(async {
        // Signals are caught from here on, before any file is read.
        let shutdown = shutdown_signal()?;
        shipper.run(shutdown).await.map_err(anyhow::Error::from)
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Globs are matched against absolute paths, so relative ones are anchored at the cwd.
pub(crate) fn absolutize(p: &str) -> String {
    if p.starts_with('/') {
        return p.to_string();
    }
    match std::env::current_dir() {
        Ok(cwd) => format!("{}/{}", cwd.display(), p.trim_start_matches("./")),
        Err(_) => p.to_string(),
    }
}

/// Resolves on SIGTERM or SIGINT; the handlers are installed when this is called.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
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
