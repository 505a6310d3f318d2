//! Ingest benchmark: throughput (raw MB per CPU-second, records/s), ack latency with fsync,
//! storage (archive + index vs raw, and the zstd CLI at -3 on the same NDJSON), freshness.
//!
//! `cargo bench -p firewatch-index --bench ingest` uses a generated multi-service corpus;
//! `FIREWATCH_BENCH_LOGS=a.log:b.log` adds a run over real log files (one record per line).
//! `FIREWATCH_BENCH_RECORDS` sets the generated corpus size (default 300,000). Measures only.

use std::io::Write;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use firewatch_index::{id_count, Store, StoreConfig};
use firewatch_ingest::{Level, LogRecord};

const BATCH: usize = 1000;
const CONCURRENCY: usize = 4;

fn generated(n: usize) -> Vec<LogRecord> {
    let services = ["checkout", "payments", "search", "auth", "inventory"];
    let paths = [
        "/api/cart",
        "/api/pay",
        "/search",
        "/login",
        "/api/items/42",
    ];
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let t0 = 1_763_632_800_000_000_000i64;
    (0..n)
        .map(|i| {
            let r = next();
            let s = (r % 5) as usize;
            let level = match r % 100 {
                0..=1 => Level::Error,
                2..=6 => Level::Warn,
                7..=30 => Level::Debug,
                _ => Level::Info,
            };
            let ms = 1 + (r >> 8) % 900;
            let status = [200, 200, 200, 201, 304, 404, 500, 502][((r >> 20) % 8) as usize];
            let user = (r >> 24) % 5000;
            let (message, fields) = match (r >> 40) % 4 {
                0 => (
                    format!("GET {} {status} {ms}ms", paths[s]),
                    serde_json::json!({"http": {"method": "GET", "path": paths[s], "status": status}, "duration_ms": ms}),
                ),
                1 => (
                    format!("user {user} session refreshed, token expires in {}s", 3600 - ms),
                    serde_json::json!({"user_id": user}),
                ),
                2 => (
                    format!("cache miss for key item:{} took {ms}ms, fetching from db replica-{}", r % 100_000, r % 3),
                    serde_json::json!({}),
                ),
                _ => (
                    format!("processed batch of {} events in {ms}ms (queue depth {})", r % 500, (r >> 12) % 64),
                    serde_json::json!({"queue": "events"}),
                ),
            };
            LogRecord {
                id: LogRecord::file_id(0x9f2c_4e1a_7b3d_5e60 + s as u64, i as u64 * 120),
                timestamp: t0 + i as i64 * 3_000_000,
                observed: t0 + i as i64 * 3_000_000 + 150_000,
                service: services[s].into(),
                host: format!("web-{}", r % 8),
                source: format!("/var/log/{}.log", services[s]),
                level,
                level_raw: None,
                message,
                fields: fields.as_object().cloned().unwrap_or_default(),
            }
        })
        .collect()
}

fn from_files(paths: &str) -> Vec<LogRecord> {
    let mut out = Vec::new();
    for path in paths.split(':').filter(|p| !p.is_empty()) {
        let Ok(bytes) = std::fs::read(path) else {
            eprintln!("skipping unreadable {path}");
            continue;
        };
        let stem = std::path::Path::new(path)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("log");
        let mut offset = 0u64;
        for line in String::from_utf8_lossy(&bytes).lines() {
            out.push(LogRecord {
                id: LogRecord::file_id(0xabcd_0000 + out.len() as u64 % 7, offset),
                timestamp: 1_763_632_800_000_000_000 + offset as i64,
                observed: 1_763_632_800_000_000_000 + offset as i64,
                service: stem.into(),
                host: "host-1".into(),
                source: path.rsplit('/').next().unwrap_or(path).into(),
                level: Level::Info,
                level_raw: None,
                message: line.into(),
                fields: Default::default(),
            });
            offset += line.len() as u64 + 1;
        }
    }
    out
}

/// User + system CPU seconds of this process.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of /proc/pid/stat (USER_HZ = 100 on Linux).
    (ticks(11) + ticks(12)) / 100.0
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_bytes(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p) as usize]
}

fn run(name: &str, records: Vec<LogRecord>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let raw: Vec<u8> = records
        .iter()
        .flat_map(|r| {
            let mut j = serde_json::to_vec(r).expect("json");
            j.push(b'\n');
            j
        })
        .collect();
    let raw_path = dir.path().join("corpus.ndjson");
    std::fs::File::create(&raw_path)
        .and_then(|mut f| f.write_all(&raw))
        .expect("write corpus");
    let n = records.len();
    let store = Store::open(StoreConfig {
        data_dir: dir.path().join("data"),
        max_queued_records: u64::MAX,
        ..Default::default()
    })
    .expect("open");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let batches: Vec<Vec<LogRecord>> = records.chunks(BATCH).map(|c| c.to_vec()).collect();
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let mut latencies = rt.block_on(async {
        let queue = std::sync::Arc::new(std::sync::Mutex::new(batches));
        let tasks: Vec<_> = (0..CONCURRENCY)
            .map(|_| {
                let (store, queue) = (store.clone(), queue.clone());
                tokio::spawn(async move {
                    let mut lat = Vec::new();
                    loop {
                        let Some(batch) = queue.lock().expect("queue").pop() else {
                            break;
                        };
                        let t = Instant::now();
                        store.append(batch).await.expect("append");
                        lat.push(t.elapsed());
                    }
                    lat
                })
            })
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.expect("task"));
        }
        all
    });
    let acked = t0.elapsed();
    while store.metrics().queue_records.load(Relaxed) > 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let indexed = t0.elapsed();
    let cpu = cpu_seconds() - cpu0;
    // Freshness: from the ack of one record to it being found by id.
    let reader = store.reader();
    let mut fresh = Vec::new();
    for i in 0..5 {
        let mut rec = records[0].clone();
        rec.id = format!("fresh:{i}");
        let t = Instant::now();
        rt.block_on(store.append(vec![rec.clone()]))
            .expect("append");
        while {
            let s = reader.snapshot();
            id_count(s.searcher(), s.fields(), &rec.id).expect("lookup") == 0
        } {
            std::thread::sleep(Duration::from_millis(1));
        }
        fresh.push(t.elapsed());
    }
    store.close();
    let data = dir.path().join("data");
    let archive = dir_bytes(&data.join("segments"));
    let index = dir_bytes(&data.join("index"));
    let zstd = std::process::Command::new("zstd")
        .args(["-3", "-q", "-c"])
        .arg(&raw_path)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| o.stdout.len());
    latencies.sort();
    fresh.sort();
    let mb = raw.len() as f64 / 1e6;
    println!("== {name}: {n} records, {mb:.1} MB raw NDJSON");
    println!(
        "ingest: acked in {:.2}s, indexed in {:.2}s, {:.2} CPU-s",
        acked.as_secs_f64(),
        indexed.as_secs_f64(),
        cpu
    );
    println!(
        "throughput: {:.1} MB per CPU-second, {:.0} records/s wall, {:.1} MB/s wall",
        mb / cpu,
        n as f64 / indexed.as_secs_f64(),
        mb / indexed.as_secs_f64()
    );
    println!(
        "ack latency ({BATCH}-record batches, {CONCURRENCY} concurrent, fsync): p50 {:.1} ms, p99 {:.1} ms",
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3
    );
    println!(
        "storage: archive {:.2} MB + index {:.2} MB = {:.1}% of raw; zstd -3 CLI: {}",
        archive as f64 / 1e6,
        index as f64 / 1e6,
        (archive + index) as f64 * 100.0 / raw.len() as f64,
        zstd.map_or("unavailable".to_string(), |z| format!(
            "{:.2} MB = {:.1}% of raw",
            z as f64 / 1e6,
            z as f64 * 100.0 / raw.len() as f64
        ))
    );
    println!(
        "freshness (ack to searchable): median {:.0} ms, max {:.0} ms",
        percentile(&fresh, 0.5).as_secs_f64() * 1e3,
        fresh[fresh.len() - 1].as_secs_f64() * 1e3
    );
}

fn main() {
    let n = std::env::var("FIREWATCH_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300_000);
    run("generated", generated(n));
    if let Ok(paths) = std::env::var("FIREWATCH_BENCH_LOGS") {
        let records = from_files(&paths);
        if !records.is_empty() {
            run("real logs", records);
        }
    }
}
