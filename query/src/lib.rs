//! # firewatch-query: finding records
//!
//! The query language, the HTTP query API over the node's index, and the offline tools
//! (`grep`, `analyze`) that read raw files and archives without a running node.

pub mod analyze;
pub mod api;
pub mod grep;
pub mod input;
pub mod lang;
pub mod search;
