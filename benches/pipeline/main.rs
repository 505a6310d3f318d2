//! The end-to-end benchmark: the release `firewatch` binary driven as separate processes over a
//! generated corpus, every figure next to a baseline (ripgrep, the zstd CLI) measured in the
//! same run, printed as one Markdown table.
//!
//! `cargo bench --bench pipeline -- [--lines 1000000] [--runs 3] [--reps 20] [--dir DIR]
//! [--real DIR]`
//!
//! It measures what users run (the binary, its processes, its HTTP API) rather than crate
//! internals. Baselines run only where installed. It measures and never asserts timings.

use std::path::{Path, PathBuf};
use std::time::Instant;

mod corpus;
mod detect;
mod grep;
mod ingest;
mod machine;
mod node;
mod proc;
mod real;
mod report;
mod run;
mod search;
mod servers;
mod ship;
mod stats;
mod storage;

use stats::Figures;

const USAGE: &str = "\
usage: cargo bench --bench pipeline -- [--lines N] [--runs N] [--reps N] [--dir DIR] [--real DIR]
  --lines N   corpus size in lines (default 1000000: the quick run; 10000000: the full one)
  --runs N    runs to take medians over (default 3)
  --reps N    repetitions of each search per run (default 20)
  --dir DIR   where the corpus and data directories go (default: the temp dir), removed after
  --real DIR  also measure storage on the real log files under DIR (names with .log, or .txt;
              e.g. ../shared/data)";

pub struct Options {
    pub lines: u64,
    pub runs: usize,
    pub reps: usize,
    pub dir: Option<PathBuf>,
    pub real: Option<PathBuf>,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        lines: 1_000_000,
        runs: 3,
        reps: 20,
        dir: None,
        real: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            // Cargo passes --bench to every bench target.
            "--bench" => {}
            "--lines" => o.lines = num(&value("--lines")?)?,
            "--runs" => o.runs = num(&value("--runs")?)? as usize,
            "--reps" => o.reps = num(&value("--reps")?)? as usize,
            "--dir" => o.dir = Some(PathBuf::from(value("--dir")?)),
            "--real" => o.real = Some(PathBuf::from(value("--real")?)),
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if o.lines < 10_000 || o.runs == 0 || o.reps == 0 {
        return Err(format!(
            "need --lines ≥ 10000, --runs ≥ 1, --reps ≥ 1\n{USAGE}"
        ));
    }
    Ok(o)
}

fn num(s: &str) -> Result<u64, String> {
    s.replace('_', "")
        .parse()
        .map_err(|_| format!("not a number: {s:?}"))
}

/// Progress on stderr, so stdout is only the report.
pub fn say(t0: Instant, what: &str) {
    eprintln!("[{:>7.1}s] {what}", t0.elapsed().as_secs_f64());
}

fn main() {
    let opts = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = bench(&opts) {
        eprintln!("pipeline bench failed: {e}");
        std::process::exit(1);
    }
}

fn bench(opts: &Options) -> Result<(), String> {
    let t0 = Instant::now();
    let bin = Path::new(env!("CARGO_BIN_EXE_firewatch"));
    let rg = proc::installed("rg");
    let zstd = proc::installed("zstd");
    let root = opts.dir.clone().unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&root).map_err(|e| format!("create {}: {e}", root.display()))?;
    let work = tempfile::Builder::new()
        .prefix("firewatch-pipeline-")
        .tempdir_in(&root)
        .map_err(|e| format!("temp dir in {}: {e}", root.display()))?;
    let load_before = machine::load_average();
    say(t0, &format!("generating {} lines", opts.lines));
    let corpus = corpus::generate(bin, &work.path().join("corpus"), opts.lines)?;
    say(
        t0,
        &format!(
            "corpus: {} lines, {:.1} MiB in {:.1}s",
            corpus.lines,
            corpus.bytes as f64 / (1 << 20) as f64,
            corpus.gen_secs
        ),
    );
    let mut figs = Figures::default();
    let zst_dir = work.path().join("zst");
    let zst = match &zstd {
        Some(_) => {
            say(t0, "zstd -3 and -19 of the corpus");
            match storage::zstd("storage", &corpus, &zst_dir, &mut figs) {
                Ok(()) => Some(zst_dir.as_path()),
                Err(e) => {
                    figs.note("storage.zstd", format!("n/a: {e}"));
                    None
                }
            }
        }
        None => {
            figs.note("storage.zstd", "n/a: zstd not installed");
            None
        }
    };
    if rg.is_none() {
        figs.note("rg", "n/a: rg not installed");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let env = run::Env {
        bin,
        corpus: &corpus,
        rt: &rt,
        rg: rg.is_some(),
        zst,
        reps: opts.reps,
        t0,
    };
    if let Some(dir) = &opts.real {
        say(t0, &format!("real logs under {}", dir.display()));
        let r = real::collect(dir, &work.path().join("real")).and_then(|c| {
            real::measure(bin, &c, work.path(), zstd.is_some(), &mut figs).map(|()| c)
        });
        match r {
            Ok(c) => figs.note(
                "real.corpus",
                format!(
                    "{} files, {:.1} MiB, {} lines",
                    c.files.len(),
                    c.bytes as f64 / (1 << 20) as f64,
                    c.lines
                ),
            ),
            Err(e) => {
                say(t0, &format!("real logs failed: {e}"));
                figs.note("real", format!("n/a: {e}"));
            }
        }
    }
    let mut ctx = context(opts, &corpus, bin, load_before, [rg, zstd]);
    for r in 0..opts.runs {
        say(t0, &format!("run {}/{}", r + 1, opts.runs));
        run::once(&env, r, &work.path().join(format!("run{r}")), &mut figs)?;
        if r + 1 < opts.runs {
            // The figures so far, in case a long run is cut short.
            ctx.runs = r + 1;
            eprintln!("{}", report::render(&ctx, &figs));
        }
    }
    ctx.runs = opts.runs;
    ctx.load_after = machine::load_average();
    ctx.date = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string();
    say(t0, "done");
    println!("{}", report::render(&ctx, &figs));
    Ok(())
}

fn context(
    opts: &Options,
    corpus: &corpus::Corpus,
    bin: &Path,
    load_before: String,
    baselines: [Option<String>; 2],
) -> report::Context {
    report::Context {
        command: format!(
            "cargo bench --bench pipeline -- --lines {} --runs {} --reps {}{}",
            opts.lines,
            opts.runs,
            opts.reps,
            opts.real
                .as_ref()
                .map(|d| format!(" --real {}", d.display()))
                .unwrap_or_default()
        ),
        lines: corpus.lines,
        bytes: corpus.bytes,
        files: corpus.files.len(),
        runs: opts.runs,
        date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        machine: machine::describe(),
        load_before,
        load_after: machine::load_average(),
        version: machine::version(bin),
        baselines: baselines
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", "),
    }
}
