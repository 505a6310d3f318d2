//! Searching the node's index: a parsed [`Query`](crate::lang::Query) and a time range become a
//! tantivy query ([`translate`]), run by collectors ([`collect`]) that count exactly, keep a
//! page of hits in time order, bucket by time, count values or stream records out. [`Engine`]
//! puts them together over a [`Reader`](firewatch_index::Reader) with a deadline per query.

mod aggregate;
mod chunks;
pub mod collect;
mod count;
mod engine;
mod records;
mod scan;
mod structured;
mod time;
pub mod translate;
mod value_terms;
mod values;
mod word_sets;

pub use aggregate::{Buckets, HistogramBucket, TopValues};
pub use collect::Order;
pub use engine::{Engine, Scope, SearchError, SearchPage};
pub use scan::Key;
