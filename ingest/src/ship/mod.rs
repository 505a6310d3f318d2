//! `firewatch ship`: tail files and forward their records to an ingest node, exactly once.
//!
//! Pure parts — [`fingerprint`], [`checkpoint`], [`tail::fate`], [`batch`],
//! [`fdlimit::budget`] — are separate from the moving parts: the [`reader`] thread (discovery,
//! tailing, parsing, compressed siblings ([`archive`]), batching into the [`spool`]) and the
//! [`sender`] task (spool → node → checkpoints), whose [`client`] retries with
//! [`crate::resilience`]. The spool is the only queue between them: bounded, on disk, so an
//! outage costs disk and never lines.

pub mod archive;
pub mod batch;
pub mod checkpoint;
pub mod client;
pub mod config;
pub mod daemon;
pub mod discovery;
pub mod fdlimit;
pub mod fingerprint;
pub mod metrics;
pub mod reader;
pub mod sender;
pub mod spool;
pub mod tail;

pub use config::ShipConfig;
pub use daemon::{ShipError, Shipper};
