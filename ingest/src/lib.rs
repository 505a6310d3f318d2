//! # firewatch-ingest: from bytes on a host to records
//!
//! The first stage of the firewatch pipeline. Everything here turns raw log bytes into
//! [`LogRecord`]s and moves them towards an ingest node:
//!
//! - [`record`]: the record model shared by every crate, and its JSON shape.
//! - [`protocol`]: the shipper ↔ node wire protocol.
//! - [`parse`]: raw lines to records without configuration: format detection, runtime prefixes,
//!   multiline events (stack traces), and [`parse::parse_reader`] for whole files.
//! - [`ship`]: the tail-and-ship daemon (`firewatch ship`).
//! - [`endpoint`]: the node's ingest endpoint (an axum router over a [`endpoint::RecordSink`]).
//! - [`resilience`]: backoff with jitter, circuit breakers and `Retry-After`, for every client
//!   that sends to a receiver that may be down (the shipper, alert delivery).
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
pub mod gen;
pub mod parse;
pub mod protocol;
pub mod record;
pub mod resilience;
pub mod ship;

pub use record::{Batch, Encoded, Level, LogRecord, Nanos};
