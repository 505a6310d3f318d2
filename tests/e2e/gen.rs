//! `firewatch gen`: files per service, reproducibility, rotation, incidents, stdout, bad flags.

use std::path::Path;

use crate::util::{firewatch, fresh_dir};

const START: &str = "2026-11-20T10:00:00Z";

fn gen_into(dir: &Path, extra: &[&str]) {
    let status = firewatch()
        .args([
            "gen", "--seed", "3", "--start", START, "--lines", "8000", "--out",
        ])
        .arg(dir)
        .args(extra)
        .status()
        .unwrap();
    assert!(status.success());
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

#[test]
fn gen_writes_one_reproducible_file_per_service_with_incidents() {
    let tmp = fresh_dir();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let incidents = [
        "--incident",
        "leak@10s+30s",
        "--incident",
        "spike",
        "--incident",
        "rejection",
    ];
    gen_into(&a, &incidents);
    gen_into(&b, &incidents);
    let services = [
        "gateway",
        "checkout",
        "users",
        "inventory",
        "payments",
        "syslog",
    ];
    let mut lines = 0;
    for s in services {
        let file = format!("{s}.log");
        let text = read(&a, &file);
        assert!(!text.is_empty(), "{file}");
        assert_eq!(
            text,
            read(&b, &file),
            "{file} differs between identical runs"
        );
        lines += text.lines().count();
    }
    assert!((8000..8100).contains(&lines), "{lines}");
    assert!(read(&a, "users.log").contains("JavaScript heap out of memory"));
    assert!(read(&a, "users.log").contains("Node.js v18.19.0"));
    assert!(read(&a, "checkout.log").contains("UnhandledPromiseRejectionWarning"));
    assert!(read(&a, "inventory.log").contains("connection pool exhausted"));
    assert!(read(&a, "syslog.log").contains("users.service: Main process exited"));
}

#[test]
fn gen_rotates_files_and_writes_stdout() {
    let tmp = fresh_dir();
    gen_into(tmp.path(), &["--rotate-bytes", "64K", "--rotate-keep", "2"]);
    let live = std::fs::metadata(tmp.path().join("gateway.log"))
        .unwrap()
        .len();
    assert!(live <= 64 << 10);
    assert!(tmp.path().join("gateway.log.1").exists());
    assert!(tmp.path().join("gateway.log.2").exists());
    assert!(!tmp.path().join("gateway.log.3").exists());

    let out = firewatch()
        .args(["gen", "--seed", "3", "--start", START, "--lines", "40"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().count() >= 40);
    assert!(text.contains("[20/Nov/2026:10:00:0"));
}

#[test]
fn gen_refuses_bad_flags_clearly() {
    for (flag, value, says) in [
        ("--incident", "flood", "unknown incident"),
        ("--duration", "30", "invalid duration"),
        ("--start", "yesterday", "RFC 3339"),
    ] {
        let out = firewatch().args(["gen", flag, value]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{stderr}");
    }
    let help = firewatch().args(["gen", "--help"]).output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(help.contains("Examples:") && help.contains("--incident"));
}
