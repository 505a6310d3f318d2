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
