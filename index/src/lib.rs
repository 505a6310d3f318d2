//! # firewatch-index: durable storage for records
//!
//! The ingest node's storage: a write-ahead log that makes a batch durable before it is
//! acknowledged, time-partitioned segments holding a zstd-compressed archive of the records and a
//! tantivy index over them, and retention.
