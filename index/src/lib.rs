//! # firewatch-index: durable storage for records
//!
//! The ingest node's storage: a write-ahead log that makes a batch durable before it is
//! acknowledged, time-partitioned segments holding a zstd-compressed archive of the records and a
//! tantivy index over them, and retention.
//!
//! - [`Store`]: the write path. [`Store::append`] returns once a batch's new records are fsynced
//!   in the [`wal`]; duplicates (by record id) are recognized and not stored again.
//! - [`Reader`] / [`Snapshot`]: the read API. A snapshot is a tantivy [`tantivy::Searcher`] over
//!   the [`schema`] plus the segments its documents point into; hits are turned into records
//!   with [`Snapshot::fetch`], a page of them at once with [`Snapshot::fetch_many`] (through a
//!   [`BlockCache`] of decompressed archive blocks). A record is searchable within `commit_interval_ms` (500 ms by
//!   default) of its acknowledgement.
//! - [`Store::subscribe`]: records as they become durable, for detectors and the live tail.
//! - [`DataDir`]: a data directory's sealed archives read in place, without a node (offline
//!   `grep` and `analyze`).
//!
//! ```
//! use firewatch_index::{Store, StoreConfig};
//! use tantivy::collector::TopDocs;
//! use tantivy::query::TermQuery;
//! use tantivy::schema::IndexRecordOption;
//! use tantivy::Term;
//!
//! # let dir = tempfile::tempdir().unwrap();
//! let cfg = StoreConfig { data_dir: dir.path().into(), commit_interval_ms: 20, ..Default::default() };
//! let store = Store::open(cfg).unwrap();
//! let rec: firewatch_ingest::LogRecord = serde_json::from_str(
//!     r#"{"id":"a:1","timestamp":0,"observed":0,"service":"api","level":"error","message":"boom"}"#,
//! ).unwrap();
//! let rt = tokio::runtime::Runtime::new().unwrap();
//! let outcome = rt.block_on(store.append(vec![rec.clone(), rec.clone()])).unwrap();
//! assert_eq!((outcome.accepted, outcome.duplicates), (1, 1));
//!
//! let reader = store.reader();
//! std::thread::sleep(std::time::Duration::from_millis(200)); // the commit cadence
//! let snap = reader.snapshot();
//! let f = snap.fields();
//! let query = TermQuery::new(Term::from_field_text(f.service, "api"), IndexRecordOption::Basic);
//! let hits = snap.searcher().search(&query, &TopDocs::with_limit(10).order_by_score()).unwrap();
//! assert_eq!(snap.fetch(hits[0].1).unwrap(), rec);
//! assert_eq!(snap.segments()[0].records, 1);
//! store.close();
//! ```

mod applier;
pub mod archive;
pub mod block;
pub mod block_filter;
pub mod block_text;
pub mod cache;
pub mod catalog;
pub mod config;
pub mod error;
pub mod ids;
pub mod metrics;
pub mod numbers;
pub mod offline;
pub mod reader;
pub mod retention;
pub mod schema;
mod sink;
pub mod store;
pub mod wal;
pub mod words;

pub use block_text::BlockText;
pub use cache::BlockCache;
pub use catalog::SegmentInfo;
pub use config::{Faults, StoreConfig};
pub use error::StoreError;
pub use metrics::StoreMetrics;
pub use offline::{DataDir, SealedSegment};
pub use reader::{Reader, Snapshot};
pub use schema::{Fields, RecordPtr};
pub use store::{AppendOutcome, Durable, Follower, Store};
