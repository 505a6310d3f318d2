//! The reader thread: discovery, tailing, parsing and batching into the spool.
//!
//! It sleeps until a file event, the next poll or the next scan; then it reads what is new in
//! the files that changed, a bounded amount per file per round so one busy file cannot starve
//! the others. Files are tracked by [`FileKey`] and identified by [`Fingerprint`]: a renamed file
//! keeps its reader, a rotated copy resumes where the original was read to, and a truncated file
//! starts again from 0. When the spool is full, reading pauses and says so.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use tracing::{debug, error, info, warn};

use super::batch::BatchBuilder;
use super::checkpoint::Checkpoints;
use super::config::Limits;
use super::discovery::Discovery;
use super::fingerprint::{read_header, FileKey, Fingerprint};
use super::metrics::Metrics;
use super::spool::Spool;
use super::tail::{fate, Fate, Tail};
use crate::parse::{ParseOptions, SourceInfo, SourceParser};
use crate::record::{LogRecord, Nanos};

/// One configured source: its globs and what it adds to records.
pub struct Source {
    pub discovery: Discovery,
    pub service: Option<String>,
    pub fields: Map<String, Value>,
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
            builder: BatchBuilder::new(zstd_level),
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

    fn scan(&mut self, now: Instant) {
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
        for (path, source) in found {
            if let Some(key) = self.open(&path, source, now) {
                live.insert(key);
            }
        }
        for (key, (t, _)) in self.tails.iter_mut() {
            if !live.contains(key) && !t.detached {
                debug!(file = %t.path.display(), "file rotated away or deleted");
                t.detach(now);
            }
        }
        self.twins.retain(|k, _| live.contains(k));
        Metrics::set(&self.metrics.files_tailed, self.tails.len() as u64);
    }

    fn on_event(&mut self, path: &Path, now: Instant) {
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

    fn complain(&mut self, path: &Path, e: &io::Error) {
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
    fn open(&mut self, path: &Path, source: usize, now: Instant) -> Option<FileKey> {
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) => {
                self.complain(path, &e);
                return None;
            }
        };
        let key = FileKey::of(&meta);
        if let Some((t, _)) = self.tails.get_mut(&key) {
            if t.path != path {
                debug!(from = %t.path.display(), to = %path.display(), "file renamed");
                t.path = path.to_path_buf();
            }
            t.detached = false;
            return Some(key);
        }
        if meta.len() < self.limits.fingerprint_bytes as u64 {
            return None; // too short to identify yet
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
        let header = match read_header(&file, self.limits.fingerprint_bytes) {
            Ok(Some(h)) => h,
            Ok(None) => return None,
            Err(e) => {
                self.complain(path, &e);
                return None;
            }
        };
        self.complained.remove(path);
        let raw = Fingerprint::of(&header);
        let salted = Fingerprint::salted(&header, key);
        let fp = if self.known(salted).is_some() {
            salted
        } else if self.tails.values().any(|(t, _)| t.fp == raw && !t.detached) {
            // Another live file has the same first bytes: a copy about to be truncated away
            // (copytruncate) or a different file with the same header. Wait and see.
            let since = *self.twins.entry(key).or_insert(now);
            if now.duration_since(since) < Duration::from_millis(self.limits.twin_wait_ms) {
                return Some(key);
            }
            info!(file = %path.display(), "same first bytes as another live file; told apart by inode");
            salted
        } else {
            raw
        };
        self.twins.remove(&key);
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
        let opts = ParseOptions {
            max_line_bytes: self.limits.max_line_bytes,
            multiline_flush: (self.limits.multiline_flush_ms as i64).saturating_mul(1_000_000),
        };
        info!(file = %path.display(), fingerprint = %fp, offset = pos, "tailing");
        self.resume.insert(fp, pos);
        let tail = Tail {
            file,
            key,
            fp,
            header_fp: raw,
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

    /// Where reading of `fp` resumes: what this run read, else its checkpoint.
    fn known(&self, fp: Fingerprint) -> Option<u64> {
        self.resume.get(&fp).copied().or_else(|| {
            let cps = self.checkpoints.lock().unwrap_or_else(|p| p.into_inner());
            cps.get(fp).map(|c| c.offset)
        })
    }

    /// Reads what is new in one file; true if it has more to read right away.
    fn poll(&mut self, key: FileKey, now: Instant) -> bool {
        let Some((t, source)) = self.tails.get_mut(&key) else {
            return false;
        };
        let source = *source;
        let meta = match t.file.metadata() {
            Ok(m) => m,
            Err(e) => {
                warn!(file = %t.path.display(), error = %e, "cannot stat open file; releasing it");
                self.release(key, now, true);
                return false;
            }
        };
        let size = meta.len();
        if std::os::unix::fs::MetadataExt::nlink(&meta) == 0 {
            t.detach(now);
        }
        let header_same = if size != t.last_size || size < t.pos {
            t.header_same(self.limits.fingerprint_bytes)
                .unwrap_or(false)
        } else {
            true
        };
        let idle = now.duration_since(t.last_change);
        match fate(
            t.pos,
            size,
            header_same,
            t.detached,
            idle,
            Self::ms(self.limits.release_idle_ms),
        ) {
            Fate::Truncated => {
                Metrics::add(&self.metrics.truncations, 1);
                warn!(file = %t.path.display(), read = t.pos, size, "file truncated or rewritten; reading it from the start");
                let path = t.path.clone();
                let detached = t.detached;
                self.release(key, now, false);
                if !detached {
                    self.open(&path, source, now);
                }
                return false;
            }
            Fate::Release => {
                debug!(file = %t.path.display(), "released");
                self.release(key, now, true);
                return false;
            }
            Fate::Keep => {}
        }
        let mut stats = Default::default();
        if size > t.pos || t.parser.pending_offset().is_some() {
            let observed = now_nanos();
            match t.read(
                &mut self.scratch,
                &mut self.line,
                self.limits.max_line_bytes,
                READ_BUDGET,
                Self::ms(self.limits.partial_idle_ms),
                now,
                observed,
                &mut self.out,
            ) {
                Ok(s) => stats = s,
                Err(e) => {
                    Metrics::add(&self.metrics.read_errors, 1);
                    warn!(file = %t.path.display(), error = %e, "read failed; releasing file");
                    self.release(key, now, true);
                    return false;
                }
            }
            if let Some(since) = t.parser.pending_since() {
                if observed.saturating_sub(since)
                    >= (self.limits.multiline_flush_ms as i64).saturating_mul(1_000_000)
                {
                    t.parser.flush(&mut self.out);
                }
            }
        }
        Metrics::add(&self.metrics.lines_read, stats.lines);
        Metrics::add(&self.metrics.bytes_read, stats.bytes);
        self.emit(key, source, now);
        stats.more
    }

    /// Moves parsed records of one tail into the batch and notes the range they cover.
    fn emit(&mut self, key: FileKey, source: usize, now: Instant) {
        let Some((t, _)) = self.tails.get_mut(&key) else {
            return;
        };
        let fields = &self.sources[source].fields;
        for mut rec in self.out.drain(..) {
            for (k, v) in fields {
                rec.fields.entry(k.clone()).or_insert_with(|| v.clone());
            }
            self.builder.push(&rec, now);
        }
        let end = t.safe_offset();
        if end > t.batched {
            self.builder
                .cover(t.fp, t.batched, end, &t.path.display().to_string());
            t.batched = end;
        }
        self.resume.insert(t.fp, t.pos);
        if self.builder.raw_bytes() >= self.limits.batch_max_bytes {
            self.seal_if(now, true);
        }
    }

    /// Stops tailing a file, flushing its pending event. `forget`: it is gone for good (not
    /// truncated), so a later copy resumes from its checkpoint rather than from what was read.
    fn release(&mut self, key: FileKey, now: Instant, forget: bool) {
        if let Some((t, source)) = self.tails.get_mut(&key) {
            let source = *source;
            t.parser.flush(&mut self.out);
            self.emit(key, source, now);
        }
        if let Some((t, _)) = self.tails.remove(&key) {
            if forget {
                self.resume.remove(&t.fp);
            }
        }
        Metrics::set(&self.metrics.files_tailed, self.tails.len() as u64);
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
        self.seal_if(now, true);
    }
}
