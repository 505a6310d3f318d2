//! `firewatch serve` as a real process: crash safety under SIGKILL, idempotent retries across
//! restarts, backpressure.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use firewatch_index::{Store, StoreConfig};
use firewatch_ingest::protocol::IngestResponse;

use crate::util::{fresh_dir, start_node, start_node_logging_to, KillOnDrop};

struct Node {
    child: KillOnDrop,
    url: String,
}

impl Node {
    fn start(data: &Path, config: Option<&Path>) -> Node {
        let config = config.map(|c| c.to_string_lossy().into_owned());
        let extra: Vec<&str> = match &config {
            Some(c) => vec!["--config", c],
            None => vec![],
        };
        let (child, addr) = start_node(data, "127.0.0.1:0", &extra);
        Node {
            child,
            url: format!("http://{addr}"),
        }
    }

    fn sigkill(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
    }

    fn sigterm(mut self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success());
        let exit = self.child.wait().expect("wait");
        assert!(exit.success(), "graceful exit: {exit}");
    }
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

fn batch(ids: &[String]) -> String {
    ids.iter()
        .map(|id| {
            format!(
                r#"{{"id":"{id}","timestamp":"2026-11-20T10:00:00Z","observed":0,"service":"api","host":"h1","level":"error","message":"request {id} failed: upstream timeout","fields":{{"http":{{"status":503}}}}}}"#
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Posts a batch; the response when the node answered 200.
fn post(
    c: &reqwest::blocking::Client,
    url: &str,
    ids: &[String],
) -> Option<(u16, Option<IngestResponse>)> {
    let resp = c
        .post(format!("{url}/api/v1/ingest"))
        .header("content-type", "application/x-ndjson")
        .body(batch(ids))
        .send()
        .ok()?;
    let status = resp.status().as_u16();
    if status == 200 {
        Some((status, resp.json().ok()))
    } else {
        Some((status, None))
    }
}

/// Opens the data dir in-process and checks: every acked id is stored exactly once, and the
/// index and the archives hold the same records.
fn verify(data: &Path, acked: &HashSet<String>) {
    let store = Store::open(StoreConfig {
        data_dir: data.to_path_buf(),
        commit_interval_ms: 20,
        ..Default::default()
    })
    .expect("reopen store");
    let snap = store.reader().snapshot();
    let mut archived: HashMap<String, u64> = HashMap::new();
    for seg in snap.segments() {
        snap.scan_segment(seg.id, |_, rec| *archived.entry(rec.id).or_default() += 1)
            .expect("scan");
    }
    let dups: Vec<_> = archived.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dups.is_empty(), "archived twice: {dups:?}");
    for id in acked {
        assert!(archived.contains_key(id), "acknowledged record {id} lost");
    }
    let n = archived.len() as u64;
    assert_eq!(
        snap.indexed_records().unwrap(),
        (n, n),
        "index and archive disagree"
    );
    // A lookup by id decodes the ids of the block that holds it: checking a bounded sample
    // keeps this linear in the records (a fast node acknowledges 100 k of them in this test).
    let mut ids: Vec<&String> = archived.keys().collect();
    ids.sort();
    for &id in ids.iter().step_by((ids.len() / 2000).max(1)) {
        let ptr = snap
            .locate(id)
            .unwrap()
            .unwrap_or_else(|| panic!("{id} not found by id"));
        assert_eq!(&snap.fetch_ptr(ptr).unwrap().id, id);
    }
    store.close();
}

#[test]
fn sigkill_at_random_moments_loses_no_acknowledged_record() {
    let dir = fresh_dir();
    let data = dir.path().join("data");
    let acked = Arc::new(Mutex::new(HashSet::new()));
    let mut seed = std::process::id() as u64 ^ 0x9e37_79b9_7f4a_7c15;
    let mut acked_before = 0;
    for round in 0..4 {
        let node = Node::start(&data, None);
        let stop = Arc::new(AtomicBool::new(false));
        let senders: Vec<_> = (0..3)
            .map(|t| {
                let (url, stop, acked) = (node.url.clone(), stop.clone(), acked.clone());
                thread::spawn(move || {
                    let c = client();
                    let mut n = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let ids: Vec<String> =
                            (0..50).map(|i| format!("r{round}t{t}b{n}:{i}")).collect();
                        n += 1;
                        match post(&c, &url, &ids) {
                            Some((200, Some(r))) => {
                                assert_eq!(r.accepted + r.duplicates, 50);
                                acked.lock().unwrap().extend(ids);
                            }
                            Some(_) => {}
                            None => break,
                        }
                    }
                })
            })
            .collect();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        thread::sleep(Duration::from_millis(150 + seed % 600));
        node.sigkill();
        stop.store(true, Ordering::Relaxed);
        for s in senders {
            s.join().expect("sender");
        }
        // Every restart (with a WAL to replay) must take writes again.
        let total = acked.lock().unwrap().len();
        assert!(total > acked_before, "round {round}: no batch acknowledged");
        acked_before = total;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 100,
        "too few batches acknowledged: {}",
        acked.len()
    );
    verify(&data, &acked);
}

#[test]
fn retried_batches_are_stored_once_across_restarts() {
    let dir = fresh_dir();
    let data = dir.path().join("data");
    let c = client();
    let a: Vec<String> = (0..20).map(|i| format!("a:{i}")).collect();
    let b: Vec<String> = (0..20).map(|i| format!("b:{i}")).collect();
    let node = Node::start(&data, None);
    let first = |ids: &[String]| post(&c, &node.url, ids).and_then(|r| r.1).expect("200");
    assert_eq!(first(&a).accepted, 20);
    assert_eq!(first(&b).accepted, 20);
    assert_eq!(first(&b).duplicates, 20);
    assert_eq!(first(&a).duplicates, 20);
    node.sigterm();
    let node = Node::start(&data, None);
    let mixed: Vec<String> = a[10..]
        .iter()
        .chain(&b[..5])
        .cloned()
        .chain(["c:1".to_string()])
        .collect();
    let r = post(&c, &node.url, &mixed).and_then(|r| r.1).expect("200");
    assert_eq!((r.accepted, r.duplicates), (1, 15));
    node.sigkill();
    let all: HashSet<String> = a
        .iter()
        .chain(&b)
        .cloned()
        .chain(["c:1".to_string()])
        .collect();
    verify(&data, &all);
}

/// At the default level a healthy node logs what it does and nothing that looks like trouble:
/// no warning on every commit (tantivy's about the doc store's zstd level once was one), no
/// colour codes when its stderr is a file, and no talk of dropped segments after a clean stop.
#[test]
fn a_healthy_node_logs_no_warnings_across_commits() {
    let dir = fresh_dir();
    let start = |log: &Path| {
        let (child, addr) = start_node_logging_to(&dir.path().join("data"), log);
        Node {
            child,
            url: format!("http://{addr}"),
        }
    };
    let quiet = |log: &Path| {
        let text = std::fs::read_to_string(log).unwrap();
        assert!(text.contains("serving"), "info lines are logged: {text}");
        assert!(
            !text.contains('\u{1b}'),
            "colour codes in a log file: {text:?}"
        );
        let noisy: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("WARN") || l.contains("ERROR"))
            .collect();
        assert!(noisy.is_empty(), "warnings from a healthy node: {noisy:#?}");
        text
    };
    let first = dir.path().join("first.log");
    let node = start(&first);
    let c = client();
    for round in 0..3 {
        let ids: Vec<String> = (0..50).map(|i| format!("r{round}:{i}")).collect();
        let r = post(&c, &node.url, &ids).and_then(|r| r.1).expect("200");
        assert_eq!(r.accepted, 50);
        // Past the commit interval (500 ms), so each round is its own commit and reload.
        thread::sleep(Duration::from_millis(1200));
    }
    node.sigterm();
    quiet(&first);
    let second = dir.path().join("second.log");
    start(&second).sigterm();
    let text = quiet(&second);
    assert!(text.contains("restored=0"), "nothing to restore: {text}");
    assert!(
        !text.contains("dropped"),
        "a clean stop drops nothing: {text}"
    );
}

#[test]
fn overload_is_pushed_back_and_nothing_acknowledged_is_lost() {
    let dir = fresh_dir();
    let data = dir.path().join("data");
    let config = dir.path().join("node.toml");
    std::fs::write(
        &config,
        "[ingest]\nmax_in_flight = 2\n\n[store]\nmax_queued_records = 400\ncommit_interval_ms = 200\n",
    )
    .unwrap();
    let node = Node::start(&data, Some(&config));
    let pid = node.child.id();
    let acked = Arc::new(Mutex::new(HashSet::new()));
    let throttled = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(3);
    let senders: Vec<_> = (0..8)
        .map(|t| {
            let (url, acked, throttled) = (node.url.clone(), acked.clone(), throttled.clone());
            thread::spawn(move || {
                let c = client();
                let mut n = 0;
                while Instant::now() < deadline {
                    let ids: Vec<String> = (0..200).map(|i| format!("o{t}:{n}:{i}")).collect();
                    n += 1;
                    let resp = c
                        .post(format!("{url}/api/v1/ingest"))
                        .body(batch(&ids))
                        .send()
                        .expect("node answers");
                    match resp.status().as_u16() {
                        200 => acked.lock().unwrap().extend(ids),
                        429 => {
                            assert!(resp.headers().contains_key("retry-after"));
                            throttled.fetch_add(1, Ordering::Relaxed);
                        }
                        other => panic!("unexpected status {other}"),
                    }
                }
            })
        })
        .collect();
    for s in senders {
        s.join().expect("sender");
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    assert!(rss_kib < 400 * 1024, "peak rss {rss_kib} KiB");
    assert!(
        throttled.load(Ordering::Relaxed) > 0,
        "no 429 under overload"
    );
    let metrics = client()
        .get(format!("{}/metrics", node.url))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(metrics.contains("firewatch_ingest_batches_total{outcome=\"overloaded\"}"));
    node.sigterm();
    let acked = acked.lock().unwrap().clone();
    assert!(!acked.is_empty());
    verify(&data, &acked);
}

/// `n` connections to `addr` that send half a request head and then nothing. With `sent`, each
/// write must succeed; without, a write may fail on a connection the node closed at once.
fn half_sent_heads(addr: &str, n: usize, sent: bool) -> Vec<std::net::TcpStream> {
    use std::io::Write;
    (0..n)
        .map(|_| {
            let mut s = std::net::TcpStream::connect(addr).expect("connect");
            let wrote = s.write_all(b"POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\n");
            assert!(!sent || wrote.is_ok(), "half a head: {wrote:?}");
            s
        })
        .collect()
}

#[test]
fn connections_that_never_finish_a_request_do_not_lock_the_node_out() {
    let dir = fresh_dir();
    let data = dir.path().join("data");
    let config = dir.path().join("node.toml");
    // No per-client share: the header timeout alone must free the places.
    std::fs::write(
        &config,
        "max_connections = 4\nmax_connections_per_client = 0\nheader_timeout_secs = 1\n",
    )
    .unwrap();
    let node = Node::start(&data, Some(&config));
    let addr = node.url.trim_start_matches("http://").to_string();
    // More half-sent request heads than the node holds connections.
    let stalled = half_sent_heads(&addr, 6, true);
    // They are closed after a second; a real client then gets its answer.
    let started = Instant::now();
    let resp = client()
        .get(format!("{}/health", node.url))
        .send()
        .expect("the node answers while stalled connections wait to be closed");
    assert_eq!(resp.status(), 200);
    assert!(started.elapsed() < Duration::from_secs(10));
    drop(stalled);
}

#[test]
fn one_client_holding_connections_leaves_places_for_the_others() {
    let dir = fresh_dir();
    let data = dir.path().join("data");
    let config = dir.path().join("node.toml");
    // A head timeout far past the client's own: only the share can let the other client in.
    std::fs::write(
        &config,
        "max_connections = 4\nmax_connections_per_client = 2\nheader_timeout_secs = 60\n",
    )
    .unwrap();
    let node = Node::start(&data, Some(&config));
    let addr = node.url.trim_start_matches("http://").to_string();
    // One client (127.0.0.1) opens more connections than the node has places and sends
    // nothing whole; past its share of 2 they are closed at once.
    let stalled = half_sent_heads(&addr, 6, false);
    // Another client address on the loopback interface still gets in.
    let other = reqwest::blocking::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let resp = other
        .get(format!("{}/health", node.url))
        .send()
        .expect("another client is answered while one holds its share");
    assert_eq!(resp.status(), 200);
    drop(stalled);
}
