//! Ingest benchmark: throughput (MB of raw log per CPU-second, records/s), ack latency with
//! fsync, storage (archive + index vs the raw log, next to the zstd CLI at -3 and -19 on the same
//! raw bytes), freshness.
//!
//! `cargo bench -p firewatch-index --bench ingest` uses a `firewatch gen` corpus (seed 1) parsed
//! by the shipper's parser; `FIREWATCH_BENCH_LINES` sets its size (default 300,000 lines).
//! `FIREWATCH_BENCH_LOGS=a.log:b.log` adds a run over real log files. Measures only.

use std::io::Write;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use firewatch_index::{Store, StoreConfig};
use firewatch_ingest::gen::{GenConfig, Generator, SERVICES};
use firewatch_ingest::parse::{parse_reader, ParseOptions, SourceInfo};
use firewatch_ingest::LogRecord;
use tantivy::collector::Count;
use tantivy::query::TermQuery;
use tantivy::schema::IndexRecordOption;
use tantivy::Term;

const BATCH: usize = 1000;
const CONCURRENCY: usize = 4;

/// Raw log files: (path as the source, host, bytes).
struct RawLog {
    source: String,
    host: String,
    bytes: Vec<u8>,
}

/// A `firewatch gen` corpus of about `lines` lines, one raw log per service, built in memory.
fn gen_corpus(lines: u64) -> Vec<RawLog> {
    let cfg = GenConfig {
        seed: 1,
        start: 1_795_420_773_000_000_000,
        rate: 100.0,
        incidents: Vec::new(),
    };
    let mut gen = Generator::new(cfg).expect("generator");
    let mut logs: Vec<RawLog> = SERVICES
        .iter()
        .map(|s| RawLog {
            source: format!("/var/log/{}.log", s.name),
            host: s.host.to_string(),
            bytes: Vec::new(),
        })
        .collect();
    let mut written = 0;
    while written < lines {
        let mut event = Vec::new();
        let ev = gen.next_event(&mut event);
        written += ev.lines as u64;
        logs[ev.service].bytes.extend_from_slice(&event);
    }
    logs
}

fn read_logs(paths: &str) -> Vec<RawLog> {
    paths
        .split(':')
        .filter(|p| !p.is_empty())
        .filter_map(|path| match std::fs::read(path) {
            Ok(bytes) => Some(RawLog {
                source: path.to_string(),
                host: "host-1".into(),
                bytes,
            }),
            Err(e) => {
                eprintln!("skipping {path}: {e}");
                None
            }
        })
        .collect()
}

/// The records a shipper would send for these logs (the real parser, multiline included),
/// interleaved by time as several shippers' batches arrive at a node.
fn parse(logs: &[RawLog]) -> Vec<LogRecord> {
    let mut records: Vec<LogRecord> = Vec::new();
    for (i, log) in logs.iter().enumerate() {
        let info = SourceInfo {
            source: log.source.clone(),
            host: log.host.clone(),
            service: None,
            fingerprint: 0x9f2c_4e1a_7b3d_5e60 + i as u64,
        };
        let observed = 1_795_420_773_000_000_000;
        records.extend(parse_reader(
            &log.bytes[..],
            info,
            ParseOptions::default(),
            observed,
        ));
    }
    records.sort_by_key(|r| r.timestamp);
    records
}

/// Compressed size of `raw` by the zstd CLI at `level`, if it is installed.
fn zstd_cli(raw: &std::path::Path, level: &str) -> Option<u64> {
    std::process::Command::new("zstd")
        .args([level, "-q", "-c", "-T1"])
        .arg(raw)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| o.stdout.len() as u64)
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

/// Merges the index into one tantivy segment (what background merging converges to) and
/// returns its size.
fn merge_index(dir: &std::path::Path) -> u64 {
    let merge = || -> tantivy::Result<()> {
        let index = tantivy::Index::open_in_dir(dir)?;
        let mut writer: tantivy::IndexWriter = index.writer_with_num_threads(1, 50 << 20)?;
        let ids = index.searchable_segment_ids()?;
        if ids.len() > 1 {
            writer.merge(&ids).wait()?;
        }
        writer.garbage_collect_files().wait()?;
        writer.wait_merging_threads()
    };
    if let Err(e) = merge() {
        eprintln!("merge failed: {e}");
    }
    dir_bytes(dir)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p) as usize]
}

fn pct(part: u64, whole: u64) -> String {
    format!("{:.2}%", part as f64 * 100.0 / whole.max(1) as f64)
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

fn run(name: &str, logs: &[RawLog]) {
    let dir = tempfile::tempdir().expect("temp dir");
    let raw_path = dir.path().join("raw.log");
    let mut raw_file = std::fs::File::create(&raw_path).expect("raw file");
    for log in logs {
        raw_file.write_all(&log.bytes).expect("write raw");
    }
    drop(raw_file);
    let raw_bytes: u64 = logs.iter().map(|l| l.bytes.len() as u64).sum();
    let records = parse(logs);
    let ndjson_bytes: u64 = records
        .iter()
        .map(|r| serde_json::to_vec(r).map_or(0, |j| j.len() as u64 + 1))
        .sum();
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
    let mut batches: Vec<Vec<LogRecord>> = records.chunks(BATCH).map(|c| c.to_vec()).collect();
    batches.reverse();
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
    // Freshness: from the ack of one record to it being found by a word of its message.
    let reader = store.reader();
    let mut fresh = Vec::new();
    for i in 0..5 {
        let mut rec = records[0].clone();
        rec.id = format!("fresh:{i}");
        rec.message = format!("freshness{i}");
        let t = Instant::now();
        rt.block_on(store.append(vec![rec.clone()]))
            .expect("append");
        let term = Term::from_field_text(reader.fields().message, &rec.message);
        let query = TermQuery::new(term, IndexRecordOption::Basic);
        while reader
            .snapshot()
            .searcher()
            .search(&query, &Count)
            .expect("search")
            == 0
        {
            std::thread::sleep(Duration::from_millis(1));
        }
        fresh.push(t.elapsed());
    }
    let cpu_close0 = cpu_seconds();
    store.close();
    let cpu_close = cpu_seconds() - cpu_close0;
    let data = dir.path().join("data");
    let archive = dir_bytes(&data.join("segments"));
    let index = dir_bytes(&data.join("index"));
    let zstd3 = zstd_cli(&raw_path, "-3");
    let zstd19 = zstd_cli(&raw_path, "-19");
    let segments_before = std::fs::read_dir(data.join("index"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "idx"))
        .count();
    let merged = merge_index(&data.join("index"));
    let mut by_kind: std::collections::BTreeMap<String, u64> = Default::default();
    for e in std::fs::read_dir(data.join("index"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let ext = e
            .path()
            .extension()
            .and_then(|x| x.to_str())
            .unwrap_or("other")
            .to_string();
        *by_kind.entry(ext).or_default() += e.metadata().map_or(0, |m| m.len());
    }
    latencies.sort();
    fresh.sort();
    let raw_mb = mb(raw_bytes);
    println!(
        "== {name}: {n} records from {raw_mb:.1} MB of raw log ({:.1} MB as NDJSON records)",
        mb(ndjson_bytes)
    );
    println!(
        "ingest: acked in {:.2}s, indexed in {:.2}s, {:.2} CPU-s (+{:.2} CPU-s to seal and close)",
        acked.as_secs_f64(),
        indexed.as_secs_f64(),
        cpu,
        cpu_close
    );
    println!(
        "throughput: {:.1} MB of raw log per CPU-second ({:.1} with sealing), {:.0} records/s wall, {:.1} MB/s wall",
        raw_mb / cpu,
        raw_mb / (cpu + cpu_close),
        n as f64 / indexed.as_secs_f64(),
        raw_mb / indexed.as_secs_f64()
    );
    println!(
        "ack latency ({BATCH}-record batches, {CONCURRENCY} concurrent, fsync): p50 {:.1} ms, p99 {:.1} ms",
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3
    );
    let cli = |z: Option<u64>| {
        z.map_or("unavailable".to_string(), |z| {
            format!("{:.2} MB = {}", mb(z), pct(z, raw_bytes))
        })
    };
    println!(
        "storage vs raw: archive {:.2} MB ({}) + index {:.2} MB ({}) = {}; zstd -3 CLI: {}; zstd -19 CLI: {}",
        mb(archive),
        pct(archive, raw_bytes),
        mb(index),
        pct(index, raw_bytes),
        pct(archive + index, raw_bytes),
        cli(zstd3),
        cli(zstd19)
    );
    let kinds: Vec<String> = by_kind
        .iter()
        .map(|(k, v)| format!("{k} {:.2}", mb(*v)))
        .collect();
    println!(
        "index files by kind after the merge (MB): {}",
        kinds.join(", ")
    );
    println!(
        "index: {segments_before} tantivy segments at shutdown, {:.2} MB once merged into one ({}; archive + merged index {})",
        mb(merged),
        pct(merged, raw_bytes),
        pct(archive + merged, raw_bytes)
    );
    println!(
        "freshness (ack to searchable): median {:.0} ms, max {:.0} ms",
        percentile(&fresh, 0.5).as_secs_f64() * 1e3,
        fresh[fresh.len() - 1].as_secs_f64() * 1e3
    );
}

fn main() {
    let lines = std::env::var("FIREWATCH_BENCH_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300_000);
    run(&format!("firewatch gen, {lines} lines"), &gen_corpus(lines));
    if let Ok(paths) = std::env::var("FIREWATCH_BENCH_LOGS") {
        let logs = read_logs(&paths);
        if !logs.is_empty() {
            run("real logs", &logs);
        }
    }
}
