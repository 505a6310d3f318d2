//! The harness's own loopback servers: a discarding ingest endpoint (the shipper's cost alone)
//! and a webhook receiver (when alerts arrive).
//!
//! The sink speaks the ingest protocol from the outside: it decompresses each batch, counts its
//! NDJSON lines and acknowledges them all, without storing anything.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use tokio::runtime::Runtime;

pub struct Sink {
    pub url: String,
    /// Records acknowledged so far.
    pub records: Arc<AtomicU64>,
}

/// Starts the discarding endpoint on `127.0.0.1:0`.
pub fn discarding_sink(rt: &Runtime) -> Result<Sink, String> {
    let records = Arc::new(AtomicU64::new(0));
    let st = records.clone();
    let app = Router::new().route(
        "/api/v1/ingest",
        post(move |headers: HeaderMap, body: Bytes| {
            let st = st.clone();
            async move { acknowledge(&st, &headers, &body) }
        }),
    );
    let url = serve(rt, app)?;
    Ok(Sink { url, records })
}

fn acknowledge(
    records: &AtomicU64,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Json<serde_json::Value>, StatusCode> {
    let zstd = headers
        .get("content-encoding")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"zstd"));
    let lines = if zstd {
        let plain = zstd::decode_all(body).map_err(|_| StatusCode::BAD_REQUEST)?;
        count_lines(&plain)
    } else {
        count_lines(body)
    };
    records.fetch_add(lines, Ordering::Relaxed);
    Ok(Json(
        serde_json::json!({"accepted": lines, "duplicates": 0, "rejected": []}),
    ))
}

fn count_lines(body: &[u8]) -> u64 {
    let mut n = body.iter().filter(|&&b| b == b'\n').count() as u64;
    if body.last().is_some_and(|&b| b != b'\n') {
        n += 1;
    }
    n
}

/// Webhook bodies as they arrive, with their arrival time.
pub struct Webhook {
    pub url: String,
    pub received: Arc<Mutex<Vec<(Instant, String)>>>,
}

impl Webhook {
    /// When the first body containing `needle` arrived, if one did.
    pub fn arrival_of(&self, needle: &str) -> Option<Instant> {
        let got = self.received.lock().ok()?;
        got.iter()
            .find(|(_, b)| b.contains(needle))
            .map(|(t, _)| *t)
    }
}

/// Starts a webhook receiver at `http://127.0.0.1:PORT/hook` that answers 200 to every POST.
pub fn webhook(rt: &Runtime) -> Result<Webhook, String> {
    let received = Arc::new(Mutex::new(Vec::new()));
    let r = received.clone();
    let app = Router::new().route(
        "/hook",
        post(move |body: Bytes| {
            let r = r.clone();
            async move {
                let at = Instant::now();
                if let Ok(mut got) = r.lock() {
                    got.push((at, String::from_utf8_lossy(&body).into_owned()));
                }
                StatusCode::OK
            }
        }),
    );
    let base = serve(rt, app)?;
    Ok(Webhook {
        url: format!("{base}/hook"),
        received,
    })
}

fn serve(rt: &Runtime, app: Router) -> Result<String, String> {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .map_err(|e| format!("bind: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("local addr: {e}"))?;
    rt.spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{addr}"))
}
