//! Segments and the manifest that lists the sealed ones.
//!
//! A segment is a time range of records: an [`Archive`] plus the documents pointing into it in
//! the tantivy index. Exactly one segment is *active* (receiving records); the others are
//! *sealed* (archive fsynced, listed in `segments/manifest.json`). The manifest is replaced
//! atomically (write, fsync, rename, fsync dir), so after a crash it lists exactly the segments
//! whose archives are complete; anything else under `segments/` is a leftover and is removed.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use serde::{Deserialize, Serialize};

use crate::archive::Archive;
use crate::error::StoreError;
use crate::wal::sync_dir;

mod rebuild;
pub use rebuild::{survey, Loaded, Survey};

/// What is known about a segment (the query API's segment list, and the manifest's entries).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentInfo {
    pub id: u64,
    pub records: u64,
    /// Bytes of the records' JSON.
    pub raw_bytes: u64,
    /// Bytes of the archive file (0 while active).
    pub archive_bytes: u64,
    /// Oldest and newest record timestamp (ns); `i64::MAX`/`i64::MIN` when empty.
    pub min_ts: i64,
    pub max_ts: i64,
    pub sealed: bool,
    /// Wall-clock time (ns) the segment was sealed; 0 while active, and in manifests written
    /// before it was kept. Retention by age counts from the earlier of this and `max_ts`.
    #[serde(default)]
    pub sealed_at: i64,
}

impl SegmentInfo {
    pub fn new(id: u64) -> SegmentInfo {
        SegmentInfo {
            id,
            records: 0,
            raw_bytes: 0,
            archive_bytes: 0,
            min_ts: i64::MAX,
            max_ts: i64::MIN,
            sealed: false,
            sealed_at: 0,
        }
    }

    /// Does the segment hold records in `[from, to)`?
    pub fn overlaps(&self, from: i64, to: i64) -> bool {
        self.records > 0 && self.min_ts < to && self.max_ts >= from
    }
}

/// One segment: its archive and what is known about it.
pub struct Segment {
    pub(crate) archive: Archive,
    pub(crate) info: RwLock<SegmentInfo>,
}

impl Segment {
    pub fn info(&self) -> SegmentInfo {
        self.info.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// `segments/<id, 16 hex digits>/`.
pub fn segment_dir(root: &Path, id: u64) -> PathBuf {
    root.join(format!("{id:016x}"))
}

pub fn archive_path(root: &Path, id: u64) -> PathBuf {
    segment_dir(root, id).join("archive.fwa")
}

/// The ids of the segment directories under `root` (named as [`segment_dir`] names them),
/// ascending.
pub fn segment_ids(root: &Path) -> std::io::Result<Vec<u64>> {
    let mut ids = Vec::new();
    for entry in fs::read_dir(root)? {
        let path = entry?.path();
        let id = path
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| n.len() == 16)
            .and_then(|n| u64::from_str_radix(n, 16).ok());
        if let Some(id) = id.filter(|_| path.is_dir()) {
            ids.push(id);
        }
    }
    ids.sort_unstable();
    Ok(ids)
}

/// Ids of merged segments start here, above every id the active segment can get.
pub const MERGED_BASE: u64 = 1 << 62;

fn merged_base() -> u64 {
    MERGED_BASE
}

/// A merge between its manifest record and its completion (see `applier::compaction`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingMerge {
    pub into: SegmentInfo,
    pub from: Vec<u64>,
    /// Those of `from` with damaged blocks, whose records could not be merged: kept in
    /// `damaged/` instead of removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub damaged: Vec<u64>,
}

/// The durable list of sealed segments.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    /// The id the next (active) segment gets; documents of ids from this up to
    /// [`MERGED_BASE`] are from an unsealed segment and are deleted on open.
    pub next_segment: u64,
    /// The id the next merged segment gets.
    #[serde(default = "merged_base")]
    pub next_merged: u64,
    /// A merge under way.
    #[serde(default)]
    pub merging: Option<PendingMerge>,
    /// Sealed segments, oldest first.
    pub segments: Vec<SegmentInfo>,
}

const MANIFEST: &str = "manifest.json";
/// Version 2: archives carry id tables and the index no longer holds ids.
pub const MANIFEST_VERSION: u32 = 2;

impl Manifest {
    pub fn load(root: &Path) -> Result<Manifest, StoreError> {
        match fs::read(root.join(MANIFEST)) {
            Ok(bytes) => {
                let m: Manifest =
                    serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
                        what: format!("segment manifest: {e}"),
                    })?;
                if m.version != MANIFEST_VERSION {
                    return Err(StoreError::Unsupported {
                        what: format!("data directory format {}", m.version),
                    });
                }
                Ok(m)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest {
                version: MANIFEST_VERSION,
                next_segment: 1,
                next_merged: MERGED_BASE,
                merging: None,
                segments: Vec::new(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    pub fn save(&self, root: &Path) -> Result<(), StoreError> {
        let tmp = root.join("manifest.json.tmp");
        let bytes = serde_json::to_vec_pretty(self)?;
        {
            use std::io::Write;
            let mut f = fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
        }
        fs::rename(&tmp, root.join(MANIFEST))?;
        sync_dir(root)?;
        Ok(())
    }

    /// Removes segment directories the manifest does not list (an active segment at a crash).
    /// Moves the directory of segment `id`, whose archive cannot be read, out of `root` to
    /// `<root>/../damaged/<id>[-n]`, where an operator can look at it; `None` if it is gone.
    pub fn set_aside(root: &Path, id: u64) -> Result<Option<PathBuf>, StoreError> {
        let from = segment_dir(root, id);
        if !from.exists() {
            return Ok(None);
        }
        let damaged = root.parent().unwrap_or(root).join("damaged");
        fs::create_dir_all(&damaged)?;
        let name = format!("{id:016x}");
        let mut to = damaged.join(&name);
        let mut n = 1;
        while to.exists() {
            n += 1;
            to = damaged.join(format!("{name}-{n}"));
        }
        fs::rename(&from, &to)?;
        sync_dir(root)?;
        Ok(Some(to))
    }

    pub fn remove_leftovers(&self, root: &Path) -> Result<u64, StoreError> {
        let mut removed = 0;
        for id in segment_ids(root)? {
            if !self.segments.iter().any(|s| s.id == id) {
                fs::remove_dir_all(segment_dir(root, id))?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trips_and_leftovers_go() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = Manifest::load(dir.path()).unwrap();
        assert_eq!(m.next_segment, 1);
        let mut info = SegmentInfo::new(1);
        info.sealed = true;
        m.segments.push(info);
        m.next_segment = 2;
        m.save(dir.path()).unwrap();
        fs::create_dir_all(segment_dir(dir.path(), 1)).unwrap();
        fs::create_dir_all(segment_dir(dir.path(), 2)).unwrap();
        let back = Manifest::load(dir.path()).unwrap();
        assert_eq!(back, m);
        let old = Manifest {
            version: 1,
            ..m.clone()
        };
        old.save(dir.path()).unwrap();
        let err = Manifest::load(dir.path()).unwrap_err();
        assert!(matches!(err, StoreError::Unsupported { .. }), "{err}");
        assert!(err.to_string().contains("format 1"), "{err}");
        m.save(dir.path()).unwrap();
        assert_eq!(back.remove_leftovers(dir.path()).unwrap(), 1);
        assert!(segment_dir(dir.path(), 1).exists());
        assert!(!segment_dir(dir.path(), 2).exists());
    }

    #[test]
    fn overlap_is_half_open() {
        let mut s = SegmentInfo::new(1);
        assert!(!s.overlaps(0, 100));
        s.records = 1;
        s.min_ts = 10;
        s.max_ts = 20;
        assert!(s.overlaps(20, 30) && s.overlaps(0, 11) && !s.overlaps(0, 10));
    }
}
