//! Measures alert delivery latency with the default delivery settings: from `AlertSender::send`
//! to the webhook receiver holding the notification (fsync of the outbox included), for single
//! alerts and for a burst of 500. Prints figures; asserts nothing.
//!
//! `cargo run --release -p firewatch-detectors --example alert_latency`

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::post;
use axum::Router;
use firewatch_detectors::{
    Alert, AlertKind, AlertState, Alerting, AlertingConfig, Destination, Severity,
};
use serde_json::Map;

type Arrivals = Arc<Mutex<Vec<(usize, Instant)>>>;

async fn hook(State(arrivals): State<Arrivals>, body: String) {
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let now = Instant::now();
    let n = v["notifications"].as_array().map_or(0, Vec::len);
    if let Ok(mut a) = arrivals.lock() {
        a.push((n, now));
    }
}

fn alert(service: &str) -> Alert {
    Alert {
        kind: AlertKind::Panic,
        state: AlertState::Firing,
        service: service.into(),
        fingerprint: format!("fp-{service}"),
        detected_at: 1,
        first_seen: 1,
        last_seen: 1,
        count: 1,
        severity: Severity::Critical,
        title: "panic".into(),
        evidence: vec!["thread 'main' panicked".into()],
        details: Map::new(),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arrivals: Arrivals = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = Router::new()
        .route("/hook", post(hook))
        .with_state(arrivals.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir()?;
    let config = AlertingConfig::new(
        dir.path().to_path_buf(),
        "http://127.0.0.1:7600",
        vec![Destination::webhook(&format!("http://{addr}/hook"))],
    );
    let alerting = Alerting::start(config)?;
    let tx = alerting.sender();

    let mut singles = Vec::new();
    for i in 0..30 {
        let before = arrivals.lock().map(|a| a.len()).unwrap_or(0);
        let start = Instant::now();
        tx.send(vec![alert(&format!("single{i}"))]);
        while arrivals.lock().map(|a| a.len()).unwrap_or(0) == before {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        singles.push(start.elapsed());
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    singles.sort();
    println!(
        "single alert, send -> received: p50 {:?}  p99 {:?}  max {:?}  (group_wait 500 ms)",
        percentile(&singles, 0.5),
        percentile(&singles, 0.99),
        singles[singles.len() - 1]
    );

    let posts_before = arrivals.lock().map(|a| a.len()).unwrap_or(0);
    let start = Instant::now();
    for i in 0..500 {
        tx.send(vec![alert(&format!("burst{i}"))]);
    }
    let send_time = start.elapsed();
    let received = || {
        arrivals
            .lock()
            .map(|a| a[posts_before..].iter().map(|(n, _)| n).sum::<usize>())
            .unwrap_or(0)
    };
    while received() < 500 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let posts = arrivals.lock().map(|a| a.len() - posts_before).unwrap_or(0);
    println!(
        "burst of 500 services: send() total {send_time:?}, all received after {:?} in {posts} POSTs",
        start.elapsed()
    );
    alerting.shutdown(Duration::from_secs(1)).await;
    Ok(())
}
