//! The manifest made again from the segment directories, when it is lost or unreadable.
//!
//! Without this, a node whose `manifest.json` was garbage refused to start, and one whose
//! manifest was gone took every segment directory for a leftover and removed it. A sealed
//! archive describes itself (its footer, its id table), so the list can be made again:
//!
//! - every directory whose archive opens as sealed is a segment; its time range and raw size are
//!   read from its records;
//! - one whose records a newer (merged) segment holds too, found by its first record's id, is
//!   the source of a merge that finished and is set aside, as is one that does not open: nothing
//!   is removed that cannot be proved redundant;
//! - segments are listed oldest first by their first record time.
//!
//! An unsealed directory alone (a crash before the first segment was sealed) is the normal
//! leftover it always was: nothing is made again then.

use std::fs;
use std::path::Path;
use std::time::UNIX_EPOCH;

use tracing::{error, warn};

use super::{archive_path, Manifest, SegmentInfo, MANIFEST, MANIFEST_VERSION, MERGED_BASE};
use crate::archive::{Archive, Everything, Pace, Unreadable};
use crate::error::StoreError;

/// A manifest, and the segments no longer listed whose documents must leave the index: those set
/// aside when it was made again (another segment holds their records, or their archive does not
/// open; an unsealed segment's records come back from the WAL).
pub struct Loaded {
    pub manifest: Manifest,
    pub dropped: Vec<u64>,
}

impl Manifest {
    /// [`Manifest::load`] for the node: a manifest that cannot be parsed is kept as
    /// `manifest.json.corrupt` and made again, as is a missing one when sealed segments exist.
    pub fn load_or_rebuild(root: &Path) -> Result<Loaded, StoreError> {
        let path = root.join(MANIFEST);
        match Manifest::load(root) {
            Err(StoreError::Corrupt { what }) => {
                let kept = path.with_extension("json.corrupt");
                fs::rename(&path, &kept)?;
                error!(file = %path.display(), kept = %kept.display(), error = %what, "segment manifest corrupt, set aside; making it again from the segments");
            }
            Ok(m) if path.exists() => {
                return Ok(Loaded {
                    manifest: m,
                    dropped: Vec::new(),
                })
            }
            Ok(_) => {}
            Err(e) => return Err(e),
        }
        match rebuild(root)? {
            Some(loaded) => {
                loaded.manifest.save(root)?;
                warn!(
                    segments = loaded.manifest.segments.len(),
                    dropped = loaded.dropped.len(),
                    "segment manifest made again from the segment directories"
                );
                Ok(loaded)
            }
            None => Manifest::load(root).map(|manifest| Loaded {
                manifest,
                dropped: Vec::new(),
            }),
        }
    }
}

/// What the segment directories under a `segments/` root hold, read without changing anything.
pub struct Survey {
    /// Every segment directory's id, ascending.
    pub ids: Vec<u64>,
    /// The segments whose archive opens as sealed and whose records no newer merged segment
    /// holds, ascending by id.
    pub sealed: Vec<(u64, Archive)>,
    /// Sealed segments whose records a newer merged segment holds: the sources of a merge that
    /// finished.
    pub redundant: Vec<u64>,
    /// Segments whose archive does not open as sealed (the active one among them).
    pub failed: Vec<(u64, StoreError)>,
}

/// Surveys the segment directories under `root`, writing nothing.
pub fn survey(root: &Path) -> Result<Survey, StoreError> {
    let ids = super::segment_ids(root)?;
    let mut opened: Vec<(u64, Archive)> = Vec::new();
    let mut failed = Vec::new();
    for &id in &ids {
        match Archive::open_sealed(&archive_path(root, id)) {
            Ok(a) => opened.push((id, a)),
            Err(e) => failed.push((id, e)),
        }
    }
    // A merge's sources hold records its result holds too; the result has the larger id.
    let mut redundant = Vec::new();
    for (i, (id, a)) in opened.iter().enumerate() {
        // Its first readable record (a damaged block is passed over).
        let mut first = None;
        let lost = Unreadable::default();
        // In turn: one block is all it reads.
        a.for_each_of_where(
            0..a.len(),
            None,
            &Everything,
            Some(&lost),
            Pace::InTurn,
            |_, rec| {
                first = Some(rec);
                false
            },
        )?;
        let Some(first) = first else { continue };
        let merged_into = opened[i + 1..]
            .iter()
            .filter(|(newer, _)| *newer >= MERGED_BASE)
            .any(|(_, newer)| matches!(newer.ord_of(&first.id), Ok(Some(_))));
        if merged_into {
            redundant.push(*id);
        }
    }
    opened.retain(|(id, _)| !redundant.contains(id));
    Ok(Survey {
        ids,
        sealed: opened,
        redundant,
        failed,
    })
}

/// The manifest the segment directories under `root` describe; `None` when none holds a
/// sealed archive. Sets aside what it leaves out.
fn rebuild(root: &Path) -> Result<Option<Loaded>, StoreError> {
    let Survey {
        ids,
        sealed: opened,
        redundant,
        failed,
    } = survey(root)?;
    if opened.is_empty() {
        return Ok(None);
    }
    for (id, e) in &failed {
        // The active segment a clean stop leaves: an archive of its 8-byte header alone.
        let empty = fs::metadata(archive_path(root, *id)).map_or(true, |m| m.len() <= 8);
        if empty {
            fs::remove_dir_all(super::segment_dir(root, *id))?;
            continue;
        }
        let to = Manifest::set_aside(root, *id)?;
        warn!(segment = id, error = %e, to = ?to, "segment without a readable sealed archive set aside");
    }
    let mut segments = Vec::new();
    for (id, a) in &opened {
        segments.push(describe(root, *id, a)?);
    }
    for id in &redundant {
        Manifest::set_aside(root, *id)?;
    }
    let mut dropped = redundant;
    dropped.extend(failed.iter().map(|(id, _)| *id));
    segments.sort_by_key(|s| (s.min_ts, s.id));
    let plain = ids.iter().filter(|&&id| id < MERGED_BASE).max();
    let merged = ids.iter().filter(|&&id| id >= MERGED_BASE).max();
    let manifest = Manifest {
        version: MANIFEST_VERSION,
        next_segment: plain.map_or(1, |id| id + 1),
        next_merged: merged.map_or(MERGED_BASE, |id| id + 1),
        merging: None,
        segments,
    };
    Ok(Some(Loaded { manifest, dropped }))
}

/// What a sealed archive holds, read from its records (those of damaged blocks left out).
fn describe(root: &Path, id: u64, a: &Archive) -> Result<SegmentInfo, StoreError> {
    let path = archive_path(root, id);
    let meta = fs::metadata(&path)?;
    let mut info = SegmentInfo {
        records: a.len(),
        archive_bytes: meta.len(),
        sealed: true,
        sealed_at: meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as i64),
        ..SegmentInfo::new(id)
    };
    let lost = Unreadable::default();
    a.for_each_of_where(
        0..a.len(),
        None,
        &Everything,
        Some(&lost),
        Pace::Ahead,
        |_, rec| {
            info.min_ts = info.min_ts.min(rec.timestamp);
            info.max_ts = info.max_ts.max(rec.timestamp);
            info.raw_bytes += serde_json::to_vec(&rec).map_or(0, |j| j.len() as u64 + 1);
            true
        },
    )?;
    Ok(info)
}
