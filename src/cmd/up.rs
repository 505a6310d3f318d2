//! `firewatch up`: everything in one process — the node (store, query API, detectors, alert
//! delivery), a shipper tailing the given paths into it, and with `--demo` a generator writing
//! live logs with incidents. Without paths and without `--demo` it runs the node alone.
//!
//! Shutdown (SIGTERM/SIGINT) goes from the edge inwards: the generator stops, the shipper hands
//! its last batches to the node and writes its checkpoints, then the node stops.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use firewatch_ingest::ship::{ShipConfig, Shipper};
use tracing::{info, warn};

use super::demo::{self, Demo};
use super::node::{shutdown_signal, Node, NodeConfig, DEFAULT_LISTEN};
use super::ship::absolutize;
use super::ticker::AlertTicker;

#[derive(clap::Args)]
pub struct Args {
    /// Files or globs to tail and ship to the node (`**` allowed; quote globs).
    #[arg(value_name = "PATH/GLOB")]
    paths: Vec<String>,
    /// Write live demo logs with incidents into DATA_DIR/demo-logs/ and tail them too.
    #[arg(long)]
    demo: bool,
    /// Where the node's data, the shipper's checkpoints and the demo logs live
    /// [default: ./firewatch-data].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Address the node listens on [default: 127.0.0.1:7600].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Send alerts as JSON to this webhook URL (repeatable).
    #[arg(long, value_name = "URL")]
    webhook: Vec<String>,
    /// Send alerts to this Prometheus Alertmanager (base URL, repeatable).
    #[arg(long, value_name = "URL")]
    alertmanager: Vec<String>,
    /// The node's TOML config file (as for `firewatch serve`).
    #[arg(long)]
    config: Option<PathBuf>,
}

/// The shipper talks to its own node over loopback: batches can leave almost at once, and a
/// last line is not held back long waiting for continuation lines.
const BATCH_WAIT_MS: u64 = 100;
const MULTILINE_FLUSH_MS: u64 = 300;

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut cfg = NodeConfig::load(args.config.as_deref())?;
    cfg.apply_flags(
        args.data_dir,
        args.listen,
        &args.webhook,
        &args.alertmanager,
    );
    let data_dir = absolute(&cfg.store.data_dir)?;
    cfg.store.data_dir = data_dir.clone();
    if args.demo && cfg.alerts.resolve_after_secs.is_none() {
        // The demo's incidents are short: let their alerts resolve while the user watches.
        cfg.alerts.resolve_after_secs = Some(demo::RESOLVE_AFTER_SECS);
    }
    let mut paths: Vec<String> = args.paths.iter().map(|p| absolutize(p)).collect();
    let demo_dir = data_dir.join("demo-logs");
    if args.demo {
        paths.push(format!("{}/*.log", demo_dir.display()));
    }
    let rt = tokio::runtime::Runtime::new().context("start runtime")?;
    rt.block_on(async move {
        let shutdown = shutdown_signal()?;
        let node = Node::start(cfg).await?;
        let url = format!("http://{}", node.addr());
        let demo_dir = args.demo.then_some(demo_dir.as_path());
        let (demo, shipping) = match start_feeds(&url, &data_dir, demo_dir, &paths) {
            Ok(feeds) => feeds,
            Err(e) => {
                let _ = node.stop().await;
                return Err(e);
            }
        };
        greet(&url, node.addr(), demo.as_ref(), &paths);
        let ticker = tokio::spawn(AlertTicker::new(node.alerts()).run());
        let (stop_shipper, mut task) = match shipping {
            Some((stop, task)) => (Some(stop), Some(task)),
            None => (None, None),
        };
        let ended_early = {
            let shipper_ended = async {
                match task.as_mut() {
                    Some(t) => t.await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = shutdown => {
                    info!("shutting down");
                    None
                }
                _ = node.failed() => None,
                ended = shipper_ended => Some(ended),
            }
        };
        let mut failed = None;
        if let Some(ended) = ended_early {
            task = None;
            failed = Some(match ended {
                Ok(Ok(())) => anyhow::anyhow!("shipper stopped"),
                Ok(Err(e)) => anyhow::anyhow!("shipper: {e}"),
                Err(e) => anyhow::anyhow!("shipper task failed: {e}"),
            });
        }
        if let Some(demo) = demo {
            demo.stop();
        }
        if let (Some(stop), Some(task)) = (stop_shipper, task) {
            stop.store(true, Ordering::Relaxed);
            match task.await {
                Ok(Err(e)) => warn!(error = %e, "shipper stopped with an error"),
                Err(e) => warn!(error = %e, "shipper task failed"),
                Ok(Ok(())) => {}
            }
        }
        ticker.abort();
        let stopped = node.stop().await;
        match failed {
            Some(e) => Err(e),
            None => stopped,
        }
    })?;
    info!("stopped");
    Ok(ExitCode::SUCCESS)
}

type Feeds = (Option<Demo>, Option<(Arc<AtomicBool>, ShipTask)>);

/// Starts the demo writer (when asked) and the shipper (when there is something to tail).
fn start_feeds(
    url: &str,
    data_dir: &Path,
    demo_dir: Option<&Path>,
    paths: &[String],
) -> anyhow::Result<Feeds> {
    let demo = demo_dir.map(Demo::start).transpose()?;
    if paths.is_empty() {
        return Ok((demo, None));
    }
    match start_shipper(url, data_dir, paths.to_vec()) {
        Ok(shipping) => Ok((demo, Some(shipping))),
        Err(e) => {
            if let Some(demo) = demo {
                demo.stop();
            }
            Err(e)
        }
    }
}

type ShipTask = tokio::task::JoinHandle<Result<(), firewatch_ingest::ship::ShipError>>;

/// Starts a shipper for `paths` into the node at `url`; it stops once the flag is set.
fn start_shipper(
    url: &str,
    data_dir: &Path,
    paths: Vec<String>,
) -> anyhow::Result<(Arc<AtomicBool>, ShipTask)> {
    let mut ship = ShipConfig::simple(vec![url.to_string()], data_dir.join("ship"), paths);
    ship.limits.batch_max_wait_ms = BATCH_WAIT_MS;
    ship.limits.multiline_flush_ms = MULTILINE_FLUSH_MS;
    let shipper = Shipper::new(ship).context("start shipper")?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let task = tokio::spawn(shipper.run(async move {
        while !flag.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }));
    Ok((stop, task))
}

fn absolute(dir: &Path) -> anyhow::Result<PathBuf> {
    if dir.is_absolute() {
        return Ok(dir.to_path_buf());
    }
    Ok(std::env::current_dir()
        .context("current directory")?
        .join(dir))
}

/// What a first-time user needs: where things are and what to type next.
fn greet(url: &str, addr: SocketAddr, demo: Option<&Demo>, paths: &[String]) {
    let server = match addr == DEFAULT_LISTEN {
        true => String::new(),
        false => format!(" --server {url}"),
    };
    println!();
    println!("firewatch is up: node at {url}");
    if let Some(demo) = demo {
        println!(
            "  demo logs    {} ({})",
            demo.dir().display(),
            demo::SCHEDULE
        );
    }
    match paths.is_empty() {
        true => println!("  tailing      nothing (give PATH/GLOB or --demo; `firewatch ship --to {url} PATH` works too)"),
        false => println!("  tailing      {}", paths.join(" ")),
    }
    println!("  search       firewatch search 'level:>=error' --since 15m{server}");
    println!("               {url}/api/v1/search?q=level:%3E%3Derror&start=15m");
    println!("  alerts       firewatch alerts{server}");
    println!("               {url}/api/v1/alerts");
    println!("  stop         Ctrl-C");
    println!();
    println!("alerts appear here as they fire and resolve:");
}
