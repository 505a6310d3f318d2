//! Shared by the delivery tests: alerts, fast delivery settings, and an in-process webhook
//! receiver whose behaviour can be switched (ok, 500, slow, 429) while it runs.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use firewatch_detectors::delivery::BreakerConfig;
use firewatch_detectors::delivery::DeliveryConfig;
use firewatch_detectors::{Alert, AlertKind, AlertState, AlertingConfig, Destination, Severity};
use serde_json::{Map, Value};

pub fn alert(service: &str, state: AlertState, first: i64, last: i64) -> Alert {
    Alert {
        kind: AlertKind::UnhandledRejection,
        state,
        service: service.into(),
        fingerprint: format!("fp-{service}"),
        detected_at: last,
        first_seen: first,
        last_seen: last,
        count: 1,
        severity: Severity::Critical,
        title: format!("unhandled rejection in {service}"),
        evidence: vec!["Error: boom".into()],
        details: Map::new(),
    }
}

pub fn fast_config(dir: &Path, destinations: Vec<Destination>) -> AlertingConfig {
    let mut c = AlertingConfig::new(dir.to_path_buf(), "http://127.0.0.1:7600", destinations);
    c.delivery = DeliveryConfig {
        timeout: Duration::from_millis(300),
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(100),
        retry_after_max: Duration::from_millis(300),
        group_wait: Duration::from_millis(30),
        min_interval: Duration::ZERO,
        max_batch: 200,
        breaker: BreakerConfig {
            failures_to_open: 3,
            cooldown: Duration::from_millis(100),
            max_cooldown: Duration::from_millis(400),
        },
        alertmanager_hold: Duration::from_secs(3600),
    };
    c
}

/// How the receiver answers.
pub const OK: u8 = 0;
pub const FAIL: u8 = 1;
pub const SLOW: u8 = 2;
pub const THROTTLE: u8 = 3;

/// What the receiver got: one entry per accepted POST.
#[derive(Default)]
pub struct Received {
    pub posts: Vec<(String, Value)>,
    pub refused: usize,
}

#[derive(Clone)]
pub struct Receiver {
    pub mode: Arc<AtomicU8>,
    pub got: Arc<Mutex<Received>>,
}

impl Receiver {
    pub fn keys(&self) -> Vec<String> {
        let got = self.got.lock().unwrap();
        got.posts
            .iter()
            .flat_map(|(_, v)| v["notifications"].as_array().cloned().unwrap_or_default())
            .map(|n| n["idempotency_key"].as_str().unwrap_or("").to_string())
            .collect()
    }

    pub fn posts(&self) -> usize {
        self.got.lock().unwrap().posts.len()
    }

    pub fn set(&self, mode: u8) {
        self.mode.store(mode, SeqCst);
    }
}

async fn hook(State(r): State<Receiver>, headers: HeaderMap, body: String) -> impl IntoResponse {
    let mode = r.mode.load(SeqCst);
    if mode == SLOW {
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    if mode != OK {
        r.got.lock().unwrap().refused += 1;
        let mut h = HeaderMap::new();
        if mode == THROTTLE {
            h.insert("retry-after", "0".parse().unwrap());
            return (StatusCode::TOO_MANY_REQUESTS, h);
        }
        return (StatusCode::INTERNAL_SERVER_ERROR, h);
    }
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    r.got.lock().unwrap().posts.push((key, v));
    (StatusCode::OK, HeaderMap::new())
}

/// Serves the receiver on `addr` (`127.0.0.1:0` for any port).
pub async fn serve(addr: SocketAddr, r: Receiver) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let local = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/hook", post(hook))
        .route("/api/v2/alerts", post(hook))
        .with_state(r);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (local, task)
}

pub fn receiver(mode: u8) -> Receiver {
    Receiver {
        mode: Arc::new(AtomicU8::new(mode)),
        got: Arc::new(Mutex::new(Received::default())),
    }
}

/// A loopback port nothing listens on (yet).
///
/// The port is below the kernel's ephemeral range (32768 and up by default on Linux), and no
/// two calls in one process return the same one: a receiver bound to port 0 by a concurrent
/// test must not take the port while the receiver meant for it is down.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    const FIRST: u16 = 20_000;
    const SPAN: u16 = 10_000;
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let offset = (std::process::id() % u32::from(SPAN)) as u16;
    for _ in 0..SPAN {
        let n = NEXT.fetch_add(1, Ordering::Relaxed) % SPAN;
        let port = FIRST + (offset + n) % SPAN;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {FIRST}..{}", FIRST + SPAN);
}

/// Polls `cond` every 20 ms until true or `limit` passes.
pub async fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cond()
}
