//! Records of archive segments in the order `analyze` reads files: per source in archive order,
//! merged across sources by time.
//!
//! A node's archive holds records in arrival order, sources interleaved. To feed the detectors
//! exactly as if the original files had been analyzed, records go into one queue per source
//! (archive order is the file's order: a shipper sends a file's records in order), and the
//! queue with the earliest head is served first, ties to the smaller source name. Segments are
//! loaded in id order — each one's blocks decoded in parallel — only when needed: a head is
//! served once it is earlier than the oldest record any unloaded segment may hold (the
//! manifest's `min_ts`). Memory thus holds the segments whose time ranges overlap the current
//! time: one or two for a live node, more for an archive filled by a backfill.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use firewatch_ingest::{LogRecord, Nanos};
use rayon::prelude::*;

use super::merge::Records;
use crate::input::{Input, InputError};

/// The records of many archive segments, merged by time per source.
pub struct ArchiveStream {
    segments: Vec<Input>,
    /// Oldest possible record time of `segments[i..]`.
    bound: Vec<Nanos>,
    next: usize,
    queues: BTreeMap<String, VecDeque<LogRecord>>,
    heads: BinaryHeap<Reverse<(Nanos, String)>>,
    errors: Vec<InputError>,
    progress: Option<Arc<AtomicU64>>,
}

impl ArchiveStream {
    /// `segments` in id order; `progress` gets each segment's size once it is read.
    pub fn new(segments: Vec<Input>, progress: Option<Arc<AtomicU64>>) -> Self {
        let mut bound = vec![Nanos::MAX; segments.len() + 1];
        for i in (0..segments.len()).rev() {
            // Without a known start (a bare `.fwa` file), a segment may hold anything.
            bound[i] = bound[i + 1].min(segments[i].start.unwrap_or(Nanos::MIN));
        }
        ArchiveStream {
            segments,
            bound,
            next: 0,
            queues: BTreeMap::new(),
            heads: BinaryHeap::new(),
            errors: Vec::new(),
            progress,
        }
    }

    /// Reads the next segment into the queues.
    fn load(&mut self) {
        let input = &self.segments[self.next];
        self.next += 1;
        let segment = match input.open_segment() {
            Ok(s) => s,
            Err(e) => {
                self.errors.push(e);
                return;
            }
        };
        let blocks: Vec<_> = (0..segment.blocks())
            .into_par_iter()
            .map(|b| segment.block(b).map_err(|e| (b, e)))
            .collect();
        for block in blocks {
            match block {
                Ok(records) => {
                    for rec in records {
                        let queue = self.queues.entry(rec.source.clone()).or_default();
                        if queue.is_empty() {
                            self.heads
                                .push(Reverse((rec.timestamp, rec.source.clone())));
                        }
                        queue.push_back(rec);
                    }
                }
                Err((b, e)) => {
                    // The blocks before it were read; the rest of this segment is lost.
                    self.errors.push(InputError {
                        path: input.path.clone(),
                        source: std::io::Error::other(format!("block {b}: {e}")),
                    });
                    break;
                }
            }
        }
        if let (Some(p), Ok(meta)) = (&self.progress, std::fs::metadata(&input.path)) {
            p.fetch_add(meta.len(), Ordering::Relaxed);
        }
    }

    /// Loads segments until the earliest head cannot be preceded by an unloaded record.
    fn ready(&mut self) {
        while self.next < self.segments.len() {
            let bound = self.bound[self.next];
            match self.heads.peek() {
                Some(Reverse((t, _))) if *t < bound => return,
                _ => self.load(),
            }
        }
    }
}

impl Iterator for ArchiveStream {
    type Item = LogRecord;

    fn next(&mut self) -> Option<LogRecord> {
        self.ready();
        let Reverse((_, source)) = self.heads.pop()?;
        let queue = self.queues.get_mut(&source)?;
        let rec = queue.pop_front();
        match queue.front() {
            Some(head) => self.heads.push(Reverse((head.timestamp, source))),
            None => {
                self.queues.remove(&source);
            }
        }
        rec
    }
}

impl Records for ArchiveStream {
    fn peek_time(&mut self) -> Option<Nanos> {
        self.ready();
        self.heads.peek().map(|Reverse((t, _))| *t)
    }

    fn take_errors(&mut self) -> Vec<InputError> {
        std::mem::take(&mut self.errors)
    }
}
