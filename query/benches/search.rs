//! Query latency (p50/p99) and export throughput over a generated corpus, beside ripgrep
//! answering the same questions over the same records written as raw log lines.
//!
//! `cargo bench -p firewatch-query --bench search`; `FIREWATCH_BENCH_RECORDS` sets the corpus
//! size (default 200 000). Prints a Markdown table; measures, never asserts.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use firewatch_index::{Store, StoreConfig};
use firewatch_ingest::record::rfc3339_nanos;
use firewatch_ingest::{Level, LogRecord};
use firewatch_query::lang::parse;
use firewatch_query::search::{Engine, Order, Scope};

const T0: i64 = 1_763_596_800_000_000_000; // 2025-11-20T00:00:00Z
const DAY: i64 = 86_400_000_000_000;
const HOUR: i64 = 3_600_000_000_000;
const TIMEOUT: Duration = Duration::from_secs(60);

fn corpus(n: u64) -> Vec<LogRecord> {
    let mut x: u64 = 42;
    let mut next = move || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        x >> 33
    };
    let services = ["checkout", "billing", "search", "auth", "gateway", "worker"];
    let words = [
        "request",
        "served",
        "payment",
        "failed",
        "timeout",
        "upstream",
        "connection",
        "reset",
        "user",
        "login",
        "cache",
        "miss",
        "retry",
        "queued",
        "job",
        "done",
    ];
    let levels = [
        Level::Info,
        Level::Info,
        Level::Info,
        Level::Debug,
        Level::Warn,
        Level::Error,
    ];
    (0..n)
        .map(|i| {
            let mut message: Vec<&str> = (0..6).map(|_| words[(next() % 16) as usize]).collect();
            if i % 10_000 == 7 {
                message.push("xylophone");
            }
            let status = [200, 200, 200, 201, 404, 500, 503][(next() % 7) as usize];
            let fields =
                serde_json::json!({"http": {"status": status}, "duration_ms": next() % 3000});
            LogRecord {
                id: format!("bench:{i}"),
                timestamp: T0 + (i as i64) * (DAY / n as i64),
                observed: T0,
                service: services[(next() % 6) as usize].to_string(),
                host: format!("web-{}", next() % 8),
                source: "/var/log/app.log".into(),
                level: levels[(next() % 6) as usize],
                level_raw: None,
                message: message.join(" "),
                fields: fields.as_object().cloned().unwrap_or_default(),
            }
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn measure(runs: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    for _ in 0..3 {
        f();
    }
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    (percentile(&times, 0.5), percentile(&times, 0.99))
}

fn rg(args: &[&str]) -> Option<(Duration, Duration)> {
    let ok = Command::new("rg")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok();
    ok.then(|| {
        measure(5, || {
            let _ = Command::new("rg").args(args).stdout(Stdio::null()).status();
        })
    })
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let n: u64 = std::env::var("FIREWATCH_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let records = corpus(n);
    let raw = dir.path().join("raw.log");
    {
        let mut w = BufWriter::new(File::create(&raw).expect("raw file"));
        for r in &records {
            let _ = writeln!(
                w,
                "{} {} {} {} status={} duration_ms={}",
                rfc3339_nanos::format(r.timestamp),
                r.level,
                r.service,
                r.message,
                r.fields["http"]["status"],
                r.fields["duration_ms"]
            );
        }
    }
    let raw = raw.to_string_lossy().to_string();
    let store = Store::open(StoreConfig {
        data_dir: dir.path().join("data"),
        commit_interval_ms: 200,
        ..Default::default()
    })
    .expect("open store");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let started = Instant::now();
    for batch in records.chunks(5_000) {
        runtime
            .block_on(store.append(batch.to_vec()))
            .expect("append");
    }
    let reader = store.reader();
    while reader.snapshot().searcher().num_docs() < n {
        std::thread::sleep(Duration::from_millis(20));
    }
    let ingest = started.elapsed();
    drop(records);
    let engine = Engine::new(reader);
    let scope = |q: &str, start: Option<i64>| Scope {
        query: Arc::new(parse(q).expect("query")),
        start,
        end: None,
    };
    let last_hour = T0 + DAY - HOUR;

    println!(
        "corpus: {n} records, indexed in {:.1} s\n",
        ingest.as_secs_f64()
    );
    println!("| question | firewatch p50 | p99 | ripgrep p50 (raw lines) |");
    println!("|---|---|---|---|");
    let rows: Vec<(&str, Scope, Vec<&str>)> = vec![
        (
            "newest 100 with a rare word (`xylophone`)",
            scope("xylophone", None),
            vec!["-c", "xylophone"],
        ),
        (
            "newest 100 of a common word (`payment`)",
            scope("payment", None),
            vec!["-c", "payment"],
        ),
        (
            "`service:checkout level:error`, last hour",
            scope("service:checkout level:error", Some(last_hour)),
            vec!["-c", "^2025-11-20T23:[^ ]* error checkout "],
        ),
        (
            "`http.status:[500 TO 599] duration_ms:>2500`",
            scope("http.status:[500 TO 599] duration_ms:>2500", None),
            vec![
                "-c",
                "status=5[0-9][0-9] duration_ms=(2[5-9][0-9][1-9]|2[6-9][0-9][0-9])",
            ],
        ),
        (
            "`timeout /timeout upstream/` (regex)",
            scope("timeout /timeout upstream/", None),
            vec!["-c", "timeout upstream"],
        ),
    ];
    for (name, s, rg_args) in rows {
        let (p50, p99) = measure(30, || {
            let _ = engine.search(&s, Order::Desc, 100, None, TIMEOUT);
        });
        let mut args = rg_args.clone();
        args.push(&raw);
        let rg = rg(&args).map_or("—".to_string(), |(p50, _)| ms(p50));
        println!("| {name} | {} | {} | {rg} |", ms(p50), ms(p99));
    }
    let all = scope("*", None);
    let (p50, p99) = measure(10, || {
        let _ = engine.histogram(&all, HOUR, Some("level"), TIMEOUT);
    });
    let rg_all = rg(&["-c", " error ", &raw]).map_or("—".to_string(), |(p50, _)| ms(p50));
    println!("| histogram of everything, 1 h buckets by level | {} | {} | {rg_all} (count errors only) |", ms(p50), ms(p99));
    let errors = scope("level:error", None);
    let t = Instant::now();
    let exported = engine.export(&errors, TIMEOUT, |_| true).unwrap_or(0);
    let secs = t.elapsed().as_secs_f64();
    let rg_export = rg(&[" error ", &raw]).map_or("—".to_string(), |(p50, _)| ms(p50));
    println!(
        "| export `level:error` ({exported} records) | {:.0} records/s ({:.2} s) | | {rg_export} |",
        exported as f64 / secs,
        secs
    );
    store.close();
}
