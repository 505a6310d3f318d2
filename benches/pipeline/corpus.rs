//! The corpus every figure is measured on: `firewatch gen` output, seeded and with a fixed start
//! time so that the same `--lines` always gives the same bytes, with the three incidents the
//! detectors look for.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::proc;

/// Event time of the first line (`gen` writes 100 lines per second of event time).
pub const START: &str = "2026-11-20T00:00:00Z";
pub const START_EPOCH_SECS: i64 = 1_795_132_800;
const SEED: &str = "7";

pub struct Corpus {
    pub dir: PathBuf,
    pub files: Vec<PathBuf>,
    pub lines: u64,
    pub bytes: u64,
    pub gen_secs: f64,
}

/// Writes `lines` lines into `dir/<service>.log` with the given binary.
pub fn generate(bin: &Path, dir: &Path, lines: u64) -> Result<Corpus, String> {
    let out = proc::run(
        Command::new(bin)
            .args(["gen", "--seed", SEED, "--start", START, "--lines"])
            .arg(lines.to_string())
            .args(["--incident", "rejection", "--incident", "spike"])
            .args(["--incident", "leak", "--out"])
            .arg(dir)
            .env("FIREWATCH_LOG", "warn"),
        false,
    )?;
    if out.code != Some(0) {
        return Err(format!("firewatch gen exited with {:?}", out.code));
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("read {}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    files.sort();
    let (mut total_lines, mut bytes) = (0, 0);
    for f in &files {
        let data = std::fs::read(f).map_err(|e| format!("read {}: {e}", f.display()))?;
        total_lines += data.iter().filter(|&&b| b == b'\n').count() as u64;
        bytes += data.len() as u64;
    }
    Ok(Corpus {
        dir: dir.to_path_buf(),
        files,
        lines: total_lines,
        bytes,
        gen_secs: out.wall.as_secs_f64(),
    })
}
