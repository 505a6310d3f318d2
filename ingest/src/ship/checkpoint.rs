//! Checkpoints: how far each file has been shipped *and acknowledged by the node*.
//!
//! One entry per [`Fingerprint`]: the byte offset below which every event is durable on the node.
//! The table is written atomically (temp file, fsync, rename, fsync of the directory) in a
//! versioned JSON format, so a crash leaves either the old or the new table, never a mix. An
//! entry only moves forward over a *contiguous* acknowledged range ([`Checkpoints::advance`]): a
//! range that starts past the entry (a batch from an earlier run acknowledged out of order) does
//! not move it, and the bytes in between are read and sent again, which the node's dedup absorbs.

use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::fingerprint::Fingerprint;

/// The only format version this build reads and writes.
pub const VERSION: u32 = 1;

/// What is known about one fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Acknowledged up to here (exclusive): the start of the first event not yet durable.
    pub offset: u64,
    /// The path the file was last seen at (for people reading the file).
    pub path: String,
    /// Unix seconds of the last change; entries idle longer than the retention are dropped.
    pub updated: u64,
    /// For a file first seen shorter than `fingerprint_bytes`: how many of its first bytes its
    /// fingerprint covers (salted with its inode), so that it is found again once it grew.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<u32>,
}

#[derive(Serialize, Deserialize)]
struct OnDisk {
    version: u32,
    checkpoints: HashMap<String, Checkpoint>,
}

/// Why the checkpoint table could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint file {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("checkpoint file {path} is corrupt: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error("checkpoint file {path} has version {found}, this build reads version {VERSION}")]
    Version { path: PathBuf, found: u32 },
}

/// The checkpoint table, in memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checkpoints {
    entries: HashMap<Fingerprint, Checkpoint>,
}

impl Checkpoints {
    pub fn get(&self, fp: Fingerprint) -> Option<&Checkpoint> {
        self.entries.get(&fp)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Records that `[start, end)` of `fp` is acknowledged. Moves the entry only if the range is
    /// contiguous with it; returns whether it moved.
    pub fn advance(&mut self, fp: Fingerprint, start: u64, end: u64, path: &str, now: u64) -> bool {
        let current = self.entries.get(&fp).map_or(0, |c| c.offset);
        if start > current || end <= current {
            return false;
        }
        let header = self.entries.get(&fp).and_then(|c| c.header);
        self.entries.insert(
            fp,
            Checkpoint {
                offset: end,
                path: path.to_string(),
                updated: now,
                header,
            },
        );
        true
    }

    /// Records that `fp` covers only the first `len` bytes of its file (see
    /// [`Checkpoint::header`]); an entry is made at offset 0 if there is none.
    pub fn note_header(&mut self, fp: Fingerprint, len: u32, path: &str, now: u64) {
        let entry = self.entries.entry(fp).or_insert_with(|| Checkpoint {
            offset: 0,
            path: path.to_string(),
            updated: now,
            header: None,
        });
        entry.header = Some(len);
    }

    /// The header lengths of files identified while short, shortest first.
    pub fn short_headers(&self) -> BTreeSet<u32> {
        self.entries.values().filter_map(|c| c.header).collect()
    }

    /// Drops entries not updated for `retention_secs`, except those `still_there` says to keep
    /// (a file that sits unchanged for long must not be read again from its start).
    pub fn prune(
        &mut self,
        now: u64,
        retention_secs: u64,
        still_there: impl Fn(&Checkpoint) -> bool,
    ) {
        self.entries
            .retain(|_, c| now.saturating_sub(c.updated) < retention_secs || still_there(c));
    }

    pub fn encode(&self) -> Vec<u8> {
        let disk = OnDisk {
            version: VERSION,
            checkpoints: self
                .entries
                .iter()
                .map(|(fp, c)| (fp.to_hex(), c.clone()))
                .collect(),
        };
        serde_json::to_vec_pretty(&disk).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8], path: &Path) -> Result<Self, CheckpointError> {
        let corrupt = |message: String| CheckpointError::Corrupt {
            path: path.to_path_buf(),
            message,
        };
        let version: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
        let found = version.get("version").and_then(|v| v.as_u64());
        if found != Some(u64::from(VERSION)) {
            return Err(CheckpointError::Version {
                path: path.to_path_buf(),
                found: found.and_then(|v| u32::try_from(v).ok()).unwrap_or(0),
            });
        }
        let disk: OnDisk = serde_json::from_value(version).map_err(|e| corrupt(e.to_string()))?;
        let mut entries = HashMap::new();
        for (hex, c) in disk.checkpoints {
            let fp = Fingerprint::from_hex(&hex)
                .ok_or_else(|| corrupt(format!("bad fingerprint {hex:?}")))?;
            entries.insert(fp, c);
        }
        Ok(Checkpoints { entries })
    }

    /// Loads the table; a missing file is an empty table.
    pub fn load(path: &Path) -> Result<Self, CheckpointError> {
        match fs::read(path) {
            Ok(bytes) => Self::decode(&bytes, path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(CheckpointError::Io {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Writes the table atomically: temp file, fsync, rename, fsync of the directory.
    pub fn save(&self, path: &Path) -> Result<(), CheckpointError> {
        let io_err = |source| CheckpointError::Io {
            path: path.to_path_buf(),
            source,
        };
        write_atomically(path, &self.encode()).map_err(io_err)
    }
}

/// Replaces `path` with `bytes` so that a crash leaves the old or the new content.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, path)?;
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FP: Fingerprint = Fingerprint(7);

    #[test]
    fn advances_only_over_contiguous_ranges() {
        let mut c = Checkpoints::default();
        assert!(c.advance(FP, 0, 100, "a.log", 1));
        assert!(
            !c.advance(FP, 150, 200, "a.log", 2),
            "gap must not be skipped"
        );
        assert_eq!(c.get(FP).unwrap().offset, 100);
        assert!(c.advance(FP, 100, 200, "a.log", 3));
        assert!(
            c.advance(FP, 50, 250, "a.log", 4),
            "overlap re-sent after restart"
        );
        assert!(!c.advance(FP, 0, 120, "a.log", 5), "never moves backwards");
        assert_eq!(c.get(FP).unwrap().offset, 250);
    }

    #[test]
    fn a_short_header_is_kept_as_the_entry_advances_and_saved() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoints.json");
        let mut c = Checkpoints::default();
        c.note_header(FP, 30, "a.log", 1);
        assert_eq!(
            c.get(FP).unwrap().offset,
            0,
            "noted before anything is read"
        );
        assert!(c.advance(FP, 0, 30, "a.log", 2));
        c.note_header(Fingerprint(8), 12, "b.log", 2);
        c.advance(Fingerprint(9), 0, 500, "c.log", 2);
        assert_eq!(c.get(FP).unwrap().header, Some(30));
        assert_eq!(c.short_headers().into_iter().collect::<Vec<_>>(), [12, 30]);
        c.save(&path).unwrap();
        assert_eq!(Checkpoints::load(&path).unwrap(), c);
        // Tables written before short files were read have no header: the full one.
        let old = br#"{"version":1,"checkpoints":{"0000000000000007":{"offset":1,"path":"a","updated":0}}}"#;
        let old = Checkpoints::decode(old, &path).unwrap();
        assert_eq!(old.get(FP).unwrap().header, None);
        assert!(!String::from_utf8(old.encode()).unwrap().contains("header"));
    }

    #[test]
    fn save_then_load_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoints.json");
        let mut c = Checkpoints::default();
        c.advance(FP, 0, 42, "/var/log/a.log", 9);
        c.advance(Fingerprint(u64::MAX), 0, 1, "b", 9);
        c.save(&path).unwrap();
        assert_eq!(Checkpoints::load(&path).unwrap(), c);
        assert!(!path.with_extension("tmp").exists());
    }

    #[test]
    fn missing_file_is_empty_and_bad_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoints.json");
        assert!(Checkpoints::load(&path).unwrap().is_empty());
        fs::write(&path, b"{\"version\":2,\"checkpoints\":{}}").unwrap();
        assert!(matches!(
            Checkpoints::load(&path),
            Err(CheckpointError::Version { found: 2, .. })
        ));
        fs::write(&path, b"\0\0garbage").unwrap();
        assert!(matches!(
            Checkpoints::load(&path),
            Err(CheckpointError::Corrupt { .. })
        ));
        fs::write(
            &path,
            br#"{"version":1,"checkpoints":{"xyz":{"offset":1,"path":"a","updated":0}}}"#,
        )
        .unwrap();
        let err = Checkpoints::load(&path).unwrap_err().to_string();
        assert!(err.contains("bad fingerprint"), "{err}");
    }

    #[test]
    fn prune_drops_stale_entries() {
        let mut c = Checkpoints::default();
        c.advance(FP, 0, 1, "a", 100);
        c.advance(Fingerprint(8), 0, 1, "b", 1000);
        c.advance(Fingerprint(9), 0, 1, "still-here", 100);
        c.prune(1050, 500, |c| c.path == "still-here");
        assert!(c.get(FP).is_none());
        assert!(c.get(Fingerprint(8)).is_some());
        assert!(c.get(Fingerprint(9)).is_some());
    }
}
