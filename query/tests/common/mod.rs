//! A store with a deterministic corpus, the query API over it, and a brute-force oracle.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use firewatch_index::{Store, StoreConfig};
use firewatch_ingest::{Level, LogRecord};
use firewatch_query::api::{router_with_metrics, ApiConfig, ApiMetrics};
use futures::StreamExt;
use serde_json::{json, Value};
use tower::ServiceExt;

pub const T0: i64 = 1_763_632_800_000_000_000; // 2025-11-20T10:00:00Z
pub const SEC: i64 = 1_000_000_000;

pub struct Node {
    pub store: Store,
    pub router: Router,
    pub metrics: Arc<ApiMetrics>,
    pub records: Vec<LogRecord>,
    _dir: tempfile::TempDir,
}

impl Drop for Node {
    fn drop(&mut self) {
        // Closing joins the store's threads; tests run on a multi-threaded runtime.
        tokio::task::block_in_place(|| self.store.close());
    }
}

/// A small pseudo-random generator, so corpora are the same on every run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(6364136223846793005).wrapping_add(1))
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() as usize) % items.len()]
    }
}

const SERVICES: [&str; 4] = ["checkout", "billing", "search", "auth"];
const HOSTS: [&str; 3] = ["web-1", "web-2", "db-1"];
const WORDS: [&str; 12] = [
    "payment",
    "failed",
    "timeout",
    "upstream",
    "connection",
    "reset",
    "user",
    "login",
    "cache",
    "miss",
    "Retry",
    "ok",
];

/// Messages that recur.
const TEMPLATES: [&str; 6] = [
    "payment failed after upstream timeout",
    "connection reset by upstream",
    "user login ok",
    "cache miss for user",
    "Retry payment",
    "login failed: connection timeout",
];

/// Record `i` of corpus `seed`: a few services, hosts and levels, messages from a small
/// vocabulary, structured fields of every JSON kind, timestamps with ties, sources in runs.
pub fn record(rng: &mut Rng, i: u64, seed: u64) -> LogRecord {
    let words = 3 + rng.next() % 5;
    let message: Vec<&str> = (0..words).map(|_| *rng.pick(&WORDS)).collect();
    // Half the messages repeat, as a template's do: the index keeps those as word sets.
    let mut message = match i % 2 {
        0 => message.join(" "),
        _ => rng.pick(&TEMPLATES).to_string(),
    };
    if i % 7 == 0 {
        message.push_str(&format!(
            " after {}ms (code E{})",
            rng.next() % 5000,
            rng.next() % 50
        ));
    }
    let status = *rng.pick(&[200, 200, 201, 404, 500, 503]);
    let mut fields = json!({"http": {"status": status, "method": *rng.pick(&["GET", "POST"])}});
    if i % 2 == 0 {
        fields["duration_ms"] = json!(rng.next() % 2000);
    } else if i % 5 == 0 {
        fields["duration_ms"] = json!((rng.next() % 20000) as f64 / 10.0);
    }
    if i % 3 == 0 {
        fields["user_id"] = json!(rng.next() % 100);
    }
    if i % 4 == 0 {
        fields["tags"] = json!([*rng.pick(&["red", "blue"]), *rng.pick(&["green", "red"])]);
    }
    if i % 11 == 0 {
        fields["status_text"] = json!(status.to_string());
    }
    // Two values common together in every chunk: a record lacking one may hold the other.
    fields["roles"] = match i % 10 {
        0 => json!(["user"]),
        1 => json!(["admin"]),
        _ => json!(["user", "admin"]),
    };
    // An object common in every chunk, missing from some records.
    if i % 10 != 7 {
        fields["client"] = json!({"os": "linux", "name": if i % 3 == 0 { "web" } else { "ios" }});
    }
    // Strings with a digit, common in every chunk, missing from some records.
    if i % 10 != 5 {
        fields["sku"] = json!(format!("A-{}", i % 7));
    }
    match i % 13 {
        0 => fields["trace.id"] = json!(format!("t{}", rng.next() % 5)),
        1 => fields["trace"] = json!({"id": format!("t{}", rng.next() % 5)}),
        2 => fields["items"] = json!([{"id": rng.next() % 6}, {"id": rng.next() % 6}]),
        3 => fields["nothing"] = json!(null),
        _ => {}
    }
    LogRecord {
        id: format!("{seed:04x}:{i}"),
        timestamp: T0 + (rng.next() % 3600) as i64 * SEC / 2,
        observed: T0,
        service: rng.pick(&SERVICES).to_string(),
        host: rng.pick(&HOSTS).to_string(),
        // Files are read in runs of lines, as a shipper sends them.
        source: format!(
            "/var/log/{}.log",
            SERVICES[((i / 40 + seed) % SERVICES.len() as u64) as usize]
        ),
        level: *rng.pick(&[
            Level::Info,
            Level::Info,
            Level::Debug,
            Level::Warn,
            Level::Error,
            Level::Fatal,
            Level::Trace,
        ]),
        level_raw: None,
        message,
        fields: fields.as_object().cloned().unwrap_or_default(),
    }
}

pub fn corpus(seed: u64, n: u64) -> Vec<LogRecord> {
    let mut rng = Rng::new(seed);
    (0..n).map(|i| record(&mut rng, i, seed)).collect()
}

/// A store holding `records`, searchable, and the query API over it.
pub async fn node(records: Vec<LogRecord>, cfg: ApiConfig) -> Node {
    node_with(records, cfg, 256 << 20).await
}

/// [`node`], sealing segments once their records' JSON reaches `segment_max_bytes`.
pub async fn node_with(records: Vec<LogRecord>, cfg: ApiConfig, segment_max_bytes: u64) -> Node {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(StoreConfig {
        data_dir: dir.path().into(),
        commit_interval_ms: 20,
        segment_max_bytes,
        block_bytes: 64 << 10,
        ..Default::default()
    })
    .expect("open store");
    let metrics = Arc::new(ApiMetrics::default());
    let sub = store.clone();
    let router = router_with_metrics(
        store.reader(),
        move || sub.subscribe(),
        cfg,
        metrics.clone(),
    );
    let node = Node {
        store,
        router,
        metrics,
        records: Vec::new(),
        _dir: dir,
    };
    let mut node = node;
    node.append(records).await;
    node
}

impl Node {
    /// The store's data directory.
    #[allow(dead_code)] // not every test binary uses it
    pub fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// Appends records and waits until they are searchable.
    pub async fn append(&mut self, records: Vec<LogRecord>) {
        for batch in records.chunks(500) {
            let outcome = self.store.append(batch.to_vec()).await.expect("append");
            assert_eq!(outcome.accepted as usize, batch.len());
        }
        self.records.extend(records);
        let want = self.records.len() as u64;
        let reader = self.store.reader();
        let started = Instant::now();
        while reader.snapshot().indexed_records().expect("index").0 < want {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "records not searchable"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// GET `uri`: status and JSON body.
    pub async fn get(&self, uri: &str) -> (StatusCode, Value) {
        let response = self
            .router
            .clone()
            .oneshot(Request::get(uri).body(Body::empty()).expect("request"))
            .await
            .expect("response");
        let status = response.status();
        let mut body = response.into_body().into_data_stream();
        let mut bytes = Vec::new();
        while let Some(chunk) = body.next().await {
            bytes.extend_from_slice(&chunk.expect("body chunk"));
        }
        let json = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{uri}: {e}: {}", String::from_utf8_lossy(&bytes)));
        (status, json)
    }
}

/// Percent-encodes a query-string value.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
