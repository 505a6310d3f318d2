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
    /// A batch larger than one write-ahead-log entry holds; nothing of it was stored.
    #[error("batch of {bytes} bytes is more than one write-ahead-log entry holds ({most})")]
    TooLarge { bytes: usize, most: usize },
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
    // The causes are in the messages, not `source()` too: an error chain (anyhow's `{:#}`)
    // printed each one twice ("i/o: No such file…: No such file…").
    #[error("i/o: {0}")]
    Io(io::Error),
    #[error("index: {0}")]
    Index(tantivy::TantivyError),
    #[error("record json: {0}")]
    Json(serde_json::Error),
}

impl From<io::Error> for StoreError {
    fn from(e: io::Error) -> Self {
        StoreError::Io(e)
    }
}

impl From<tantivy::TantivyError> for StoreError {
    fn from(e: tantivy::TantivyError) -> Self {
        StoreError::Index(e)
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Json(e)
    }
}
