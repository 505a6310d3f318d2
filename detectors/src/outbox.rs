//! The durable outbox of one destination: notifications waiting for delivery.
//!
//! Notifications written together (a burst) share one file (`<first seq>.json`, a JSON array,
//! written temp → fsync → rename: one fsync per burst, not per alert). A notification is
//! forgotten only once the receiver acknowledged it, and a file is removed once all of its
//! notifications are, so a notification survives receiver outages and restarts and is
//! delivered at least once. (After a restart, acknowledged notifications that share a file with
//! unacknowledged ones are sent again, with the same idempotency key.) The outbox is bounded: when full, a new notification first
//! replaces a waiting one for the same fingerprint (coalescing: the receiver gets the latest
//! state), and failing that the oldest waiting notification is dropped. Both are counted.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use firewatch_ingest::Nanos;
use serde::{Deserialize, Serialize};
use tracing::warn;

use crate::alert::Alert;
use crate::durable::{sync_dir, write_atomic};
use crate::lifecycle::TrackedAlert;

/// Why the outbox could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("outbox {path}: {source}")]
pub struct OutboxError {
    path: PathBuf,
    source: std::io::Error,
}

/// One alert transition to deliver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Same notification ⇒ same key, across retries and restarts.
    pub idempotency_key: String,
    pub alert: Alert,
    #[serde(default)]
    pub resolved_at: Option<Nanos>,
}

impl From<&TrackedAlert> for Notification {
    fn from(t: &TrackedAlert) -> Self {
        Notification {
            idempotency_key: t.idempotency_key(),
            alert: t.alert.clone(),
            resolved_at: t.resolved_at,
        }
    }
}

/// What happened to older notifications when a new one was pushed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Overflow {
    pub coalesced: u64,
    pub dropped: u64,
}

/// Waiting notifications of one destination, oldest first.
pub struct Outbox {
    dir: PathBuf,
    capacity: usize,
    pending: BTreeMap<u64, Notification>,
    /// Batch files by first sequence number: how many of their notifications still wait.
    files: BTreeMap<u64, usize>,
    next_seq: u64,
}

impl Outbox {
    /// Opens (or creates) the outbox in `dir`, holding at most `capacity` notifications.
    /// Unreadable files are set aside as `.bad` so they cannot block the others.
    pub fn open(dir: &Path, capacity: usize) -> Result<Self, OutboxError> {
        let err = |source| OutboxError {
            path: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(err)?;
        let mut ob = Outbox {
            dir: dir.to_path_buf(),
            capacity: capacity.max(1),
            pending: BTreeMap::new(),
            files: BTreeMap::new(),
            next_seq: 0,
        };
        for entry in std::fs::read_dir(dir).map_err(err)? {
            let path = entry.map_err(err)?.path();
            let Some(first) = seq_of(&path) else {
                if path.extension().is_some_and(|e| e == "tmp") {
                    let _ = std::fs::remove_file(&path);
                }
                continue;
            };
            let parsed = std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<Vec<Notification>>(&b).ok());
            let Some(notes) = parsed.filter(|n| !n.is_empty()) else {
                warn!(file = %path.display(), "unreadable outbox file set aside");
                let _ = std::fs::rename(&path, path.with_extension("bad"));
                continue;
            };
            ob.files.insert(first, notes.len());
            for (seq, n) in (first..).zip(notes) {
                ob.pending.insert(seq, n);
            }
        }
        ob.next_seq = ob.pending.keys().next_back().map_or(0, |s| s + 1);
        // A smaller capacity than last time: keep the newest.
        while ob.pending.len() > ob.capacity {
            let oldest = *ob.pending.keys().next().expect("non-empty outbox");
            ob.remove(oldest)?;
        }
        Ok(ob)
    }

    /// Stores notifications durably in one batch file (one fsync for all), first making room
    /// by the overflow policy when full.
    pub fn push(&mut self, notes: &[Notification]) -> Result<Overflow, OutboxError> {
        let mut overflow = Overflow::default();
        // More than fits at all: the oldest of them go first.
        let excess = notes.len().saturating_sub(self.capacity);
        overflow.dropped += excess as u64;
        let notes = &notes[excess..];
        if notes.is_empty() {
            return Ok(overflow);
        }
        let incoming: HashSet<&str> = notes.iter().map(|n| n.alert.fingerprint.as_str()).collect();
        while self.pending.len() + notes.len() > self.capacity {
            let same = self
                .pending
                .iter()
                .find(|(_, p)| incoming.contains(p.alert.fingerprint.as_str()))
                .map(|(s, _)| *s);
            let victim = match same {
                Some(s) => {
                    overflow.coalesced += 1;
                    s
                }
                None => {
                    overflow.dropped += 1;
                    *self
                        .pending
                        .keys()
                        .next()
                        .expect("a full outbox is not empty")
                }
            };
            self.remove(victim)?;
        }
        let first = self.next_seq;
        let bytes = serde_json::to_vec(notes).map_err(|e| self.err(std::io::Error::other(e)))?;
        write_atomic(&self.path(first), &bytes).map_err(|e| self.err(e))?;
        self.next_seq += notes.len() as u64;
        self.files.insert(first, notes.len());
        for (seq, n) in (first..).zip(notes) {
            self.pending.insert(seq, n.clone());
        }
        Ok(overflow)
    }

    /// Up to `max` oldest waiting notifications, with their sequence numbers.
    pub fn peek(&self, max: usize) -> Vec<(u64, Notification)> {
        self.pending
            .iter()
            .take(max)
            .map(|(s, n)| (*s, n.clone()))
            .collect()
    }

    /// Forgets delivered notifications (those still present; a coalesced one is already gone).
    /// A batch file goes once all its notifications are gone.
    pub fn ack(&mut self, seqs: &[u64]) -> Result<(), OutboxError> {
        for &seq in seqs {
            self.remove(seq)?;
        }
        sync_dir(&self.dir).map_err(|e| self.err(e))
    }

    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    fn remove(&mut self, seq: u64) -> Result<(), OutboxError> {
        if self.pending.remove(&seq).is_none() {
            return Ok(());
        }
        let Some((&first, left)) = self.files.range_mut(..=seq).next_back() else {
            return Ok(());
        };
        *left = left.saturating_sub(1);
        if *left == 0 {
            self.files.remove(&first);
            remove_file(&self.path(first)).map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    fn path(&self, first: u64) -> PathBuf {
        self.dir.join(format!("{first:020}.json"))
    }

    fn err(&self, source: std::io::Error) -> OutboxError {
        OutboxError {
            path: self.dir.clone(),
            source,
        }
    }
}

fn remove_file(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn seq_of(path: &Path) -> Option<u64> {
    if path.extension()? != "json" {
        return None;
    }
    path.file_stem()?.to_str()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::AlertState;
    use crate::lifecycle::tests::alert;

    fn note(fp: &str, state: AlertState) -> Notification {
        let t = TrackedAlert {
            alert: alert(fp, state, 0, 1),
            resolved_at: None,
        };
        Notification::from(&t)
    }

    #[test]
    fn survives_reopen_until_acked() {
        let dir = tempfile::tempdir().unwrap();
        let mut ob = Outbox::open(dir.path(), 10).unwrap();
        ob.push(&[note("a", AlertState::Firing)]).unwrap();
        ob.push(&[note("b", AlertState::Firing)]).unwrap();
        drop(ob);
        let mut ob = Outbox::open(dir.path(), 10).unwrap();
        let batch = ob.peek(10);
        assert_eq!(batch.len(), 2);
        assert_eq!(batch[0].1.alert.fingerprint, "a");
        ob.ack(&[batch[0].0]).unwrap();
        ob.push(&[note("c", AlertState::Firing)]).unwrap();
        drop(ob);
        let ob = Outbox::open(dir.path(), 10).unwrap();
        let fps: Vec<_> = ob
            .peek(10)
            .into_iter()
            .map(|(_, n)| n.alert.fingerprint)
            .collect();
        assert_eq!(fps, ["b", "c"]);
    }

    #[test]
    fn overflow_coalesces_then_drops_oldest() {
        let dir = tempfile::tempdir().unwrap();
        let mut ob = Outbox::open(dir.path(), 2).unwrap();
        ob.push(&[note("a", AlertState::Firing)]).unwrap();
        ob.push(&[note("b", AlertState::Firing)]).unwrap();
        let o = ob.push(&[note("a", AlertState::Resolved)]).unwrap();
        assert_eq!(
            o,
            Overflow {
                coalesced: 1,
                dropped: 0
            }
        );
        let o = ob.push(&[note("c", AlertState::Firing)]).unwrap();
        assert_eq!(
            o,
            Overflow {
                coalesced: 0,
                dropped: 1
            }
        );
        let left: Vec<_> = ob
            .peek(10)
            .into_iter()
            .map(|(_, n)| n.idempotency_key)
            .collect();
        assert_eq!(left.len(), 2);
        assert!(left[0].starts_with("a-") && left[0].ends_with("-resolved"));
        assert!(left[1].starts_with("c-"));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
        let many: Vec<_> = (0..5)
            .map(|i| note(&format!("m{i}"), AlertState::Firing))
            .collect();
        let o = ob.push(&many).unwrap();
        assert_eq!(
            o,
            Overflow {
                coalesced: 0,
                dropped: 5
            }
        );
        let left: Vec<_> = ob
            .peek(10)
            .into_iter()
            .map(|(_, n)| n.alert.fingerprint)
            .collect();
        assert_eq!(left, ["m3", "m4"]);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn corrupt_entry_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let mut ob = Outbox::open(dir.path(), 10).unwrap();
        ob.push(&[note("a", AlertState::Firing)]).unwrap();
        std::fs::write(dir.path().join("00000000000000000007.json"), b"\0\0garbage").unwrap();
        let ob = Outbox::open(dir.path(), 10).unwrap();
        assert_eq!(ob.len(), 1);
        assert!(dir.path().join("00000000000000000007.bad").exists());
        assert_eq!(ob.next_seq, 1);
    }
}
