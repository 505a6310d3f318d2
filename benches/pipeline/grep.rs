//! `firewatch grep -c` next to `rg -c` on the same inputs: the raw corpus, its `zstd -3`
//! copies (rotated archives as people keep them; `rg -z`), and the node's data directory when
//! this build's `firewatch grep` understands it.

use std::path::Path;
use std::process::Command;

use crate::corpus::Corpus;
use crate::proc;
use crate::stats::Figures;

pub struct Search {
    pub key: &'static str,
    pub label: &'static str,
    args: &'static [&'static str],
}

pub const SEARCHES: &[Search] = &[
    Search {
        key: "literal",
        label: "1 literal",
        args: &["-F", "UnhandledPromiseRejectionWarning"],
    },
    // A list of failure signatures, as people grep for after an incident: a few common in the
    // corpus, most rare.
    Search {
        key: "literals",
        label: "20 literals",
        args: &[
            "-F",
            "-e",
            "ECONNREFUSED",
            "-e",
            "ECONNRESET",
            "-e",
            "ETIMEDOUT",
            "-e",
            "heap out of memory",
            "-e",
            "OutOfMemoryError",
            "-e",
            "OOMKilled",
            "-e",
            "Invalid user",
            "-e",
            "charge failed",
            "-e",
            "connection reset by peer",
            "-e",
            "deadlock detected",
            "-e",
            "circuit breaker open",
            "-e",
            "Too many connections",
            "-e",
            "NullPointerException",
            "-e",
            "panicked at",
            "-e",
            "Traceback",
            "-e",
            "permission denied",
            "-e",
            "No space left on device",
            "-e",
            "pool exhausted",
            "-e",
            "UnhandledPromiseRejectionWarning",
            "-e",
            "segfault",
        ],
    },
    Search {
        key: "regex",
        label: r"regex `status code 5\d\d`",
        args: &["-e", r"status code 5\d\d"],
    },
];

/// Sum of `-c` output (`path:count` or `count` lines).
pub fn sum_counts(stdout: &[u8]) -> u64 {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|l| l.rsplit(':').next()?.trim().parse::<u64>().ok())
        .sum()
}

/// Runs `program -c ARGS input` `reps` times; records wall ms, CPU-s and the count.
fn timed(
    program: &Path,
    prefix: &[&str],
    s: &Search,
    input: &Path,
    reps: usize,
    key: &str,
    figs: &mut Figures,
) -> Result<u64, String> {
    let mut count = 0;
    for _ in 0..reps {
        let out = proc::run(
            Command::new(program)
                .args(prefix)
                .arg("-c")
                .args(s.args)
                .arg(input)
                .env("FIREWATCH_LOG", "error"),
            true,
        )?;
        if out.code == Some(2) || out.code.is_none() {
            return Err(format!("{} exited with {:?}", program.display(), out.code));
        }
        figs.extend(key, [out.wall.as_secs_f64() * 1e3]);
        figs.extend(&format!("{key}.cpu"), [out.cpu_secs]);
        count = sum_counts(&out.stdout);
    }
    figs.put(&format!("{key}.count"), count as f64);
    Ok(count)
}

/// Raw files and `.zst` copies, firewatch and (when installed) ripgrep.
pub fn measure(
    bin: &Path,
    corpus: &Corpus,
    zst_dir: Option<&Path>,
    rg: bool,
    reps: usize,
    figs: &mut Figures,
) -> Result<(), String> {
    let rg_bin = Path::new("rg");
    for s in SEARCHES {
        let key = format!("grep.raw.{}", s.key);
        timed(bin, &["grep"], s, &corpus.dir, reps, &key, figs)?;
        if rg {
            timed(
                rg_bin,
                &[],
                s,
                &corpus.dir,
                reps,
                &format!("{key}.rg"),
                figs,
            )?;
        }
        if let Some(z) = zst_dir {
            let key = format!("grep.zst.{}", s.key);
            timed(bin, &["grep"], s, z, reps, &key, figs)?;
            if rg {
                timed(rg_bin, &["-z"], s, z, reps, &format!("{key}.rg"), figs)?;
            }
        }
    }
    Ok(())
}

/// `firewatch grep -c` over a stopped node's data directory, after removing what is not the
/// archive (the WAL, whose records are all in sealed segments after a graceful stop, and alert
/// state): a plain byte search would otherwise find the WAL's uncompressed records. Counted as
/// supported only when it finds at least half of what the raw files hold; otherwise the figure
/// is marked n/a with why.
pub fn data_dir(bin: &Path, data: &Path, reps: usize, figs: &mut Figures) {
    let _ = std::fs::remove_dir_all(data.join("wal"));
    let _ = std::fs::remove_dir_all(data.join("alerts"));
    for s in SEARCHES {
        let key = format!("grep.data.{}", s.key);
        let raw = figs
            .median(&format!("grep.raw.{}.count", s.key))
            .unwrap_or(0.0);
        let mut trial = Figures::default();
        match timed(bin, &["grep"], s, data, reps, &key, &mut trial) {
            Ok(n) if n as f64 >= raw / 2.0 && n > 0 => {
                for suffix in ["", ".cpu", ".count"] {
                    let k = format!("{key}{suffix}");
                    figs.extend(&k, trial.samples(&k).iter().copied());
                }
            }
            Ok(n) => figs.note(
                &key,
                format!("n/a: this build's `firewatch grep DATA_DIR` does not read archives ({n} of {raw} lines found)"),
            ),
            Err(e) => figs.note(&key, format!("n/a: {e}")),
        }
    }
}
