//! The store's settings (the `[store]` table of the node's TOML config).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;

use serde::Deserialize;

/// How the store behaves; every field has a default.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// Where the WAL, segments and index live.
    pub data_dir: PathBuf,
    /// How often new records are committed and made searchable.
    pub commit_interval_ms: u64,
    /// A segment is sealed when its records' JSON reaches this size…
    pub segment_max_bytes: u64,
    /// …or when it is this old.
    pub segment_max_age_secs: u64,
    /// Merge small sealed segments (under half of `segment_max_bytes`) once this many are
    /// adjacent (0: never merge).
    pub merge_min_segments: usize,
    /// Records' JSON bytes per archive block: a block is cut as soon as its records pass it,
    /// or, past a quarter of it, where a run of records of one source ends. Larger blocks
    /// compress better (each carries its own templates, column headers and filter): with
    /// sources interleaved record by record, a mixed 1 M-line corpus took 27.0 MB of archive
    /// in 64 KiB blocks, 13.7 in 1 MiB, 12.1 in 4 MiB and 11.9 in 8 MiB, while reading the
    /// newest 100 hits of a rare word took 2, 2–3 and 3–4 ms: each hit decompresses a larger
    /// block.
    pub block_bytes: usize,
    /// zstd level of archive blocks. Blocks hold column-encoded records (message templates,
    /// typed field columns), which leave zstd little to do: on a mixed 1 M-line corpus level 9
    /// made the archive 16% smaller than level 3 at no measurable cost in node CPU; 12 cost 16%
    /// more CPU for 3% less.
    pub zstd_level: i32,
    /// Decompressed archive blocks kept for reads (bytes; 0: none).
    pub block_cache_bytes: usize,
    /// Records durable but not yet indexed above which batches are refused (429).
    pub max_queued_records: u64,
    /// WAL size above which batches are refused (429).
    pub max_wal_bytes: u64,
    /// Segments whose newest record is older than this are removed (0: keep).
    pub retention_age_secs: u64,
    /// Oldest segments are removed while the store is larger than this (0: no limit).
    pub retention_bytes: u64,
    /// Memory of the index writer.
    pub index_memory_bytes: usize,
    /// Records buffered for subscribers of durable records before slow ones lose some.
    pub broadcast_capacity: usize,
    /// Fault injection at the disk seam, for tests.
    #[serde(skip)]
    pub faults: Faults,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            data_dir: PathBuf::from("firewatch-data"),
            commit_interval_ms: 500,
            segment_max_bytes: 256 << 20,
            segment_max_age_secs: 600,
            merge_min_segments: 4,
            block_bytes: 4 << 20,
            zstd_level: 9,
            block_cache_bytes: 64 << 20,
            max_queued_records: 200_000,
            max_wal_bytes: 2 << 30,
            retention_age_secs: 0,
            retention_bytes: 0,
            index_memory_bytes: 64 << 20,
            broadcast_capacity: 16_384,
            faults: Faults::default(),
        }
    }
}

/// Switches that make the store's durable writes fail as a full disk would.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    disk_full: Arc<AtomicBool>,
    /// A merge step (1–3, see `applier::compaction`) after which merges fail; 0: none.
    merge_failure: Arc<AtomicU8>,
    /// Set by an injected merge failure: from then on the store writes nothing more to its
    /// segments and index, as if the process had died there (the WAL still takes batches).
    crashed: Arc<AtomicBool>,
}

impl Faults {
    pub fn set_disk_full(&self, full: bool) {
        self.disk_full.store(full, Ordering::SeqCst);
    }

    /// Makes merges fail right after durable step `step` (0: stop failing).
    pub fn fail_merge_after(&self, step: u8) {
        self.merge_failure.store(step, Ordering::SeqCst);
    }

    /// The error a merge gets after `step` if told to fail there; the store then acts as
    /// crashed (see [`Faults::crashed`]).
    pub fn check_merge(&self, step: u8) -> std::io::Result<()> {
        if self.merge_failure.load(Ordering::SeqCst) == step {
            self.crashed.store(true, Ordering::SeqCst);
            return Err(std::io::Error::other(format!(
                "merge interrupted after step {step} (injected)"
            )));
        }
        Ok(())
    }

    /// Has an injected failure frozen the segments and index as a crash would?
    pub fn crashed(&self) -> bool {
        self.crashed.load(Ordering::SeqCst)
    }

    /// The error a write gets while the disk is "full".
    pub fn check(&self) -> std::io::Result<()> {
        if self.disk_full.load(Ordering::SeqCst) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "no space left on device (injected)",
            ));
        }
        Ok(())
    }
}
