//! Tailing one file: complete lines from an open handle, and what to do when the file changes.
//!
//! A [`Tail`] reads through its own handle with positioned reads, so a renamed or deleted file is
//! still read to its end. It keeps no bytes between reads: `pos` is the start of the first line
//! not yet handed to the parser, and an incomplete last line is read again next time, which
//! bounds memory by one line (capped at `max_line_bytes`) whatever the number of files. A last
//! line without newline is handed over once the file has been idle for `partial_idle`.
//! [`fate`] is the pure decision about rotation: keep reading, start over (truncated or
//! rewritten), or release (rotated away or deleted, read to the end, idle).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use memchr::memchr;

use super::fingerprint::{FileKey, Fingerprint};
use crate::parse::SourceParser;
use crate::record::{LogRecord, Nanos};

/// What happens to a tailed file after looking at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Keep,
    /// Shorter than what was read, or its first bytes changed: the old content is gone (its
    /// unread rest may live on in a rotated copy) and the file is identified afresh.
    Truncated,
    /// No longer at a watched path (rotated away or deleted), read to the end and idle.
    Release,
}

/// What to do with a file, from what is known about it.
pub fn fate(
    pos: u64,
    size: u64,
    header_same: bool,
    detached: bool,
    idle: Duration,
    release_after: Duration,
) -> Fate {
    if size < pos || !header_same {
        Fate::Truncated
    } else if detached && size == pos && idle >= release_after {
        Fate::Release
    } else {
        Fate::Keep
    }
}

/// Outcome of one read.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReadStats {
    pub bytes: u64,
    pub lines: u64,
    /// Stopped because the budget was used up, not at the end of the file.
    pub more: bool,
}

/// One file being read.
pub struct Tail {
    pub file: File,
    pub key: FileKey,
    /// The fingerprint of its records (salted if its header is shared).
    pub fp: Fingerprint,
    /// The unsalted fingerprint of its header, to notice a rewrite.
    pub header_fp: Fingerprint,
    /// How many first bytes the fingerprints cover: `fingerprint_bytes`, or fewer for a file
    /// first seen shorter than that.
    pub header_len: usize,
    pub path: PathBuf,
    /// Start of the first line not yet handed to the parser.
    pub pos: u64,
    /// Where the next batch's range for this file starts.
    pub batched: u64,
    pub parser: SourceParser,
    pub last_change: Instant,
    pub last_size: u64,
    /// The watched path no longer refers to this file.
    pub detached: bool,
}

impl Tail {
    /// Marks the file as no longer at a watched path. Detaching counts as a change: a writer
    /// still holding the file (a logrotate rename before the app reopens, a delete) gets the
    /// whole `release_idle` to finish its writes, however long the file sat idle before.
    pub fn detach(&mut self, now: Instant) {
        if !self.detached {
            self.detached = true;
            self.last_change = now;
        }
    }

    /// Reads complete lines from `pos` until EOF or until about `budget` bytes were read,
    /// feeding them to the parser. `scratch` is a reusable chunk buffer, `line` a reusable line
    /// buffer; neither keeps meaning between calls.
    #[allow(clippy::too_many_arguments)]
    pub fn read(
        &mut self,
        scratch: &mut [u8],
        line: &mut Vec<u8>,
        max_line: usize,
        budget: u64,
        partial_idle: Duration,
        now: Instant,
        observed: Nanos,
        out: &mut Vec<LogRecord>,
    ) -> io::Result<ReadStats> {
        let mut stats = ReadStats::default();
        let mut at = self.pos;
        let mut line_start = self.pos;
        line.clear();
        loop {
            let n = match self.file.read_at(scratch, at) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                break;
            }
            let mut rest = &scratch[..n];
            let mut consumed = 0usize;
            while let Some(nl) = memchr(b'\n', rest) {
                push_capped(line, &rest[..nl], max_line);
                self.parser.push_line(line, line_start, observed, out);
                stats.lines += 1;
                line.clear();
                consumed += nl + 1;
                line_start = at + consumed as u64;
                rest = &rest[nl + 1..];
            }
            push_capped(line, rest, max_line);
            at += n as u64;
            // Stop for fairness only after progress; an incomplete line is read again later.
            if at - self.pos >= budget && line_start > self.pos {
                stats.more = true;
                break;
            }
        }
        if at > self.last_size {
            self.last_change = now;
            self.last_size = at;
        }
        if !line.is_empty() && !stats.more && now.duration_since(self.last_change) >= partial_idle {
            self.parser.push_line(line, line_start, observed, out);
            stats.lines += 1;
            line_start = at;
        }
        line.clear();
        stats.bytes = line_start - self.pos;
        self.pos = line_start;
        Ok(stats)
    }

    /// Is the file's first part still what it was when it was fingerprinted?
    pub fn header_same(&self) -> io::Result<bool> {
        Ok(
            super::fingerprint::read_header(&self.file, self.header_len)?
                .is_some_and(|h| Fingerprint::of(&h) == self.header_fp),
        )
    }

    /// Where this file's acknowledged range may end: before any event still being assembled.
    pub fn safe_offset(&self) -> u64 {
        self.parser
            .pending_offset()
            .unwrap_or(self.pos)
            .min(self.pos)
    }
}

/// Appends at most `max + 1` bytes in total, so the parser can see that the line was too long
/// while memory stays bounded whatever the line length.
pub(crate) fn push_capped(line: &mut Vec<u8>, bytes: &[u8], max: usize) {
    let room = (max + 1).saturating_sub(line.len());
    line.extend_from_slice(&bytes[..bytes.len().min(room)]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{ParseOptions, SourceInfo};
    use std::io::Write;

    const D: Duration = Duration::from_secs(5);

    #[test]
    fn rotation_decisions() {
        assert_eq!(fate(100, 150, true, false, D, D), Fate::Keep);
        assert_eq!(
            fate(100, 40, true, false, D, D),
            Fate::Truncated,
            "copytruncate"
        );
        assert_eq!(
            fate(100, 400, false, false, D, D),
            Fate::Truncated,
            "rewritten"
        );
        assert_eq!(
            fate(100, 100, true, true, D, D),
            Fate::Release,
            "rotated, done"
        );
        assert_eq!(
            fate(100, 120, true, true, D, D),
            Fate::Keep,
            "rotated, unread rest"
        );
        let short = Duration::from_secs(1);
        assert_eq!(
            fate(100, 100, true, true, short, D),
            Fate::Keep,
            "may still grow"
        );
        assert_eq!(
            fate(100, 100, true, false, D, D),
            Fate::Keep,
            "idle but still watched"
        );
    }

    fn tail(file: File, max_line: usize) -> Tail {
        let opts = ParseOptions {
            max_line_bytes: max_line,
            ..ParseOptions::default()
        };
        Tail {
            file,
            key: FileKey { dev: 0, ino: 0 },
            fp: Fingerprint(1),
            header_fp: Fingerprint(1),
            header_len: 1,
            path: "t.log".into(),
            pos: 0,
            batched: 0,
            parser: SourceParser::new(
                SourceInfo {
                    fingerprint: 1,
                    ..SourceInfo::default()
                },
                opts,
            ),
            last_change: Instant::now(),
            last_size: 0,
            detached: false,
        }
    }

    fn read_all(t: &mut Tail, now: Instant, max_line: usize) -> Vec<LogRecord> {
        let mut out = Vec::new();
        let (mut scratch, mut line) = (vec![0; 7], Vec::new());
        loop {
            let s = t
                .read(&mut scratch, &mut line, max_line, 16, D, now, 0, &mut out)
                .unwrap();
            if !s.more {
                // The reader flushes a pending event once it is idle; these tests read to the end.
                t.parser.flush(&mut out);
                return out;
            }
        }
    }

    #[test]
    fn holds_partial_line_until_newline_or_idle() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(b"one\ntwo\nthr").unwrap();
        let mut t = tail(f.try_clone().unwrap(), 100);
        let now = Instant::now();
        let recs = read_all(&mut t, now, 100);
        let msgs: Vec<_> = recs.iter().map(|r| r.message.as_str()).collect();
        assert_eq!(msgs, ["one", "two"]);
        assert_eq!(t.pos, 8);
        f.write_all(b"ee\nfour").unwrap();
        let recs = read_all(&mut t, now, 100);
        assert_eq!(recs[0].message, "three");
        assert_eq!(recs[0].id, LogRecord::file_id(1, 8));
        assert_eq!(recs.len(), 1);
        // Idle long enough: the last line goes out without its newline.
        let recs = read_all(&mut t, now + D, 100);
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].message, "four");
        assert_eq!(t.pos, 18);
    }

    #[test]
    fn long_lines_are_capped_and_offsets_stay_exact() {
        let mut f = tempfile::tempfile().unwrap();
        let long = vec![b'x'; 10_000];
        f.write_all(&long).unwrap();
        f.write_all(b"\nafter\n").unwrap();
        let mut t = tail(f, 50);
        let recs = read_all(&mut t, Instant::now(), 50);
        assert_eq!(recs.len(), 2);
        assert!(recs[0].message.len() <= 51);
        assert_eq!(recs[1].message, "after");
        assert_eq!(recs[1].id, LogRecord::file_id(1, 10_001));
        assert_eq!(t.pos, 10_007);
    }

    #[test]
    fn binary_nul_and_invalid_utf8_do_not_break_lines() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(b"\0\0\xff\xfe bin\n\xc3(\nok\n").unwrap();
        let mut t = tail(f, 100);
        let recs = read_all(&mut t, Instant::now(), 100);
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[2].message, "ok");
    }

    #[test]
    fn a_file_idle_before_it_is_detached_gets_the_full_grace_period() {
        let mut t = tail(tempfile::tempfile().unwrap(), 100);
        let detached_at = t.last_change + D * 10;
        t.detach(detached_at);
        let idle = |t: &Tail, now: Instant| now.duration_since(t.last_change);
        let soon = detached_at + D / 2;
        assert_eq!(fate(0, 0, true, t.detached, idle(&t, soon), D), Fate::Keep);
        // Seeing the detachment again does not restart the clock.
        t.detach(soon);
        let later = detached_at + D;
        assert_eq!(
            fate(0, 0, true, t.detached, idle(&t, later), D),
            Fate::Release
        );
    }
}
