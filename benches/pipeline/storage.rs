//! Bytes on disk: the node's archive and index after a graceful stop, and the zstd CLI on the
//! same raw files (`-3`, its default, and `-19`, near its best) as the baseline. Figures are
//! put under a prefix: `storage` for the generated corpus, `real` for real logs.

use std::path::Path;
use std::process::Command;

use crate::corpus::Corpus;
use crate::proc;
use crate::stats::Figures;

/// Sizes of a stopped node's data directory, as shares of the raw corpus.
pub fn node(prefix: &str, data: &Path, corpus: &Corpus, figs: &mut Figures) {
    let archive = proc::dir_bytes(&data.join("segments"));
    let index = proc::dir_bytes(&data.join("index"));
    let wal = proc::dir_bytes(&data.join("wal"));
    let raw = corpus.bytes as f64;
    figs.put(&format!("{prefix}.archive"), archive as f64 / raw);
    figs.put(&format!("{prefix}.index"), index as f64 / raw);
    figs.put(&format!("{prefix}.total"), (archive + index) as f64 / raw);
    figs.put(&format!("{prefix}.wal"), wal as f64 / raw);
}

/// `zstd -3` of every corpus file into `out` (kept for the archive grep), and `zstd -19` to a
/// pipe, counted. Sizes are deterministic, so this runs once.
pub fn zstd(prefix: &str, corpus: &Corpus, out: &Path, figs: &mut Figures) -> Result<(), String> {
    std::fs::create_dir_all(out).map_err(|e| format!("create {}: {e}", out.display()))?;
    let raw = corpus.bytes as f64;
    let (mut b3, mut cpu3, mut b19, mut cpu19) = (0u64, 0.0, 0u64, 0.0);
    for f in &corpus.files {
        let name = f.file_name().ok_or("corpus file without a name")?;
        let mut target = out.join(name);
        target.as_mut_os_string().push(".zst");
        let r = proc::run(
            Command::new("zstd")
                .args(["-q", "-f", "-3", "-T1", "-o"])
                .arg(&target)
                .arg(f),
            false,
        )?;
        if r.code != Some(0) {
            return Err(format!("zstd -3 exited with {:?}", r.code));
        }
        b3 += std::fs::metadata(&target).map(|m| m.len()).unwrap_or(0);
        cpu3 += r.cpu_secs;
        let r = proc::run(
            Command::new("zstd").args(["-q", "-c", "-19", "-T1"]).arg(f),
            false,
        )?;
        if r.code != Some(0) {
            return Err(format!("zstd -19 exited with {:?}", r.code));
        }
        b19 += r.stdout_bytes;
        cpu19 += r.cpu_secs;
    }
    figs.put(&format!("{prefix}.zstd3"), b3 as f64 / raw);
    figs.put(&format!("{prefix}.zstd19"), b19 as f64 / raw);
    figs.put(&format!("{prefix}.zstd3_mb_per_cpu_s"), raw / 1e6 / cpu3);
    figs.put(&format!("{prefix}.zstd19_mb_per_cpu_s"), raw / 1e6 / cpu19);
    Ok(())
}
