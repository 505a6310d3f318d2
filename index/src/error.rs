//! The errors of the store.

use std::io;

/// What can go wrong storing or reading records.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Too much is queued or on disk: try again later.
    #[error("overloaded: {reason}")]
    Overloaded { reason: &'static str },
    /// The disk refused a write (full, read-only, failing); nothing was acknowledged.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The store is shutting down.
    #[error("shutting down")]
    ShuttingDown,
    #[error("record {ord} not in the archive")]
    NotFound { ord: u64 },
    #[error("segment {segment} not found")]
    NoSegment { segment: u64 },
    /// Data written by an older firewatch whose format this one no longer reads.
    #[error("{what} is not supported by this version (written by an older firewatch; move the data directory away or delete it)")]
    Unsupported { what: String },
    #[error("corrupt {what}")]
    Corrupt { what: String },
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
    #[error("index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("record json: {0}")]
    Json(#[from] serde_json::Error),
}
