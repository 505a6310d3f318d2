//! More matching files than descriptors: when files are refused for want of room, tailed files
//! that are read to their end, idle and still at a watched path are closed ("parked") to make
//! room. A parked file is remembered by inode with how far it was read; when a scan sees it grow
//! it is opened again and, found by its fingerprint, read on from there.
//!
//! The price, paid only under descriptor pressure: a parked file deleted, or renamed out of the
//! globs, before a scan sees it grow loses what was appended after it was parked (an open handle
//! would have read it).

use std::collections::HashSet;
use std::time::Instant;

use tracing::debug;

use super::Reader;
use crate::ship::fingerprint::FileKey;
use crate::ship::metrics::Metrics;

/// What `open` does with a file that may be parked.
pub(super) enum Parked {
    /// Not parked: open it as usual.
    No,
    /// Parked, with nothing new or no room: leave it closed.
    Stays,
    /// Parked and grown, and there is room: open it again.
    Reopen,
}

impl Reader {
    pub(super) fn parked(&mut self, key: FileKey, len: u64) -> Parked {
        let Some(&pos) = self.parked.get(&key) else {
            return Parked::No;
        };
        if len == pos {
            return Parked::Stays;
        }
        if self.tails.len() >= self.limits.max_open_files {
            self.refused += 1;
            return Parked::Stays;
        }
        self.parked.remove(&key);
        Parked::Reopen
    }

    /// After a scan that refused files: closes as many idle, fully read, watched files, those
    /// idle longest first; the refused ones are opened at the next scan.
    pub(super) fn park_idle(&mut self, now: Instant, seen: &HashSet<FileKey>) {
        self.parked.retain(|k, _| seen.contains(k));
        let idle_after = Self::ms(self.limits.release_idle_ms);
        let mut idle: Vec<(Instant, FileKey)> = self
            .tails
            .iter()
            .filter(|(_, (t, _))| {
                !t.detached
                    && t.pos == t.last_size
                    && t.parser.pending_offset().is_none()
                    && now.duration_since(t.last_change) >= idle_after
            })
            .map(|(k, (t, _))| (t.last_change, *k))
            .collect();
        idle.sort_unstable_by_key(|(since, _)| *since);
        for (_, key) in idle.into_iter().take(self.refused) {
            let Some((t, _)) = self.tails.get(&key) else {
                continue;
            };
            let pos = t.pos;
            debug!(file = %t.path.display(), offset = pos, "parked: read and idle, closed to make room");
            self.release(key, now, false);
            self.parked.insert(key, pos);
        }
        Metrics::set(&self.metrics.files_parked, self.parked.len() as u64);
    }
}
