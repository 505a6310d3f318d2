//! The node's ingest endpoint and its operability routes, as an axum [`Router`].
//!
//! `POST /api/v1/ingest` (see [`crate::protocol`]) decodes and validates a batch, hands the valid
//! records to a [`RecordSink`] — the node's storage — and answers once the sink says they are
//! durable. `GET /health` (alive), `GET /ready` (the sink can take writes) and `GET /metrics`
//! (Prometheus text) complete it. The endpoint is generic over the sink so that this crate does
//! not depend on the storage, and so handlers are tested with an in-memory sink.

pub mod body;
pub mod limit;
pub mod server;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use tokio::sync::Semaphore;
use tracing::{debug, warn};

use crate::protocol::{ErrorBody, IngestResponse, BATCH_ID_HEADER, INGEST_PATH};
use crate::record::Batch;
use body::BodyError;

/// What the sink did with a batch's valid records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stored {
    pub accepted: u64,
    pub duplicates: u64,
}

/// Why the sink did not store a batch (nothing of it was stored).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    /// Queues or disk usage over their limits: 429.
    #[error("overloaded: {0}")]
    Overloaded(String),
    /// The disk refused the write: 503.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("shutting down")]
    ShuttingDown,
    /// More than the sink can take as one batch, whenever asked: 413.
    #[error("batch too large: {0}")]
    TooLarge(String),
}

/// Where the endpoint puts records: the node's store, or a test double.
pub trait RecordSink: Send + Sync + 'static {
    /// Stores the batch's records that are new; resolves once they are durable.
    fn append(&self, batch: Batch) -> impl Future<Output = Result<Stored, SinkError>> + Send;
    /// Can the sink take writes now (readiness)?
    fn ready(&self) -> bool;
    /// Appends the sink's metrics in Prometheus text format.
    fn render_metrics(&self, out: &mut String);
}

/// Limits of the endpoint (the `[ingest]` table of the node's TOML config).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EndpointConfig {
    /// Largest request body as sent (compressed or not).
    pub max_body_bytes: usize,
    /// Largest body after decompression.
    pub max_decoded_bytes: usize,
    /// Largest single record line.
    pub max_record_bytes: usize,
    /// Batches processed at once; more are answered 429.
    pub max_in_flight: usize,
    /// `Retry-After` of 429 and 503 answers, in seconds.
    pub retry_after_secs: u64,
    /// A body not fully received this long after its headers is answered 408: a sender that
    /// stalls mid-body would otherwise hold one of the `max_in_flight` places for good.
    pub body_timeout_secs: u64,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        EndpointConfig {
            max_body_bytes: 16 << 20,
            max_decoded_bytes: 64 << 20,
            max_record_bytes: 1 << 20,
            max_in_flight: 64,
            retry_after_secs: 1,
            body_timeout_secs: 60,
        }
    }
}

#[derive(Default)]
struct Counters {
    batches_ok: AtomicU64,
    batches_refused: AtomicU64,
    batches_overloaded: AtomicU64,
    batches_unavailable: AtomicU64,
    records_rejected: AtomicU64,
    wire_bytes: AtomicU64,
}

struct Endpoint<S> {
    sink: Arc<S>,
    cfg: EndpointConfig,
    in_flight: Semaphore,
    counters: Counters,
}

/// The ingest, health, readiness and metrics routes over `sink`.
pub fn router<S: RecordSink>(sink: Arc<S>, cfg: EndpointConfig) -> Router {
    let state = Arc::new(Endpoint {
        sink,
        in_flight: Semaphore::new(cfg.max_in_flight.max(1)),
        cfg,
        counters: Counters::default(),
    });
    Router::new()
        .route(INGEST_PATH, post(ingest::<S>))
        .route(
            "/health",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route("/ready", get(ready::<S>))
        .route("/metrics", get(metrics::<S>))
        // The handler enforces its own limit, with a JSON answer.
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = ErrorBody {
        error: code.into(),
        message: message.into(),
    };
    (status, Json(body)).into_response()
}

fn retry_later(status: StatusCode, code: &str, message: String, secs: u64) -> Response {
    let mut resp = error(status, code, message);
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// Is the content type one an NDJSON body may carry (or absent)?
fn ndjson_content_type(headers: &HeaderMap) -> Result<(), String> {
    let Some(v) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let v = v.to_str().unwrap_or("").to_ascii_lowercase();
    let mime = v.split(';').next().unwrap_or("").trim();
    match mime {
        "application/x-ndjson"
        | "application/ndjson"
        | "application/jsonl"
        | "application/json"
        | "text/plain" => Ok(()),
        other => Err(format!(
            "content type {other:?} is not NDJSON (use application/x-ndjson)"
        )),
    }
}

async fn ingest<S: RecordSink>(
    State(ep): State<Arc<Endpoint<S>>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let c = &ep.counters;
    let resp = handle(&ep, &headers, body).await;
    let counter = match resp.status() {
        StatusCode::OK => &c.batches_ok,
        StatusCode::TOO_MANY_REQUESTS => &c.batches_overloaded,
        StatusCode::SERVICE_UNAVAILABLE => &c.batches_unavailable,
        _ => &c.batches_refused,
    };
    counter.fetch_add(1, Relaxed);
    resp
}

/// An answer sent before the body was read: the connection cannot be reused.
fn closing(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

async fn handle<S: RecordSink>(ep: &Endpoint<S>, headers: &HeaderMap, body: Body) -> Response {
    let cfg = &ep.cfg;
    // Refused before reading the body, so that memory is bounded by the in-flight limit.
    let Ok(_permit) = ep.in_flight.try_acquire() else {
        return closing(retry_later(
            StatusCode::TOO_MANY_REQUESTS,
            "overloaded",
            "too many batches in flight".into(),
            cfg.retry_after_secs,
        ));
    };
    if let Err(msg) = ndjson_content_type(headers) {
        return closing(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            msg,
        ));
    }
    let zstd = match headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
    {
        None => false,
        Some(e) if e == "identity" || e.is_empty() => false,
        Some(e) if e == "zstd" => true,
        Some(e) => {
            return closing(error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_encoding",
                format!("content encoding {e:?} is not supported (use zstd or none)"),
            ))
        }
    };
    let batch = headers
        .get(BATCH_ID_HEADER)
        .map(|v| v.to_str().unwrap_or("").to_string());
    if batch
        .as_ref()
        .is_some_and(|b| b.is_empty() || b.len() > 128)
    {
        return closing(error(
            StatusCode::BAD_REQUEST,
            "bad_batch_id",
            "batch id must be 1 to 128 visible ASCII bytes",
        ));
    }
    let too_large = || {
        closing(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("body larger than {} bytes", cfg.max_body_bytes),
        ))
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > cfg.max_body_bytes) {
        return too_large();
    }
    let read = axum::body::to_bytes(body, cfg.max_body_bytes);
    let bytes = match tokio::time::timeout(Duration::from_secs(cfg.body_timeout_secs), read).await {
        Ok(Ok(b)) => b,
        Ok(Err(_)) => return too_large(),
        Err(_) => {
            return closing(error(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                format!("body not received within {} s", cfg.body_timeout_secs),
            ))
        }
    };
    ep.counters
        .wire_bytes
        .fetch_add(bytes.len() as u64, Relaxed);
    let (max_decoded, max_record) = (cfg.max_decoded_bytes, cfg.max_record_bytes);
    // Decompression and JSON parsing are CPU work: keep them off the async workers.
    let parsed = tokio::task::spawn_blocking(move || {
        let plain = if zstd {
            body::decode_zstd(&bytes, max_decoded)?.into()
        } else {
            bytes.clone()
        };
        let (records, rejected) = body::parse_ndjson(plain, max_record);
        // The body stands for the records only when every line of it is one.
        let zstd_body = (zstd && rejected.is_empty()).then(|| bytes.clone());
        Ok::<_, BodyError>((Batch { records, zstd_body }, rejected))
    })
    .await;
    let (offered, rejected) = match parsed {
        Ok(Ok(parsed)) => parsed,
        Ok(Err(e @ BodyError::DecodedTooLarge { .. })) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "decoded_too_large",
                e.to_string(),
            )
        }
        Ok(Err(e @ BodyError::BadEncoding(_))) => {
            return error(StatusCode::BAD_REQUEST, "bad_encoding", e.to_string())
        }
        Err(_) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "batch decoding failed",
            )
        }
    };
    ep.counters
        .records_rejected
        .fetch_add(rejected.len() as u64, Relaxed);
    if offered.records.is_empty() && !rejected.is_empty() {
        let first = &rejected[0];
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_records",
            format!(
                "all {} records rejected; line {}: {}",
                rejected.len(),
                first.line,
                first.error
            ),
        );
    }
    let stored = if offered.records.is_empty() {
        Stored::default()
    } else {
        match ep.sink.append(offered).await {
            Ok(s) => s,
            Err(SinkError::Overloaded(why)) => {
                return retry_later(
                    StatusCode::TOO_MANY_REQUESTS,
                    "overloaded",
                    why,
                    cfg.retry_after_secs,
                )
            }
            Err(e @ SinkError::Unavailable(_)) => {
                warn!(batch = batch.as_deref().unwrap_or("-"), error = %e, "batch not stored");
                return retry_later(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_unavailable",
                    e.to_string(),
                    cfg.retry_after_secs,
                );
            }
            Err(SinkError::TooLarge(why)) => {
                return error(StatusCode::PAYLOAD_TOO_LARGE, "batch_too_large", why)
            }
            Err(SinkError::ShuttingDown) => {
                return retry_later(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "shutting_down",
                    "the node is shutting down".into(),
                    cfg.retry_after_secs,
                )
            }
        }
    };
    debug!(
        batch = batch.as_deref().unwrap_or("-"),
        accepted = stored.accepted,
        duplicates = stored.duplicates,
        rejected = rejected.len(),
        "batch stored"
    );
    Json(IngestResponse {
        accepted: stored.accepted,
        duplicates: stored.duplicates,
        rejected,
    })
    .into_response()
}

async fn ready<S: RecordSink>(State(ep): State<Arc<Endpoint<S>>>) -> Response {
    if ep.sink.ready() {
        Json(serde_json::json!({"status": "ready"})).into_response()
    } else {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "storage is not accepting writes",
        )
    }
}

async fn metrics<S: RecordSink>(State(ep): State<Arc<Endpoint<S>>>) -> Response {
    use std::fmt::Write;
    let c = &ep.counters;
    let mut out = String::new();
    let _ = writeln!(out, "# HELP firewatch_ingest_batches_total ingest requests by outcome\n# TYPE firewatch_ingest_batches_total counter");
    for (outcome, v) in [
        ("ok", &c.batches_ok),
        ("refused", &c.batches_refused),
        ("overloaded", &c.batches_overloaded),
        ("unavailable", &c.batches_unavailable),
    ] {
        let _ = writeln!(
            out,
            "firewatch_ingest_batches_total{{outcome=\"{outcome}\"}} {}",
            v.load(Relaxed)
        );
    }
    let _ = writeln!(out, "# HELP firewatch_records_rejected_total invalid records refused\n# TYPE firewatch_records_rejected_total counter\nfirewatch_records_rejected_total {}", c.records_rejected.load(Relaxed));
    let _ = writeln!(out, "# HELP firewatch_ingest_wire_bytes_total request body bytes received\n# TYPE firewatch_ingest_wire_bytes_total counter\nfirewatch_ingest_wire_bytes_total {}", c.wire_bytes.load(Relaxed));
    let in_flight = ep.cfg.max_in_flight.max(1) - ep.in_flight.available_permits();
    let _ = writeln!(out, "# HELP firewatch_ingest_in_flight batches being processed\n# TYPE firewatch_ingest_in_flight gauge\nfirewatch_ingest_in_flight {in_flight}");
    ep.sink.render_metrics(&mut out);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

#[cfg(test)]
mod tests;
