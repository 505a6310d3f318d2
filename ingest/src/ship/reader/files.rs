//! Which files to read and who they are: the periodic scan and file events lead to paths;
//! [`Reader::open`] identifies each file by its [`Fingerprint`] and decides where reading
//! starts (a renamed file keeps its reader, a rotated copy resumes where the original was read
//! to, two live files with the same first bytes are told apart by inode).

use std::collections::HashSet;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tracing::{debug, error, info, warn};

use super::park::Parked;
use super::Reader;
use crate::parse::{SourceInfo, SourceParser};
use crate::ship::archive::Codec;
use crate::ship::fingerprint::{read_prefix, FileKey, Fingerprint};
use crate::ship::metrics::Metrics;
use crate::ship::tail::Tail;

impl Reader {
    pub(super) fn scan(&mut self, now: Instant) {
        let mut found: Vec<(PathBuf, usize)> = Vec::new();
        let mut seen = HashSet::new();
        for (i, s) in self.sources.iter().enumerate() {
            for p in s.discovery.scan() {
                if seen.insert(p.clone()) {
                    found.push((p, i));
                }
            }
        }
        // Which tails does no watched path lead to any more?
        let mut live: HashSet<FileKey> = HashSet::new();
        self.refused = 0;
        for (path, source) in found {
            if let Some(key) = self.open(&path, source, now) {
                live.insert(key);
            }
        }
        self.report_refused();
        self.park_idle(now, &live);
        for (key, (t, _)) in self.tails.iter_mut() {
            if !live.contains(key) && !t.detached {
                debug!(file = %t.path.display(), "file rotated away or deleted");
                t.detach(now);
            }
        }
        self.twins.retain(|k, _| live.contains(k));
        Metrics::set(&self.metrics.files_tailed, self.tails.len() as u64);
    }

    /// Says loudly, once per change, that matching files are left unread for want of file
    /// descriptors; they are read (from their checkpoint) once tailed files are released or
    /// parked.
    fn report_refused(&mut self) {
        Metrics::set(&self.metrics.files_refused, self.refused as u64);
        if self.refused != self.refused_reported {
            if self.refused > 0 {
                error!(
                    refused = self.refused,
                    tailed = self.tails.len(),
                    limit = self.limits.max_open_files,
                    "too many files to tail at once; some are not read (raise the open-files limit)"
                );
            } else {
                info!("no matching file waits for a descriptor any more");
            }
            self.refused_reported = self.refused;
        }
    }

    pub(super) fn on_event(&mut self, path: &Path, now: Instant) {
        let tracked: Vec<FileKey> = self
            .tails
            .iter()
            .filter(|(_, (t, _))| t.path == path)
            .map(|(k, _)| *k)
            .collect();
        for key in tracked {
            self.poll(key, now);
        }
        if let Some(i) = self.sources.iter().position(|s| s.discovery.matches(path)) {
            if path.is_file() {
                self.open(path, i, now);
            }
        }
    }

    pub(super) fn complain(&mut self, path: &Path, e: &io::Error) {
        if e.kind() == io::ErrorKind::NotFound {
            return; // vanished between scan and open: nothing to read
        }
        Metrics::add(&self.metrics.read_errors, 1);
        if self.complained.insert(path.to_path_buf()) {
            warn!(file = %path.display(), error = %e, "cannot read file; skipping it");
        }
    }

    /// Starts tailing `path` unless it is already tailed; returns its key when it is (or now
    /// is) tailed.
    pub(super) fn open(&mut self, path: &Path, source: usize, now: Instant) -> Option<FileKey> {
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) => {
                self.complain(path, &e);
                return None;
            }
        };
        if let Some(codec) = Codec::of(path) {
            self.open_archive(path, codec, source, &meta);
            return None;
        }
        let key = FileKey::of(&meta);
        if let Some((t, _)) = self.tails.get_mut(&key) {
            if t.path != path {
                debug!(from = %t.path.display(), to = %path.display(), "file renamed");
                t.path = path.to_path_buf();
            }
            t.detached = false;
            return Some(key);
        }
        if meta.len() == 0 {
            return None; // nothing to identify it by yet
        }
        match self.parked(key, meta.len()) {
            Parked::Stays => return Some(key),
            Parked::Reopen => debug!(file = %path.display(), "parked file grew; reopening it"),
            Parked::No if self.tails.len() >= self.limits.max_open_files => {
                self.refused += 1;
                return None; // tailed once others are released or parked; see report_refused
            }
            Parked::No => {}
        }
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) => {
                self.complain(path, &e);
                return None;
            }
        };
        if file.metadata().map(|m| FileKey::of(&m)).ok() != Some(key) {
            return None; // replaced between stat and open; next scan
        }
        let full = self.limits.fingerprint_bytes;
        let header = match read_prefix(&file, full) {
            Ok(h) => h,
            Err(e) => {
                self.complain(path, &e);
                return None;
            }
        };
        self.complained.remove(path);
        let (fp, raw, header_len) = if let Some(found) = self.grown_short(&header, key) {
            found
        } else if header.len() < full {
            // Too short for a fingerprint: known by what it holds and its inode, so that small
            // files are shipped, and two with the same few lines (a daily job's "ok") stay
            // apart. Appending keeps those first bytes, so the identity lasts as it grows.
            let fp = Fingerprint::salted(&header, key);
            self.note_header(fp, header.len(), path);
            (fp, Fingerprint::of(&header), header.len())
        } else {
            let Some((fp, raw)) = self.fingerprint(&header, key, path, now) else {
                return Some(key); // waits for its twin
            };
            (fp, raw, full)
        };
        if header_len < full {
            debug!(file = %path.display(), bytes = header_len, "short file identified by its bytes and inode");
        }
        let mut pos = self.known(fp).unwrap_or(0);
        if pos > meta.len() {
            pos = 0; // same first bytes but shorter than what was read: a new file
        }
        let info = SourceInfo {
            source: path.display().to_string(),
            host: self.host.clone(),
            service: self.sources[source].service.clone(),
            fingerprint: fp.0,
        };
        let opts = self.sources[source].parse.clone();
        info!(file = %path.display(), fingerprint = %fp, offset = pos, "tailing");
        self.resume.insert(fp, pos);
        let tail = Tail {
            file,
            key,
            fp,
            header_fp: raw,
            header_len,
            path: path.to_path_buf(),
            pos,
            batched: pos,
            parser: SourceParser::new(info, opts),
            last_change: now,
            last_size: pos,
            detached: false,
        };
        self.tails.insert(key, (tail, source));
        Metrics::set(&self.metrics.files_tailed, self.tails.len() as u64);
        Some(key)
    }

    /// The fingerprint of a file with a full header, and its header's unsalted one; `None`
    /// while it waits to be told apart from a live file with the same header.
    fn fingerprint(
        &mut self,
        header: &[u8],
        key: FileKey,
        path: &Path,
        now: Instant,
    ) -> Option<(Fingerprint, Fingerprint)> {
        let raw = Fingerprint::of(header);
        let salted = Fingerprint::salted(header, key);
        let fp = if self.known(salted).is_some() {
            salted
        } else if self.tails.values().any(|(t, _)| t.fp == raw && !t.detached) {
            // Another live file has the same first bytes: a copy about to be truncated away
            // (copytruncate) or a different file with the same header. Wait and see.
            let since = *self.twins.entry(key).or_insert(now);
            if now.duration_since(since) < Duration::from_millis(self.limits.twin_wait_ms) {
                return None;
            }
            info!(file = %path.display(), "same first bytes as another live file; told apart by inode");
            salted
        } else {
            raw
        };
        self.twins.remove(&key);
        Some((fp, raw))
    }

    /// A file first seen shorter than `fingerprint_bytes`, found again (grown, released and
    /// reopened, after a restart) by the first bytes and the inode its fingerprint covers:
    /// its fingerprint, unsalted header fingerprint and header length.
    fn grown_short(
        &self,
        header: &[u8],
        key: FileKey,
    ) -> Option<(Fingerprint, Fingerprint, usize)> {
        let lengths = self
            .checkpoints
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .short_headers();
        // Longest first: the same inode may have been rewritten with more lines.
        lengths.into_iter().rev().find_map(|len| {
            let lines = header.get(..len as usize)?;
            let fp = Fingerprint::salted(lines, key);
            self.known(fp)
                .map(|_| (fp, Fingerprint::of(lines), len as usize))
        })
    }

    /// Keeps, with its checkpoint, how many first bytes a short file's fingerprint covers.
    fn note_header(&self, fp: Fingerprint, len: usize, path: &Path) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.checkpoints
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .note_header(fp, len as u32, &path.display().to_string(), now);
    }

    /// Where reading of `fp` resumes: what this run read, else its checkpoint.
    pub(super) fn known(&self, fp: Fingerprint) -> Option<u64> {
        self.resume.get(&fp).copied().or_else(|| {
            let cps = self.checkpoints.lock().unwrap_or_else(|p| p.into_inner());
            cps.get(fp).map(|c| c.offset)
        })
    }
}
