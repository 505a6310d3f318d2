//! The write-ahead log: where a batch becomes durable before it is acknowledged.
//!
//! The WAL is a directory of files `<first seq, 20 digits>.wal`. Each file starts with an 8-byte
//! header (`FWWAL`, a zero byte, the format version as u16 LE) followed by entries:
//!
//! ```text
//! len u32 LE | crc32 u32 LE (of the payload) | payload = seq u64 LE ++ kind u8 ++ body
//!   kind 0: body = the records' NDJSON lines
//!   kind 1: body = a zstd frame of them: the request body the batch came in
//! format 1 (still replayed): payload = seq u64 LE ++ NDJSON lines
//! ```
//!
//! A record's line is the one it arrived as, when it arrived as NDJSON (see
//! [`firewatch_ingest::Encoded`]): it parses to the same record, so replay is the same. A batch
//! that came zstd-compressed and whose every line was accepted as a new record is logged as the
//! compressed body it came in ([`firewatch_ingest::Batch`]): about a tenth of the bytes written
//! and fsynced, with no compression work (records as JSON are about twice the size of the log
//! lines they were parsed from, so the lines would be most of what a node writes to disk).
//! Persist policy: entries are appended and the file is `fdatasync`ed before any of them is
//! acknowledged; concurrent batches share one fsync (group commit, see the store). On open, every
//! file is replayed. An entry that is short, too long or fails its checksum with no valid entry
//! after it is a torn tail from a crash mid-write, never acknowledged: it is cut. One with valid
//! entries after it was damaged on disk: it is skipped with an error (its records are lost) and
//! the entries after it are replayed, not cut with it. Likewise a file whose header is damaged
//! but holds entries is replayed, and one of another format version stops the start; a file
//! without a header or entries (its creation torn) is removed. A new file is started when a
//! segment is sealed; files whose entries are all in sealed segments are deleted.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use firewatch_ingest::endpoint::body::{decode_zstd, BodyError};
use tracing::{error, warn};

const MAGIC: &[u8; 6] = b"FWWAL\0";
const VERSION: u16 = 2;
/// Entry bodies of format 2.
const KIND_LINES: u8 = 0;
const KIND_ZSTD: u8 = 1;
const HEADER_LEN: u64 = 8;
/// Entries above this are corruption, not data (the endpoint caps batches far lower).
const MAX_ENTRY: u32 = 512 << 20;
/// The largest batch body, compressed or not, whose entry the WAL takes: the node refuses an
/// ingest config that would accept larger ones (their entries would read as corruption).
pub const MAX_BATCH_BYTES: usize = MAX_ENTRY as usize - 64;

/// Encodes one entry (length, checksum, payload) of NDJSON `body` onto `out`.
pub fn encode_entry(seq: u64, body: &[u8], out: &mut Vec<u8>) {
    encode_with(seq, KIND_LINES, out, |out| out.extend_from_slice(body));
}

/// Encodes one entry whose body is a zstd frame of NDJSON lines; replay expands it.
pub fn encode_zstd(seq: u64, frame: &[u8], out: &mut Vec<u8>) {
    encode_with(seq, KIND_ZSTD, out, |out| out.extend_from_slice(frame));
}

/// Encodes one entry whose body is `lines`, each ended by a newline: the bytes
/// [`encode_entry`] gives for the joined lines, without joining them first.
pub fn encode_lines<L: AsRef<[u8]>>(seq: u64, lines: &[L], out: &mut Vec<u8>) {
    encode_with(seq, KIND_LINES, out, |out| {
        for line in lines {
            out.extend_from_slice(line.as_ref());
            out.push(b'\n');
        }
    });
}

fn encode_with(seq: u64, kind: u8, out: &mut Vec<u8>, body: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    // Length and checksum, filled in once the body is written.
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&seq.to_le_bytes());
    out.push(kind);
    body(out);
    let len = (out.len() - start - 8) as u32;
    let crc = crc32fast::hash(&out[start + 8..]);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// What replaying the WAL found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReplayReport {
    pub entries: u64,
    /// Bytes cut from torn or corrupt tails.
    pub cut_bytes: u64,
    /// Bytes of damaged entries skipped in the middle of a file (acknowledged records lost).
    pub damaged_bytes: u64,
    pub last_seq: u64,
}

/// Why an entry could not be read.
enum Bad {
    Eof,
    Torn(&'static str),
}

fn read_entry(r: &mut impl Read) -> io::Result<Result<(u64, Vec<u8>), Bad>> {
    let mut head = [0u8; 8];
    match read_full(r, &mut head)? {
        0 => return Ok(Err(Bad::Eof)),
        8 => {}
        _ => return Ok(Err(Bad::Torn("short header"))),
    }
    let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
    let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    if !(8..=MAX_ENTRY).contains(&len) {
        return Ok(Err(Bad::Torn("bad length")));
    }
    let mut payload = vec![0u8; len as usize];
    if read_full(r, &mut payload)? != payload.len() {
        return Ok(Err(Bad::Torn("short payload")));
    }
    if crc32fast::hash(&payload) != crc {
        return Ok(Err(Bad::Torn("checksum mismatch")));
    }
    let seq = u64::from_le_bytes(payload[..8].try_into().unwrap_or_default());
    payload.drain(..8);
    Ok(Ok((seq, payload)))
}

/// The NDJSON of an entry's payload (after its sequence number), in a file of format `version`
/// (`None`: its header is damaged; a format 1 body is NDJSON, which never starts with a kind).
/// Lines are handed on in the buffer they were read into, not copied.
fn body(version: Option<u16>, payload: Vec<u8>) -> Result<Bytes, &'static str> {
    let kinded = match version {
        Some(v) => v >= 2,
        None => matches!(payload.first(), Some(&(KIND_LINES | KIND_ZSTD))),
    };
    match payload.first() {
        _ if !kinded => Ok(Bytes::from(payload)),
        None => Ok(Bytes::new()),
        Some(&KIND_LINES) => Ok(Bytes::from(payload).slice(1..)),
        // Decoded as the endpoint decoded it when the batch came in.
        Some(&KIND_ZSTD) => match decode_zstd(&payload[1..], MAX_BATCH_BYTES) {
            Ok(lines) => Ok(Bytes::from(lines)),
            Err(BodyError::DecodedTooLarge { .. }) => Err("compressed body expands past the limit"),
            Err(BodyError::BadEncoding(_)) => Err("compressed body does not decompress"),
        },
        Some(_) => Err("unknown entry kind"),
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn file_name(first_seq: u64) -> String {
    format!("{first_seq:020}.wal")
}

/// The WAL files in `dir`, by first sequence number.
pub fn list(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let first = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".wal"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(first) = first {
            files.push((first, path));
        }
    }
    files.sort();
    Ok(files)
}

/// Replays every entry of the WAL in `dir` in order, cutting torn tails. `apply` gets each
/// entry's sequence number and NDJSON (a compressed entry expanded).
pub fn replay(dir: &Path, mut apply: impl FnMut(u64, Bytes)) -> io::Result<ReplayReport> {
    let mut report = ReplayReport::default();
    for (_, path) in list(dir)? {
        let file = File::open(&path)?;
        let size = file.metadata()?.len();
        let mut r = BufReader::with_capacity(1 << 20, file);
        let mut header = [0u8; HEADER_LEN as usize];
        let mut good = HEADER_LEN;
        let intact = read_full(&mut r, &mut header)? == header.len() && &header[..6] == MAGIC;
        let version = u16::from_le_bytes([header[6], header[7]]);
        if intact && !(1..=VERSION).contains(&version) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{}: wal format {version}, this build reads 1 to {VERSION}",
                    path.display()
                ),
            ));
        }
        // Unknown when the header is damaged: each entry then says (below).
        let version = intact.then_some(version);
        if !intact {
            // A file whose creation was torn holds no entry: removed. One whose header was
            // damaged later still holds its acknowledged entries: replayed.
            match next_entry(&path, HEADER_LEN - 1, report.last_seq)? {
                Some(first) => {
                    error!(file = %path.display(), "wal file header damaged; replaying its entries");
                    report.damaged_bytes += first;
                    good = first;
                    r.seek(SeekFrom::Start(first))?;
                }
                None => {
                    warn!(file = %path.display(), "wal file without a valid header, removed");
                    report.cut_bytes += size;
                    fs::remove_file(&path)?;
                    continue;
                }
            }
        }
        loop {
            match read_entry(&mut r)? {
                Ok((seq, payload)) => {
                    let at = good;
                    good += 8 + 8 + payload.len() as u64;
                    report.last_seq = report.last_seq.max(seq);
                    match body(version, payload) {
                        Ok(body) => {
                            report.entries += 1;
                            apply(seq, body);
                        }
                        Err(why) => {
                            // Its checksum holds, so it was written so: not a torn write.
                            error!(file = %path.display(), offset = at, why, "wal entry does not decode, its records are lost");
                            report.damaged_bytes += good - at;
                        }
                    }
                }
                Err(Bad::Eof) => break,
                Err(Bad::Torn(why))
                    if let Some(next) = next_entry(&path, good, report.last_seq)? =>
                {
                    error!(file = %path.display(), offset = good, bytes = next - good, why, "damaged wal entry skipped, its records are lost");
                    report.damaged_bytes += next - good;
                    good = next;
                    r.seek(SeekFrom::Start(next))?;
                }
                Err(Bad::Torn(why)) => {
                    warn!(file = %path.display(), offset = good, why, "wal tail cut");
                    report.cut_bytes += size - good;
                    let f = OpenOptions::new().write(true).open(&path)?;
                    f.set_len(good)?;
                    f.sync_all()?;
                    break;
                }
            }
        }
    }
    Ok(report)
}

/// Where the first valid entry after `from` starts, if any: its length fits in the file, its
/// sequence number follows `last_seq` and its checksum matches. Only a damaged middle has one;
/// a torn tail has none.
fn next_entry(path: &Path, from: u64, last_seq: u64) -> io::Result<Option<u64>> {
    let file = File::open(path)?;
    // SAFETY: a WAL file is only appended to by this process, which is not writing yet.
    let map = unsafe { memmap2::Mmap::map(&file)? };
    let le32 = |at: usize| u32::from_le_bytes(map[at..at + 4].try_into().unwrap_or_default());
    let le64 = |at: usize| u64::from_le_bytes(map[at..at + 8].try_into().unwrap_or_default());
    for at in from as usize + 1..map.len().saturating_sub(16) {
        let len = le32(at) as usize;
        if !(8..=MAX_ENTRY as usize).contains(&len) || at + 8 + len > map.len() {
            continue;
        }
        let seq = le64(at + 8);
        if seq <= last_seq || seq - last_seq > 1 << 32 {
            continue;
        }
        if crc32fast::hash(&map[at + 8..at + 8 + len]) == le32(at + 4) {
            return Ok(Some(at as u64));
        }
    }
    Ok(None)
}

/// The file entries are appended to.
pub struct WalWriter {
    dir: PathBuf,
    file: File,
    size: u64,
}

impl WalWriter {
    /// Starts a new WAL file whose entries will start at `next_seq`.
    pub fn create(dir: &Path, next_seq: u64) -> io::Result<WalWriter> {
        let path = dir.join(file_name(next_seq));
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)?;
        file.write_all(MAGIC)?;
        file.write_all(&VERSION.to_le_bytes())?;
        file.sync_all()?;
        sync_dir(dir)?;
        Ok(WalWriter {
            dir: dir.to_path_buf(),
            file,
            size: HEADER_LEN,
        })
    }

    /// Appends encoded entries and makes them durable.
    pub fn append_durable(&mut self, encoded: &[u8]) -> io::Result<()> {
        if let Err(e) = self
            .file
            .write_all(encoded)
            .and_then(|_| self.file.sync_data())
        {
            // Leave no half-written entry behind: later entries must follow good ones.
            let _ = self.file.set_len(self.size);
            return Err(e);
        }
        self.size += encoded.len() as u64;
        Ok(())
    }

    /// Bytes in the current file.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Starts a new file for entries from `next_seq` on, unless the current one is empty.
    pub fn roll(&mut self, next_seq: u64) -> io::Result<()> {
        if self.size > HEADER_LEN {
            *self = WalWriter::create(&self.dir, next_seq)?;
        }
        Ok(())
    }
}

/// Deletes the WAL files all of whose entries have a sequence number below `seq`. The last file
/// (the one being written) is never deleted.
pub fn remove_covered(dir: &Path, seq: u64) -> io::Result<u64> {
    let files = list(dir)?;
    let mut removed = 0;
    for pair in files.windows(2) {
        let ((_, path), (next_first, _)) = (&pair[0], &pair[1]);
        if *next_first <= seq {
            removed += fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            fs::remove_file(path)?;
        }
    }
    sync_dir(dir)?;
    Ok(removed)
}

/// Deletes every WAL file; for a store that has stopped writing and sealed every entry.
pub fn remove_all(dir: &Path) -> io::Result<u64> {
    let mut removed = 0;
    for (_, path) in list(dir)? {
        removed += fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        fs::remove_file(&path)?;
    }
    sync_dir(dir)?;
    Ok(removed)
}

/// Makes a directory's entries (created, renamed, removed files) durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Total bytes of the WAL files in `dir`.
pub fn disk_size(dir: &Path) -> u64 {
    list(dir)
        .map(|files| {
            files
                .iter()
                .filter_map(|(_, p)| fs::metadata(p).ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An entry's bytes besides its body: length, checksum, sequence number, kind.
    const ENTRY: u64 = 8 + 8 + 1;

    fn write(dir: &Path, entries: &[(u64, &str)]) -> PathBuf {
        let mut w = WalWriter::create(dir, entries[0].0).unwrap();
        for (seq, body) in entries {
            let mut buf = Vec::new();
            encode_entry(*seq, body.as_bytes(), &mut buf);
            w.append_durable(&buf).unwrap();
        }
        dir.join(file_name(entries[0].0))
    }

    fn collect(dir: &Path) -> (Vec<(u64, String)>, ReplayReport) {
        let mut got = Vec::new();
        let report = replay(dir, |seq, body| {
            got.push((seq, String::from_utf8(body.to_vec()).unwrap()))
        })
        .unwrap();
        (got, report)
    }

    #[test]
    fn replays_what_was_appended() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &[(1, "a"), (2, "bb"), (3, "ccc")]);
        let (got, report) = collect(dir.path());
        assert_eq!(
            got,
            vec![(1, "a".into()), (2, "bb".into()), (3, "ccc".into())]
        );
        assert_eq!(
            (report.entries, report.cut_bytes, report.last_seq),
            (3, 0, 3)
        );
    }

    #[test]
    fn torn_tail_is_cut_and_replay_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), &[(1, "first"), (2, "second")]);
        let full = fs::metadata(&path).unwrap().len();
        // A crash in the middle of the second entry.
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(full - 3)
            .unwrap();
        let (got, report) = collect(dir.path());
        assert_eq!(got, vec![(1, "first".into())]);
        assert_eq!(report.cut_bytes, ENTRY + 6 - 3);
        assert_eq!(fs::metadata(&path).unwrap().len(), HEADER_LEN + ENTRY + 5);
        let (again, report) = collect(dir.path());
        assert_eq!(again, got);
        assert_eq!(report.cut_bytes, 0);
    }

    #[test]
    fn a_damaged_entry_costs_itself_not_the_entries_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            &[(1, "one"), (2, "two"), (3, "three"), (4, "four")],
        );
        let good = fs::read(&path).unwrap();
        let second = (HEADER_LEN + ENTRY + 3) as usize;
        // Anywhere in the second entry: its length, checksum, sequence number or body.
        for at in second..second + (ENTRY + 3) as usize {
            let mut bytes = good.clone();
            bytes[at] ^= 0x5a;
            fs::write(&path, &bytes).unwrap();
            let (got, report) = collect(dir.path());
            let want: Vec<(u64, String)> =
                vec![(1, "one".into()), (3, "three".into()), (4, "four".into())];
            assert_eq!(got, want, "byte {at}");
            assert_eq!(report.damaged_bytes, ENTRY + 3, "byte {at}");
            assert_eq!(report.cut_bytes, 0, "byte {at}");
            assert_eq!(fs::read(&path).unwrap(), bytes, "nothing cut");
        }
        // The last entry damaged is a torn tail: cut.
        let mut bytes = good.clone();
        let last = bytes.len() - 2;
        bytes[last] ^= 0x5a;
        fs::write(&path, &bytes).unwrap();
        let (got, report) = collect(dir.path());
        assert_eq!(got.len(), 3);
        assert_eq!((report.cut_bytes, report.damaged_bytes), (ENTRY + 4, 0));
    }

    #[test]
    fn a_damaged_file_header_costs_no_entry_and_another_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), &[(1, "one"), (2, "two")]);
        let good = fs::read(&path).unwrap();
        let mut bytes = good.clone();
        bytes[2] ^= 0x20; // "FWWAL" -> "FWwAL"
        fs::write(&path, &bytes).unwrap();
        let (got, report) = collect(dir.path());
        assert_eq!(got, vec![(1, "one".into()), (2, "two".into())]);
        assert_eq!((report.cut_bytes, report.damaged_bytes), (0, HEADER_LEN));
        assert!(path.exists());
        // A torn creation (part of a header, or none) is still removed.
        for torn in [&bytes[..HEADER_LEN as usize], &bytes[..3], &[][..]] {
            fs::write(&path, torn).unwrap();
            assert!(collect(dir.path()).0.is_empty());
            assert!(!path.exists());
        }
        // A file of a later format is neither replayed nor removed.
        let mut later = good.clone();
        later[6] = 9;
        fs::write(&path, &later).unwrap();
        let err = replay(dir.path(), |_, _| {}).unwrap_err();
        assert!(err.to_string().contains("wal format 9"), "{err}");
        assert!(path.exists());
    }

    #[test]
    fn a_compressed_body_replays_as_its_lines() {
        let dir = tempfile::tempdir().unwrap();
        let lines = "{\"a\":1}\n\n{\"b\":2}\r\n".repeat(50);
        let frame = zstd::bulk::compress(lines.as_bytes(), 3).unwrap();
        let mut w = WalWriter::create(dir.path(), 1).unwrap();
        let mut buf = Vec::new();
        encode_zstd(1, &frame, &mut buf);
        encode_lines(2, &["c"], &mut buf);
        w.append_durable(&buf).unwrap();
        assert!(
            w.size() < HEADER_LEN + lines.len() as u64 / 4,
            "{}",
            w.size()
        );
        let (got, report) = collect(dir.path());
        assert_eq!(got, vec![(1, lines.clone()), (2, "c\n".into())]);
        assert_eq!((report.entries, report.damaged_bytes), (2, 0));
        // A frame that does not decompress (written so: its checksum holds) costs that entry.
        buf.clear();
        encode_zstd(3, &frame[..frame.len() / 2], &mut buf);
        encode_lines(4, &["d"], &mut buf);
        w.append_durable(&buf).unwrap();
        let (got, report) = collect(dir.path());
        assert_eq!(got.len(), 3);
        assert_eq!(got[2], (4, "d\n".into()));
        assert_eq!(report.damaged_bytes, ENTRY + (frame.len() / 2) as u64);
        assert_eq!(report.last_seq, 4);
    }

    #[test]
    fn format_1_files_replay_and_kinds_are_told_apart_without_a_header() {
        let dir = tempfile::tempdir().unwrap();
        // Format 1: no kind byte.
        let mut v1 = MAGIC.to_vec();
        v1.extend_from_slice(&1u16.to_le_bytes());
        for (seq, body) in [(1u64, "{\"x\":1}\n"), (2, "{\"y\":2}\n")] {
            let mut payload = seq.to_le_bytes().to_vec();
            payload.extend_from_slice(body.as_bytes());
            v1.extend_from_slice(&(payload.len() as u32).to_le_bytes());
            v1.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
            v1.extend_from_slice(&payload);
        }
        let path = dir.path().join(file_name(1));
        fs::write(&path, &v1).unwrap();
        let want = vec![(1, "{\"x\":1}\n".into()), (2, "{\"y\":2}\n".into())];
        assert_eq!(collect(dir.path()).0, want);
        // Its header damaged, each entry's first byte tells: NDJSON never starts with a kind.
        v1[1] ^= 0x20;
        fs::write(&path, &v1).unwrap();
        assert_eq!(collect(dir.path()).0, want);
        fs::remove_file(&path).unwrap();
        let frame = zstd::bulk::compress(b"{\"z\":3}\n", 3).unwrap();
        let mut w = WalWriter::create(dir.path(), 1).unwrap();
        let mut buf = Vec::new();
        encode_lines(1, &["{\"x\":1}"], &mut buf);
        encode_zstd(2, &frame, &mut buf);
        w.append_durable(&buf).unwrap();
        let path = dir.path().join(file_name(1));
        let mut v2 = fs::read(&path).unwrap();
        v2[1] ^= 0x20;
        fs::write(&path, &v2).unwrap();
        let want: Vec<(u64, String)> = vec![(1, "{\"x\":1}\n".into()), (2, "{\"z\":3}\n".into())];
        assert_eq!(collect(dir.path()).0, want);
    }

    #[test]
    fn garbage_length_is_a_torn_tail_not_an_allocation() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), &[(1, "ok")]);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&u32::MAX.to_le_bytes()).unwrap();
        f.write_all(&[0; 4]).unwrap();
        let (got, report) = collect(dir.path());
        assert_eq!(got.len(), 1);
        assert_eq!(report.cut_bytes, 8);
    }

    #[test]
    fn lines_encode_as_their_joined_body() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = WalWriter::create(dir.path(), 7).unwrap();
        let (mut lines, mut joined) = (Vec::new(), Vec::new());
        encode_lines(7, &["a", "", "{\"b\":1}"], &mut lines);
        encode_entry(7, b"a\n\n{\"b\":1}\n", &mut joined);
        assert_eq!(lines, joined);
        // After other bytes in the buffer too, as in a group commit.
        encode_lines(8, &[b"c".to_vec()], &mut lines);
        w.append_durable(&lines).unwrap();
        let (got, report) = collect(dir.path());
        assert_eq!(got, vec![(7, "a\n\n{\"b\":1}\n".into()), (8, "c\n".into())]);
        assert_eq!(report.cut_bytes, 0);
    }

    #[test]
    fn roll_and_truncate_keep_unsealed_entries() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = WalWriter::create(dir.path(), 1).unwrap();
        let mut buf = Vec::new();
        encode_entry(1, b"x", &mut buf);
        w.append_durable(&buf).unwrap();
        w.roll(2).unwrap();
        buf.clear();
        encode_entry(2, b"y", &mut buf);
        w.append_durable(&buf).unwrap();
        remove_covered(dir.path(), 2).unwrap();
        let (got, _) = collect(dir.path());
        assert_eq!(got, vec![(2, "y".into())]);
    }
}
