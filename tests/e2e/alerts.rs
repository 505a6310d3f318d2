//! The node's detectors wired to alert delivery: records posted to `firewatch serve` raise an
//! alert that reaches a webhook receiver and is listed by `GET /api/v1/alerts`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::util::{fresh_dir, start_node};

/// A webhook receiver on 127.0.0.1: answers 200 to every POST and hands over each body.
pub fn receiver() -> (String, mpsc::Receiver<String>) {
    receiver_on(TcpListener::bind("127.0.0.1:0").expect("bind receiver"))
}

/// [`receiver`] on a listener the caller bound (to come back on a known port).
pub fn receiver_on(listener: TcpListener) -> (String, mpsc::Receiver<String>) {
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
            let mut reader = BufReader::new(conn.try_clone().expect("clone stream"));
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; len];
            if reader.read_exact(&mut body).is_ok() {
                let _ = tx.send(String::from_utf8_lossy(&body).into_owned());
            }
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (url, rx)
}

#[test]
fn rejection_posted_to_node_reaches_webhook_and_alert_list() {
    let dir = fresh_dir();
    let (hook, bodies) = receiver();
    let (mut child, addr) = start_node(dir.path(), "127.0.0.1:0", &["--webhook", &hook]);
    let node = format!("http://{addr}");

    let now = chrono::Utc::now();
    let records: String = (0..3)
        .map(|i| {
            let ts = (now + chrono::Duration::seconds(i)).to_rfc3339();
            serde_json::json!({
                "id": format!("e2e:{i}"),
                "timestamp": ts,
                "observed": ts,
                "service": "checkout",
                "level": "error",
                "message": "(node:24) UnhandledPromiseRejectionWarning: Error: reservation failed (409)\n    at Reservations.hold (/srv/app/src/reservations.js:88:11)",
            })
            .to_string()
                + "\n"
        })
        .collect();
    let client = ingest(&node, records);

    let body = bodies
        .recv_timeout(Duration::from_secs(20))
        .expect("a webhook POST within 20 s");
    assert!(body.contains("unhandled_rejection"), "{body}");
    assert!(body.contains("checkout"), "{body}");

    let text = wait_listed(&client, &node, Duration::from_secs(10));
    assert!(text.contains("checkout"), "{text}");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_burst_larger_than_the_live_tail_buffer_hides_nothing_from_the_detectors() {
    let dir = fresh_dir();
    // Live tails skip what overflows this; the detectors must not.
    let cfg = dir.path().join("node.toml");
    std::fs::write(&cfg, "[store]\nbroadcast_capacity = 4\n").expect("write config");
    let data = dir.path().join("data");
    let cfg = cfg.to_string_lossy().into_owned();
    let (mut child, addr) = start_node(&data, "127.0.0.1:0", &["--config", &cfg]);
    let node = format!("http://{addr}");

    let now = chrono::Utc::now();
    // The one rejection first, then 299 ordinary lines, all in one batch.
    let records: String = (0..300)
        .map(|i| {
            let ts = (now + chrono::Duration::milliseconds(i)).to_rfc3339();
            let (level, message) = if i == 0 {
                (
                    "error",
                    "(node:24) UnhandledPromiseRejectionWarning: Error: reservation failed (409)",
                )
            } else {
                ("info", "GET /api/cart 200 12ms")
            };
            serde_json::json!({
                "id": format!("burst:{i}"), "timestamp": ts, "observed": ts,
                "service": "checkout", "level": level, "message": message,
            })
            .to_string()
                + "\n"
        })
        .collect();
    let client = ingest(&node, records);

    // The rejection at the head of the burst must raise its alert.
    wait_listed(&client, &node, Duration::from_secs(15));
    let _ = child.kill();
    let _ = child.wait();
}

/// Posts NDJSON records to the node's ingest endpoint; returns the client, for what follows.
fn ingest(node: &str, records: String) -> reqwest::blocking::Client {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let resp = client
        .post(format!("{node}/api/v1/ingest"))
        .header("content-type", "application/x-ndjson")
        .body(records)
        .send()
        .expect("ingest");
    assert!(resp.status().is_success(), "ingest: {}", resp.status());
    client
}

/// Waits until the node lists an unhandled-rejection alert; returns the list as text.
fn wait_listed(client: &reqwest::blocking::Client, node: &str, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let list: serde_json::Value = client
            .get(format!("{node}/api/v1/alerts?state=all"))
            .send()
            .expect("list alerts")
            .json()
            .expect("alerts json");
        let text = list.to_string();
        if text.contains("unhandled_rejection") {
            return text;
        }
        assert!(Instant::now() < deadline, "alert never listed: {text}");
        thread::sleep(Duration::from_millis(200));
    }
}
