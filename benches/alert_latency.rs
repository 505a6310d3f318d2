//! Alert latency end to end: a line written to a file that `firewatch up` tails → the alert
//! POSTed to a webhook. Each incident is an unhandled rejection block appended to its own
//! service's file (so each is a new alert); the time from the write to the webhook receiving
//! the firing notification is measured, and p50/p90/p99/max are printed. Measures, never
//! asserts.
//!
//! `cargo bench --bench alert_latency` (`FIREWATCH_BENCH_INCIDENTS`, default 60).

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

fn main() {
    let incidents: usize = std::env::var("FIREWATCH_BENCH_INCIDENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let dir = tempfile::tempdir().expect("temp dir");
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).expect("logs dir");
    for i in 0..incidents {
        append(&logs.join(format!("svc{i:03}.log")), &quiet_lines(8));
    }
    let (hook, fired) = receiver();
    let mut up = Command::new(env!("CARGO_BIN_EXE_firewatch"))
        .arg("up")
        .arg(format!("{}/*.log", logs.display()))
        .args(["--listen", "127.0.0.1:0", "--webhook", &hook, "--data-dir"])
        .arg(dir.path().join("data"))
        .env("FIREWATCH_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start firewatch up");
    let mut stdout = BufReader::new(up.stdout.take().expect("stdout"));
    let mut first = String::new();
    stdout.read_line(&mut first).expect("listening line");
    let addr = first.trim().trim_start_matches("listening ").to_string();
    // Keep draining stdout (the alert ticker prints there).
    thread::spawn(move || for _ in stdout.lines() {});
    wait_ingested(&addr, (incidents * 8) as u64);

    let mut latencies = Vec::with_capacity(incidents);
    for i in 0..incidents {
        let service = format!("svc{i:03}");
        // Vary the gap so writes do not lock into phase with the shipper's timers.
        thread::sleep(Duration::from_millis(200 + (i as u64 * 37) % 300));
        let written = Instant::now();
        append(&logs.join(format!("{service}.log")), &rejection());
        let deadline = written + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match fired.recv_timeout(left) {
                Ok((s, at)) if s == service => {
                    latencies.push(at.duration_since(written));
                    break;
                }
                Ok(_) => {}
                Err(_) => {
                    eprintln!("{service}: no alert within 30 s");
                    break;
                }
            }
        }
    }
    let _ = Command::new("kill")
        .args(["-TERM", &up.id().to_string()])
        .status();
    let _ = up.wait();

    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let pick = |q: f64| {
        let i = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
        ms(latencies[i])
    };
    if latencies.is_empty() {
        println!("alert latency: no alert arrived");
        return;
    }
    println!(
        "alert latency (line written → webhook POST received), {} of {incidents} incidents: \
         p50 {:.0} ms, p90 {:.0} ms, p99 {:.0} ms, max {:.0} ms, min {:.0} ms",
        latencies.len(),
        pick(0.50),
        pick(0.90),
        pick(0.99),
        ms(latencies[latencies.len() - 1]),
        ms(latencies[0]),
    );
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// Ordinary request lines, as `docker logs --timestamps` writes them.
fn quiet_lines(n: usize) -> String {
    (0..n)
        .map(|i| format!("{} GET /api/cart 200 {}.2 ms - 1183\n", now(), 10 + i))
        .collect()
}

/// A Node 14 unhandled rejection block and the warning line that follows it.
fn rejection() -> String {
    let t = now();
    [
        "(node:24) UnhandledPromiseRejectionWarning: Error: reservation failed for sku=JKT-8815-OLV-L (409 Conflict)",
        "    at InventoryClient.reserve (/usr/src/app/src/clients/inventory.js:57:13)",
        "    at processTicksAndRejections (internal/process/task_queues.js:95:5)",
        "(node:24) UnhandledPromiseRejectionWarning: Unhandled promise rejection. (rejection id: 1)",
    ]
    .iter()
    .map(|l| format!("{t} {l}\n"))
    .collect()
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open log");
    f.write_all(text.as_bytes()).expect("append");
}

/// Waits until the node holds `records` records (every file is tailed and shipped).
fn wait_ingested(addr: &str, records: u64) {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        let total = client
            .get(format!("http://{addr}/api/v1/search"))
            .query(&[("q", ""), ("start", "1h"), ("limit", "1")])
            .send()
            .ok()
            .and_then(|r| r.json::<serde_json::Value>().ok())
            .and_then(|v| v["total"].as_u64())
            .unwrap_or(0);
        if total >= records {
            return;
        }
        thread::sleep(Duration::from_millis(200));
    }
    eprintln!("not every file was shipped within 120 s; measuring anyway");
}

/// A webhook receiver: each firing notification's service and the instant its POST was read.
fn receiver() -> (String, mpsc::Receiver<(String, Instant)>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind receiver");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut seen: HashSet<String> = HashSet::new();
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().expect("clone"));
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; len];
            let read = reader.read_exact(&mut body).is_ok();
            let at = Instant::now();
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            if !read {
                continue;
            }
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) else {
                continue;
            };
            for n in v["notifications"].as_array().into_iter().flatten() {
                let service = n["alert"]["service"].as_str().unwrap_or("").to_string();
                if n["state"] == "firing" && seen.insert(service.clone()) {
                    let _ = tx.send((service, at));
                }
            }
        }
    });
    (url, rx)
}
