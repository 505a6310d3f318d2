//! The JSON bodies of the query API's answers (shared with the `firewatch search` client).

use firewatch_ingest::LogRecord;
use serde::{Deserialize, Serialize};

/// `GET /api/v1/search`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SearchResponse {
    /// Newest first (or oldest first with `order=asc`).
    pub hits: Vec<LogRecord>,
    /// Every match in the time range, exactly.
    pub total: u64,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
    /// Matches left out because the archive block holding them is damaged; absent when none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unreadable: u64,
    pub took_ms: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// `GET /api/v1/histogram`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HistogramResponse {
    pub interval_ms: u64,
    pub buckets: Vec<Bucket>,
    pub total: u64,
    /// Matches left out because the archive block holding them is damaged; absent when none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unreadable: u64,
    pub took_ms: u64,
}

/// One time bucket.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bucket {
    /// RFC 3339 start of the bucket.
    pub start: String,
    pub count: u64,
    /// Counts per value of the `by` field, when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<std::collections::BTreeMap<String, u64>>,
}

/// `GET /api/v1/fields/{name}/top`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TopResponse {
    pub field: String,
    pub values: Vec<ValueCount>,
    /// Matches in total, and those whose value is not listed (or that have none).
    pub total: u64,
    pub other: u64,
    /// Matches left out because the archive block holding them is damaged; absent when none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unreadable: u64,
    pub took_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ValueCount {
    pub value: String,
    pub count: u64,
}
