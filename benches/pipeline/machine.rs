//! What the report says about the machine and the build: figures from a shared, loaded machine
//! mean little without its cores, memory and load next to them.

use std::path::Path;
use std::process::Command;

/// CPU model, cores the process may use, memory.
pub fn describe() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or("unknown CPU", str::trim)
        .to_string();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_kib: u64 = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    format!(
        "{model}, {cores} cores, {:.1} GiB memory, {}",
        mem_kib as f64 / (1 << 20) as f64,
        std::env::consts::OS
    )
}

/// The 1, 5 and 15 minute load averages.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// `firewatch --version` plus the source commit when built from a git checkout.
pub fn version(bin: &Path) -> String {
    let run = |cmd: &mut Command| {
        cmd.output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let v = run(Command::new(bin).arg("--version")).unwrap_or_else(|| "firewatch".into());
    let commit = run(Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR")));
    match commit {
        Some(c) => format!("{v} (commit {c}, bench profile)"),
        None => format!("{v} (bench profile)"),
    }
}
