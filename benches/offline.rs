//! Offline grep and analyze throughput, next to ripgrep on the same raw corpus in the same run.
//!
//! `cargo bench --bench offline` generates a `firewatch gen` corpus (FIREWATCH_BENCH_LINES lines,
//! default 1 000 000, with rejection, spike and leak incidents) under the system temp dir, stores
//! its records in a node data directory in-process (as shipped), then times the release
//! `firewatch` binary and `rg` (when installed) as separate processes, each run 3 times (median):
//! `grep -c` for one literal, 20 literals and a regex, on the plain files and on the archive;
//! `analyze --format jsonl` on both. Throughput is raw corpus bytes per second of wall time, for
//! the archive too (it holds the same records). Prints a Markdown table; asserts nothing about
//! speed. FIREWATCH_BENCH_DIR picks another work directory (removed at the end).
//! FIREWATCH_BENCH_BASELINE names another `firewatch` binary (an older build) whose archive grep
//! is timed in the same run, for a before/after on the same corpus and load.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use firewatch_index::{Store, StoreConfig};
use firewatch_query::analyze::RecordStream;
use firewatch_query::input::expand;

const RUNS: usize = 3;

fn firewatch() -> Command {
    Command::new(env!("CARGO_BIN_EXE_firewatch"))
}

/// Median wall time of `RUNS` runs of `cmd` (stdout discarded); `None` if it cannot run.
fn time(mut cmd: impl FnMut() -> Command) -> Option<Duration> {
    let mut times = Vec::new();
    for _ in 0..RUNS {
        let start = Instant::now();
        let status = cmd()
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .ok()?;
        // grep exits 1 when nothing matched: still a measured run.
        if status.code().is_none_or(|c| c > 1) {
            return None;
        }
        times.push(start.elapsed());
    }
    times.sort();
    Some(times[RUNS / 2])
}

fn dir_bytes(dir: &Path) -> u64 {
    let (inputs, _) = expand(&[dir]);
    inputs
        .iter()
        .filter_map(|i| std::fs::metadata(&i.path).ok())
        .map(|m| m.len())
        .sum()
}

/// Parses the corpus as `analyze` does and stores its records in time order, as a live fleet
/// ships them.
fn build_archive(raw: &Path, data: &Path) -> u64 {
    let (inputs, _) = expand(&[raw]);
    let store = Store::open(StoreConfig {
        data_dir: data.to_path_buf(),
        ..Default::default()
    })
    .expect("open store");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut records: Vec<_> = inputs
        .iter()
        .flat_map(|i| RecordStream::open(i, 0).expect("open input"))
        .collect();
    records.sort_by_key(|r| r.timestamp);
    let n = records.len() as u64;
    for batch in records.chunks(5_000) {
        loop {
            match rt.block_on(store.append(batch.to_vec())) {
                Ok(_) => break,
                // Overloaded: the indexer is behind; wait as a shipper would.
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
    store.close();
    n
}

fn main() {
    let lines: u64 = std::env::var("FIREWATCH_BENCH_LINES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let work = std::env::var("FIREWATCH_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| std::env::temp_dir().join("firewatch-offline-bench"));
    let raw = work.join("raw");
    let data = work.join("data");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&raw).expect("work dir");
    let status = firewatch()
        .args([
            "gen",
            "--lines",
            &lines.to_string(),
            "--start",
            "2026-11-20T00:00:00Z",
        ])
        .args([
            "--incident",
            "rejection",
            "--incident",
            "spike@40%",
            "--incident",
            "leak@10%",
        ])
        .arg("--out")
        .arg(&raw)
        .status()
        .expect("firewatch gen");
    assert!(status.success());
    let raw_bytes = dir_bytes(&raw);
    let start = Instant::now();
    let records = build_archive(&raw, &data);
    let archive_bytes = dir_bytes(&data);
    println!(
        "corpus: {lines} lines, {records} records, {:.1} MB raw; archive {:.1} MB (built in {:.1} s)\n",
        raw_bytes as f64 / 1e6,
        archive_bytes as f64 / 1e6,
        start.elapsed().as_secs_f64()
    );

    let twenty: Vec<String> = [
        "ECONNREFUSED",
        "ETIMEDOUT",
        "heap out of memory",
        "UnhandledPromiseRejection",
        "NullPointerException",
        "deadline exceeded",
        "connection reset",
        "502",
        "503",
        "panic:",
        "OutOfMemoryError",
        "Too many connections",
        "timeout",
        "refused",
        "FATAL",
        "segfault",
        "Killed process",
        "SIGTERM",
        "circuit open",
        "rate limit",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let regex = r#"HTTP/1\.1" 5\d\d"#.to_string();
    let cases: Vec<(&str, Vec<String>, bool)> = vec![
        ("1 literal", vec!["UnhandledPromiseRejection".into()], false),
        ("20 literals", twenty, false),
        ("regex", vec![regex], true),
    ];
    let mbps = |d: Option<Duration>| {
        d.map_or("n/a".to_string(), |d| {
            format!(
                "{:.0} MB/s ({:.2} s)",
                raw_bytes as f64 / 1e6 / d.as_secs_f64(),
                d.as_secs_f64()
            )
        })
    };
    let baseline = std::env::var_os("FIREWATCH_BENCH_BASELINE").map(PathBuf::from);
    print!("| search | firewatch grep, plain | firewatch grep, archive | ripgrep, plain |");
    println!(
        "{}",
        if baseline.is_some() {
            " baseline grep, archive |"
        } else {
            ""
        }
    );
    println!(
        "|---|---|---|---|{}",
        if baseline.is_some() { "---|" } else { "" }
    );
    for (name, patterns, is_regex) in &cases {
        let run = |bin: Option<&Path>, path: &Path| {
            time(|| {
                let mut c = bin.map_or_else(firewatch, Command::new);
                c.args(["grep", "-c"]);
                if !is_regex {
                    c.arg("-F");
                }
                for p in patterns {
                    c.arg("-e").arg(p);
                }
                c.arg(path);
                c
            })
        };
        let rg = time(|| {
            let mut c = Command::new("rg");
            c.args(["-c", "--no-config"]);
            if !is_regex {
                c.arg("-F");
            }
            for p in patterns {
                c.arg("-e").arg(p);
            }
            c.arg(&raw);
            c
        });
        print!(
            "| {name} | {} | {} | {} |",
            mbps(run(None, &raw)),
            mbps(run(None, &data)),
            mbps(rg)
        );
        match &baseline {
            Some(bin) => println!(" {} |", mbps(run(Some(bin), &data))),
            None => println!(),
        }
    }
    println!("\n| analyze | plain files | archive |\n|---|---|---|");
    let analyze = |path: &Path| {
        time(|| {
            let mut c = firewatch();
            c.args(["analyze", "--format", "jsonl"]).arg(path);
            c
        })
    };
    let (plain, archive) = (analyze(&raw), analyze(&data));
    let rate = |d: Option<Duration>| {
        d.map_or("n/a".to_string(), |d| {
            format!(
                "{} ({:.0} k records/s)",
                mbps(Some(d)),
                records as f64 / 1e3 / d.as_secs_f64()
            )
        })
    };
    println!("| jsonl | {} | {} |", rate(plain), rate(archive));
    let _ = std::fs::remove_dir_all(&work);
}
