//! The apply thread: durable records into the active segment, commits, sealing, retention.
//!
//! Order of durability, which is what makes recovery simple: a segment's archive is fsynced and
//! its documents committed *before* the manifest lists it as sealed, and WAL files are deleted
//! only once every entry in them is in a sealed segment. On open, documents of the unsealed
//! segment (ids ≥ the manifest's `next_segment`) are deleted and its directory removed; the WAL
//! still holds all its records and is replayed into a fresh segment. Small sealed segments are
//! merged by [`compaction`].

mod compaction;
mod open;
mod reindex;

use std::collections::BTreeMap;
use std::fs;
use std::ops::Bound;
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{mpsc, Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use firewatch_ingest::LogRecord;
use tantivy::query::RangeQuery;
use tantivy::{IndexReader, IndexWriter, TantivyDocument, Term};
use tracing::{error, info, warn};

use crate::archive::Archive;
use crate::catalog::{archive_path, segment_dir, Manifest, PendingMerge, Segment, SegmentInfo};
use crate::config::StoreConfig;
use crate::error::StoreError;
use crate::reader::View;
use crate::retention;
use crate::schema::{self, RecordPtr, WordSets};
use crate::store::Shared;
use crate::wal;

pub(crate) enum ApplyMsg {
    Batch {
        seq: u64,
        records: Vec<Arc<LogRecord>>,
        /// The bytes of each record's JSON line.
        sizes: Vec<usize>,
        durable_at: Instant,
    },
    Stop,
}

pub(crate) struct Applier {
    sh: Arc<Shared>,
    seg_root: PathBuf,
    wal_dir: PathBuf,
    index_dir: PathBuf,
    writer: IndexWriter<TantivyDocument>,
    reader: IndexReader,
    manifest: Manifest,
    segments: BTreeMap<u64, Arc<Segment>>,
    active: Arc<Segment>,
    active_id: u64,
    active_since: Instant,
    applied_seq: u64,
    /// A batch failed to index in this run: its records are only in the WAL.
    apply_failed: bool,
    uncommitted: Vec<String>,
    oldest_uncommitted: Option<Instant>,
    last_retention: Instant,
    /// A merge whose documents are added but not yet known committed.
    unfinished_merge: Option<PendingMerge>,
    /// The word sets the active segment's documents define.
    word_sets: WordSets,
}

impl Applier {
    /// Archives and indexes records of WAL entry `seq` (already reserved as new).
    pub fn apply(
        &mut self,
        seq: u64,
        records: Vec<Arc<LogRecord>>,
        sizes: Vec<usize>,
        durable_at: Instant,
    ) -> Result<(), StoreError> {
        if self.sh.cfg.faults.crashed() {
            return Ok(());
        }
        if self.active.archive.is_sealed() {
            // A seal whose manifest write failed: finish it before taking more records.
            self.seal()?;
        }
        let f = self.sh.fields;
        let mut info = self.active.info.write().unwrap_or_else(|e| e.into_inner());
        let first = RecordPtr {
            segment: self.active_id,
            ord: self.active.archive.len(),
        };
        // Adding fails only once tantivy's writer is dead, and then nothing commits: the WAL
        // keeps the batch for the next start.
        let mut add_err = None;
        schema::documents(&f, &records, first, &mut self.word_sets, &mut |doc| {
            if let Err(e) = self.writer.add_document(doc) {
                add_err.get_or_insert(e);
            }
        });
        if let Some(e) = add_err {
            return Err(e.into());
        }
        for (rec, size) in records.into_iter().zip(sizes) {
            info.records += 1;
            info.raw_bytes += size as u64 + 1;
            info.min_ts = info.min_ts.min(rec.timestamp);
            info.max_ts = info.max_ts.max(rec.timestamp);
            self.sh.metrics.records_accepted.fetch_add(1, Relaxed);
            self.sh
                .metrics
                .bytes_accepted
                .fetch_add(size as u64 + 1, Relaxed);
            self.uncommitted.push(rec.id.clone());
            self.active.archive.append(rec, size);
        }
        drop(info);
        self.applied_seq = self.applied_seq.max(seq);
        self.oldest_uncommitted.get_or_insert(durable_at);
        if let Err(e) = self.active.archive.flush_full() {
            // The block stays in memory and the records in the WAL; retried on the next batch.
            warn!(error = %e, "archive block write failed");
            self.sh.healthy.store(false, Relaxed);
        }
        Ok(())
    }

    /// Commits the index and publishes a new view; ids committed leave the pending set.
    pub fn commit(&mut self) -> Result<(), StoreError> {
        self.writer.commit()?;
        self.reader.reload()?;
        self.publish();
        let ids = std::mem::take(&mut self.uncommitted);
        self.sh
            .metrics
            .queue_records
            .fetch_sub(ids.len() as u64, Relaxed);
        self.sh.release(ids.iter());
        if let Some(t) = self.oldest_uncommitted.take() {
            let m = &self.sh.metrics;
            m.freshness_micros_last
                .store(t.elapsed().as_micros() as u64, Relaxed);
        }
        self.sh.metrics.commits.fetch_add(1, Relaxed);
        if self.unfinished_merge.is_some() {
            // A merge whose own commit failed: these documents are now committed.
            self.finish_merge()?;
        }
        Ok(())
    }

    fn publish(&self) {
        let view = View {
            searcher: self.reader.searcher(),
            segments: Arc::new(self.segments.clone()),
        };
        *self.sh.view.write().unwrap_or_else(|e| e.into_inner()) = view;
    }

    fn should_seal(&self) -> bool {
        let info = self.active.info();
        info.records > 0
            && (info.raw_bytes >= self.sh.cfg.segment_max_bytes
                || self.active_since.elapsed()
                    >= Duration::from_secs(self.sh.cfg.segment_max_age_secs))
    }

    /// Seals the active segment (after a commit) and starts the next one; deletes covered WAL.
    pub fn seal(&mut self) -> Result<(), StoreError> {
        if self.active.archive.is_empty() || self.sh.cfg.faults.crashed() {
            return Ok(());
        }
        self.commit()?;
        let size = self.active.archive.seal()?;
        let mut info = self.active.info();
        info.sealed = true;
        info.sealed_at = now_ns();
        info.archive_bytes = size;
        let mut manifest = self.manifest.clone();
        manifest.segments.push(info.clone());
        manifest.next_segment = self.active_id + 1;
        manifest.save(&self.seg_root)?;
        self.manifest = manifest;
        *self.active.info.write().unwrap_or_else(|e| e.into_inner()) = info;
        let next = self.active_id + 1;
        self.active = new_segment(&self.seg_root, next, &self.sh.cfg)?;
        self.active_id = next;
        self.active_since = Instant::now();
        self.segments.insert(next, self.active.clone());
        self.publish();
        wal::remove_covered(&self.wal_dir, self.applied_seq + 1)?;
        self.sh.metrics.segments_sealed.fetch_add(1, Relaxed);
        self.update_gauges();
        Ok(())
    }

    /// Removes the sealed segments retention selects: documents first, then the manifest entry,
    /// then the files (open snapshots keep reading them through their maps).
    fn retire(&mut self) -> Result<(), StoreError> {
        let index_bytes = dir_size(&self.index_dir);
        let drop = retention::select(&self.manifest.segments, &self.sh.cfg, now_ns(), index_bytes);
        if drop.is_empty() {
            return Ok(());
        }
        let f = self.sh.fields;
        for id in &drop {
            self.writer.delete_query(Box::new(RangeQuery::new(
                Bound::Included(Term::from_field_u64(f.segment, *id)),
                Bound::Included(Term::from_field_u64(f.segment, *id)),
            )))?;
        }
        self.commit()?;
        let mut manifest = self.manifest.clone();
        manifest.segments.retain(|s| !drop.contains(&s.id));
        manifest.save(&self.seg_root)?;
        self.manifest = manifest;
        for id in &drop {
            self.segments.remove(id);
            fs::remove_dir_all(segment_dir(&self.seg_root, *id))?;
        }
        self.publish();
        self.sh
            .metrics
            .segments_retired
            .fetch_add(drop.len() as u64, Relaxed);
        info!(segments = ?drop, "retention removed segments");
        self.update_gauges();
        Ok(())
    }

    fn update_gauges(&self) {
        let m = &self.sh.metrics;
        m.segments.store(self.segments.len() as u64, Relaxed);
        let wal_bytes = wal::disk_size(&self.wal_dir);
        m.wal_bytes.store(wal_bytes, Relaxed);
        let disk = dir_size(&self.seg_root) + dir_size(&self.index_dir) + wal_bytes;
        m.disk_bytes.store(disk, Relaxed);
    }

    /// The apply loop: until `Stop`, apply batches, commit on cadence, seal, retire.
    pub fn run(mut self, rx: mpsc::Receiver<ApplyMsg>) {
        let interval = Duration::from_millis(self.sh.cfg.commit_interval_ms.max(10));
        let mut next_commit = Instant::now() + interval;
        loop {
            let wait = next_commit.saturating_duration_since(Instant::now());
            match rx.recv_timeout(wait) {
                Ok(ApplyMsg::Batch {
                    seq,
                    records,
                    sizes,
                    durable_at,
                }) => {
                    if let Err(e) = self.apply(seq, records, sizes, durable_at) {
                        error!(error = %e, "indexing failed");
                        self.apply_failed = true;
                        self.sh.healthy.store(false, Relaxed);
                    }
                }
                Ok(ApplyMsg::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            if Instant::now() < next_commit {
                continue;
            }
            next_commit = Instant::now() + interval;
            if let Err(e) = self.tick() {
                warn!(error = %e, "commit failed, retrying");
                self.sh.healthy.store(false, Relaxed);
            }
        }
        match self.seal() {
            Err(e) => error!(error = %e, "final seal failed, the wal will be replayed"),
            // The WAL thread sends `Stop` after its last entry, so every entry was applied and
            // is now in a sealed segment: the WAL holds nothing a restart would need. After a
            // failed apply it is kept, and replayed (without duplicates) on the next start.
            Ok(()) if !self.apply_failed && !self.sh.cfg.faults.crashed() => {
                match wal::remove_all(&self.wal_dir) {
                    Ok(bytes) => info!(bytes, "wal removed after the final seal"),
                    Err(e) => warn!(error = %e, "wal removal failed, it will be replayed"),
                }
            }
            Ok(()) => warn!("wal kept: a batch failed to index, the next start replays it"),
        }
        // Let running index merges finish so the index is left compact.
        if let Err(e) = self.writer.wait_merging_threads() {
            warn!(error = %e, "index merges did not finish");
        }
    }

    fn tick(&mut self) -> Result<(), StoreError> {
        if self.sh.cfg.faults.crashed() {
            return Ok(());
        }
        if !self.uncommitted.is_empty() {
            self.commit()?;
        }
        let sealed = self.should_seal();
        if sealed {
            self.seal()?;
        }
        if sealed || self.last_retention.elapsed() >= Duration::from_secs(10) {
            self.last_retention = Instant::now();
            self.retire()?;
            if self.unfinished_merge.is_none() {
                self.compact()?;
            }
            self.update_gauges();
        }
        Ok(())
    }
}

fn new_segment(
    root: &std::path::Path,
    id: u64,
    cfg: &StoreConfig,
) -> Result<Arc<Segment>, StoreError> {
    fs::create_dir_all(segment_dir(root, id))?;
    let archive = Archive::create(&archive_path(root, id), cfg.block_bytes, cfg.zstd_level)?;
    Ok(Arc::new(Segment {
        archive,
        info: RwLock::new(SegmentInfo::new(id)),
    }))
}

/// The wall clock, in nanoseconds since the epoch.
fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// Bytes of the files under `dir`, recursively.
pub(crate) fn dir_size(dir: &std::path::Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok())
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
