//! Reading a tracked file: what is new in it, what its size and first bytes say about
//! rotation and truncation ([`fate`]), and handing its records to the batch with the byte range
//! they cover.

use std::time::Instant;

use tracing::{debug, warn};

use super::{now_nanos, Reader, READ_BUDGET};
use crate::ship::fingerprint::FileKey;
use crate::ship::metrics::Metrics;
use crate::ship::tail::{fate, Fate};

impl Reader {
    /// Reads what is new in one file; true if it has more to read right away.
    pub(super) fn poll(&mut self, key: FileKey, now: Instant) -> bool {
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
            t.header_same().unwrap_or(false)
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
    pub(super) fn emit(&mut self, key: FileKey, source: usize, now: Instant) {
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
    pub(super) fn release(&mut self, key: FileKey, now: Instant, forget: bool) {
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
}
