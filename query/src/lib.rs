//! # firewatch-query: finding records
//!
//! The query language, the HTTP query API over the node's index, and the offline tools
//! (`grep`, `analyze`) that read raw files and archives without a running node.
//!
//! - [`lang`]: query text → [`lang::Query`], with errors that name a position, and
//!   [`lang::matches`], the exact meaning of a query on one record (the oracle the index-backed
//!   search is tested against, and the filter of the live tail).
//! - [`search`]: [`search::Engine`] answers searches, histograms, top values and exports from a
//!   node's tantivy index and archive snapshot.
//! - [`api`]: the node's `/api/v1/…` routes as an axum `Router` over an engine.
//! - [`grep`] and [`analyze`]: the offline commands over [`input`]s — plain files, directories,
//!   `.gz`/`.zst`, and a node's data directory read in place.
//!
//! ```
//! use firewatch_query::lang::{matches, parse};
//!
//! let rec: firewatch_ingest::LogRecord = serde_json::from_str(
//!     r#"{"id":"a:1","timestamp":0,"observed":0,"service":"checkout","level":"error",
//!         "message":"payment failed: upstream timeout","fields":{"http":{"status":503}}}"#,
//! ).unwrap();
//! let q = parse(r#"service:checkout level:>=warn "upstream timeout" http.status:[500 TO 599]"#).unwrap();
//! assert!(matches(&q, &rec));
//! assert!(!matches(&parse("-timeout").unwrap(), &rec));
//!
//! let err = parse("level:>=warn AND (timeout").unwrap_err();
//! assert_eq!(err.position, 17); // the unclosed parenthesis
//! ```

pub mod analyze;
pub mod api;
pub mod grep;
pub mod input;
pub mod lang;
pub mod search;
