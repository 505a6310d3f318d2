//! The reader thread: discovery, tailing, parsing and batching into the spool.
//!
//! It sleeps until a file event, the next poll or the next scan; then it reads what is new in
//! the files that changed, a bounded amount per file per round so one busy file cannot starve
//! the others. Files are tracked by [`FileKey`] and identified by [`Fingerprint`]: a renamed file
//! keeps its reader, a rotated copy resumes where the original was read to, and a truncated file
//! starts again from 0. When the spool is full, reading pauses and says so.
//!
//! This module holds the loop, the batch and the spool side; `files` finds and identifies
//! files, `poll` reads them, `archives` reads compressed rotated siblings, `park` closes
//! idle files when there are more than descriptors.

mod archives;
mod files;
mod park;
mod poll;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use tracing::{error, info};

use super::archive::{ArchiveId, ArchiveLedger, ArchiveRead};
use super::batch::BatchBuilder;
use super::checkpoint::Checkpoints;
use super::config::Limits;
use super::discovery::Discovery;
use super::fingerprint::{FileKey, Fingerprint};
use super::metrics::Metrics;
use super::spool::Spool;
use super::tail::Tail;
use crate::parse::ParseOptions;
use crate::record::{LogRecord, Nanos};

/// One configured source: its globs, how its lines are parsed and what it adds to records.
pub struct Source {
    pub discovery: Discovery,
    pub service: Option<String>,
    pub fields: Map<String, Value>,
    pub parse: ParseOptions,
}

const READ_BUDGET: u64 = 1 << 20;
const CHUNK: usize = 64 << 10;

pub struct Reader {
    sources: Vec<Source>,
    limits: Limits,
    host: String,
    tails: HashMap<FileKey, (Tail, usize)>,
    /// How far each fingerprint has been read (and spooled or batched).
    resume: HashMap<Fingerprint, u64>,
    checkpoints: Arc<Mutex<Checkpoints>>,
    twins: HashMap<FileKey, Instant>,
    complained: HashSet<PathBuf>,
    /// Matching files left untailed in the last scan because `max_open_files` were open, and
    /// the count last logged.
    refused: usize,
    refused_reported: usize,
    /// Files closed to make room, by inode: how far each was read.
    parked: HashMap<FileKey, u64>,
    /// The compressed file being read, those read to the end, those that failed to decompress.
    archive: Option<ArchiveRead>,
    ledger: ArchiveLedger,
    archive_failed: HashSet<ArchiveId>,
    builder: BatchBuilder,
    spool: Arc<Spool>,
    metrics: Arc<Metrics>,
    stop: Arc<AtomicBool>,
    scratch: Vec<u8>,
    line: Vec<u8>,
    out: Vec<LogRecord>,
    spool_full: bool,
}

fn now_nanos() -> Nanos {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
}

impl Reader {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        sources: Vec<Source>,
        limits: Limits,
        host: String,
        zstd_level: i32,
        checkpoints: Arc<Mutex<Checkpoints>>,
        ledger: ArchiveLedger,
        spool: Arc<Spool>,
        metrics: Arc<Metrics>,
        stop: Arc<AtomicBool>,
    ) -> Self {
        // Resume after what is already spooled: those bytes are durable and on their way.
        let mut resume: HashMap<Fingerprint, u64> = HashMap::new();
        {
            let cps = checkpoints.lock().unwrap_or_else(|p| p.into_inner());
            for meta in spool.metas() {
                for r in meta.ranges {
                    let fp = Fingerprint(r.fingerprint);
                    let at = resume
                        .get(&fp)
                        .copied()
                        .or_else(|| cps.get(fp).map(|c| c.offset))
                        .unwrap_or(0);
                    if r.start <= at {
                        resume.insert(fp, at.max(r.end));
                    }
                }
            }
        }
        Reader {
            sources,
            host,
            tails: HashMap::new(),
            resume,
            checkpoints,
            twins: HashMap::new(),
            complained: HashSet::new(),
            refused: 0,
            refused_reported: 0,
            parked: HashMap::new(),
            archive: None,
            ledger,
            archive_failed: HashSet::new(),
            builder: BatchBuilder::new(zstd_level, limits.max_record_bytes),
            spool,
            metrics,
            stop,
            scratch: vec![0; CHUNK],
            line: Vec::new(),
            out: Vec::new(),
            spool_full: false,
            limits,
        }
    }

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    /// Runs until `stop` is set; then flushes what it holds into the spool.
    pub fn run(mut self, events: Receiver<PathBuf>) {
        let scan_every = Self::ms(self.limits.scan_interval_ms);
        let poll_every = Self::ms(self.limits.poll_interval_ms);
        let mut next_scan = Instant::now();
        let mut next_poll = Instant::now();
        let mut changed: HashSet<PathBuf> = HashSet::new();
        let mut more = false;
        while !self.stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            if !self.room(now) {
                self.wait(&events, &mut changed, now + poll_every.min(Self::ms(200)));
                continue;
            }
            if now >= next_scan {
                self.scan(now);
                next_scan = now + scan_every;
            }
            let poll_all = more || now >= next_poll;
            if poll_all {
                next_poll = now + poll_every;
                changed.clear();
                let keys: Vec<FileKey> = self.tails.keys().copied().collect();
                more = false;
                for key in keys {
                    more |= self.poll(key, now);
                }
            } else {
                for path in std::mem::take(&mut changed) {
                    self.on_event(&path, now);
                }
            }
            more |= self.poll_archive(now);
            self.seal_if(now, false);
            if !more {
                let deadline = next_scan.min(next_poll).min(now + self.batch_wait());
                self.wait(&events, &mut changed, deadline);
            }
        }
        self.finish();
    }

    fn batch_wait(&self) -> Duration {
        Self::ms(self.limits.batch_max_wait_ms.max(10))
    }

    /// Sleeps until `deadline` or a file event; collects the changed paths.
    fn wait(&self, events: &Receiver<PathBuf>, changed: &mut HashSet<PathBuf>, deadline: Instant) {
        let timeout = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(timeout) {
            Ok(p) => {
                changed.insert(p);
                changed.extend(events.try_iter().take(4096));
            }
            Err(RecvTimeoutError::Timeout) => {}
            // No watcher: periodic polling only.
            Err(RecvTimeoutError::Disconnected) => std::thread::sleep(timeout),
        }
    }

    /// Is there room in the spool? Logs loudly when reading pauses and resumes.
    fn room(&mut self, _now: Instant) -> bool {
        let room = self.spool.has_room();
        if room == self.spool_full {
            self.spool_full = !room;
            Metrics::set(&self.metrics.spool_full, u64::from(!room));
            let (batches, bytes) = self.spool.usage();
            if room {
                info!(batches, bytes, "spool has room again; reading resumed");
            } else {
                error!(batches, bytes, limit = self.limits.spool_max_bytes,
                    "spool full; reading paused until the node takes batches (files are the buffer)");
            }
        }
        room
    }

    /// Seals the batch into the spool when due (or when `force`d and non-empty).
    fn seal_if(&mut self, now: Instant, force: bool) {
        let due = self
            .builder
            .due(now, self.limits.batch_max_bytes, self.batch_wait());
        if !(due || force && self.builder.records() > 0) {
            return;
        }
        match self.builder.seal() {
            Ok(Some(batch)) => {
                // A spool write can fail (disk full): retry until it works or we are stopped;
                // the batch is not dropped.
                let mut wait = Duration::from_millis(100);
                while let Err(e) = self.spool.push(&batch) {
                    error!(error = %e, batch = %batch.meta.id, "cannot write to the spool; retrying");
                    if self.stop.load(Ordering::Relaxed) {
                        error!(batch = %batch.meta.id, "stopping with an unspooled batch; it is read again after restart");
                        return;
                    }
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
                let (batches, bytes) = self.spool.usage();
                Metrics::set(&self.metrics.spool_batches, batches);
                Metrics::set(&self.metrics.spool_bytes, bytes);
            }
            Ok(None) => {}
            Err(e) => error!(error = %e, "cannot compress batch"),
        }
    }

    /// On stop: emit pending events and spool everything read.
    fn finish(&mut self) {
        let now = Instant::now();
        let keys: Vec<FileKey> = self.tails.keys().copied().collect();
        for key in keys {
            if let Some((t, source)) = self.tails.get_mut(&key) {
                let source = *source;
                t.parser.flush(&mut self.out);
                self.emit(key, source, now);
            }
        }
        if let Some(a) = self.archive.as_mut() {
            a.parser.flush(&mut self.out);
            self.emit_archive(now);
        }
        self.seal_if(now, true);
    }
}
