//! Helpers shared by the end-to-end tests.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// The built `firewatch` binary.
pub fn firewatch() -> Command {
    Command::new(env!("CARGO_BIN_EXE_firewatch"))
}

/// A fresh, empty directory for one test, removed when dropped.
pub fn fresh_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("firewatch-e2e-")
        .tempdir()
        .expect("create temp dir")
}

/// Files shipped with the tests (`tests/data`).
pub fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// A child process killed when dropped, so that a test failing half way leaves none behind.
pub struct KillOnDrop(pub std::process::Child);

impl std::ops::Deref for KillOnDrop {
    type Target = std::process::Child;
    fn deref(&self) -> &std::process::Child {
        &self.0
    }
}

impl std::ops::DerefMut for KillOnDrop {
    fn deref_mut(&mut self) -> &mut std::process::Child {
        &mut self.0
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `firewatch serve --data-dir DATA --listen LISTEN` plus `extra` arguments, with
/// firewatch's own logs silenced, and returns the process and the address it bound (read from
/// its `listening ADDR` line, so `127.0.0.1:0` works).
pub fn start_node(data: &std::path::Path, listen: &str, extra: &[&str]) -> (KillOnDrop, String) {
    let mut cmd = firewatch();
    cmd.env("FIREWATCH_LOG", "warn")
        .stderr(std::process::Stdio::null());
    spawn_node(cmd, data, listen, extra)
}

/// [`start_node`] on loopback with firewatch's own logs at their default level, written to
/// `log`.
pub fn start_node_logging_to(
    data: &std::path::Path,
    log: &std::path::Path,
) -> (KillOnDrop, String) {
    let mut cmd = firewatch();
    cmd.env_remove("RUST_LOG")
        .env_remove("FIREWATCH_LOG")
        .stderr(std::fs::File::create(log).expect("create log file"));
    spawn_node(cmd, data, "127.0.0.1:0", &[])
}

fn spawn_node(
    mut cmd: Command,
    data: &std::path::Path,
    listen: &str,
    extra: &[&str],
) -> (KillOnDrop, String) {
    use std::io::{BufRead, BufReader};
    let mut child = cmd
        .args(["serve", "--listen", listen, "--data-dir"])
        .arg(data)
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start firewatch serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read address");
    let addr = line
        .trim()
        .strip_prefix("listening ")
        .expect("listening line")
        .to_string();
    (KillOnDrop(child), addr)
}
