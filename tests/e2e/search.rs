//! `firewatch search` against a live query API on loopback: output, exit codes, errors.

use std::net::SocketAddr;
use std::process::Output;
use std::thread;
use std::time::{Duration, Instant};

use firewatch_index::{Store, StoreConfig};
use firewatch_ingest::LogRecord;
use firewatch_query::api::{router, ApiConfig};

use crate::util::{firewatch, fresh_dir, start_node, KillOnDrop};

/// A store with a few records and the query API served on 127.0.0.1:0, on its own runtime.
struct Server {
    addr: SocketAddr,
    store: Store,
    runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.store.close();
    }
}

fn record(id: &str, secs_ago: i64, level: &str, service: &str, message: &str) -> LogRecord {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    serde_json::from_value(serde_json::json!({
        "id": id, "timestamp": now - secs_ago * 1_000_000_000, "observed": now,
        "service": service, "host": "web-1", "level": level, "message": message
    }))
    .unwrap()
}

fn serve(records: Vec<LogRecord>) -> Server {
    let dir = fresh_dir();
    let store = Store::open(StoreConfig {
        data_dir: dir.path().join("data"),
        commit_interval_ms: 20,
        ..Default::default()
    })
    .expect("open store");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let n = records.len() as u64;
    runtime.block_on(store.append(records)).expect("append");
    let reader = store.reader();
    let started = Instant::now();
    while reader.snapshot().indexed_records().expect("index").0 < n {
        assert!(started.elapsed() < Duration::from_secs(20));
        thread::sleep(Duration::from_millis(10));
    }
    let sub = store.clone();
    let app = router(reader, move || sub.subscribe(), ApiConfig::default());
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    runtime.spawn(async move { axum::serve(listener, app).await });
    Server {
        addr,
        store,
        runtime,
        _dir: dir,
    }
}

fn search(server: &Server, args: &[&str]) -> Output {
    let url = format!("http://{}", server.addr);
    firewatch()
        .arg("search")
        .args(args)
        .args(["--server", &url, "--color", "never"])
        .output()
        .expect("run firewatch search")
}

#[test]
fn search_prints_hits_and_uses_exit_codes() {
    let server = serve(vec![
        record(
            "a:1",
            60,
            "error",
            "checkout",
            "payment failed: upstream timeout",
        ),
        record("a:2", 30, "info", "checkout", "payment ok"),
        record(
            "a:3",
            10,
            "warn",
            "billing-service",
            "retrying payment\n  attempt 2",
        ),
        record("a:4", 7200, "error", "checkout", "payment failed long ago"),
    ]);
    let out = search(&server, &["payment"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    // Newest first, aligned columns, continuation lines under the message.
    assert!(
        lines[0].contains("  WARN   billing-service  retrying payment"),
        "{text}"
    );
    assert!(lines[1].ends_with("  attempt 2"));
    assert!(
        lines[2].contains("  INFO   checkout         payment ok"),
        "{text}"
    );
    assert!(lines[3].contains("  ERROR  checkout         payment failed: upstream timeout"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("3 of 3 matches"));

    let out = search(&server, &["level:error", "--since", "3h", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let ids: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<LogRecord>(l).unwrap().id)
        .collect();
    assert_eq!(ids, ["a:1", "a:4"]);

    let out = search(
        &server,
        &["level:error", "--since", "3h", "--limit", "1", "--json"],
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 1);

    let out = search(&server, &["nothing-like-this"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stdout.is_empty());
}

#[test]
fn search_reports_errors_with_exit_code_2() {
    let server = serve(vec![record("b:1", 5, "info", "api", "hello")]);
    let out = search(&server, &["service:api AND (hello"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("unclosed '(' at position 16"), "{err}");
    assert!(err.contains("\n                  ^"), "{err}");

    let out = search(&server, &["hello", "--since", "yesterday"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid time"));

    // Nothing listens there: a clear error, not a hang.
    let out = firewatch()
        .args([
            "search",
            "hello",
            "--server",
            "http://127.0.0.1:9",
            "--timeout",
            "5",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach"));
}

#[test]
fn follow_prints_new_matching_records() {
    let server = serve(vec![record("c:1", 5, "info", "api", "old news")]);
    let url = format!("http://{}", server.addr);
    // Stopped on drop too, so a failed assertion does not leave it following.
    let mut child = KillOnDrop(
        firewatch()
            .args(["search", "news", "--follow", "--json", "--server", &url])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // Give the tail time to subscribe, then add records; only the matching one is printed.
    thread::sleep(Duration::from_millis(500));
    server
        .runtime
        .block_on(server.store.append(vec![
            record("c:2", 0, "info", "api", "unrelated"),
            record("c:3", 0, "error", "api", "breaking news"),
        ]))
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(20));
    child.kill().unwrap();
    child.wait().unwrap();
    let line = line.expect("a record within 20 s");
    let rec: LogRecord = serde_json::from_str(&line).unwrap();
    assert_eq!(rec.id, "c:3");
}

/// The whole path through real processes: records posted to `firewatch serve`, found by
/// `firewatch search` through the node's one listener.
#[test]
fn search_finds_records_ingested_by_firewatch_serve() {
    let dir = fresh_dir();
    let (mut child, addr) = start_node(&dir.path().join("data"), "127.0.0.1:0", &[]);
    let url = format!("http://{addr}");
    let body: String = (0..50)
        .map(|i| {
            let level = if i % 5 == 0 { "error" } else { "info" };
            let r = record(
                &format!("s:{i}"),
                50 - i,
                level,
                "api",
                &format!("request {i} done"),
            );
            serde_json::to_string(&r).unwrap() + "\n"
        })
        .collect();
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let posted = client
        .post(format!("{url}/api/v1/ingest"))
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .unwrap();
    assert!(posted.status().is_success(), "{:?}", posted.text());
    // Searchable within the node's commit interval.
    let started = Instant::now();
    loop {
        let v: serde_json::Value = client
            .get(format!("{url}/api/v1/search?q=*&limit=0"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        if v["total"] == 50 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{v}");
        thread::sleep(Duration::from_millis(50));
    }
    let out = firewatch()
        .args(["search", "level:error request", "--json", "--server", &url])
        .output()
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let ids: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<LogRecord>(l).unwrap().id)
        .collect();
    assert_eq!(
        ids,
        ["s:45", "s:40", "s:35", "s:30", "s:25", "s:20", "s:15", "s:10", "s:5", "s:0"]
    );
}
