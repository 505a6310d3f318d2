//! Compressed rotated siblings in the reader (sources with `compressed = true`): found by the
//! scan like any file, identified by their decompressed first bytes, read one at a time, a
//! bounded amount per round, and noted in the ledger once read to the end and spooled.

use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::path::Path;
use std::time::Instant;

use tracing::{info, warn};

use super::{now_nanos, Reader, READ_BUDGET};
use crate::parse::{SourceInfo, SourceParser};
use crate::ship::archive::{ArchiveId, ArchiveRead, Codec};
use crate::ship::fingerprint::Fingerprint;
use crate::ship::metrics::Metrics;

impl Reader {
    /// A compressed file matched: starts reading it unless another one is being read, it was
    /// read already, it failed in this very state, it is still being written, or the plain file
    /// it is a copy of is still tailed (then it is looked at again on a later scan).
    pub(super) fn open_archive(
        &mut self,
        path: &Path,
        codec: Codec,
        source: usize,
        meta: &Metadata,
    ) {
        if self.archive.is_some() {
            return;
        }
        let id = ArchiveId::of(meta);
        if self.ledger.contains(&id) || self.archive_failed.contains(&id) {
            return;
        }
        // logrotate writes the compressed copy progressively: wait until it has settled.
        let settled = meta
            .modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .is_some_and(|age| age >= Self::ms(self.limits.release_idle_ms));
        if !settled {
            return;
        }
        let mut input = match File::open(path).and_then(|f| codec.decoder(f)) {
            Ok(i) => i,
            Err(e) => {
                self.complain(path, &e);
                return;
            }
        };
        let mut header = Vec::with_capacity(self.limits.fingerprint_bytes);
        let want = self.limits.fingerprint_bytes as u64;
        if let Err(e) = (&mut input).take(want).read_to_end(&mut header) {
            self.archive_failed.insert(id);
            Metrics::add(&self.metrics.read_errors, 1);
            warn!(file = %path.display(), error = %e, "cannot decompress; skipping it until it changes");
            return;
        }
        let fp = Fingerprint::of(&header);
        if self.tails.values().any(|(t, _)| t.fp == fp) {
            return; // the plain file with this content is still read; its copy comes after
        }
        let skip_to = self.known(fp).unwrap_or(0);
        let info = SourceInfo {
            source: path.display().to_string(),
            host: self.host.clone(),
            service: self.sources[source].service.clone(),
            fingerprint: fp.0,
        };
        let parser = SourceParser::new(info, self.sources[source].parse.clone());
        info!(file = %path.display(), fingerprint = %fp, from = skip_to, "reading compressed file");
        let input = Box::new(io::Cursor::new(header).chain(input));
        self.archive = Some(ArchiveRead::new(
            path.to_path_buf(),
            id,
            source,
            fp,
            input,
            skip_to,
            parser,
        ));
    }

    /// Reads the compressed file being read a step further; true if it has more right away.
    pub(super) fn poll_archive(&mut self, now: Instant) -> bool {
        let Some(a) = self.archive.as_mut() else {
            return false;
        };
        let max_line = self.limits.max_line_bytes;
        match a.read(
            &mut self.scratch,
            max_line,
            READ_BUDGET,
            now_nanos(),
            &mut self.out,
        ) {
            Ok(stats) => {
                Metrics::add(&self.metrics.lines_read, stats.lines);
                Metrics::add(&self.metrics.bytes_read, stats.bytes);
            }
            Err(e) => {
                Metrics::add(&self.metrics.read_errors, 1);
                warn!(file = %a.path.display(), error = %e, "cannot decompress; skipping it until it changes");
                self.archive_failed.insert(a.id);
                // The complete lines before the damage are shipped.
                a.parser.flush(&mut self.out);
                self.emit_archive(now);
                self.archive = None;
                return false;
            }
        }
        self.emit_archive(now);
        let Some(a) = self.archive.as_ref().filter(|a| a.done) else {
            return true;
        };
        let (id, path) = (a.id, a.path.clone());
        // Its last batch goes to the spool before the ledger says it is read.
        self.seal_if(now, true);
        if self.builder.records() == 0 {
            if let Err(e) = self.ledger.insert(id, &path) {
                warn!(file = %path.display(), error = %e, "cannot note the compressed file as read; it is read again after a restart");
            }
            info!(file = %path.display(), "compressed file read");
        }
        self.archive = None;
        false
    }

    /// Moves the compressed file's records into the batch and notes the range they cover.
    pub(super) fn emit_archive(&mut self, now: Instant) {
        let Some(a) = self.archive.as_mut() else {
            return;
        };
        let fields = &self.sources[a.source].fields;
        for mut rec in self.out.drain(..) {
            for (k, v) in fields {
                rec.fields.entry(k.clone()).or_insert_with(|| v.clone());
            }
            self.builder.push(&rec, now);
        }
        let end = a.safe_offset();
        if end > a.batched {
            self.builder
                .cover(a.fp, a.batched, end, &a.path.display().to_string());
            a.batched = end;
        }
        let read = self.resume.entry(a.fp).or_insert(0);
        *read = (*read).max(end);
        if self.builder.raw_bytes() >= self.limits.batch_max_bytes {
            self.seal_if(now, true);
        }
    }
}
