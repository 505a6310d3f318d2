//! The detectors: offline throughput (`firewatch analyze` over the corpus), and live alert
//! latency — an unhandled rejection appended to a tailed file, shipped to a node that runs the
//! detectors, until the alert reaches a webhook.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;

use crate::corpus::Corpus;
use crate::node::Node;
use crate::proc;
use crate::servers;
use crate::ship::Shipper;
use crate::stats::Figures;

/// `firewatch analyze --format jsonl` over the corpus: lines per CPU-second and alerts found.
pub fn analyze(bin: &Path, corpus: &Corpus, figs: &mut Figures) -> Result<(), String> {
    let out = proc::run(
        Command::new(bin)
            .args(["analyze", "--format", "jsonl"])
            .arg(&corpus.dir)
            .env("FIREWATCH_LOG", "error"),
        true,
    )?;
    if out.code != Some(0) {
        return Err(format!("analyze exited with {:?}", out.code));
    }
    figs.put(
        "analyze.lines_per_cpu_s",
        corpus.lines as f64 / out.cpu_secs,
    );
    figs.put(
        "analyze.lines_per_s",
        corpus.lines as f64 / out.wall.as_secs_f64(),
    );
    figs.put("analyze.cpu_s", out.cpu_secs);
    figs.put("analyze.max_rss_mib", out.max_rss_kib as f64 / 1024.0);
    let alerts = out.stdout.iter().filter(|&&b| b == b'\n').count();
    figs.put("analyze.alerts", alerts as f64);
    Ok(())
}

/// A word of letters only (digits would be masked out of the alert's fingerprint).
fn tag(run: usize, k: usize) -> String {
    let mut n = run * 1000 + k;
    let mut s = String::from("bench");
    loop {
        s.push((b'a' + (n % 26) as u8) as char);
        n /= 26;
        if n == 0 {
            return s;
        }
    }
}

/// A Node 14 unhandled rejection as the process prints it, unique to `tag`.
fn rejection(tag: &str) -> String {
    format!(
        "(node:4242) UnhandledPromiseRejectionWarning: Error: ledger {tag} refused the write\n\
         \x20   at commit_{tag} (/app/src/ledger/{tag}.js:42:11)\n\
         \x20   at processTicksAndRejections (internal/process/task_queues.js:95:5)\n\
         (Use `node --trace-warnings ...` to show where the warning was created)\n\
         (node:4242) UnhandledPromiseRejectionWarning: Unhandled promise rejection. This error \
         originated either by throwing inside of an async function without a catch block, or by \
         rejecting a promise which was not handled with .catch(). (rejection id: 1)\n"
    )
}

/// Latencies in ms from appending a rejection to a shipped file until the webhook receives the
/// alert (ship poll and batching, node WAL, detectors, alert grouping, delivery).
pub fn alert_latency(
    bin: &Path,
    rt: &Runtime,
    work: &Path,
    run: usize,
    samples: usize,
) -> Result<Vec<f64>, String> {
    let hook = servers::webhook(rt)?;
    let (logs, data, state) = (work.join("logs"), work.join("node"), work.join("ship"));
    std::fs::create_dir_all(&logs).map_err(|e| format!("create logs: {e}"))?;
    let path = logs.join("ledger.log");
    let mut file = std::fs::File::create(&path).map_err(|e| format!("create log: {e}"))?;
    let mut append = |text: &str| -> Result<Instant, String> {
        file.write_all(text.as_bytes())
            .and_then(|_| file.flush())
            .map_err(|e| format!("append: {e}"))?;
        Ok(Instant::now())
    };
    // More than the shipper's fingerprint length, so the file is picked up at once.
    for i in 0..20 {
        append(&format!(
            "{{\"level\":30,\"time\":{},\"msg\":\"ledger entry {i} appended\"}}\n",
            chrono::Utc::now().timestamp_millis()
        ))?;
    }
    let node = Node::start(bin, &data, Some(&hook.url))?;
    let shipper = Shipper::start(bin, &node.url, &state, &format!("{}/*.log", logs.display()))?;
    let ready = Instant::now();
    while shipper
        .status()
        .and_then(|s| s["records_acked"].as_u64())
        .unwrap_or(0)
        < 20
    {
        if ready.elapsed() > Duration::from_secs(30) {
            return Err("alert latency: shipper never delivered the first lines".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut out = Vec::new();
    for k in 0..samples {
        let tag = tag(run, k);
        let written = append(&rejection(&tag))?;
        loop {
            if let Some(at) = hook.arrival_of(&tag) {
                out.push((at - written).as_secs_f64() * 1e3);
                break;
            }
            if written.elapsed() > Duration::from_secs(60) {
                return Err(format!("alert latency: no alert for {tag} within 60 s"));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    shipper.proc.stop(Duration::from_secs(20));
    node.stop();
    Ok(out)
}
