//! An in-process stand-in for the ingest node: stores records by id with dedup, and can be
//! switched down (500), busy (429) or unavailable (503) to exercise the shipper's retries.

use std::collections::HashMap;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use firewatch_ingest::protocol::{IngestResponse, INGEST_PATH};
use firewatch_ingest::LogRecord;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    Up = 0,
    Down = 1,
    Busy = 2,
    Unavailable = 3,
}

#[derive(Default)]
struct Shared {
    mode: AtomicU8,
    records: Mutex<HashMap<String, LogRecord>>,
}

/// A running fake node; stops when dropped.
pub struct FakeNode {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    _rt: tokio::runtime::Runtime,
}

async fn ingest(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let retry = [("retry-after", "1")];
    match s.mode.load(Ordering::SeqCst) {
        1 => return (StatusCode::INTERNAL_SERVER_ERROR, "down").into_response(),
        2 => return (StatusCode::TOO_MANY_REQUESTS, retry, "busy").into_response(),
        3 => return (StatusCode::SERVICE_UNAVAILABLE, retry, "disk").into_response(),
        _ => {}
    }
    let mut raw = Vec::new();
    if headers.get("content-encoding").is_some_and(|v| v == "zstd") {
        if zstd::stream::read::Decoder::new(&body[..])
            .and_then(|mut d| d.read_to_end(&mut raw))
            .is_err()
        {
            return (StatusCode::BAD_REQUEST, "bad zstd").into_response();
        }
    } else {
        raw = body.to_vec();
    }
    let mut resp = IngestResponse::default();
    let mut records = s.records.lock().unwrap();
    for line in raw.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let rec: LogRecord = match serde_json::from_slice(line) {
            Ok(r) => r,
            Err(_) => return (StatusCode::BAD_REQUEST, "bad record").into_response(),
        };
        if records.contains_key(&rec.id) {
            resp.duplicates += 1;
        } else {
            records.insert(rec.id.clone(), rec);
            resp.accepted += 1;
        }
    }
    Json(resp).into_response()
}

impl FakeNode {
    pub fn start() -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route(INGEST_PATH, post(ingest))
            .with_state(shared.clone());
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        rt.spawn(async move { axum::serve(listener, app).await });
        FakeNode {
            addr,
            shared,
            _rt: rt,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set(&self, mode: Mode) {
        self.shared.mode.store(mode as u8, Ordering::SeqCst);
    }

    /// Stored messages, one per stored record.
    pub fn messages(&self) -> Vec<String> {
        let recs = self.shared.records.lock().unwrap();
        recs.values().map(|r| r.message.clone()).collect()
    }

    pub fn records(&self) -> Vec<LogRecord> {
        self.shared
            .records
            .lock()
            .unwrap()
            .values()
            .cloned()
            .collect()
    }
}
