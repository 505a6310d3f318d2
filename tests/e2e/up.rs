//! `firewatch up`: node, shipper, detectors and delivery in one process. Lines appended live to
//! a tailed file raise an alert that reaches a webhook and `firewatch alerts`; undelivered
//! alerts survive a SIGKILL; `--demo` fires alerts and fills search on its own.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::alerts::{receiver, receiver_on};
use crate::util::{data, firewatch, fresh_dir, KillOnDrop};

/// A running `firewatch up` and its stdout, line by line.
struct Up {
    child: KillOnDrop,
    addr: String,
    lines: mpsc::Receiver<String>,
}

impl Up {
    fn start(data_dir: &Path, args: &[&str]) -> Up {
        let mut child = firewatch()
            .args(["up", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(args)
            .env("FIREWATCH_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start firewatch up");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in stdout.lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = lines
            .recv_timeout(Duration::from_secs(30))
            .expect("a listening line");
        let addr = first
            .strip_prefix("listening ")
            .expect("listening line")
            .to_string();
        Up {
            child: KillOnDrop(child),
            addr,
            lines,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Waits for a stdout line containing `text`.
    fn wait_line(&self, text: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(text) => return line,
                Ok(_) => {}
                Err(_) => panic!("no line with {text:?} within {within:?}"),
            }
        }
    }

    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "up did not stop on SIGTERM");
            thread::sleep(Duration::from_millis(100));
        }
    }

    fn kill(self) {
        drop(self);
    }
}

/// The checkout slice's first unhandled rejection block (with the request lines before it),
/// stamped with the current time as `docker logs --timestamps` would write it now.
fn rejection_block() -> String {
    let text = std::fs::read_to_string(data("scenarios/checkout.log")).expect("checkout slice");
    let now = chrono::Utc::now();
    text.lines()
        .skip(130)
        .take(13)
        .enumerate()
        .map(|(i, line)| {
            let (_, rest) = line.split_once(' ').unwrap_or(("", line));
            let ts = now + chrono::Duration::microseconds(i as i64);
            format!(
                "{} {rest}\n",
                ts.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
            )
        })
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

/// The firing notifications of `kind` in one webhook body.
fn firings(body: &str, kind: &str) -> usize {
    let v: serde_json::Value = serde_json::from_str(body).expect("webhook json");
    v["notifications"]
        .as_array()
        .map(|ns| {
            ns.iter()
                .filter(|n| n["state"] == "firing" && n["alert"]["kind"] == kind)
                .count()
        })
        .unwrap_or(0)
}

/// Bodies arriving within `within` that carry a firing of `kind`.
fn wait_firing(bodies: &mpsc::Receiver<String>, kind: &str, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let body = bodies
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no {kind} firing delivered within {within:?}"));
        if firings(&body, kind) > 0 {
            return body;
        }
    }
}

/// `firewatch alerts --json` against the node, until an alert of `kind` is listed.
fn listed(url: &str, kind: &str) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let out = firewatch()
            .args(["alerts", "--json", "--state", "all", "--server", url])
            .output()
            .expect("run firewatch alerts");
        let alerts: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("ndjson alert"))
            .collect();
        if alerts.iter().any(|a| a["kind"] == kind) {
            assert_eq!(out.status.code(), Some(0));
            return alerts;
        }
        assert!(Instant::now() < deadline, "never listed: {alerts:?}");
        thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn lines_appended_live_reach_the_webhook_and_the_alert_list() {
    let dir = fresh_dir();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).expect("logs dir");
    let (hook, bodies) = receiver();
    let glob = format!("{}/*.log", logs.display());
    let up = Up::start(&dir.path().join("data"), &[&glob, "--webhook", &hook]);

    // Nothing yet: `alerts` says so with exit code 1.
    let none = firewatch()
        .args(["alerts", "--server", &up.url()])
        .output()
        .expect("run alerts");
    assert_eq!(none.status.code(), Some(1), "{none:?}");

    append(&logs.join("checkout.log"), &rejection_block());
    let body = wait_firing(&bodies, "unhandled_rejection", Duration::from_secs(30));
    assert!(body.contains("\"service\":\"checkout\""), "{body}");
    assert!(body.contains("idempotency_key"), "{body}");
    up.wait_line("unhandled_rejection", Duration::from_secs(10));

    let alerts = listed(&up.url(), "unhandled_rejection");
    let a = alerts
        .iter()
        .find(|a| a["kind"] == "unhandled_rejection")
        .expect("listed");
    assert_eq!(a["service"], "checkout");
    assert_eq!(a["state"], "firing");
    // The alert's search link finds its evidence records. Detectors see records once durable,
    // the search once committed (every 500 ms): give it the freshness bound and a margin.
    let url = a["search_url"].as_str().expect("url");
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let search: serde_json::Value = reqwest::blocking::get(url)
            .expect("search")
            .json()
            .expect("search json");
        if search["total"].as_u64().unwrap_or(0) >= 1 {
            break;
        }
        assert!(Instant::now() < deadline, "evidence never found: {search}");
        thread::sleep(Duration::from_millis(100));
    }

    let table = firewatch()
        .args(["alerts", "--color", "never", "--server", &up.url()])
        .output()
        .expect("run alerts");
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.starts_with("STATE"), "{table}");
    assert!(
        table.contains("evidence: firewatch search 'service:"),
        "{table}"
    );

    assert!(up.terminate().success());
}

#[test]
fn undelivered_alerts_survive_sigkill_and_are_not_sent_again_once_delivered() {
    let dir = fresh_dir();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).expect("logs dir");
    let data_dir = dir.path().join("data");
    // A port with nobody listening: the receiver is down.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let hook = format!("http://127.0.0.1:{port}/hook");
    let glob = format!("{}/*.log", logs.display());

    let up = Up::start(&data_dir, &[&glob, "--webhook", &hook]);
    append(&logs.join("checkout.log"), &rejection_block());
    listed(&up.url(), "unhandled_rejection");
    // Listed means applied; give the outbox write a moment, then pull the plug.
    thread::sleep(Duration::from_millis(500));
    up.kill();

    let (_, bodies) = receiver_on(TcpListener::bind(("127.0.0.1", port)).expect("rebind port"));
    let up = Up::start(&data_dir, &[&glob, "--webhook", &hook]);
    let body = wait_firing(&bodies, "unhandled_rejection", Duration::from_secs(30));
    assert!(body.contains("checkout"), "{body}");
    // Acknowledged; let the outbox forget it, then stop hard again.
    thread::sleep(Duration::from_secs(1));
    let mut late = 0;
    while let Ok(body) = bodies.try_recv() {
        late += firings(&body, "unhandled_rejection");
    }
    assert!(late <= 1, "re-sent {late} times while the receiver was up");
    up.kill();

    let up = Up::start(&data_dir, &[&glob, "--webhook", &hook]);
    let alerts = listed(&up.url(), "unhandled_rejection");
    assert!(alerts.iter().any(|a| a["state"] == "firing"), "{alerts:?}");
    // Still firing, already delivered: a restart sends nothing new.
    let quiet_until = Instant::now() + Duration::from_secs(4);
    while let Some(left) = quiet_until.checked_duration_since(Instant::now()) {
        if let Ok(body) = bodies.recv_timeout(left) {
            assert_eq!(
                firings(&body, "unhandled_rejection"),
                0,
                "delivered again: {body}"
            );
        }
    }
    assert!(up.terminate().success());
}

#[test]
fn demo_fires_its_first_round_of_alerts_and_fills_search() {
    let dir = fresh_dir();
    let up = Up::start(&dir.path().join("data"), &["--demo"]);
    // The schedule: rejections at +10 s, an error spike at +20 s. The spike alerts in the first
    // round only because the demo writes minutes of normal history first.
    up.wait_line("unhandled_rejection", Duration::from_secs(60));
    let spike = up.wait_line("error_rate_spike", Duration::from_secs(120));
    assert!(spike.contains("FIRING"), "{spike}");
    // The history is searchable: records from before the demo started.
    let search: serde_json::Value = reqwest::blocking::Client::new()
        .get(format!("{}/api/v1/search", up.url()))
        .query(&[("q", ""), ("start", "15m"), ("end", "5m")])
        .timeout(Duration::from_secs(10))
        .send()
        .expect("search")
        .json()
        .expect("search json");
    assert!(search["total"].as_u64().unwrap_or(0) > 1000, "{search}");
    assert!(dir.path().join("data/demo-logs/checkout.log").exists());
    assert!(up.terminate().success());
}

#[test]
fn sigterm_hands_the_last_lines_to_the_node_before_it_stops() {
    let dir = fresh_dir();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).expect("logs dir");
    let data_dir = dir.path().join("data");
    let glob = format!("{}/*.log", logs.display());
    let up = Up::start(&data_dir, &[&glob]);
    append(&logs.join("checkout.log"), &rejection_block());
    // Stop as soon as the shipper has read something: its batches may not all be sent yet.
    let spool = data_dir.join("ship/spool");
    let read_something = || {
        std::fs::read_dir(&spool).is_ok_and(|d| {
            d.filter_map(|e| e.ok())
                .any(|e| e.path().extension().is_some_and(|x| x == "batch"))
        }) || search_total(&up.url(), "service:checkout") > 0
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !read_something() && std::time::Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    assert!(up.terminate().success());
    let spooled: Vec<_> = std::fs::read_dir(data_dir.join("ship/spool"))
        .expect("spool dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "batch"))
        .collect();
    assert!(spooled.is_empty(), "left in the spool: {spooled:?}");

    // The node alone: every line is in the store.
    let up = Up::start(&data_dir, &[]);
    let search: serde_json::Value = reqwest::blocking::Client::new()
        .get(format!("{}/api/v1/search", up.url()))
        .query(&[("q", "service:checkout"), ("start", "1h")])
        .timeout(Duration::from_secs(10))
        .send()
        .expect("search")
        .json()
        .expect("search json");
    // 13 lines: 8 single-line events and one 5-line rejection block.
    assert_eq!(search["total"], 9, "{search}");
    assert!(up.terminate().success());
}

/// How many records the node finds for `q` in the last hour (0 when it cannot answer).
fn search_total(url: &str, q: &str) -> u64 {
    reqwest::blocking::Client::new()
        .get(format!("{url}/api/v1/search"))
        .query(&[("q", q), ("start", "1h"), ("limit", "1")])
        .timeout(Duration::from_secs(5))
        .send()
        .and_then(|r| r.json::<serde_json::Value>())
        .map_or(0, |v| v["total"].as_u64().unwrap_or(0))
}
