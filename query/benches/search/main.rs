//! Search latency at scale, beside ripgrep answering the same questions on the raw files.
//!
//! Builds a node store from a `firewatch gen` corpus (see [`corpus`]), then asks each question
//! of the query engine — the first time (block cache cold) and `RUNS` more times (p50/p99) —
//! and of ripgrep over the raw log files, when `rg` is installed. Prints a Markdown table;
//! measures, never asserts.
//!
//! ```text
//! cargo bench -p firewatch-query --bench search                  # 1 M lines
//! FIREWATCH_BENCH_LINES=10000000 cargo bench -p firewatch-query --bench search
//! FIREWATCH_BENCH_DIR=/tmp/corpus cargo bench …                  # keep and reuse the corpus
//! ```

mod corpus;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use firewatch_index::Store;
use firewatch_ingest::record::rfc3339_nanos;
use firewatch_query::lang::{parse, Field};
use firewatch_query::search::{Engine, Order, Scope};

const HOUR: i64 = 3_600_000_000_000;
const TIMEOUT: Duration = Duration::from_secs(120);
const RUNS: usize = 20;

/// What the engine is asked.
enum Ask {
    /// The newest 100 hits and the exact total.
    Page(Scope),
    /// Hourly counts split by level.
    Histogram(Scope),
    /// The most frequent services.
    Top(Scope),
    /// Every match, counted.
    Export(Scope),
}

struct Question {
    name: String,
    ask: Ask,
    /// ripgrep's arguments for the same question, before the files.
    rg: Vec<String>,
    /// Only these raw files (service names), or all.
    rg_files: Option<&'static str>,
}

fn scope(q: &str, start: Option<i64>, end: Option<i64>) -> Scope {
    Scope {
        query: Arc::new(parse(q).expect("benchmark query parses")),
        start,
        end,
    }
}

fn questions(end: i64) -> Vec<Question> {
    // The last whole hour of the corpus, which ripgrep can select by its time prefix.
    let hour_end = end.div_euclid(HOUR) * HOUR;
    let hour_start = hour_end - HOUR;
    let prefix = &rfc3339_nanos::format(hour_start)[..13].replace('T', " ");
    let q = |name: &str, ask, rg: &[&str], rg_files| Question {
        name: name.to_string(),
        ask,
        rg: rg.iter().map(|s| s.to_string()).collect(),
        rg_files,
    };
    vec![
        q(
            "rare word, newest 100 (`exhausted`)",
            Ask::Page(scope("exhausted", None, None)),
            &["-c", "-w", "-i", "exhausted"],
            None,
        ),
        q(
            "selective word, newest 100 (`UnhandledPromiseRejectionWarning`)",
            Ask::Page(scope("UnhandledPromiseRejectionWarning", None, None)),
            &["-c", "UnhandledPromiseRejectionWarning"],
            None,
        ),
        q(
            "`service:payments level:error`, last whole hour",
            Ask::Page(scope(
                "service:payments level:error",
                Some(hour_start),
                Some(hour_end),
            )),
            &["-c", &format!("^{prefix}:[^ ]* ERROR ")],
            Some("payments"),
        ),
        q(
            "phrase, newest 100 (`\"card gateway latency\"`)",
            Ask::Page(scope("\"card gateway latency\"", None, None)),
            &["-c", "-F", "card gateway latency"],
            None,
        ),
        q(
            "common word, newest 100 (`completed`)",
            Ask::Page(scope("completed", None, None)),
            &["-c", "-w", "completed"],
            None,
        ),
        q(
            "histogram of everything, 1 h buckets by level",
            Ask::Histogram(scope("*", None, None)),
            &["-c", "-i", "-w", "error"],
            None,
        ),
        q(
            "top services over everything",
            Ask::Top(scope("*", None, None)),
            &["-c", ""],
            None,
        ),
        q(
            "export `level:error`",
            Ask::Export(scope("level:error", None, None)),
            &["-i", "-w", "error"],
            None,
        ),
    ]
}

/// Runs the question once; returns how many records it found.
fn ask(engine: &Engine, a: &Ask) -> u64 {
    let done = match a {
        Ask::Page(s) => engine
            .search(s, Order::Desc, 100, None, TIMEOUT)
            .map(|p| p.total),
        Ask::Histogram(s) => engine
            .histogram(s, HOUR, Some("level"), TIMEOUT)
            .map(|h| h.buckets.iter().map(|b| b.count).sum()),
        Ask::Top(s) => engine
            .top(s, &Field::named("service"), 10, TIMEOUT)
            .map(|t| t.total),
        Ask::Export(s) => engine.export(s, TIMEOUT, |_| true),
    };
    done.expect("benchmark question answered")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn timed<T>(f: impl FnOnce() -> T) -> (Duration, T) {
    let t = Instant::now();
    let out = f();
    (t.elapsed(), out)
}

/// p50 and p99 of `runs` runs.
fn measure(runs: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    let mut times: Vec<Duration> = (0..runs).map(|_| timed(&mut f).0).collect();
    times.sort();
    (percentile(&times, 0.5), percentile(&times, 0.99))
}

fn rg_installed() -> bool {
    Command::new("rg")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// ripgrep's median over 5 runs.
fn rg(args: &[String], files: &[String]) -> Duration {
    measure(5, || {
        let _ = Command::new("rg")
            .args(args)
            .args(files)
            .stdout(Stdio::null())
            .status();
    })
    .0
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

fn main() {
    let lines: u64 = std::env::var("FIREWATCH_BENCH_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let temp;
    let dir = match std::env::var_os("FIREWATCH_BENCH_DIR") {
        Some(d) => PathBuf::from(d),
        None => {
            temp = tempfile::tempdir().expect("temp dir");
            temp.path().to_path_buf()
        }
    };
    let corpus = corpus::prepare(&dir, lines).expect("benchmark corpus");
    let files = corpus.files();
    let (opened_in, store) = timed(|| Store::open(corpus.store_config()).expect("open store"));
    let engine = Engine::new(store.reader());
    let segments = store.reader().snapshot().segments().len();
    println!(
        "corpus: {lines} lines, {:.0} MB raw in {} files, {segments} segments; built in {:.0} s \
         (0: reused), store opened in {:.1} s\n",
        corpus.raw_bytes as f64 / 1e6,
        files.len(),
        corpus.built_in.as_secs_f64(),
        opened_in.as_secs_f64()
    );
    let rg_ok = rg_installed();
    println!("| question | matches | firewatch first | p50 | p99 | ripgrep p50 | rg ÷ firewatch |");
    println!("|---|---|---|---|---|---|---|");
    for q in questions(corpus.end) {
        let (first, found) = timed(|| ask(&engine, &q.ask));
        let runs = if matches!(q.ask, Ask::Export(_)) {
            5
        } else {
            RUNS
        };
        let (p50, p99) = measure(runs, || {
            ask(&engine, &q.ask);
        });
        let (rg_p50, ratio) = if rg_ok {
            let files: Vec<String> = match q.rg_files {
                Some(name) => files.iter().filter(|f| f.contains(name)).cloned().collect(),
                None => files.clone(),
            };
            let t = rg(&q.rg, &files);
            (
                ms(t),
                format!("{:.0}×", t.as_secs_f64() / p50.as_secs_f64()),
            )
        } else {
            ("—".into(), "—".into())
        };
        let mut row = format!(
            "| {} | {found} | {} | {} | {} | {rg_p50} | {ratio} |",
            q.name,
            ms(first),
            ms(p50),
            ms(p99)
        );
        if let Ask::Export(_) = q.ask {
            row.push_str(&format!(
                " ({:.0} k records/s)",
                found as f64 / p50.as_secs_f64() / 1e3
            ));
        }
        println!("{row}");
    }
    let metrics = {
        let mut out = String::new();
        store.metrics().render(&mut out);
        out.lines()
            .filter(|l| l.starts_with("firewatch_block_cache"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!("\n{metrics}");
    store.close();
}
