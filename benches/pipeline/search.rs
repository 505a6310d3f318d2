//! Questions asked of the node's query API, each next to ripgrep answering the same question on
//! the raw files (counting the matching lines, the closest thing it can do).

use std::io::Read;
use std::process::Command;
use std::time::Instant;

use crate::corpus::{self, Corpus};
use crate::node::Node;
use crate::proc;
use crate::stats::Figures;

/// Regex for an error line in any of the corpus formats (pino, winston, logfmt, log4j, nginx
/// 5xx), for ripgrep.
pub const RG_ERROR: &str =
    r#""level":50|"level":"error"|level=error| ERROR |HTTP/1\.[01]" 5[0-9][0-9] "#;

pub struct Question {
    pub key: &'static str,
    pub label: &'static str,
    api: &'static str,
    q: &'static str,
    /// Restricted to event hour 1 of the corpus.
    hour: bool,
    extra: &'static [(&'static str, &'static str)],
    rg: Vec<String>,
}

pub fn questions() -> Vec<Question> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    vec![
        Question {
            key: "rare",
            label: "rare word, newest 100 (`UnhandledPromiseRejectionWarning`)",
            api: "search",
            q: "UnhandledPromiseRejectionWarning",
            hour: false,
            extra: &[("limit", "100")],
            rg: s(&["-c", "-F", "UnhandledPromiseRejectionWarning"]),
        },
        Question {
            key: "common",
            label: "common word, newest 100 (`failed`)",
            api: "search",
            q: "failed",
            hour: false,
            extra: &[("limit", "100")],
            rg: s(&["-c", "-w", "failed"]),
        },
        Question {
            key: "field_time",
            label: "field + time range (`service:payments level:error`, 1 h)",
            api: "search",
            q: "service:payments level:error",
            hour: true,
            extra: &[("limit", "100")],
            rg: s(&[
                "-c",
                r"^2026-11-20 01:\d\d:\d\d,\d{3} ERROR ",
                "--glob",
                "payments.log",
            ]),
        },
        Question {
            key: "structured",
            label: "structured field, newest 100 (`http.status:502`)",
            api: "search",
            q: "http.status:502",
            hour: false,
            extra: &[("limit", "100")],
            rg: s(&["-c", r#"HTTP/1\.[01]" 502 "#, "--glob", "gateway.log"]),
        },
        Question {
            key: "structured_common",
            label: "structured range over common values, newest 100 (`http.status:[200 TO 299]`)",
            api: "search",
            q: "http.status:[200 TO 299]",
            hour: false,
            extra: &[("limit", "100")],
            rg: s(&["-c", r#"HTTP/1\.[01]" 2\d\d "#, "--glob", "gateway.log"]),
        },
        Question {
            key: "histogram",
            label: "histogram of everything, 5 min buckets by level (rg: counts error lines)",
            api: "histogram",
            q: "",
            hour: false,
            extra: &[("interval", "5m"), ("by", "level")],
            rg: s(&["-c", RG_ERROR]),
        },
    ]
}

/// Event hour 1 of the corpus, as the API's start and end.
fn hour_one() -> (String, String) {
    let at = |s: i64| chrono::DateTime::from_timestamp(s, 0).map(|t| t.to_rfc3339());
    let base = corpus::START_EPOCH_SECS;
    (
        at(base + 3600).unwrap_or_default(),
        at(base + 7200).unwrap_or_default(),
    )
}

/// Asks each question `reps` times (after one warm-up) and ripgrep `rg_reps` times.
pub fn measure(
    node: &Node,
    corpus: &Corpus,
    reps: usize,
    rg_reps: usize,
    rg: bool,
    figs: &mut Figures,
) -> Result<(), String> {
    let (h0, h1) = hour_one();
    for q in questions() {
        let range = if q.hour {
            (Some(h0.as_str()), Some(h1.as_str()))
        } else {
            (None, None)
        };
        let first = node.get_json(q.api, q.q, range, q.extra)?;
        figs.put(
            &format!("search.{}.total", q.key),
            first["total"].as_f64().unwrap_or(0.0),
        );
        let mut lat = Vec::new();
        for _ in 0..reps {
            let t0 = Instant::now();
            node.get_json(q.api, q.q, range, q.extra)?;
            lat.push(t0.elapsed().as_secs_f64() * 1e3);
        }
        figs.extend(&format!("search.{}", q.key), lat);
        if rg {
            let (ms, hits) = rg_count(&q.rg, corpus, rg_reps)?;
            figs.extend(&format!("search.{}.rg", q.key), ms);
            figs.put(&format!("search.{}.rg_total", q.key), hits as f64);
        }
    }
    export(node, corpus, rg, figs)
}

/// `rg ARGS DIR` `reps` times: latencies in ms and the summed `-c` counts.
fn rg_count(args: &[String], corpus: &Corpus, reps: usize) -> Result<(Vec<f64>, u64), String> {
    let (mut lat, mut hits) = (Vec::new(), 0);
    for _ in 0..reps {
        let out = proc::run(Command::new("rg").args(args).arg(&corpus.dir), true)?;
        lat.push(out.wall.as_secs_f64() * 1e3);
        hits = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.rsplit(':').next()?.parse::<u64>().ok())
            .sum();
    }
    Ok((lat, hits))
}

/// Export of every error record, streamed and counted; ripgrep printing every error line.
fn export(node: &Node, corpus: &Corpus, rg: bool, figs: &mut Figures) -> Result<(), String> {
    let t0 = Instant::now();
    let mut resp = node.get("export", "level:>=error", (None, None), &[])?;
    let (mut records, mut bytes, mut buf) = (0u64, 0u64, vec![0u8; 1 << 16]);
    loop {
        let n = resp.read(&mut buf).map_err(|e| format!("export: {e}"))?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        records += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
    }
    let secs = t0.elapsed().as_secs_f64();
    figs.put("export.records_per_s", records as f64 / secs);
    figs.put("export.mb_per_s", bytes as f64 / 1e6 / secs);
    figs.put("export.records", records as f64);
    if rg {
        let out = proc::run(
            Command::new("rg")
                .args(["--no-filename", "--no-line-number", RG_ERROR])
                .arg(&corpus.dir),
            true,
        )?;
        let lines = out.stdout.iter().filter(|&&b| b == b'\n').count();
        let secs = out.wall.as_secs_f64();
        figs.put("export.rg_lines_per_s", lines as f64 / secs);
        figs.put("export.rg_mb_per_s", out.stdout_bytes as f64 / 1e6 / secs);
        figs.put("export.rg_lines", lines as f64);
    }
    Ok(())
}
