//! One run of every measurement, in an order that keeps them apart: shipping into the sink,
//! shipping into a node (ingest figures), searching that node, stopping it (storage), then a
//! fresh node for ack latency and freshness, grep, and the detectors.
//!
//! A step that fails is reported and marked n/a; the other steps still run.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;

use crate::corpus::Corpus;
use crate::node::Node;
use crate::stats::Figures;
use crate::{detect, grep, ingest, search, servers, ship, storage};

pub struct Env<'a> {
    pub bin: &'a Path,
    pub corpus: &'a Corpus,
    pub rt: &'a Runtime,
    pub rg: bool,
    pub zst: Option<&'a Path>,
    pub reps: usize,
    pub t0: Instant,
}

/// Ack latency batches and freshness probes per run; alert latency samples per run.
const ACK_BATCHES: usize = 100;
const FRESH_PROBES: usize = 10;
const ALERT_SAMPLES: usize = 5;
const RG_REPS: usize = 5;
const GREP_REPS: usize = 3;

fn check(figs: &mut Figures, key: &str, t0: Instant, r: Result<(), String>) {
    if let Err(e) = r {
        crate::say(t0, &format!("{key} failed: {e}"));
        figs.note(key, format!("n/a: {e}"));
    }
}

pub fn once(env: &Env, run: usize, dir: &Path, figs: &mut Figures) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let t0 = env.t0;
    crate::say(t0, "ship → discarding endpoint");
    let r = ship_to_sink(env, &dir.join("ship-sink"), figs);
    check(figs, "ship.discard", t0, r);
    crate::say(t0, "ship → node, then search it");
    let r = node_pass(env, dir, figs);
    check(figs, "index", t0, r);
    crate::say(t0, "ack latency and freshness");
    let r = ack_pass(env, run, &dir.join("ack-node"), figs);
    check(figs, "index.ack_ms", t0, r);
    crate::say(t0, "grep");
    let r = grep::measure(env.bin, env.corpus, env.zst, env.rg, GREP_REPS, figs);
    check(figs, "grep", t0, r);
    grep::data_dir(env.bin, &dir.join("node"), GREP_REPS, figs);
    crate::say(t0, "analyze");
    let r = detect::analyze(env.bin, env.corpus, figs);
    check(figs, "analyze", t0, r);
    crate::say(t0, "alert latency");
    let r = detect::alert_latency(env.bin, env.rt, &dir.join("alert"), run, ALERT_SAMPLES)
        .map(|ms| figs.extend("alert.ms", ms));
    check(figs, "alert", t0, r);
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}

fn put_ship(figs: &mut Figures, key: &str, corpus: &Corpus, r: &ship::ShipRun) {
    let mib = corpus.bytes as f64 / (1 << 20) as f64;
    figs.put(
        &format!("{key}.lines_per_s"),
        corpus.lines as f64 / r.wall_secs,
    );
    figs.put(&format!("{key}.mib_per_s"), mib / r.wall_secs);
    figs.put(&format!("{key}.cpu_s_per_gib"), r.cpu_secs / (mib / 1024.0));
    figs.put(
        &format!("{key}.peak_rss_mib"),
        r.peak_rss_kib as f64 / 1024.0,
    );
}

fn ship_to_sink(env: &Env, state: &Path, figs: &mut Figures) -> Result<(), String> {
    let sink = servers::discarding_sink(env.rt)?;
    let r = ship::ship_corpus(env.bin, &sink.url, env.corpus, state)?;
    let got = sink.records.load(std::sync::atomic::Ordering::Relaxed);
    if got != r.records {
        return Err(format!(
            "sink got {got} records, shipper counted {} acked",
            r.records
        ));
    }
    put_ship(figs, "ship.discard", env.corpus, &r);
    Ok(())
}

/// Ships the corpus into a fresh node, measures ingest and search, stops it and measures its
/// data directory (kept for the data-directory grep).
fn node_pass(env: &Env, dir: &Path, figs: &mut Figures) -> Result<(), String> {
    let data = dir.join("node");
    let node = Node::start(env.bin, &data, None)?;
    let (cpu0, written0) = (node.proc.cpu_secs(), node.proc.written_bytes());
    let r = ship::ship_corpus(env.bin, &node.url, env.corpus, &dir.join("ship-node"))?;
    put_ship(figs, "ship.node", env.corpus, &r);
    let visible = node.wait_for_records(r.records, Duration::from_secs(600))?;
    let cpu = node.proc.cpu_secs() - cpu0;
    let written = node.proc.written_bytes().saturating_sub(written0);
    figs.put("index.mb_per_cpu_s", env.corpus.bytes as f64 / 1e6 / cpu);
    figs.put(
        "index.written_per_raw",
        written as f64 / env.corpus.bytes as f64,
    );
    figs.put("index.written_mb", written as f64 / 1e6);
    figs.put(
        "index.records_per_s",
        r.records as f64 / (visible - r.started_at).as_secs_f64(),
    );
    figs.put("index.records", r.records as f64);
    crate::say(env.t0, "search");
    let s = search::measure(&node, env.corpus, env.reps, RG_REPS, env.rg, figs);
    check(figs, "search", env.t0, s);
    if !node.stop() {
        figs.note(
            "index",
            "node did not stop cleanly; storage measured anyway",
        );
    }
    storage::node("storage", &data, env.corpus, figs);
    Ok(())
}

fn ack_pass(env: &Env, run: usize, data: &Path, figs: &mut Figures) -> Result<(), String> {
    let lines = sample_lines(env.corpus, ingest::BATCH * 10)?;
    let node = Node::start(env.bin, data, None)?;
    let acks = ingest::ack_latency(&node, run, &lines, ACK_BATCHES)?;
    figs.extend("index.ack_ms", acks);
    let fresh = ingest::freshness(&node, run, FRESH_PROBES)?;
    figs.extend("index.fresh_ms", fresh);
    node.stop();
    let _ = std::fs::remove_dir_all(data);
    Ok(())
}

/// Up to `n` corpus lines, taken round-robin from its files, as message texts.
fn sample_lines(corpus: &Corpus, n: usize) -> Result<Vec<String>, String> {
    let per = n / corpus.files.len().max(1) + 1;
    let mut out = Vec::with_capacity(n);
    for f in &corpus.files {
        let file = std::fs::File::open(f).map_err(|e| format!("open {}: {e}", f.display()))?;
        out.extend(BufReader::new(file).lines().take(per).map_while(Result::ok));
    }
    out.truncate(n);
    Ok(out)
}
