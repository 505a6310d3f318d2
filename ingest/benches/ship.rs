//! Throughput and footprint of tail → parse → ship into a discarding endpoint.
//!
//! Not a timed test: it prints figures (lines/s, MiB/s, CPU-seconds per GiB, peak RSS, RSS and
//! idle CPU while tailing 1,000 files) for BENCHMARKS.md. The endpoint answers from the batch id
//! header (`<first id>+<records>`) without decompressing, so nearly all CPU is the shipper's.
//! Run: `cargo bench -p firewatch-ingest --bench ship` (env `SHIP_BENCH_MIB`, default 256;
//! `SHIP_BENCH_FSYNC=0` to skip the spool's fsyncs).

use std::fs;
use std::io::{BufWriter, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use firewatch_ingest::protocol::{IngestResponse, BATCH_ID_HEADER, INGEST_PATH};
use firewatch_ingest::ship::{ShipConfig, Shipper};

/// Utime + stime of this process, in seconds.
fn cpu_seconds() -> f64 {
    let stat = fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn status_kib(key: &str) -> u64 {
    fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

const SERVICES: [&str; 4] = ["checkout", "payments", "search", "auth"];

/// A realistic mix: JSON, logfmt and plain lines of 100-250 bytes.
fn write_corpus(path: &std::path::Path, bytes: u64, seed: u64) -> u64 {
    let mut w = BufWriter::with_capacity(1 << 20, fs::File::create(path).unwrap());
    let (mut written, mut lines, mut i) = (0u64, 0u64, seed);
    while written < bytes {
        i = i
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let svc = SERVICES[(i >> 60) as usize % 4];
        let line = match (i >> 33) % 3 {
            0 => format!(
                r#"{{"ts":"2026-11-20T10:{:02}:{:02}.{:03}Z","level":"info","service":"{svc}","msg":"request served","path":"/api/v1/items/{}","status":200,"duration_ms":{}}}"#,
                (i >> 8) % 60, (i >> 16) % 60, i % 1000, i % 100_000, (i >> 20) % 900
            ),
            1 => format!(
                "ts=2026-11-20T10:{:02}:{:02}Z level=warn service={svc} msg=\"slow upstream\" upstream=db-{} latency_ms={} attempt={}",
                (i >> 8) % 60, (i >> 16) % 60, i % 7, (i >> 24) % 5000, i % 3
            ),
            _ => format!(
                "2026-11-20 10:{:02}:{:02},{:03} ERROR [{svc}-worker-{}] com.example.{svc}.Handler - failed to process order {} : timeout after {}ms",
                (i >> 8) % 60, (i >> 16) % 60, i % 1000, i % 16, i % 1_000_000, (i >> 30) % 10_000
            ),
        };
        w.write_all(line.as_bytes()).unwrap();
        w.write_all(b"\n").unwrap();
        written += line.len() as u64 + 1;
        lines += 1;
    }
    w.flush().unwrap();
    lines
}

struct Endpoint {
    url: String,
    records: Arc<AtomicU64>,
}

async fn discarding_endpoint() -> Endpoint {
    let records = Arc::new(AtomicU64::new(0));
    let r = records.clone();
    let app = Router::new().route(
        INGEST_PATH,
        post(move |headers: HeaderMap, _body: axum::body::Bytes| {
            let r = r.clone();
            async move {
                let n = headers
                    .get(BATCH_ID_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.rsplit('+').next())
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0);
                r.fetch_add(n, Ordering::Relaxed);
                Json(IngestResponse {
                    accepted: n,
                    ..IngestResponse::default()
                })
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Endpoint { url, records }
}

fn config(url: &str, dir: &std::path::Path, glob: &str) -> ShipConfig {
    let mut cfg = ShipConfig::simple(
        vec![url.to_string()],
        dir.join("data"),
        vec![format!("{}/{glob}", dir.join("logs").display())],
    );
    cfg.limits.poll_interval_ms = 1000;
    cfg.limits.spool_fsync = std::env::var("SHIP_BENCH_FSYNC").map_or(true, |v| v != "0");
    cfg
}

async fn wait_for(records: &AtomicU64, want: u64, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while records.load(Ordering::Relaxed) < want {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    true
}

async fn throughput(mib: u64) {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("logs")).unwrap();
    let files = 4;
    let mut lines = 0;
    for f in 0..files {
        lines += write_corpus(
            &dir.path().join(format!("logs/app-{f}.log")),
            (mib << 20) / files,
            f,
        );
    }
    let bytes: u64 = (0..files)
        .map(|f| {
            fs::metadata(dir.path().join(format!("logs/app-{f}.log")))
                .unwrap()
                .len()
        })
        .sum();
    let ep = discarding_endpoint().await;
    let shipper = Shipper::new(config(&ep.url, dir.path(), "*.log")).unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let (cpu0, t0) = (cpu_seconds(), Instant::now());
    let run = tokio::spawn(shipper.run(async {
        let _ = rx.await;
    }));
    let done = wait_for(&ep.records, lines, Duration::from_secs(600)).await;
    let (wall, cpu) = (t0.elapsed().as_secs_f64(), cpu_seconds() - cpu0);
    let _ = tx.send(());
    let _ = run.await;
    let mib_f = bytes as f64 / (1 << 20) as f64;
    println!(
        "tail→parse→ship, {mib_f:.0} MiB in {files} files, {lines} lines, all shipped: {done}"
    );
    println!(
        "  wall {wall:.2} s   {:.0} lines/s   {:.1} MiB/s",
        lines as f64 / wall,
        mib_f / wall
    );
    println!(
        "  cpu {cpu:.2} s   {:.1} CPU-s per GiB",
        cpu / (mib_f / 1024.0)
    );
    println!(
        "  peak RSS {} KiB (whole bench process)",
        status_kib("VmHWM:")
    );
}

async fn thousand_files() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("logs/a/b")).unwrap();
    let n = 1000;
    let per = 20u64;
    for f in 0..n {
        let sub = if f % 2 == 0 { "logs" } else { "logs/a/b" };
        let mut text = String::new();
        for l in 0..per {
            text.push_str(&format!(
                "file {f:04} line {l:03} user=u{} action=login ok=true latency_ms=12\n",
                f * l
            ));
        }
        fs::write(dir.path().join(format!("{sub}/svc-{f:04}.log")), text).unwrap();
    }
    let ep = discarding_endpoint().await;
    let shipper = Shipper::new(config(&ep.url, dir.path(), "**/*.log")).unwrap();
    let metrics = shipper.metrics();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let t0 = Instant::now();
    let run = tokio::spawn(shipper.run(async {
        let _ = rx.await;
    }));
    let done = wait_for(&ep.records, n * per, Duration::from_secs(120)).await;
    let wall = t0.elapsed().as_secs_f64();
    let rss_read = status_kib("VmRSS:");
    // Then every file grows while tailed: one line each, 10 rounds.
    let cpu_w = cpu_seconds();
    for round in 0..10u64 {
        for f in 0..n {
            let sub = if f % 2 == 0 { "logs" } else { "logs/a/b" };
            let path = dir.path().join(format!("{sub}/svc-{f:04}.log"));
            let mut file = fs::OpenOptions::new().append(true).open(path).unwrap();
            writeln!(file, "file {f:04} round {round} appended while tailed").unwrap();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let grown = wait_for(&ep.records, n * (per + 10), Duration::from_secs(120)).await;
    let write_cpu = cpu_seconds() - cpu_w;
    let rss_writes = status_kib("VmRSS:");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cpu0 = cpu_seconds();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let idle_cpu = cpu_seconds() - cpu0;
    let json = metrics.to_json();
    println!(
        "1,000 files (`**` glob), all shipped: {done} in {wall:.2} s, files tailed: {}, refused: {}",
        json["files_tailed"], json["files_refused"]
    );
    println!(
        "  RSS {rss_read} KiB after reading them; {rss_writes} KiB after 10 rounds of one line per file \
         (all shipped: {grown}, {write_cpu:.2} CPU-s); peak {} KiB",
        status_kib("VmHWM:")
    );
    println!(
        "  idle CPU {:.2}% of one core over 10 s without writes",
        idle_cpu / 10.0 * 100.0
    );
    let _ = tx.send(());
    let _ = run.await;
}

fn main() {
    let mib = std::env::var("SHIP_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(thousand_files());
    rt.block_on(throughput(mib));
}
