//! Reading a node's data directory without the node: its sealed archive segments, in place.
//!
//! Offline tools (`firewatch grep`, `firewatch analyze`) open a data directory with
//! [`DataDir::open`], which reads `segments/manifest.json` and nothing else: no lock is taken, the
//! WAL and the tantivy index are not touched and nothing is written, so a node may be running on
//! the same directory. Only sealed segments are listed (records of the active segment are still
//! in the node's WAL). A manifest that is missing or unreadable is not fatal: the segment
//! directories are surveyed instead ([`crate::catalog::survey`], as the node does when it makes
//! the manifest again), still writing nothing. Each [`SealedSegment`] maps its `archive.fwa` read-only; its blocks are
//! decoded one at a time ([`SealedSegment::block`]) so callers can split them across threads.
//! A segment that retention removed meanwhile, or whose archive is corrupt, is an error for
//! that segment only.

use std::path::{Path, PathBuf};

use firewatch_ingest::LogRecord;

use crate::archive::Archive;
use crate::block_filter::BlockFilter;
use crate::catalog::{archive_path, Manifest, SegmentInfo};
use crate::error::StoreError;
use tracing::warn;

/// A data directory opened read-only.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
    segments: Vec<SegmentInfo>,
}

impl DataDir {
    /// Is `path` a node's data directory? It holds `segments/manifest.json`, or, the manifest
    /// lost, a segment directory with an archive.
    pub fn detect(path: &Path) -> bool {
        manifest_path(path).is_file() || has_segment_dir(&path.join("segments"))
    }

    /// Reads the manifest of the data directory at `root`; surveys its segment directories
    /// when the manifest is missing or cannot be parsed (with a warning).
    pub fn open(root: &Path) -> Result<DataDir, StoreError> {
        if !DataDir::detect(root) {
            return Err(StoreError::Corrupt {
                what: format!(
                    "data directory {}: no {}",
                    root.display(),
                    manifest_path(root).display()
                ),
            });
        }
        let seg_root = root.join("segments");
        let listed = match Manifest::load(&seg_root) {
            Ok(m) if manifest_path(root).is_file() => Some(m),
            Ok(_) => None,
            Err(StoreError::Corrupt { what }) => {
                warn!(dir = %root.display(), error = %what, "segment manifest unreadable; reading the segment directories");
                None
            }
            Err(e) => return Err(e),
        };
        let mut segments: Vec<SegmentInfo> = match listed {
            Some(m) => m.segments.into_iter().filter(|s| s.sealed).collect(),
            None => surveyed(&seg_root)?,
        };
        segments.sort_by_key(|s| s.id);
        Ok(DataDir {
            root: root.to_path_buf(),
            segments,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The sealed segments, oldest first.
    pub fn segments(&self) -> &[SegmentInfo] {
        &self.segments
    }

    /// Where segment `id`'s archive is.
    pub fn archive_path(&self, id: u64) -> PathBuf {
        archive_path(&self.root.join("segments"), id)
    }

    /// Maps segment `id`'s archive and checks its footer.
    pub fn open_segment(&self, id: u64) -> Result<SealedSegment, StoreError> {
        SealedSegment::open(&self.archive_path(id))
    }
}

fn manifest_path(root: &Path) -> PathBuf {
    root.join("segments").join("manifest.json")
}

fn has_segment_dir(seg_root: &Path) -> bool {
    crate::catalog::segment_ids(seg_root)
        .is_ok_and(|ids| ids.iter().any(|&id| archive_path(seg_root, id).is_file()))
}

/// The sealed segments the directories under `seg_root` hold, for a data directory without a
/// readable manifest. Their time ranges are not known without reading every record, so they
/// are given as unbounded; merge sources whose merged segment exists are left out, as the
/// node would.
fn surveyed(seg_root: &Path) -> Result<Vec<SegmentInfo>, StoreError> {
    let survey = crate::catalog::survey(seg_root)?;
    // The newest plain segment is the active one, unsealed while the node runs.
    let active = survey
        .ids
        .iter()
        .filter(|&&id| id < crate::catalog::MERGED_BASE)
        .max();
    for (id, e) in survey.failed.iter().filter(|(id, _)| Some(id) != active) {
        warn!(segment = id, error = %e, "segment without a readable sealed archive not read");
    }
    Ok(survey
        .sealed
        .iter()
        .map(|(id, a)| SegmentInfo {
            records: a.len(),
            min_ts: i64::MIN,
            max_ts: i64::MAX,
            sealed: true,
            ..SegmentInfo::new(*id)
        })
        .collect())
}

/// One sealed segment's archive, mapped read-only.
pub struct SealedSegment {
    pub path: PathBuf,
    archive: Archive,
}

impl SealedSegment {
    /// Maps the sealed archive at `path` and checks its footer.
    pub fn open(path: &Path) -> Result<SealedSegment, StoreError> {
        let archive = Archive::open_sealed(path)?;
        Ok(SealedSegment {
            path: path.to_path_buf(),
            archive,
        })
    }

    /// Number of blocks.
    pub fn blocks(&self) -> usize {
        self.archive.block_count()
    }

    /// Number of records.
    pub fn records(&self) -> u64 {
        self.archive.len()
    }

    /// The records of block `i`, in archive order.
    pub fn block(&self, i: usize) -> Result<Vec<LogRecord>, StoreError> {
        self.archive.block_records(i)
    }

    /// Whether block `i` may hold text for which its filter passes `test`, asked before
    /// decompressing it (see [`crate::block_filter`]).
    pub fn block_may_hold(&self, i: usize, test: impl FnOnce(BlockFilter) -> bool) -> bool {
        self.archive.block_may_hold(i, test)
    }

    /// The decompressed body of block `i`, to be read with [`crate::block_text::BlockText`].
    pub fn block_body(&self, i: usize) -> Result<Vec<u8>, StoreError> {
        self.archive.block_body(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Store, StoreConfig};

    fn rec(i: u64) -> LogRecord {
        serde_json::from_str(&format!(
            r#"{{"id":"f:{i}","timestamp":{i},"observed":0,"service":"api","message":"line {i}"}}"#
        ))
        .unwrap()
    }

    /// A data directory with sealed segments of 300 records (small blocks, several segments).
    fn store_with_records(dir: &Path, n: u64) {
        let cfg = StoreConfig {
            data_dir: dir.into(),
            commit_interval_ms: 10,
            block_bytes: 2_000,
            segment_max_bytes: 10_000,
            ..Default::default()
        };
        let store = Store::open(cfg).unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        for chunk in (0..n).collect::<Vec<_>>().chunks(50) {
            let batch = chunk.iter().map(|i| rec(*i)).collect();
            rt.block_on(store.append(batch)).unwrap();
            // Let the apply thread tick, so segments are sealed as they fill.
            std::thread::sleep(std::time::Duration::from_millis(15));
        }
        store.close();
    }

    fn read_all(dd: &DataDir) -> Vec<LogRecord> {
        let mut all = Vec::new();
        for info in dd.segments() {
            let seg = dd.open_segment(info.id).unwrap();
            for b in 0..seg.blocks() {
                all.extend(seg.block(b).unwrap());
            }
        }
        all
    }

    #[test]
    fn reads_every_sealed_record_in_order_without_writing() {
        let dir = tempfile::tempdir().unwrap();
        store_with_records(dir.path(), 300);
        let before: Vec<_> = walk(dir.path());
        assert!(DataDir::detect(dir.path()));
        let dd = DataDir::open(dir.path()).unwrap();
        assert!(dd.segments().len() > 1, "{:?}", dd.segments());
        let all = read_all(&dd);
        assert_eq!(all, (0..300).map(rec).collect::<Vec<_>>());
        // Read-only: no file was created, removed or modified.
        assert_eq!(walk(dir.path()), before);
    }

    #[test]
    fn a_lost_or_garbage_manifest_still_lists_every_sealed_segment_without_writing() {
        let dir = tempfile::tempdir().unwrap();
        store_with_records(dir.path(), 300);
        let listed: Vec<u64> = DataDir::open(dir.path())
            .unwrap()
            .segments()
            .iter()
            .map(|s| s.id)
            .collect();
        let manifest = manifest_path(dir.path());
        for garbage in [Some(&b"{\"version\": 2, \"segm"[..]), None] {
            match garbage {
                Some(bytes) => std::fs::write(&manifest, bytes).unwrap(),
                None => std::fs::remove_file(&manifest).unwrap(),
            }
            let before = walk(dir.path());
            assert!(DataDir::detect(dir.path()), "{garbage:?}");
            let dd = DataDir::open(dir.path()).unwrap();
            let ids: Vec<u64> = dd.segments().iter().map(|s| s.id).collect();
            assert_eq!(ids, listed, "{garbage:?}");
            // No time range is claimed that the records might not keep to.
            assert!(dd.segments().iter().all(|s| s.min_ts == i64::MIN));
            assert_eq!(read_all(&dd), (0..300).map(rec).collect::<Vec<_>>());
            assert_eq!(walk(dir.path()), before, "{garbage:?}");
        }
    }

    #[test]
    fn corrupt_segment_is_an_error_for_that_segment_only() {
        let dir = tempfile::tempdir().unwrap();
        store_with_records(dir.path(), 300);
        let dd = DataDir::open(dir.path()).unwrap();
        let first = dd.segments()[0].id;
        let path = dd.archive_path(first);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        assert!(matches!(
            dd.open_segment(first),
            Err(StoreError::Corrupt { .. })
        ));
        // A flipped byte inside a block: the footer is fine, that block is not.
        let second = dd.segments()[1].id;
        let path = dd.archive_path(second);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[8] ^= 0xff; // the first block's zstd magic
        std::fs::write(&path, &bytes).unwrap();
        let seg = dd.open_segment(second).unwrap();
        assert!(seg.block(0).is_err());
        assert!(seg.block(seg.blocks()).is_err());
        let third = dd.open_segment(dd.segments()[2].id).unwrap();
        assert!(third.block(0).is_ok());
        assert!(!DataDir::detect(&dir.path().join("segments")));
        assert!(DataDir::open(&dir.path().join("wal")).is_err());
    }

    fn walk(dir: &Path) -> Vec<(PathBuf, u64, Option<std::time::SystemTime>)> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::metadata(&path).unwrap();
            if meta.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push((path, meta.len(), meta.modified().ok()));
            }
        }
        out.sort();
        out
    }
}
