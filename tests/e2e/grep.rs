//! `firewatch grep` on generated logs: output, counts, JSON records and exit statuses.

use crate::util::{firewatch, fresh_dir};

#[test]
fn grep_finds_generated_incidents_with_grep_like_exit_codes() {
    let tmp = fresh_dir();
    let logs = tmp.path().join("logs");
    let status = firewatch()
        .args([
            "gen",
            "--seed",
            "5",
            "--start",
            "2026-11-20T10:00:00Z",
            "--lines",
            "6000",
        ])
        .args(["--incident", "leak@5s+20s", "--out"])
        .arg(&logs)
        .status()
        .unwrap();
    assert!(status.success());

    let out = firewatch()
        .args(["grep", "-c", "JavaScript heap out of memory"])
        .arg(&logs)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text.trim(),
        format!("{}:1", logs.join("users.log").display())
    );

    let out = firewatch()
        .args(["grep", "--json", "-e", "FATAL ERROR", "-e", "no such text"])
        .arg(logs.join("users.log"))
        .output()
        .unwrap();
    let rec: serde_json::Value =
        serde_json::from_str(String::from_utf8(out.stdout).unwrap().trim()).unwrap();
    assert!(rec["message"].as_str().unwrap().contains("FATAL ERROR"));

    let none = firewatch()
        .args(["grep", "no such text"])
        .arg(&logs)
        .output()
        .unwrap();
    assert_eq!(none.status.code(), Some(1));

    std::fs::write(logs.join("broken.log.gz"), b"\x1f\x8b\x08\x00not gzip").unwrap();
    let out = firewatch()
        .args(["grep", "-l", "-E", "Mark-sweep \\d+"])
        .arg(&logs)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("broken.log.gz"));
    assert!(String::from_utf8(out.stdout).unwrap().contains("users.log"));
}
