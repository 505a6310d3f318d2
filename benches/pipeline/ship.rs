//! `firewatch ship` over the whole corpus, into the discarding sink or a real node.
//!
//! The shipper tails forever, so the end of a run is read from its `/status`: every corpus line
//! read, nothing spooled, and no acknowledgement for a while (longer than its batch and
//! multiline timers). The run's time ends at the last acknowledgement, not at that quiet check.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::blocking::Client;

use crate::corpus::Corpus;
use crate::proc::{self, Daemon};

/// Longer than the shipper's default batch wait plus multiline flush (1 s each).
const QUIET: Duration = Duration::from_millis(2_500);
const POLL: Duration = Duration::from_millis(20);

pub struct ShipRun {
    pub wall_secs: f64,
    pub cpu_secs: f64,
    pub peak_rss_kib: u64,
    pub records: u64,
    pub started_at: Instant,
}

/// A running shipper and its status endpoint.
pub struct Shipper {
    pub proc: Daemon,
    status_url: String,
    http: Client,
    pub started_at: Instant,
}

impl Shipper {
    /// Starts `firewatch ship --to URL` over `glob` with its state in `data`.
    pub fn start(bin: &Path, to: &str, data: &Path, glob: &str) -> Result<Shipper, String> {
        let port = proc::free_port()?;
        let started_at = Instant::now();
        let child = Command::new(bin)
            .args(["ship", "--to", to, "--data-dir"])
            .arg(data)
            .args(["--status", &format!("127.0.0.1:{port}"), glob])
            .env("FIREWATCH_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("spawn ship: {e}"))?;
        let http = Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| format!("http client: {e}"))?;
        Ok(Shipper {
            proc: Daemon::new(child),
            status_url: format!("http://127.0.0.1:{port}/status"),
            http,
            started_at,
        })
    }

    /// The shipper's counters (`None` until its status endpoint answers).
    pub fn status(&self) -> Option<serde_json::Value> {
        let resp = self.http.get(&self.status_url).send().ok()?;
        resp.json().ok()
    }

    /// Waits until all `lines` were read and acknowledged, then stops the shipper.
    pub fn finish(self, lines: u64, limit: Duration) -> Result<ShipRun, String> {
        let deadline = Instant::now() + limit;
        let (mut acked, mut last_change) = (0u64, Instant::now());
        loop {
            if let Some(s) = self.status() {
                let n = s["records_acked"].as_u64().unwrap_or(0);
                if n != acked {
                    (acked, last_change) = (n, Instant::now());
                }
                let read = s["lines_read"].as_u64().unwrap_or(0);
                let spooled = s["spool_batches"].as_u64().unwrap_or(1);
                if read >= lines && spooled == 0 && acked > 0 && last_change.elapsed() > QUIET {
                    break;
                }
            }
            if Instant::now() > deadline {
                return Err(format!("ship: {acked} records acked after {limit:?}"));
            }
            std::thread::sleep(POLL);
        }
        let run = ShipRun {
            wall_secs: (last_change - self.started_at).as_secs_f64(),
            cpu_secs: self.proc.cpu_secs(),
            peak_rss_kib: self.proc.peak_rss_kib(),
            records: acked,
            started_at: self.started_at,
        };
        self.proc.stop(Duration::from_secs(20));
        Ok(run)
    }
}

/// Ships the whole corpus to `to` with a fresh state directory.
pub fn ship_corpus(bin: &Path, to: &str, corpus: &Corpus, state: &Path) -> Result<ShipRun, String> {
    let glob = format!("{}/*.log", corpus.dir.display());
    let shipper = Shipper::start(bin, to, state, &glob)?;
    // Generous: a loaded machine ships a few MiB/s at worst.
    let limit = Duration::from_secs(120 + corpus.bytes / (1 << 20));
    shipper.finish(corpus.lines, limit)
}
