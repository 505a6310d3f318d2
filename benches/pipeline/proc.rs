//! Child processes measured from the outside: wall time, CPU time and peak memory.
//!
//! A command run to completion is reaped with `wait4`, whose rusage holds the exact CPU time
//! of the child (std's `wait` drops it). Its peak RSS comes from sampling `VmHWM` in
//! `/proc/<pid>/status` while it runs, not from rusage: Linux's `ru_maxrss` of a spawned child
//! also counts the memory of the process it was forked from (this harness, hundreds of MiB by
//! then). A long-running child (a node, a shipper) is read from `/proc/<pid>/stat`,
//! `/proc/<pid>/status` and `/proc/<pid>/io` while it runs.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// What a command that ran to completion cost.
pub struct Outcome {
    pub code: Option<i32>,
    pub wall: Duration,
    pub cpu_secs: f64,
    pub max_rss_kib: u64,
    pub stdout: Vec<u8>,
    /// Bytes written to stdout (also counted when not kept).
    pub stdout_bytes: u64,
}

/// Runs `cmd` to completion with stdout piped (kept when `keep_stdout`, else only counted) and
/// stderr discarded.
pub fn run(cmd: &mut Command, keep_stdout: bool) -> Result<Outcome, String> {
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("spawn {cmd:?}: {e}"))?;
    let mut out = child.stdout.take().ok_or("no stdout")?;
    // Drained on a thread so a child writing more than a pipe holds never blocks.
    let drain = thread::spawn(move || {
        let (mut kept, mut total, mut buf) = (Vec::new(), 0u64, vec![0u8; 1 << 16]);
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 {
                break;
            }
            total += n as u64;
            if keep_stdout {
                kept.extend_from_slice(&buf[..n]);
            }
        }
        (kept, total)
    });
    let status = format!("/proc/{}/status", child.id());
    let done = Arc::new(AtomicBool::new(false));
    let sampling = done.clone();
    // VmHWM only grows, so sampling loses at most the growth of the last few milliseconds.
    let sampler = thread::spawn(move || {
        let mut peak = 0;
        while !sampling.load(Ordering::Relaxed) {
            peak = peak.max(status_kib(&status, "VmHWM:"));
            thread::sleep(Duration::from_millis(5));
        }
        peak
    });
    let waited = wait_rusage(&child);
    done.store(true, Ordering::Relaxed);
    let max_rss_kib = sampler.join().map_err(|_| "rss sampler panicked")?;
    let (code, cpu_secs) = waited?;
    let wall = start.elapsed();
    let (stdout, stdout_bytes) = drain.join().map_err(|_| "stdout reader panicked")?;
    Ok(Outcome {
        code,
        wall,
        cpu_secs,
        max_rss_kib,
        stdout,
        stdout_bytes,
    })
}

/// Reaps `child` and returns its exit code and CPU seconds (user + system).
pub fn wait_rusage(child: &Child) -> Result<(Option<i32>, f64), String> {
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain old data, fully written by wait4 on success.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: pid is our own unreaped child; both pointers are valid for the call.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("wait4 {pid}: {err}"));
        }
    }
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let cpu = secs(usage.ru_utime) + secs(usage.ru_stime);
    Ok((code, cpu))
}

/// A long-running child, measured while it runs and stopped with SIGTERM.
pub struct Daemon {
    pub child: Child,
    reaped: bool,
}

impl Daemon {
    pub fn new(child: Child) -> Daemon {
        Daemon {
            child,
            reaped: false,
        }
    }

    /// CPU seconds (user + system) used so far.
    pub fn cpu_secs(&self) -> f64 {
        let path = format!("/proc/{}/stat", self.child.id());
        let stat = std::fs::read_to_string(path).unwrap_or_default();
        // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
        let after = stat.rsplit(')').next().unwrap_or("");
        let f: Vec<&str> = after.split_whitespace().collect();
        let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        (ticks(11) + ticks(12)) / clock_ticks()
    }

    /// Bytes it has caused to be written to storage so far (`write_bytes` of `/proc/<pid>/io`:
    /// what reached the page cache for a disk, whether flushed yet or not).
    pub fn written_bytes(&self) -> u64 {
        let io =
            std::fs::read_to_string(format!("/proc/{}/io", self.child.id())).unwrap_or_default();
        io.lines()
            .find_map(|l| l.strip_prefix("write_bytes:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Peak resident set size so far (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        status_kib(&format!("/proc/{}/status", self.child.id()), "VmHWM:")
    }

    /// SIGTERM, then waits for a graceful exit (SIGKILL after `grace`); returns the exit code.
    pub fn stop(mut self, grace: Duration) -> Option<i32> {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: signalling our own child, which is not reaped yet.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + grace;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    self.reaped = true;
                    return status.code();
                }
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    self.reaped = true;
                    return None;
                }
            }
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

fn status_kib(path: &str, key: &str) -> u64 {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Whether `program` runs (`program --version` succeeds): baselines run only where installed.
pub fn installed(program: &str) -> Option<String> {
    let out = Command::new(program)
        .arg("--version")
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status.success().then(|| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or(program)
            .trim_matches(|c: char| c == '*' || c.is_whitespace())
            .to_string()
    })
}

/// Total size of the files under `dir` (0 when it does not exist).
pub fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            Ok(_) => e.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => 0,
        })
        .sum()
}

/// A loopback port that was free a moment ago (for children that cannot report the port they
/// bound).
pub fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("local addr: {e}"))
}
