//! Storage on real logs (`--real DIR`): log files written by real systems, shipped into a fresh
//! node and measured like the generated corpus, next to the zstd CLI on the same files.
//!
//! A generated corpus repeats its few templates more than real logs do, so its ratio alone
//! would flatter the node. Which files: every file under DIR, recursively, whose name has
//! `.log` in it (rotated `server.log.2016-12-19-16` too) or ends in `.txt`, except licences and
//! CSV. They are copied flat into one folder so that one shipper glob takes them all; each
//! keeps its path in its name, so its own source.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::corpus::Corpus;
use crate::node::Node;
use crate::stats::Figures;
use crate::{ship, storage};

/// Copies the log files under `dir` into `out` as `<path with _ for />.log`.
pub fn collect(dir: &Path, out: &Path) -> Result<Corpus, String> {
    let mut found = Vec::new();
    walk(dir, &mut found)?;
    found.sort();
    if found.is_empty() {
        return Err(format!("no log files under {}", dir.display()));
    }
    std::fs::create_dir_all(out).map_err(|e| format!("create {}: {e}", out.display()))?;
    let (mut files, mut lines, mut bytes) = (Vec::new(), 0, 0);
    for f in found {
        let rel = f.strip_prefix(dir).unwrap_or(&f).to_string_lossy();
        let mut name: String = rel
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        name.push_str(".log");
        let target = out.join(&name);
        let data = std::fs::read(&f).map_err(|e| format!("read {}: {e}", f.display()))?;
        std::fs::write(&target, &data).map_err(|e| format!("write {}: {e}", target.display()))?;
        lines += data.iter().filter(|&&b| b == b'\n').count() as u64;
        bytes += data.len() as u64;
        files.push(target);
    }
    Ok(Corpus {
        dir: out.to_path_buf(),
        files,
        lines,
        bytes,
        gen_secs: 0.0,
    })
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("read {}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            walk(&path, found)?;
        } else if kind.is_file() && is_log(&entry.file_name().to_string_lossy()) {
            found.push(path);
        }
    }
    Ok(())
}

fn is_log(name: &str) -> bool {
    let lower = name.to_lowercase();
    (lower.contains(".log") || lower.ends_with(".txt"))
        && !lower.ends_with(".csv")
        && !lower.starts_with("licen")
}

/// Ships `corpus` into a fresh node under `work`, stops it, and puts `real.*` figures: the
/// node's sizes and, with `zstd`, the CLI's on the same files.
pub fn measure(
    bin: &Path,
    corpus: &Corpus,
    work: &Path,
    zstd: bool,
    figs: &mut Figures,
) -> Result<(), String> {
    let data = work.join("real-node");
    let node = Node::start(bin, &data, None)?;
    let r = ship::ship_corpus(bin, &node.url, corpus, &work.join("real-ship"))?;
    node.wait_for_records(r.records, Duration::from_secs(300))?;
    if !node.stop() {
        figs.note("real", "node did not stop cleanly; storage measured anyway");
    }
    storage::node("real", &data, corpus, figs);
    if zstd {
        let r = storage::zstd("real", corpus, &work.join("real-zst"), figs);
        if let Err(e) = r {
            figs.note("real.zstd", format!("n/a: {e}"));
        }
    }
    figs.put("real.records", r.records as f64);
    let _ = std::fs::remove_dir_all(&data);
    Ok(())
}
