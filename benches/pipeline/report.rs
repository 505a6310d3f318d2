//! The one Markdown report: the machine and command it ran with, then one table of every
//! figure next to its baseline from the same run.

use std::fmt::Write;

use crate::grep::SEARCHES;
use crate::search::questions;
use crate::stats::{count, ms, Figures};

/// What the report says about where and how it ran.
pub struct Context {
    pub command: String,
    pub lines: u64,
    pub bytes: u64,
    pub files: usize,
    pub runs: usize,
    pub date: String,
    pub machine: String,
    pub load_before: String,
    pub load_after: String,
    pub version: String,
    pub baselines: String,
}

struct Table(String);

impl Table {
    fn row(&mut self, area: &str, figure: &str, ours: String, base: String, ratio: String) {
        let _ = writeln!(self.0, "| {area} | {figure} | {ours} | {base} | {ratio} |");
    }
}

fn or_na(v: Option<String>, note: Option<&str>) -> String {
    v.unwrap_or_else(|| note.unwrap_or("n/a").to_string())
}

/// `a / b` as "1.6×", when both exist.
fn ratio(a: Option<f64>, b: Option<f64>, what: &str) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}× {what}", a / b),
        _ => String::new(),
    }
}

pub fn render(ctx: &Context, f: &Figures) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Corpus: `firewatch gen` seed 7, {} lines in {} files, {:.1} MiB; {} runs; {}\n",
        ctx.lines,
        ctx.files,
        ctx.bytes as f64 / (1 << 20) as f64,
        ctx.runs,
        ctx.date
    );
    let _ = writeln!(out, "Machine: {}  ", ctx.machine);
    let _ = writeln!(
        out,
        "Load average (1, 5, 15 min): {} before, {} after  ",
        ctx.load_before, ctx.load_after
    );
    let _ = writeln!(
        out,
        "Build: {}; baselines: {}  ",
        ctx.version, ctx.baselines
    );
    let _ = writeln!(out, "Command: `{}`\n", ctx.command);
    let mut t = Table(String::new());
    t.0.push_str(
        "| area | figure | firewatch | baseline (same run) | ratio |\n|---|---|---|---|---|\n",
    );
    ship_rows(&mut t, f);
    index_rows(&mut t, f);
    search_rows(&mut t, f);
    grep_rows(&mut t, f, ctx.bytes);
    detector_rows(&mut t, f);
    out.push_str(&t.0);
    out.push_str(
        "\nScalar figures are medians over runs; latencies are percentiles of every sample of \
         every run pooled. CPU figures are the measured process's own user + system time.\n",
    );
    out
}

fn ship_rows(t: &mut Table, f: &Figures) {
    for (key, label) in [
        ("ship.discard", "discarding endpoint"),
        ("ship.node", "real node"),
    ] {
        let lines = f.median(&format!("{key}.lines_per_s"));
        let mib = f.median(&format!("{key}.mib_per_s"));
        let cpu = f.median(&format!("{key}.cpu_s_per_gib"));
        let rss = f.median(&format!("{key}.peak_rss_mib"));
        let area = format!("ship → {label}");
        t.row(
            &area,
            "throughput (tail → parse → ship, until the last ack)",
            or_na(
                lines
                    .zip(mib)
                    .map(|(l, m)| format!("{} lines/s, {m:.1} MiB/s", count(l))),
                f.get_note(key),
            ),
            String::new(),
            String::new(),
        );
        t.row(
            &area,
            "shipper CPU-seconds per GiB of log",
            or_na(cpu.map(|c| format!("{c:.2}")), f.get_note(key)),
            String::new(),
            String::new(),
        );
        t.row(
            &area,
            "shipper peak RSS",
            or_na(rss.map(|r| format!("{r:.1} MiB")), f.get_note(key)),
            String::new(),
            String::new(),
        );
    }
}

fn index_rows(t: &mut Table, f: &Figures) {
    let note = f.get_note("index");
    t.row(
        "index",
        "node ingest: raw log MB per node CPU-second (WAL, archive, index, detectors)",
        or_na(
            f.median("index.mb_per_cpu_s").map(|v| format!("{v:.1}")),
            note,
        ),
        String::new(),
        String::new(),
    );
    t.row(
        "index",
        "node disk writes while indexing (WAL, archive, index, merges), per byte of raw log",
        or_na(
            f.median("index.written_per_raw")
                .zip(f.median("index.written_mb"))
                .map(|(r, mb)| format!("{r:.2}× ({mb:.0} MB)")),
            note,
        ),
        String::new(),
        String::new(),
    );
    t.row(
        "index",
        "records/s, shipper start → every record searchable",
        or_na(
            f.median("index.records_per_s")
                .zip(f.median("index.records"))
                .map(|(r, n)| format!("{} ({} records)", count(r), count(n))),
            note,
        ),
        String::new(),
        String::new(),
    );
    let pair = |key: &str, hi: f64| {
        f.pct(key, 50.0)
            .zip(f.pct(key, hi))
            .map(|(a, b)| format!("{} / {} ({} samples)", ms(a), ms(b), f.count(key)))
    };
    t.row(
        "index",
        "ack latency p50 / p99 (1,000-record zstd batches, 4 clients, fsync before ack)",
        or_na(pair("index.ack_ms", 99.0), f.get_note("index.ack_ms")),
        String::new(),
        String::new(),
    );
    t.row(
        "index",
        "freshness p50 / max (ack → found by search)",
        or_na(pair("index.fresh_ms", 100.0), f.get_note("index.ack_ms")),
        String::new(),
        String::new(),
    );
    storage_row(
        t,
        f,
        "storage",
        "storage",
        "(archive + index) / raw".into(),
        note,
    );
    if let Some(what) = f.get_note("real.corpus") {
        let figure = format!("(archive + index) / raw, real logs ({what})");
        storage_row(
            t,
            f,
            "real",
            "storage, real logs",
            figure,
            f.get_note("real"),
        );
    } else if let Some(failed) = f.get_note("real") {
        t.row(
            "storage, real logs",
            "(archive + index) / raw",
            failed.into(),
            String::new(),
            String::new(),
        );
    }
}

/// The storage figures under `prefix`, next to the zstd CLI's on the same files.
fn storage_row(
    t: &mut Table,
    f: &Figures,
    prefix: &str,
    area: &str,
    figure: String,
    note: Option<&str>,
) {
    let pct = |k: &str| {
        f.median(&format!("{prefix}.{k}"))
            .map(|v| format!("{:.1}%", v * 100.0))
    };
    t.row(
        area,
        &figure,
        or_na(
            pct("total").map(|tot| {
                format!(
                    "{tot} (archive {}, index {}; WAL left at shutdown {})",
                    pct("archive").unwrap_or_default(),
                    pct("index").unwrap_or_default(),
                    pct("wal").unwrap_or_default()
                )
            }),
            note,
        ),
        or_na(
            pct("zstd3").zip(pct("zstd19")).map(|(a, b)| {
                format!("`zstd -3` {a}, `zstd -19` {b} (compression only, no index)")
            }),
            f.get_note(&format!("{prefix}.zstd")),
        ),
        ratio(
            f.median(&format!("{prefix}.total")),
            f.median(&format!("{prefix}.zstd3")),
            "zstd -3 size",
        ),
    );
}

fn search_rows(t: &mut Table, f: &Figures) {
    for q in questions() {
        let key = format!("search.{}", q.key);
        let ours = f.pct(&key, 50.0).zip(f.pct(&key, 99.0)).map(|(a, b)| {
            let hits = f.median(&format!("{key}.total")).unwrap_or(0.0);
            format!("{} / {} ({} matches)", ms(a), ms(b), count(hits))
        });
        let rg = f.pct(&format!("{key}.rg"), 50.0);
        let base = rg.map(|r| {
            let n = f.median(&format!("{key}.rg_total")).unwrap_or(0.0);
            format!("rg {} ({} lines)", ms(r), count(n))
        });
        t.row(
            "search (query API)",
            &format!("{}: p50 / p99", q.label),
            or_na(ours, f.get_note("search")),
            or_na(base, f.get_note("rg")),
            ratio(f.pct(&key, 50.0), rg, "rg time"),
        );
    }
    let ours = f
        .median("export.records_per_s")
        .zip(f.median("export.mb_per_s"))
        .map(|(r, m)| {
            let n = f.median("export.records").unwrap_or(0.0);
            format!("{} records/s, {m:.1} MB/s ({} records)", count(r), count(n))
        });
    let base = f
        .median("export.rg_lines_per_s")
        .zip(f.median("export.rg_mb_per_s"))
        .map(|(r, m)| {
            let n = f.median("export.rg_lines").unwrap_or(0.0);
            format!("rg {} lines/s, {m:.1} MB/s ({} lines)", count(r), count(n))
        });
    t.row(
        "search (query API)",
        "export `level:>=error` (rg prints error lines)",
        or_na(ours, f.get_note("search")),
        or_na(base, f.get_note("rg")),
        ratio(
            f.median("export.records_per_s"),
            f.median("export.rg_lines_per_s"),
            "rg rate",
        ),
    );
}

fn grep_rows(t: &mut Table, f: &Figures, bytes: u64) {
    let gbs = |ms: f64| bytes as f64 / 1e9 / (ms / 1e3);
    for (kind, label, base_cmd) in [
        ("raw", "grep raw files", "rg -c"),
        ("zst", "grep `zstd -3` files", "rg -z -c"),
        ("data", "grep node data dir", ""),
    ] {
        for s in SEARCHES {
            let key = format!("grep.{kind}.{}", s.key);
            let ours = f.pct(&key, 50.0).map(|m| {
                let n = f.median(&format!("{key}.count")).unwrap_or(0.0);
                let cpu = f.median(&format!("{key}.cpu")).unwrap_or(0.0);
                format!(
                    "{} ({:.2} GB/s of raw, {cpu:.2} CPU-s, {} lines)",
                    ms(m),
                    gbs(m),
                    count(n)
                )
            });
            let rg = f.pct(&format!("{key}.rg"), 50.0);
            let base = rg.map(|m| {
                let cpu = f.median(&format!("{key}.rg.cpu")).unwrap_or(0.0);
                let n = f.median(&format!("{key}.rg.count")).unwrap_or(0.0);
                format!("{base_cmd} {} ({cpu:.2} CPU-s, {} lines)", ms(m), count(n))
            });
            let base = if kind == "data" {
                String::new()
            } else {
                or_na(base, f.get_note("rg"))
            };
            t.row(
                label,
                &format!("{}: p50 wall", s.label),
                or_na(ours, f.get_note(&key)),
                base,
                ratio(f.pct(&key, 50.0), rg, "rg time"),
            );
        }
    }
}

fn detector_rows(t: &mut Table, f: &Figures) {
    t.row(
        "detectors",
        "`firewatch analyze` (parse, merge, detect): lines per CPU-second",
        or_na(
            f.median("analyze.lines_per_cpu_s").map(|v| {
                let alerts = f.median("analyze.alerts").unwrap_or(0.0);
                let rss = f.median("analyze.max_rss_mib").unwrap_or(0.0);
                format!(
                    "{} ({} lines/s wall, {alerts:.0} alerts, peak RSS {rss:.0} MiB)",
                    count(v),
                    count(f.median("analyze.lines_per_s").unwrap_or(0.0))
                )
            }),
            f.get_note("analyze"),
        ),
        String::new(),
        String::new(),
    );
    let key = "alert.ms";
    t.row(
        "detectors",
        "alert latency p50 / max: line appended → webhook received (ship, node, detectors, delivery)",
        or_na(
            f.pct(key, 50.0)
                .zip(f.pct(key, 100.0))
                .map(|(a, b)| format!("{} / {} ({} samples)", ms(a), ms(b), f.count(key))),
            f.get_note("alert"),
        ),
        String::new(),
        String::new(),
    );
}
