//! `firewatch analyze` and `firewatch grep` over a node's data directory: records posted to a
//! real `firewatch serve`, then read from its archive — while the node is stopped and while it
//! runs — and compared with the same commands over the raw files.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use firewatch_query::analyze::RecordStream;
use firewatch_query::input::expand;

use crate::util::{data, firewatch, fresh_dir, start_node, KillOnDrop};

fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run firewatch");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Posts the records `analyze` reads from `raw`'s files as NDJSON batches, file after file, each
/// in its own order (as a shipper sends a file).
fn ship(raw: &Path, url: &str) {
    let (inputs, _) = expand(&[raw]);
    let mut records = Vec::new();
    for input in &inputs {
        let observed = std::fs::metadata(&input.path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as i64);
        records.extend(RecordStream::open(input, observed).expect("open"));
    }
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    for batch in records.chunks(100) {
        let body: Vec<String> = batch
            .iter()
            .map(|r| serde_json::to_string(r).expect("json"))
            .collect();
        let resp = client
            .post(format!("{url}/api/v1/ingest"))
            .header("content-type", "application/x-ndjson")
            .body(body.join("\n"))
            .send()
            .expect("post");
        assert_eq!(resp.status().as_u16(), 200);
    }
}

fn stop(mut child: KillOnDrop) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    assert!(child.wait().expect("wait").success());
}

#[test]
fn analyze_and_grep_read_a_node_archive_like_the_raw_files() {
    let dir = fresh_dir();
    let raw = dir.path().join("raw");
    std::fs::create_dir(&raw).unwrap();
    for entry in std::fs::read_dir(data("scenarios")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, raw.join(path.file_name().unwrap())).unwrap();
    }
    let store = dir.path().join("data");
    let config = dir.path().join("node.toml");
    std::fs::write(
        &config,
        "[store]\nsegment_max_bytes = 40000\ncommit_interval_ms = 50\nblock_bytes = 8000\n",
    )
    .unwrap();
    let cfg = config.to_string_lossy().into_owned();
    let (node, addr) = start_node(&store, "127.0.0.1:0", &["--config", &cfg]);
    ship(&raw, &format!("http://{addr}"));
    stop(node);

    let analyze =
        |path: &Path| stdout_of(firewatch().args(["analyze", "--format", "jsonl"]).arg(path));
    let expected = analyze(&raw);
    assert!(expected.lines().count() >= 3, "{expected}");
    assert_eq!(analyze(&store), expected);

    // While a node runs on the directory: read-only, no lock needed, the node unaffected.
    let (node, addr) = start_node(&store, "127.0.0.1:0", &["--config", &cfg]);
    let count = |path: &Path| {
        stdout_of(
            firewatch()
                .args(["grep", "-c", "--no-filename", "UnhandledPromiseRejection"])
                .arg(path),
        )
        .lines()
        .map(|l| l.parse::<u64>().expect("count"))
        .sum::<u64>()
    };
    let in_archive = count(&store);
    assert!(in_archive > 0);
    let html = dir.path().join("report.html");
    stdout_of(
        firewatch()
            .args(["analyze", "--format", "html", "--output"])
            .arg(&html)
            .arg(&store),
    );
    let report = std::fs::read_to_string(&html).unwrap();
    assert!(report.starts_with("<!DOCTYPE html>") && report.contains("<svg"));
    let health = reqwest::blocking::get(format!("http://{addr}/ready"))
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    assert_eq!(health, 200);
    stop(node);
    // Each record is one event: a multi-line rejection counts once in the archive, while the
    // raw files count every line that holds the words.
    assert!(in_archive <= count(&raw));
}
