//! Records of archive segments in the order `analyze` reads files: per source in archive order,
//! merged across sources by time.
//!
//! A node's archive holds records in arrival order, sources interleaved. To feed the detectors
//! exactly as if the original files had been analyzed, each source is read as its own stream
//! (archive order is the file's order: a shipper sends a file's records in order), and the
//! source with the earliest next record is served first, ties to the smaller source name.
//! Segments are scanned in id order only when needed: a record is served once it is earlier
//! than the oldest record any unscanned segment may hold (the manifest's `min_ts`).
//!
//! Memory is bounded whatever the segments' time ranges. A backfill fills every segment with
//! the same hours, so every segment must be scanned before the first record is served: the scan
//! keeps only where each source's records are (a few bytes per source and block), and decoded
//! blocks wait in a cache of at most [`CACHED_RECORDS`] records. A block evicted before all of
//! its records were served is decoded again when its sources reach it.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use firewatch_index::{BlockText, SealedSegment, StoreError};
use firewatch_ingest::{LogRecord, Nanos};
use lru::LruCache;
use rayon::prelude::*;

use super::merge::Records;
use crate::input::{Input, InputError};

/// Most decoded records kept waiting for their sources (a few blocks of the default size).
pub const CACHED_RECORDS: usize = 64 * 1024;

/// A block: its segment's index and its index in the segment.
type Loc = (usize, usize);

/// Where a source's next records are: the blocks holding them, in archive order, and the
/// first record of the front block not yet served.
#[derive(Default)]
struct Cursor {
    blocks: VecDeque<Loc>,
    at: usize,
}

/// A decoded block; records are taken out as they are served. Only the records left count
/// against the budget: a block kept for the few records of a slow source costs little.
struct Decoded {
    records: Vec<Option<LogRecord>>,
    left: usize,
}

/// The records of many archive segments, merged by time per source.
pub struct ArchiveStream {
    segments: Vec<Input>,
    /// Oldest possible record time of `segments[i..]`.
    bound: Vec<Nanos>,
    /// Segments scanned so far.
    scanned: usize,
    /// Open scanned segments, and how many of their (source, block) entries are left.
    open: BTreeMap<usize, (SealedSegment, usize)>,
    cursors: BTreeMap<String, Cursor>,
    /// The time of each source's next record; a source is here iff its cursor has blocks.
    heads: BinaryHeap<Reverse<(Nanos, String)>>,
    cache: LruCache<Loc, Decoded>,
    cached: usize,
    budget: usize,
    /// Most records seen in one block.
    largest_block: usize,
    errors: Vec<InputError>,
    progress: Option<Arc<AtomicU64>>,
}

impl ArchiveStream {
    /// `segments` in id order; `progress` gets each segment's size once it is scanned.
    pub fn new(segments: Vec<Input>, progress: Option<Arc<AtomicU64>>) -> Self {
        ArchiveStream::with_budget(segments, progress, CACHED_RECORDS)
    }

    /// [`ArchiveStream::new`] caching at most about `budget` decoded records.
    pub fn with_budget(
        segments: Vec<Input>,
        progress: Option<Arc<AtomicU64>>,
        budget: usize,
    ) -> Self {
        let mut bound = vec![Nanos::MAX; segments.len() + 1];
        for i in (0..segments.len()).rev() {
            // Without a known start (a bare `.fwa` file), a segment may hold anything.
            bound[i] = bound[i + 1].min(segments[i].start.unwrap_or(Nanos::MIN));
        }
        ArchiveStream {
            segments,
            bound,
            scanned: 0,
            open: BTreeMap::new(),
            cursors: BTreeMap::new(),
            heads: BinaryHeap::new(),
            cache: LruCache::unbounded(),
            cached: 0,
            budget,
            largest_block: 0,
            errors: Vec::new(),
            progress,
        }
    }

    /// Decoded records held right now, not yet served.
    pub fn cached_records(&self) -> usize {
        self.cached
    }

    fn block_error(&mut self, seg: usize, block: usize, e: impl std::fmt::Display) {
        self.errors.push(InputError {
            path: self.segments[seg].path.clone(),
            source: std::io::Error::other(format!("block {block}: {e}; its records are left out")),
        });
    }

    /// Notes where the sources of the next segment are, caching its blocks as decoded.
    fn scan(&mut self) {
        let seg = self.scanned;
        self.scanned += 1;
        let input = &self.segments[seg];
        let segment = match input.open_segment() {
            Ok(s) => s,
            Err(e) => {
                self.errors.push(e);
                return;
            }
        };
        if let (Some(p), Ok(meta)) = (&self.progress, std::fs::metadata(&input.path)) {
            p.fetch_add(meta.len(), Ordering::Relaxed);
        }
        let mut entries = 0;
        let mut woken = Vec::new();
        let group = rayon::current_num_threads().max(1) * 2;
        let all: Vec<usize> = (0..segment.blocks()).collect();
        for chunk in all.chunks(group) {
            // Blocks are decoded while the cache has room for them: they are the ones served
            // first. Past that only their sources are read, which skips building records.
            let keep = self.cached + self.largest_block * chunk.len() <= self.budget;
            let scanned: Vec<_> = chunk
                .par_iter()
                .map(|&b| scan_block(&segment, b, keep))
                .collect();
            for (&b, block) in chunk.iter().zip(scanned) {
                let (sources, len, records) = match block {
                    Ok(block) => block,
                    Err(e) => {
                        // Only this block's records are lost: the others are read.
                        self.block_error(seg, b, e);
                        continue;
                    }
                };
                for source in sources {
                    let cursor = self.cursors.entry(source.clone()).or_default();
                    let idle = cursor.blocks.is_empty();
                    cursor.blocks.push_back((seg, b));
                    entries += 1;
                    if idle {
                        woken.push(source);
                    }
                }
                self.largest_block = self.largest_block.max(len);
                if let Some(records) = records.filter(|_| self.cached + len <= self.budget) {
                    self.insert((seg, b), records);
                }
            }
        }
        if entries > 0 {
            self.open.insert(seg, (segment, entries));
        }
        for source in woken {
            self.resolve(source);
        }
    }

    /// The records the cache may hold: the budget, or a block per source being merged when
    /// that is more — each source reads its own block, and evicting those would decode the
    /// same blocks over and over.
    fn limit(&self) -> usize {
        let sources = self.heads.len() + 1;
        self.budget.max(sources.saturating_mul(self.largest_block))
    }

    fn insert(&mut self, loc: Loc, records: Vec<LogRecord>) {
        self.cached += records.len();
        let left = records.len();
        let records = records.into_iter().map(Some).collect();
        self.cache.put(loc, Decoded { records, left });
        while self.cached > self.limit() && self.cache.len() > 1 {
            if let Some((_, old)) = self.cache.pop_lru() {
                self.cached -= old.left;
            }
        }
    }

    /// The decoded block at `loc`, decoding it again if it was evicted; `None` if it no
    /// longer decodes (reported).
    fn block(&mut self, loc: Loc) -> Option<&mut Decoded> {
        if !self.cache.contains(&loc) {
            let (seg, b) = loc;
            let decoded = self.open.get(&seg)?.0.block(b);
            match decoded {
                Ok(records) => self.insert(loc, records),
                Err(e) => {
                    self.block_error(seg, b, e);
                    return None;
                }
            }
        }
        self.cache.get_mut(&loc)
    }

    /// Finds `source`'s next record and queues its time; drops blocks that hold no more.
    fn resolve(&mut self, source: String) {
        loop {
            let Some(cursor) = self.cursors.get(&source) else {
                return;
            };
            let (Some(&loc), at) = (cursor.blocks.front(), cursor.at) else {
                return;
            };
            let next = self.block(loc).and_then(|block| {
                block
                    .records
                    .iter()
                    .enumerate()
                    .skip(at)
                    .find_map(|(i, r)| {
                        r.as_ref()
                            .filter(|r| r.source == source)
                            .map(|r| (i, r.timestamp))
                    })
            });
            let cursor = self.cursors.get_mut(&source).expect("looked up above");
            if let Some((i, ts)) = next {
                cursor.at = i;
                self.heads.push(Reverse((ts, source)));
                return;
            }
            cursor.blocks.pop_front();
            cursor.at = 0;
            if cursor.blocks.is_empty() && self.scanned == self.segments.len() {
                self.cursors.remove(&source);
            }
            self.release(loc.0);
        }
    }

    /// One (source, block) entry of segment `seg` is done; closes the segment after its last.
    fn release(&mut self, seg: usize) {
        if let Some((_, left)) = self.open.get_mut(&seg) {
            *left -= 1;
            if *left == 0 {
                self.open.remove(&seg);
            }
        }
    }

    /// Scans segments until the earliest head cannot be preceded by an unscanned record.
    fn ready(&mut self) {
        while self.scanned < self.segments.len() {
            match self.heads.peek() {
                Some(Reverse((t, _))) if *t < self.bound[self.scanned] => return,
                _ => self.scan(),
            }
        }
    }
}

/// What scanning a block finds: its distinct sources, its number of records, and the records
/// when they were decoded.
type Scanned = (Vec<String>, usize, Option<Vec<LogRecord>>);

/// Scans block `b`, decoding its records if `decode`.
fn scan_block(segment: &SealedSegment, b: usize, decode: bool) -> Result<Scanned, StoreError> {
    let distinct = |mut sources: Vec<&str>| -> Vec<String> {
        sources.sort_unstable();
        sources.dedup();
        sources.into_iter().map(str::to_string).collect()
    };
    if decode {
        let records = segment.block(b)?;
        let sources = distinct(records.iter().map(|r| r.source.as_str()).collect());
        return Ok((sources, records.len(), Some(records)));
    }
    let body = segment.block_body(b)?;
    let text = BlockText::decode(&body).ok_or_else(|| StoreError::Corrupt {
        what: "archive block does not decode".into(),
    })?;
    let len = text.len();
    Ok((distinct(text.sources), len, None))
}

impl Iterator for ArchiveStream {
    type Item = LogRecord;

    fn next(&mut self) -> Option<LogRecord> {
        loop {
            self.ready();
            let Reverse((_, source)) = self.heads.pop()?;
            let cursor = &self.cursors[&source];
            let (loc, at) = (*cursor.blocks.front()?, cursor.at);
            let (mut taken, mut emptied) = (None, false);
            if let Some(block) = self.block(loc) {
                taken = block.records.get_mut(at).and_then(Option::take);
                if taken.is_some() {
                    block.left -= 1;
                    emptied = block.left == 0;
                }
            }
            if taken.is_some() {
                self.cached -= 1;
            }
            if emptied {
                self.cache.pop(&loc);
            }
            let cursor = self.cursors.get_mut(&source).expect("has a head");
            match taken {
                Some(_) => cursor.at = at + 1,
                // The block no longer decodes (reported): its records are lost.
                None => {
                    cursor.blocks.pop_front();
                    cursor.at = 0;
                    self.release(loc.0);
                }
            }
            self.resolve(source);
            if taken.is_some() {
                return taken;
            }
        }
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
