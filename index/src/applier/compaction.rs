//! Segment merging: small sealed segments (a slow trickle sealed by age leaves many) are
//! rewritten as one, so their records compress in full blocks and searches open fewer archives.
//!
//! A merge never shows a query a gap or a record twice: the merged segment's documents are added
//! and the old segments' documents deleted in one index commit, published together with the
//! segment map that holds the merged archive instead of the old ones; snapshots taken before keep
//! reading the old archives through their maps. Crash safety comes from the order of the durable
//! steps:
//!
//! 1. the merged archive is written and fsynced (`segments/<new id>/`, not yet listed);
//! 2. the manifest records the merge as pending (the new segment, the ones it replaces);
//! 3. one index commit adds the new documents and deletes the old ones;
//! 4. the manifest lists the new segment in place of the old ones;
//! 5. the old directories are removed.
//!
//! On open, a pending merge whose documents are in the index (step 3 happened) is finished, any
//! other is undone: every record is then in exactly one listed segment, and indexed once.
//!
//! A damaged block of an old segment (it fails its checksum or does not decode) is left out of
//! the merge rather than stopping it for good: its records were unreadable already, and the old
//! segment is moved to `damaged/` in step 5 instead of removed.

use std::fs;
use std::ops::Bound;
use std::sync::atomic::Ordering::Relaxed;

use tantivy::collector::Count;
use tantivy::query::RangeQuery;
use tantivy::{Searcher, Term};
use tracing::{info, warn};

use super::{reindex, Applier};
use crate::archive::{Archive, Everything, Pace, Unreadable};
use crate::catalog::{archive_path, segment_dir, Manifest, PendingMerge, Segment, SegmentInfo};
use crate::config::StoreConfig;
use crate::error::StoreError;
use crate::schema::Fields;

/// Ids of the sealed segments (in manifest order) to merge now: the first run of at least
/// `merge_min_segments` adjacent small ones (each under half of `segment_max_bytes`), together
/// at most `segment_max_bytes`.
pub fn select(sealed: &[SegmentInfo], cfg: &StoreConfig) -> Option<Vec<u64>> {
    if cfg.merge_min_segments < 2 {
        return None;
    }
    let small = |s: &SegmentInfo| s.raw_bytes < cfg.segment_max_bytes / 2;
    let mut run: Vec<u64> = Vec::new();
    let mut bytes = 0;
    for s in sealed {
        if small(s) && bytes + s.raw_bytes <= cfg.segment_max_bytes {
            run.push(s.id);
            bytes += s.raw_bytes;
            continue;
        }
        if run.len() >= cfg.merge_min_segments {
            break;
        }
        run.clear();
        bytes = 0;
        if small(s) {
            run.push(s.id);
            bytes = s.raw_bytes;
        }
    }
    (run.len() >= cfg.merge_min_segments).then_some(run)
}

/// Documents of segment `id` in the index.
pub fn docs_of(searcher: &Searcher, f: Fields, id: u64) -> Result<usize, StoreError> {
    Ok(searcher.search(&segment_query(f, id), &Count)?)
}

fn segment_query(f: Fields, id: u64) -> RangeQuery {
    RangeQuery::new(
        Bound::Included(Term::from_field_u64(f.segment, id)),
        Bound::Included(Term::from_field_u64(f.segment, id)),
    )
}

/// Finishes or undoes a merge the manifest says was under way at a crash (see the module doc);
/// the directories no longer listed are left for `remove_leftovers`.
pub fn recover(
    manifest: &mut Manifest,
    root: &std::path::Path,
    searcher: &Searcher,
    f: Fields,
) -> Result<(), StoreError> {
    let Some(m) = manifest.merging.take() else {
        return Ok(());
    };
    if docs_of(searcher, f, m.into.id)? > 0 {
        replace(manifest, &m);
        for old in &m.damaged {
            set_aside(root, *old)?;
        }
        info!(segment = m.into.id, replaced = ?m.from, "interrupted merge finished");
    } else {
        info!(segment = m.into.id, "interrupted merge undone");
    }
    manifest.save(root)
}

/// Moves a merged segment with damaged blocks to `damaged/`, where its readable records can
/// still be recovered by hand.
fn set_aside(root: &std::path::Path, id: u64) -> Result<(), StoreError> {
    if let Some(to) = Manifest::set_aside(root, id)? {
        warn!(segment = id, to = %to.display(), "merged segment with damaged blocks set aside");
    }
    Ok(())
}

/// The manifest's segments with `m.from` replaced by `m.into`, at the place of the first.
fn replace(manifest: &mut Manifest, m: &PendingMerge) {
    let at = manifest
        .segments
        .iter()
        .position(|s| m.from.contains(&s.id))
        .unwrap_or(manifest.segments.len());
    manifest.segments.retain(|s| !m.from.contains(&s.id));
    manifest
        .segments
        .insert(at.min(manifest.segments.len()), m.into.clone());
}

impl Applier {
    /// Merges the segments [`select`] picks, if any; returns whether it did.
    pub(super) fn compact(&mut self) -> Result<bool, StoreError> {
        let Some(from) = select(&self.manifest.segments, &self.sh.cfg) else {
            return Ok(false);
        };
        let faults = self.sh.cfg.faults.clone();
        let id = self.manifest.next_merged;
        // 1. The merged archive, complete and fsynced before anything refers to it.
        fs::create_dir_all(segment_dir(&self.seg_root, id))?;
        let cfg = &self.sh.cfg;
        let archive = Archive::create(
            &archive_path(&self.seg_root, id),
            cfg.block_bytes,
            cfg.zstd_level,
        )?;
        let mut info = SegmentInfo::new(id);
        let mut damaged = Vec::new();
        for old in &from {
            let seg = self
                .segments
                .get(old)
                .ok_or(StoreError::NoSegment { segment: *old })?;
            let old_info = seg.info();
            info.raw_bytes += old_info.raw_bytes;
            info.min_ts = info.min_ts.min(old_info.min_ts);
            info.max_ts = info.max_ts.max(old_info.max_ts);
            // Kept as long as its most recently sealed part would have been.
            info.sealed_at = info.sealed_at.max(old_info.sealed_at);
            let per_record = (old_info.raw_bytes / old_info.records.max(1)) as usize;
            let mut write_err = None;
            let lost = Unreadable::default();
            let all = 0..old_info.records;
            seg.archive.for_each_of_where(
                all,
                None,
                &Everything,
                Some(&lost),
                Pace::InTurn,
                |_, rec| {
                    archive.append(rec, per_record);
                    if let Err(e) = archive.flush_full() {
                        write_err.get_or_insert(e);
                    }
                    true
                },
            )?;
            if let Some(e) = write_err {
                return Err(e.into());
            }
            if lost.records() > 0 {
                warn!(
                    segment = old,
                    records = lost.records(),
                    "damaged archive blocks left out of a merge"
                );
                info.raw_bytes -= (per_record as u64 * lost.records()).min(info.raw_bytes);
                damaged.push(*old);
            }
        }
        info.records = archive.len();
        info.archive_bytes = archive.seal()?;
        info.sealed = true;
        faults.check_merge(1)?;
        // 2. The merge, pending, in the manifest.
        let pending = PendingMerge {
            into: info.clone(),
            from: from.clone(),
            damaged,
        };
        let mut manifest = self.manifest.clone();
        manifest.next_merged = id + 1;
        manifest.merging = Some(pending.clone());
        manifest.save(&self.seg_root)?;
        self.manifest = manifest;
        faults.check_merge(2)?;
        // 3. One commit: the new documents in, the old ones out, published with the new map.
        let f = self.sh.fields;
        for old in &from {
            self.writer.delete_query(Box::new(segment_query(f, *old)))?;
        }
        reindex::index_archive(&mut self.writer, f, id, &archive)?;
        let seg = Segment {
            archive,
            info: std::sync::RwLock::new(info),
        };
        self.segments.insert(id, std::sync::Arc::new(seg));
        for old in &from {
            self.segments.remove(old);
        }
        if let Err(e) = self.commit() {
            // The documents are queued in the writer: the next commit finishes the merge.
            self.unfinished_merge = Some(pending);
            return Err(e);
        }
        self.unfinished_merge = Some(pending);
        faults.check_merge(3)?;
        self.finish_merge()?;
        Ok(true)
    }

    /// Steps 4 and 5 of a merge whose documents are committed.
    pub(super) fn finish_merge(&mut self) -> Result<(), StoreError> {
        let Some(m) = self.unfinished_merge.clone() else {
            return Ok(());
        };
        let mut manifest = self.manifest.clone();
        replace(&mut manifest, &m);
        manifest.merging = None;
        manifest.save(&self.seg_root)?;
        self.manifest = manifest;
        self.unfinished_merge = None;
        for old in &m.from {
            // Open snapshots keep reading through their maps.
            if m.damaged.contains(old) {
                set_aside(&self.seg_root, *old)?;
                self.sh.metrics.segments_damaged.fetch_add(1, Relaxed);
            } else {
                fs::remove_dir_all(segment_dir(&self.seg_root, *old))?;
            }
        }
        self.sh
            .metrics
            .segments_merged
            .fetch_add(m.from.len() as u64, Relaxed);
        info!(segment = m.into.id, records = m.into.records, merged = ?m.from, "segments merged");
        self.update_gauges();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(id: u64, raw_bytes: u64) -> SegmentInfo {
        SegmentInfo {
            records: 10,
            raw_bytes,
            sealed: true,
            ..SegmentInfo::new(id)
        }
    }

    #[test]
    fn picks_the_first_long_enough_run_of_small_adjacent_segments() {
        let cfg = StoreConfig {
            segment_max_bytes: 1000,
            merge_min_segments: 3,
            ..Default::default()
        };
        let segs = [
            seg(1, 100),
            seg(2, 900), // large: breaks the run
            seg(3, 100),
            seg(4, 200),
            seg(5, 300),
            seg(6, 300),
            seg(7, 300), // would pass segment_max_bytes
            seg(8, 100),
        ];
        assert_eq!(select(&segs, &cfg), Some(vec![3, 4, 5, 6]));
        assert_eq!(select(&segs[..4], &cfg), None, "run too short");
        let off = StoreConfig {
            merge_min_segments: 0,
            ..cfg
        };
        assert_eq!(select(&segs, &off), None);
    }

    #[test]
    fn replacing_keeps_the_place_of_the_first_merged_segment() {
        let mut m = Manifest {
            segments: vec![seg(1, 1), seg(2, 1), seg(3, 1), seg(4, 1)],
            ..Default::default()
        };
        let merged = seg(1 << 62, 3);
        replace(
            &mut m,
            &PendingMerge {
                into: merged.clone(),
                from: vec![2, 3],
                damaged: Vec::new(),
            },
        );
        let ids: Vec<u64> = m.segments.iter().map(|s| s.id).collect();
        assert_eq!(ids, vec![1, 1 << 62, 4]);
    }
}
