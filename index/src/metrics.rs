//! The store's counters and gauges, rendered in the Prometheus text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Counters shared by the write path, the apply loop and the readers.
#[derive(Default)]
pub struct StoreMetrics {
    pub records_accepted: AtomicU64,
    pub records_duplicate: AtomicU64,
    pub bytes_accepted: AtomicU64,
    pub batches_overloaded: AtomicU64,
    pub write_errors: AtomicU64,
    pub fsyncs: AtomicU64,
    pub fsync_micros_total: AtomicU64,
    pub fsync_micros_max: AtomicU64,
    /// Records durable in the WAL but not yet in a segment.
    pub queue_records: AtomicU64,
    /// Records durable but not yet read by the slowest follower (the detectors); set when
    /// rendered.
    pub follower_backlog: AtomicU64,
    pub wal_bytes: AtomicU64,
    pub commits: AtomicU64,
    /// Time from the WAL fsync of the oldest record of a commit to it being searchable.
    pub freshness_micros_last: AtomicU64,
    pub segments: AtomicU64,
    pub segments_sealed: AtomicU64,
    pub segments_retired: AtomicU64,
    /// Sealed segments merged into larger ones.
    pub segments_merged: AtomicU64,
    /// Segments found unreadable at start, or merged without their damaged blocks, and set aside.
    pub segments_damaged: AtomicU64,
    /// Bytes of damaged WAL entries skipped at start: their records are lost.
    pub wal_damaged_bytes: AtomicU64,
    pub disk_bytes: AtomicU64,
    pub broadcast_lagged: AtomicU64,
    pub block_cache_hits: AtomicU64,
    pub block_cache_misses: AtomicU64,
    pub block_cache_bytes: AtomicU64,
}

impl StoreMetrics {
    pub fn observe_fsync(&self, micros: u64) {
        self.fsyncs.fetch_add(1, Relaxed);
        self.fsync_micros_total.fetch_add(micros, Relaxed);
        self.fsync_micros_max.fetch_max(micros, Relaxed);
    }

    /// Appends the metrics in Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let rows: [(&str, &str, &str, &AtomicU64); 24] = [
            (
                "firewatch_records_accepted_total",
                "counter",
                "records stored",
                &self.records_accepted,
            ),
            (
                "firewatch_records_duplicate_total",
                "counter",
                "records whose id was already stored",
                &self.records_duplicate,
            ),
            (
                "firewatch_ingest_bytes_total",
                "counter",
                "json bytes of stored records",
                &self.bytes_accepted,
            ),
            (
                "firewatch_batches_overloaded_total",
                "counter",
                "batches refused for overload",
                &self.batches_overloaded,
            ),
            (
                "firewatch_write_errors_total",
                "counter",
                "failed durable writes",
                &self.write_errors,
            ),
            (
                "firewatch_wal_fsyncs_total",
                "counter",
                "wal fsyncs (group commits)",
                &self.fsyncs,
            ),
            (
                "firewatch_wal_fsync_seconds_total",
                "counter",
                "time spent in wal fsyncs",
                &self.fsync_micros_total,
            ),
            (
                "firewatch_wal_fsync_seconds_max",
                "gauge",
                "slowest wal fsync",
                &self.fsync_micros_max,
            ),
            (
                "firewatch_queue_records",
                "gauge",
                "records durable but not yet indexed",
                &self.queue_records,
            ),
            (
                "firewatch_follower_backlog_records",
                "gauge",
                "records durable but not yet read by the detectors",
                &self.follower_backlog,
            ),
            (
                "firewatch_wal_bytes",
                "gauge",
                "bytes in wal files",
                &self.wal_bytes,
            ),
            (
                "firewatch_index_commits_total",
                "counter",
                "index commits",
                &self.commits,
            ),
            (
                "firewatch_freshness_seconds",
                "gauge",
                "ack to searchable, last commit",
                &self.freshness_micros_last,
            ),
            (
                "firewatch_segments",
                "gauge",
                "segments, active included",
                &self.segments,
            ),
            (
                "firewatch_segments_sealed_total",
                "counter",
                "segments sealed",
                &self.segments_sealed,
            ),
            (
                "firewatch_segments_retired_total",
                "counter",
                "segments removed by retention",
                &self.segments_retired,
            ),
            (
                "firewatch_segments_merged_total",
                "counter",
                "small sealed segments merged into larger ones",
                &self.segments_merged,
            ),
            (
                "firewatch_segments_damaged_total",
                "counter",
                "segments found unreadable at start, or merged without their damaged blocks, and set aside",
                &self.segments_damaged,
            ),
            (
                "firewatch_wal_damaged_bytes",
                "gauge",
                "bytes of damaged wal entries skipped at the last start (their records are lost)",
                &self.wal_damaged_bytes,
            ),
            (
                "firewatch_disk_bytes",
                "gauge",
                "bytes of archives, index and wal",
                &self.disk_bytes,
            ),
            (
                "firewatch_broadcast_lagged_total",
                "counter",
                "durable records dropped for slow subscribers",
                &self.broadcast_lagged,
            ),
            (
                "firewatch_block_cache_hits_total",
                "counter",
                "archive blocks read from the block cache",
                &self.block_cache_hits,
            ),
            (
                "firewatch_block_cache_misses_total",
                "counter",
                "archive blocks decompressed for reads",
                &self.block_cache_misses,
            ),
            (
                "firewatch_block_cache_bytes",
                "gauge",
                "decompressed bytes in the block cache",
                &self.block_cache_bytes,
            ),
        ];
        for (name, kind, help, value) in rows {
            let v = value.load(Relaxed);
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            if name.contains("_seconds") {
                let _ = writeln!(out, "{name} {}", v as f64 / 1e6);
            } else {
                let _ = writeln!(out, "{name} {v}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = StoreMetrics::default();
        m.observe_fsync(1500);
        m.records_accepted.fetch_add(3, Relaxed);
        let mut out = String::new();
        m.render(&mut out);
        assert!(out.contains(
            "# TYPE firewatch_records_accepted_total counter\nfirewatch_records_accepted_total 3\n"
        ));
        assert!(out.contains("firewatch_wal_fsync_seconds_max 0.0015\n"));
        m.block_cache_misses.fetch_add(2, Relaxed);
        m.render(&mut out);
        assert!(out.contains("firewatch_block_cache_misses_total 2\n"));
        assert!(out.contains("# TYPE firewatch_block_cache_bytes gauge\n"));
    }
}
