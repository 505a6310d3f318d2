//! The spool: a bounded on-disk FIFO of sealed batches between the reader and the sender.
//!
//! Every batch goes through it, so batches survive a crash of the shipper and an outage of the
//! node costs disk, not lines: files rotated or deleted meanwhile have already been read into it.
//! When it holds `max_bytes` the reader stops reading — the files themselves are the buffer —
//! and says so. One file per batch, `<seq>.batch`: a JSON line of [`BatchMeta`] and the body's
//! checksum, then the zstd body; written to a temp file, fsynced and renamed, so a crash never
//! leaves half a batch. A batch damaged on disk fails its checksum and is set aside rather than
//! sent: a flipped byte in a zstd body can decode into a different, valid line.

use std::collections::VecDeque;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tracing::warn;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use super::batch::{Batch, BatchMeta};

/// The header line of a spooled batch.
#[derive(Serialize, Deserialize)]
struct Header {
    #[serde(flatten)]
    meta: BatchMeta,
    /// xxh3 of the body; absent in batches spooled by older shippers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body_xxh3: Option<u64>,
}

pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    fsync: bool,
    state: Mutex<State>,
    /// Wakes the sender when a batch arrives.
    pub arrived: tokio::sync::Notify,
}

#[derive(Default)]
struct State {
    queue: VecDeque<(u64, u64)>,
    bytes: u64,
    next_seq: u64,
}

fn name(seq: u64) -> String {
    format!("{seq:016}.batch")
}

fn decode(bytes: &[u8]) -> io::Result<Batch> {
    let bad = |m: String| io::Error::new(io::ErrorKind::InvalidData, m);
    let nl = memchr::memchr(b'\n', bytes).ok_or_else(|| bad("no header line".into()))?;
    let header: Header =
        serde_json::from_slice(&bytes[..nl]).map_err(|e| bad(format!("bad header: {e}")))?;
    let body = &bytes[nl + 1..];
    if header.body_xxh3.is_some_and(|sum| sum != xxh3_64(body)) {
        return Err(bad("body fails its checksum".into()));
    }
    Ok(Batch {
        meta: header.meta,
        body: body.to_vec(),
    })
}

impl Spool {
    /// Opens (creating) the spool directory and takes over the batches a previous run left.
    pub fn open(dir: &Path, max_bytes: u64, fsync: bool) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let mut found = Vec::new();
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
            let Some(fname) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if fname.ends_with(".tmp") {
                let _ = fs::remove_file(&path);
            } else if let Some(seq) = fname.strip_suffix(".batch").and_then(|s| s.parse().ok()) {
                found.push((seq, entry.metadata()?.len()));
            }
        }
        found.sort_unstable();
        let state = State {
            bytes: found.iter().map(|(_, len)| len).sum(),
            next_seq: found.last().map_or(0, |(s, _)| s + 1),
            queue: found.into(),
        };
        Ok(Spool {
            dir: dir.to_path_buf(),
            max_bytes,
            fsync,
            state: Mutex::new(state),
            arrived: tokio::sync::Notify::new(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn has_room(&self) -> bool {
        self.lock().bytes < self.max_bytes
    }

    /// (batches, bytes) held now.
    pub fn usage(&self) -> (u64, u64) {
        let s = self.lock();
        (s.queue.len() as u64, s.bytes)
    }

    /// Appends a batch durably.
    pub fn push(&self, batch: &Batch) -> io::Result<()> {
        let seq = self.lock().next_seq;
        let path = self.dir.join(name(seq));
        let tmp = path.with_extension("tmp");
        let mut f = fs::File::create(&tmp)?;
        let header = Header {
            meta: batch.meta.clone(),
            body_xxh3: Some(xxh3_64(&batch.body)),
        };
        serde_json::to_writer(&mut f, &header)?;
        f.write_all(b"\n")?;
        f.write_all(&batch.body)?;
        if self.fsync {
            f.sync_data()?;
        }
        let len = f.metadata()?.len();
        drop(f);
        fs::rename(&tmp, &path)?;
        if self.fsync {
            fs::File::open(&self.dir)?.sync_all()?;
        }
        {
            let mut s = self.lock();
            s.next_seq = seq + 1;
            s.queue.push_back((seq, len));
            s.bytes += len;
        }
        self.arrived.notify_one();
        Ok(())
    }

    /// The oldest batch, if any. A batch that cannot be read is set aside (`<seq>.bad`) with a
    /// loud log line, and the next one is returned.
    pub fn front(&self) -> Option<(u64, Batch)> {
        loop {
            let (seq, _) = *self.lock().queue.front()?;
            let path = self.dir.join(name(seq));
            match fs::read(&path).and_then(|b| decode(&b)) {
                Ok(batch) => return Some((seq, batch)),
                Err(e) => {
                    warn!(file = %path.display(), error = %e, "unreadable spooled batch set aside");
                    let _ = fs::rename(&path, path.with_extension("bad"));
                    self.forget(seq);
                }
            }
        }
    }

    /// Removes an acknowledged batch.
    pub fn pop(&self, seq: u64) -> io::Result<()> {
        let path = self.dir.join(name(seq));
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        self.forget(seq);
        Ok(())
    }

    /// Sets a batch the node refuses for good aside as `<seq>.rejected`, keeping it for people.
    pub fn set_aside(&self, seq: u64) -> io::Result<PathBuf> {
        let path = self.dir.join(name(seq));
        let to = path.with_extension("rejected");
        fs::rename(&path, &to)?;
        self.forget(seq);
        Ok(to)
    }

    fn forget(&self, seq: u64) {
        let mut s = self.lock();
        if let Some(i) = s.queue.iter().position(|(q, _)| *q == seq) {
            if let Some((_, len)) = s.queue.remove(i) {
                s.bytes = s.bytes.saturating_sub(len);
            }
        }
    }

    /// The metadata of every spooled batch, oldest first (to resume reading after a restart).
    pub fn metas(&self) -> Vec<BatchMeta> {
        let seqs: Vec<u64> = self.lock().queue.iter().map(|(s, _)| *s).collect();
        seqs.into_iter()
            .filter_map(|seq| {
                let bytes = fs::read(self.dir.join(name(seq))).ok()?;
                decode(&bytes).ok().map(|b| b.meta)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ship::batch::Range;

    fn batch(id: &str, body: &[u8]) -> Batch {
        Batch {
            meta: BatchMeta {
                id: id.into(),
                records: 1,
                raw_bytes: 1,
                ranges: vec![Range {
                    fingerprint: 1,
                    start: 0,
                    end: 9,
                    path: "p".into(),
                }],
            },
            body: body.to_vec(),
        }
    }

    #[test]
    fn fifo_survives_reopen_and_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path(), 300, true).unwrap();
        assert!(spool.front().is_none());
        spool.push(&batch("a", b"first")).unwrap();
        spool.push(&batch("b", b"second")).unwrap();
        assert!(spool.has_room());
        drop(spool);
        let spool = Spool::open(dir.path(), 300, true).unwrap();
        let (seq, b) = spool.front().unwrap();
        assert_eq!(b.meta.id, "a");
        assert_eq!(b.body, b"first");
        spool.pop(seq).unwrap();
        assert_eq!(spool.front().unwrap().1.meta.id, "b");
        spool.push(&batch("c", &[0; 400])).unwrap();
        assert!(!spool.has_room());
        assert_eq!(spool.metas().len(), 2);
        assert_eq!(spool.usage().0, 2);
    }

    #[test]
    fn corrupt_batches_are_set_aside_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(name(0)), b"garbage without header").unwrap();
        fs::write(dir.path().join("0000000000000001.tmp"), b"half").unwrap();
        let spool = Spool::open(dir.path(), 1 << 20, false).unwrap();
        spool.push(&batch("ok", b"x")).unwrap();
        assert_eq!(spool.front().unwrap().1.meta.id, "ok");
        assert!(dir.path().join("0000000000000000.bad").exists());
        assert!(!dir.path().join("0000000000000001.tmp").exists());
    }

    #[test]
    fn a_body_damaged_on_disk_fails_its_checksum_and_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path(), 1 << 20, false).unwrap();
        spool
            .push(&batch("hurt", b"a body of some length"))
            .unwrap();
        spool.push(&batch("fine", b"another body")).unwrap();
        let path = dir.path().join(name(0));
        let mut bytes = fs::read(&path).unwrap();
        let last = bytes.len() - 3;
        bytes[last] ^= 0x01;
        fs::write(&path, &bytes).unwrap();
        assert_eq!(spool.front().unwrap().1.meta.id, "fine");
        assert!(dir.path().join("0000000000000000.bad").exists());
        // A batch spooled before bodies had a checksum is still read.
        let old = br#"{"id":"old","records":1,"raw_bytes":1,"ranges":[]}"#;
        fs::write(dir.path().join(name(7)), [&old[..], b"\nbody"].concat()).unwrap();
        let reopened = Spool::open(dir.path(), 1 << 20, false).unwrap();
        let ids: Vec<String> = reopened.metas().into_iter().map(|m| m.id).collect();
        assert_eq!(ids, ["fine", "old"]);
    }
}
