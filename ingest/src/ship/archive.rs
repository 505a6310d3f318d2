//! Compressed rotated siblings (`app.log.2.gz`, `app.log.3.zst`), read only when a source sets
//! `compressed = true`.
//!
//! A compressed file is identified like a plain one, by the [`Fingerprint`] of its first
//! *decompressed* bytes. The compressed copy of a file that was tailed therefore has the same
//! fingerprint and yields the same record ids, and its checkpoint says how much of it the node
//! already has: only the rest is shipped (the lines a rotation during an outage left unread),
//! and whatever is sent again is recognized by the node. Each compressed file is read once, as
//! a whole, one at a time (a decoder's window is the only memory it costs); when it is read to
//! its end and its last batch is in the spool (durable, acknowledged later like any batch), its
//! [`ArchiveId`] goes into the [`ArchiveLedger`], which is kept in the data directory so that a
//! restart does not decompress it again.

use std::collections::BTreeMap;
use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use memchr::memchr;
use serde::{Deserialize, Serialize};

use super::checkpoint::write_atomically;
use super::fingerprint::Fingerprint;
use super::tail::{push_capped, ReadStats};
use crate::parse::SourceParser;
use crate::record::{LogRecord, Nanos};

/// Largest zstd window accepted: 16 MiB.
const MAX_WINDOW_LOG: u32 = 24;

/// The compressions a shipper can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Gzip,
    Zstd,
}

impl Codec {
    /// By file name: `.gz` or `.zst` (any case).
    pub fn of(path: &Path) -> Option<Codec> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "gz" => Some(Codec::Gzip),
            "zst" => Some(Codec::Zstd),
            _ => None,
        }
    }

    /// The decompressed content of `file`.
    pub fn decoder(self, file: File) -> io::Result<Box<dyn Read + Send>> {
        Ok(match self {
            Codec::Gzip => Box::new(flate2::read::MultiGzDecoder::new(io::BufReader::new(file))),
            Codec::Zstd => {
                let mut d = zstd::stream::read::Decoder::new(file)?;
                // Memory stays bounded: zstd's levels use windows of at most 8 MiB; a file made
                // with a larger window (`--long`) is refused rather than costing up to 2 GiB.
                d.window_log_max(MAX_WINDOW_LOG)?;
                Box::new(d)
            }
        })
    }
}

/// Which compressed file, in which state: device, inode, size, modification time. A file that
/// is replaced or rewritten gets another id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ArchiveId {
    pub dev: u64,
    pub ino: u64,
    pub len: u64,
    pub mtime_ns: i64,
}

impl ArchiveId {
    pub fn of(meta: &Metadata) -> Self {
        ArchiveId {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime_ns: meta.mtime().saturating_mul(1_000_000_000) + meta.mtime_nsec(),
        }
    }

    fn key(&self) -> String {
        format!("{}:{}:{}:{}", self.dev, self.ino, self.len, self.mtime_ns)
    }
}

#[derive(Serialize, Deserialize)]
struct LedgerFile {
    version: u32,
    /// id → path, for people reading the file and for pruning.
    read: BTreeMap<String, String>,
}

/// The compressed files read to their end, persisted next to the checkpoints.
#[derive(Debug, Default)]
pub struct ArchiveLedger {
    path: Option<PathBuf>,
    read: BTreeMap<String, String>,
}

impl ArchiveLedger {
    /// Loads the ledger at `path` (missing or unreadable: empty, so files are read again and the
    /// node's dedup absorbs it), dropping entries whose file is gone.
    pub fn load(path: PathBuf) -> Self {
        let parsed = match std::fs::read(&path) {
            Ok(b) => Some(serde_json::from_slice::<LedgerFile>(&b).map_err(|e| e.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => Some(Err(e.to_string())),
        };
        let mut read: BTreeMap<String, String> = match parsed {
            None => BTreeMap::new(),
            Some(Ok(f)) if f.version == 1 => f.read,
            // Forgetting costs only a second shipping of compressed archives, which the node
            // stores once (same record ids); say so, since it costs bandwidth.
            Some(Ok(f)) => {
                tracing::warn!(file = %path.display(), version = f.version, "archive ledger of an unknown version ignored; compressed archives may be shipped again");
                BTreeMap::new()
            }
            Some(Err(e)) => {
                tracing::warn!(file = %path.display(), error = %e, "archive ledger unreadable, ignored; compressed archives may be shipped again");
                BTreeMap::new()
            }
        };
        read.retain(|key, p| {
            std::fs::metadata(p.as_str()).is_ok_and(|m| ArchiveId::of(&m).key() == *key)
        });
        ArchiveLedger {
            path: Some(path),
            read,
        }
    }

    pub fn contains(&self, id: &ArchiveId) -> bool {
        self.read.contains_key(&id.key())
    }

    /// Notes that `id` was read to its end and saves the ledger.
    pub fn insert(&mut self, id: ArchiveId, path: &Path) -> io::Result<()> {
        self.read.insert(id.key(), path.display().to_string());
        let Some(file) = &self.path else {
            return Ok(());
        };
        let bytes = serde_json::to_vec_pretty(&LedgerFile {
            version: 1,
            read: self.read.clone(),
        })
        .map_err(io::Error::other)?;
        write_atomically(file, &bytes)
    }
}

/// One compressed file being read: a stream, so unlike a [`Tail`](super::tail::Tail) it keeps
/// the line being collected between reads (bounded by `max_line_bytes`).
pub struct ArchiveRead {
    pub path: PathBuf,
    pub id: ArchiveId,
    pub source: usize,
    pub fp: Fingerprint,
    input: Box<dyn Read + Send>,
    /// Decompressed bytes consumed.
    at: u64,
    line_start: u64,
    /// Lines that start before this offset are on the node already.
    skip_to: u64,
    line: Vec<u8>,
    pub parser: SourceParser,
    /// Where the next batch's range for this file starts.
    pub batched: u64,
    /// Read to its end.
    pub done: bool,
}

impl ArchiveRead {
    /// `input` is the decompressed content from its first byte; lines before `skip_to` are
    /// skipped.
    pub fn new(
        path: PathBuf,
        id: ArchiveId,
        source: usize,
        fp: Fingerprint,
        input: Box<dyn Read + Send>,
        skip_to: u64,
        parser: SourceParser,
    ) -> Self {
        ArchiveRead {
            path,
            id,
            source,
            fp,
            input,
            at: 0,
            line_start: 0,
            skip_to,
            line: Vec::new(),
            parser,
            batched: skip_to,
            done: false,
        }
    }

    /// Reads about `budget` decompressed bytes (or to the end), feeding the lines at or after
    /// `skip_to` to the parser. At the end the last line counts even without a newline: the
    /// file will not grow.
    pub fn read(
        &mut self,
        scratch: &mut [u8],
        max_line: usize,
        budget: u64,
        observed: Nanos,
        out: &mut Vec<LogRecord>,
    ) -> io::Result<ReadStats> {
        let start = self.at;
        let mut stats = ReadStats::default();
        loop {
            let n = match self.input.read(scratch) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                if !self.line.is_empty() {
                    self.take_line(observed, out, &mut stats);
                }
                self.parser.flush(out);
                self.done = true;
                break;
            }
            let mut rest = &scratch[..n];
            while let Some(nl) = memchr(b'\n', rest) {
                push_capped(&mut self.line, &rest[..nl], max_line);
                self.at += nl as u64 + 1;
                self.take_line(observed, out, &mut stats);
                rest = &rest[nl + 1..];
            }
            push_capped(&mut self.line, rest, max_line);
            self.at += rest.len() as u64;
            if self.at - start >= budget {
                stats.more = true;
                break;
            }
        }
        stats.bytes = self.at - start;
        Ok(stats)
    }

    fn take_line(&mut self, observed: Nanos, out: &mut Vec<LogRecord>, stats: &mut ReadStats) {
        if self.line_start >= self.skip_to {
            self.parser
                .push_line(&self.line, self.line_start, observed, out);
            stats.lines += 1;
        }
        self.line.clear();
        self.line_start = self.at;
    }

    /// Where the range of what was handed over may end: before any event still being
    /// assembled and any line still being collected.
    pub fn safe_offset(&self) -> u64 {
        if self.done {
            return self.at;
        }
        self.parser
            .pending_offset()
            .unwrap_or(self.line_start)
            .min(self.line_start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{ParseOptions, SourceInfo};
    use std::io::Write;

    fn gz(text: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(text).unwrap();
        e.finish().unwrap()
    }

    fn read_all(input: Vec<u8>, skip_to: u64, budget: u64) -> (Vec<LogRecord>, ArchiveRead) {
        let parser = SourceParser::new(
            SourceInfo {
                fingerprint: 9,
                ..SourceInfo::default()
            },
            ParseOptions::default(),
        );
        let id = ArchiveId {
            dev: 0,
            ino: 0,
            len: 0,
            mtime_ns: 0,
        };
        let input = Codec::Gzip.decoder_from(input);
        let mut a = ArchiveRead::new("a.gz".into(), id, 0, Fingerprint(9), input, skip_to, parser);
        let (mut out, mut scratch) = (Vec::new(), vec![0; 5]);
        while !a.done {
            a.read(&mut scratch, 100, budget, 0, &mut out).unwrap();
        }
        (out, a)
    }

    impl Codec {
        fn decoder_from(self, bytes: Vec<u8>) -> Box<dyn Read + Send> {
            Box::new(flate2::read::MultiGzDecoder::new(io::Cursor::new(bytes)))
        }
    }

    #[test]
    fn reads_everything_after_the_checkpoint_with_the_plain_files_ids() {
        let text = b"one\ntwo\nthree\nlast without newline";
        let (recs, a) = read_all(gz(text), 0, 3);
        let msgs: Vec<_> = recs.iter().map(|r| r.message.as_str()).collect();
        assert_eq!(msgs, ["one", "two", "three", "last without newline"]);
        assert_eq!(recs[2].id, LogRecord::file_id(9, 8));
        assert_eq!(a.safe_offset(), text.len() as u64);
        let (recs, a) = read_all(gz(text), 8, 1 << 20);
        let msgs: Vec<_> = recs.iter().map(|r| r.message.as_str()).collect();
        assert_eq!(msgs, ["three", "last without newline"]);
        assert_eq!(a.batched, 8);
        let (recs, _) = read_all(gz(text), 1000, 1 << 20);
        assert!(recs.is_empty(), "all on the node already");
    }

    #[test]
    fn corrupt_data_is_an_error_not_a_panic() {
        let mut bytes = gz(b"fine line\nanother\n");
        let n = bytes.len();
        bytes.truncate(n - 12);
        let mut a = ArchiveRead::new(
            "x.gz".into(),
            ArchiveId {
                dev: 0,
                ino: 0,
                len: 0,
                mtime_ns: 0,
            },
            0,
            Fingerprint(1),
            Codec::Gzip.decoder_from(bytes),
            0,
            SourceParser::new(SourceInfo::default(), ParseOptions::default()),
        );
        let mut out = Vec::new();
        let mut scratch = vec![0; 64];
        let mut failed = false;
        for _ in 0..10 {
            match a.read(&mut scratch, 100, 1 << 20, 0, &mut out) {
                Err(_) => {
                    failed = true;
                    break;
                }
                Ok(_) if a.done => break,
                Ok(_) => {}
            }
        }
        assert!(
            failed && !a.done,
            "a truncated archive is not taken as complete"
        );
    }

    #[test]
    fn zstd_windows_beyond_16_mib_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let make = |window_log: u32| {
            let mut e = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
            e.window_log(window_log).unwrap();
            e.write_all(&b"a line\n".repeat(1000)).unwrap();
            let path = dir.path().join(format!("w{window_log}.zst"));
            std::fs::write(&path, e.finish().unwrap()).unwrap();
            let mut out = Vec::new();
            Codec::Zstd
                .decoder(File::open(path).unwrap())
                .and_then(|mut d| d.read_to_end(&mut out))
        };
        assert_eq!(make(23).unwrap(), 7000);
        assert!(make(27).is_err());
    }

    #[test]
    fn codecs_by_name_and_the_ledger_persists() {
        assert_eq!(Codec::of(Path::new("/l/app.log.2.gz")), Some(Codec::Gzip));
        assert_eq!(Codec::of(Path::new("app.log.3.ZST")), Some(Codec::Zstd));
        assert_eq!(Codec::of(Path::new("app.log.4.xz")), None);
        assert_eq!(Codec::of(Path::new("app.log")), None);

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("app.log.2.zst");
        std::fs::write(&file, zstd::encode_all(&b"a line\n"[..], 3).unwrap()).unwrap();
        let id = ArchiveId::of(&std::fs::metadata(&file).unwrap());
        let ledger_path = dir.path().join("archives.json");
        let mut ledger = ArchiveLedger::load(ledger_path.clone());
        assert!(!ledger.contains(&id));
        ledger.insert(id, &file).unwrap();
        assert!(ArchiveLedger::load(ledger_path.clone()).contains(&id));
        // A rewritten file is another archive; a deleted one leaves the ledger.
        std::fs::write(&file, zstd::encode_all(&b"other\nlines\n"[..], 3).unwrap()).unwrap();
        let id2 = ArchiveId::of(&std::fs::metadata(&file).unwrap());
        assert!(!ArchiveLedger::load(ledger_path.clone()).contains(&id2));
        std::fs::remove_file(&file).unwrap();
        assert!(!ArchiveLedger::load(ledger_path).contains(&id));
    }
}
