//! # firewatch-ingest: from bytes on a host to records
//!
//! The first stage of the firewatch pipeline. Everything here turns raw log bytes into
//! [`LogRecord`]s and moves them towards an ingest node:
//!
//! - [`record`]: the record model shared by every crate, and its JSON shape.
//! - [`protocol`]: the shipper ↔ node wire protocol.
//! - [`endpoint`]: the node's ingest endpoint (an axum router over a [`endpoint::RecordSink`]).
//!
//! ```
//! use firewatch_ingest::{Level, LogRecord};
//!
//! let rec: LogRecord = serde_json::from_str(
//!     r#"{"id":"api:1","timestamp":"2026-11-20T10:00:00Z","observed":0,"level":"error","message":"boom"}"#,
//! ).unwrap();
//! assert_eq!(rec.level, Level::Error);
//! assert!(rec.is_error());
//! ```

pub mod endpoint;
pub mod parse;
pub mod protocol;
pub mod record;

pub use record::{Level, LogRecord, Nanos};
