//! The wire protocol between shippers (and other clients) and the ingest node.
//!
//! `POST /api/v1/ingest` with a body of NDJSON [`LogRecord`]s, one per line, optionally
//! compressed (`Content-Encoding: zstd`), and a batch id in the [`BATCH_ID_HEADER`] header.
//! The node answers only once every accepted record is durable, with an [`IngestResponse`] that
//! accounts for every line of the body: accepted, duplicate (its id was already stored) or
//! rejected (with the reason). Records are idempotent by `id`, so a client that did not see the
//! answer simply sends the same batch again.
//!
//! Overload is answered with `429 Too Many Requests` and disk trouble with `503 Service
//! Unavailable`, both with a `Retry-After` header (seconds) that clients honour.
//!
//! [`LogRecord`]: crate::LogRecord

use serde::{Deserialize, Serialize};

/// The path of the ingest endpoint on the node.
pub const INGEST_PATH: &str = "/api/v1/ingest";
/// Header carrying the client's batch id (any string up to 128 bytes, for logs and tracing).
pub const BATCH_ID_HEADER: &str = "x-firewatch-batch";

/// The node's answer to a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestResponse {
    /// Records newly stored (durable before this response was sent).
    pub accepted: u64,
    /// Records whose id was already stored; not stored again.
    pub duplicates: u64,
    /// Records refused, each with its 0-based line number in the body and the reason.
    #[serde(default)]
    pub rejected: Vec<Rejection>,
}

/// One refused line of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    pub line: u64,
    pub error: String,
}

/// The JSON body of every 4xx/5xx answer of the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Short, lowercase, stable error code (`payload_too_large`, `bad_encoding`, `overloaded`…).
    pub error: String,
    /// What went wrong, for a person.
    pub message: String,
}
