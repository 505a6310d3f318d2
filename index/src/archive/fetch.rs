//! Reading chosen records of an archive in batches: a page of hits, or the candidates of a
//! query that must be checked against their records.
//!
//! Wanted ordinals are grouped by block, each block is decompressed once (or taken from the
//! [`BlockCache`]) and only the wanted rows of it are decoded. The archive's lock is held only
//! while a block is located and decompressed, never while the caller's function runs, so a
//! slow consumer does not hold up ingest into the active segment.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use firewatch_ingest::LogRecord;
use rayon::prelude::*;

use super::{corrupt, decompress, Archive, Block, Data};
use crate::block;
use crate::block_filter::BlockFilter;
use crate::block_text::BlockText;
use crate::cache::{BlockCache, BlockKey};
use crate::error::StoreError;

/// What a reader can rule out before records are decoded: whole blocks by their filter, and
/// records by their text. Both answer "maybe" by default.
pub trait Prefilter: Sync {
    /// Can a block with this filter hold a wanted record?
    fn block(&self, _filter: BlockFilter<'_>) -> bool {
        true
    }

    /// Does [`text`](Self::text) rule anything out? (Rendering text has a cost.)
    fn tests_text(&self) -> bool {
        false
    }

    /// Can a record be wanted, by its service and its text (message, then a space and its
    /// fields as compact JSON when it has any: [`BlockText::write_text`])?
    fn text(&self, _service: &str, _text: &[u8]) -> bool {
        true
    }

    /// Is a decoded record wanted? Checked where blocks are decoded, on the rayon pool, so a
    /// record ruled out here is never handed to the reader (nor freed on its thread).
    fn record(&self, _record: &LogRecord) -> bool {
        true
    }
}

/// Rules nothing out.
pub struct Everything;

/// Counts the wanted records a reader passed over because their block is damaged: it fails
/// its checksum or does not decode. One damaged block must not make every query that touches
/// it fail; the query says how many records it could not read instead.
#[derive(Debug, Default)]
pub struct Unreadable(AtomicU64);

impl Unreadable {
    /// Records passed over so far.
    pub fn records(&self) -> u64 {
        self.0.load(Relaxed)
    }

    fn add(&self, n: usize) {
        self.0.fetch_add(n as u64, Relaxed);
    }
}

impl Prefilter for Everything {}

/// How a scan reads its blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// A group ahead on the rayon pool: for answers someone is waiting for.
    Ahead,
    /// One at a time on the caller's thread: for background work (merges, rebuilds), which
    /// must leave the other cores to ingest and to queries.
    InTurn,
}

/// Hands `f` the records read for `units`, in order; `Ok(true)` once `f` asks to stop.
fn deliver(
    units: &[Unit],
    records: Vec<Result<Vec<LogRecord>, StoreError>>,
    f: &mut impl FnMut(u64, LogRecord) -> bool,
) -> Result<bool, StoreError> {
    for (unit, records) in units.iter().zip(records) {
        for (row, rec) in unit.rows.iter().zip(records?) {
            if !f(unit.start + *row as u64, rec) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Wanted ordinals (ascending; a repeat or a step back is skipped), taken a block at a time.
struct Wanted<I: Iterator<Item = u64>> {
    ords: std::iter::Peekable<I>,
    last: Option<u64>,
}

impl<I: Iterator<Item = u64>> Wanted<I> {
    /// The wanted rows of the next `n` blocks (or pending run) that hold any.
    fn group(&mut self, archive: &Archive, n: usize) -> Result<Vec<Unit>, StoreError> {
        let mut units = Vec::with_capacity(n);
        while units.len() < n {
            let Some(first) = self.ords.next() else { break };
            if self.last.is_some_and(|l| first <= l) {
                continue;
            }
            let place = archive.place(first)?;
            let (start, end) = match &place {
                Place::Block(_, b) => (b.first_ord, b.first_ord + b.count as u64),
                Place::Pending { first_ord, len } => (*first_ord, first_ord + len),
            };
            let mut rows = vec![(first - start) as usize];
            self.last = Some(first);
            while let Some(&next) = self.ords.peek() {
                if self.last.is_some_and(|l| next <= l) {
                    self.ords.next();
                } else if next < end {
                    rows.push((next - start) as usize);
                    self.last = Some(next);
                    self.ords.next();
                } else {
                    break;
                }
            }
            units.push(Unit { place, start, rows });
        }
        Ok(units)
    }
}

/// The wanted rows of one block or pending run, from ordinal `start`.
struct Unit {
    place: Place,
    start: u64,
    rows: Vec<usize>,
}

/// Where an ordinal is: in a written block, or among the records not yet in one.
enum Place {
    /// Written block `.0`.
    Block(usize, Block),
    Pending {
        first_ord: u64,
        len: u64,
    },
}

impl Archive {
    /// The records at `ords` (any order, repeats allowed), in the order asked.
    pub fn get_many(
        &self,
        ords: &[u64],
        cache: Option<&BlockCache>,
    ) -> Result<Vec<LogRecord>, StoreError> {
        self.get_found(ords, cache, None)?
            .into_iter()
            .zip(ords)
            .map(|(rec, ord)| rec.ok_or(StoreError::NotFound { ord: *ord }))
            .collect()
    }

    /// [`get_many`](Self::get_many), but the records of damaged blocks are `None` and counted
    /// in `unreadable` instead of failing the whole read.
    pub fn get_readable(
        &self,
        ords: &[u64],
        cache: Option<&BlockCache>,
        unreadable: &Unreadable,
    ) -> Result<Vec<Option<LogRecord>>, StoreError> {
        self.get_found(ords, cache, Some(unreadable))
    }

    fn get_found(
        &self,
        ords: &[u64],
        cache: Option<&BlockCache>,
        unreadable: Option<&Unreadable>,
    ) -> Result<Vec<Option<LogRecord>>, StoreError> {
        let mut sorted: Vec<u64> = ords.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let mut found: Vec<(u64, LogRecord)> = Vec::with_capacity(sorted.len());
        self.for_each_of_where(
            sorted.iter().copied(),
            cache,
            &Everything,
            unreadable,
            Pace::Ahead,
            |ord, rec| {
                found.push((ord, rec));
                true
            },
        )?;
        Ok(ords
            .iter()
            .map(|ord| {
                found
                    .binary_search_by_key(ord, |(o, _)| *o)
                    .ok()
                    .map(|i| found[i].1.clone())
            })
            .collect())
    }

    /// Calls `f` with the record at each of `ords` (ascending; a repeat or a step back is
    /// skipped) until it returns `false`. An ordinal past the archive's end is an error.
    pub fn for_each_of(
        &self,
        ords: impl IntoIterator<Item = u64>,
        cache: Option<&BlockCache>,
        f: impl FnMut(u64, LogRecord) -> bool,
    ) -> Result<(), StoreError> {
        self.for_each_of_where(ords, cache, &Everything, None, Pace::Ahead, f)
    }

    /// [`for_each_of`](Self::for_each_of), passing over the records of written blocks that
    /// `pre` rules out (records not yet in a block are always passed). With `unreadable`, a
    /// damaged block's wanted records are counted there and passed over; without, they fail
    /// the read.
    ///
    /// At [`Pace::Ahead`], blocks are read a group at a time on the rayon pool, the next group
    /// while `f` takes the records of this one, in ordinal order: decompression was most of a
    /// scan's work (44% of an export of scattered records), and a group bounds what is held
    /// ahead of `f`.
    pub fn for_each_of_where(
        &self,
        ords: impl IntoIterator<Item = u64>,
        cache: Option<&BlockCache>,
        pre: &dyn Prefilter,
        unreadable: Option<&Unreadable>,
        pace: Pace,
        mut f: impl FnMut(u64, LogRecord) -> bool,
    ) -> Result<(), StoreError> {
        let ahead = pace == Pace::Ahead;
        let group = if ahead {
            rayon::current_num_threads().max(1) * 2
        } else {
            1
        };
        let mut wanted = Wanted {
            ords: ords.into_iter().peekable(),
            last: None,
        };
        let read = |units: &mut Vec<Unit>| -> Vec<Result<Vec<LogRecord>, StoreError>> {
            let one = |u: &mut Unit| self.read_unit(u, cache, pre, unreadable);
            match units.len() {
                0 | 1 => units.iter_mut().map(one).collect(),
                _ => units.par_iter_mut().map(one).collect(),
            }
        };
        let mut units = wanted.group(self, group)?;
        let mut records = read(&mut units);
        while !units.is_empty() {
            let mut next = wanted.group(self, group)?;
            let mut next_records = Vec::new();
            let done = if ahead {
                rayon::in_place_scope(|s| {
                    if !next.is_empty() {
                        s.spawn(|_| next_records = read(&mut next));
                    }
                    deliver(&units, records, &mut f)
                })?
            } else {
                let done = deliver(&units, records, &mut f)?;
                if !done {
                    next_records = read(&mut next);
                }
                done
            };
            if done {
                return Ok(());
            }
            (units, records) = (next, next_records);
        }
        Ok(())
    }

    /// The wanted records of one block or pending run (none when `pre` rules the block out,
    /// or it is damaged and `unreadable` counts it); `u.rows` keeps the rows they are.
    fn read_unit(
        &self,
        u: &mut Unit,
        cache: Option<&BlockCache>,
        pre: &dyn Prefilter,
        unreadable: Option<&Unreadable>,
    ) -> Result<Vec<LogRecord>, StoreError> {
        match u.place {
            Place::Block(i, _) if !self.block_may_hold(i, |f| pre.block(f)) => Ok(Vec::new()),
            Place::Block(_, b) => match (self.read_rows(b, &mut u.rows, cache, pre), unreadable) {
                (Err(StoreError::Corrupt { .. }), Some(lost)) => {
                    lost.add(u.rows.len());
                    Ok(Vec::new())
                }
                (read, _) => read,
            },
            Place::Pending { first_ord, .. } => self.pending_rows(first_ord, &u.rows),
        }
        .map(|records| {
            let mut rows = u.rows.iter();
            let (kept_rows, kept): (Vec<usize>, Vec<LogRecord>) = records
                .into_iter()
                .filter_map(|rec| {
                    let row = *rows.next()?;
                    pre.record(&rec).then_some((row, rec))
                })
                .unzip();
            u.rows = kept_rows;
            kept
        })
    }

    /// The block (or pending run) holding `ord`.
    fn place(&self, ord: u64) -> Result<Place, StoreError> {
        let st = self.state.read().unwrap_or_else(|e| e.into_inner());
        let in_blocks = st.blocks.last().map_or(0, |b| b.first_ord + b.count as u64);
        if ord >= in_blocks {
            if ord < st.records && matches!(st.data, Data::Active { .. }) {
                return Ok(Place::Pending {
                    first_ord: in_blocks,
                    len: st.records - in_blocks,
                });
            }
            return Err(StoreError::NotFound { ord });
        }
        let i = st
            .blocks
            .partition_point(|b| b.first_ord + b.count as u64 <= ord);
        st.blocks
            .get(i)
            .map(|b| Place::Block(i, *b))
            .ok_or(StoreError::NotFound { ord })
    }

    /// Rows (ascending) of a written block; those whose text `pre` rules out are removed
    /// from `rows` and not decoded.
    fn read_rows(
        &self,
        b: Block,
        rows: &mut Vec<usize>,
        cache: Option<&BlockCache>,
        pre: &dyn Prefilter,
    ) -> Result<Vec<LogRecord>, StoreError> {
        let load = || {
            let st = self.state.read().unwrap_or_else(|e| e.into_inner());
            decompress(&st.data, b)
        };
        let plain = match cache {
            Some(cache) => cache.get_or_load(
                BlockKey {
                    archive: self.uid,
                    offset: b.offset,
                },
                load,
            )?,
            None => Arc::new(load()?),
        };
        if block::count(&plain) != Some(b.count as usize) {
            return Err(corrupt("archive block with a wrong record count"));
        }
        let malformed = || corrupt("archive block does not decode");
        if pre.tests_text() {
            let mut view = BlockText::decode(&plain).ok_or_else(malformed)?;
            let (mut kept, mut text, mut next) = (Vec::with_capacity(rows.len()), Vec::new(), 0);
            for &r in rows.iter() {
                for skipped in next..r {
                    view.skip_text(skipped).ok_or_else(malformed)?;
                }
                text.clear();
                view.write_text(r, &mut text).ok_or_else(malformed)?;
                next = r + 1;
                if pre.text(view.services[r], &text) {
                    kept.push(r);
                }
            }
            *rows = kept;
        }
        block::decode_rows(&plain, rows).ok_or_else(malformed)
    }

    /// Rows of the records not yet written in a block (`first_ord`: the first of them).
    fn pending_rows(&self, first_ord: u64, rows: &[usize]) -> Result<Vec<LogRecord>, StoreError> {
        let st = self.state.read().unwrap_or_else(|e| e.into_inner());
        // A block may have been written since `place`: its records are no longer pending.
        let in_blocks = st.blocks.last().map_or(0, |b| b.first_ord + b.count as u64);
        let pending = match &st.data {
            Data::Active { pending, .. } if in_blocks == first_ord => pending,
            _ => {
                drop(st);
                let ords: Vec<u64> = rows.iter().map(|r| first_ord + *r as u64).collect();
                return self.get_many(&ords, None);
            }
        };
        rows.iter()
            .map(|&r| {
                pending
                    .get(r)
                    .map(|r| LogRecord::clone(r))
                    .ok_or(StoreError::NotFound {
                        ord: first_ord + r as u64,
                    })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::metrics::StoreMetrics;

    fn rec(i: u64) -> LogRecord {
        serde_json::from_str(&format!(
            r#"{{"id":"r{i}","timestamp":{i},"observed":0,"message":"line number {i}","fields":{{"n":{i}}}}}"#
        ))
        .unwrap()
    }

    /// An active archive of `n` records in blocks of about 10, the last few still pending.
    fn archive(dir: &std::path::Path, n: u64) -> Archive {
        let a = Archive::create(&dir.join("archive.fwa"), 600, 3).unwrap();
        for i in 0..n {
            a.append(rec(i), 60);
            a.flush_full().unwrap();
        }
        a
    }

    #[test]
    fn a_batch_comes_back_in_the_order_asked_across_blocks_and_pending() {
        let dir = tempfile::tempdir().unwrap();
        let a = archive(dir.path(), 95);
        let blocks = a.state.read().unwrap().blocks.len();
        assert!(blocks >= 8, "{blocks} blocks");
        assert!(a.len() > 90 && !a.is_sealed());
        let metrics = Arc::new(StoreMetrics::default());
        let cache = BlockCache::new(1 << 20, metrics.clone());
        // Newest first, with a repeat, from written blocks and the in-memory one.
        let ords = [94, 93, 50, 12, 13, 11, 50, 0, 94];
        let want: Vec<_> = ords.iter().map(|&i| rec(i)).collect();
        assert_eq!(a.get_many(&ords, Some(&cache)).unwrap(), want);
        assert_eq!(a.get_many(&ords, None).unwrap(), want);
        use std::sync::atomic::Ordering::Relaxed;
        let misses = metrics.block_cache_misses.load(Relaxed);
        assert_eq!(misses, 3, "blocks of 0, of 11-13 and of 50");
        assert_eq!(a.get_many(&ords, Some(&cache)).unwrap(), want);
        assert_eq!(metrics.block_cache_misses.load(Relaxed), misses);
        a.seal().unwrap();
        assert_eq!(a.get_many(&ords, Some(&cache)).unwrap(), want);
        assert!(matches!(
            a.get_many(&[3, 95], Some(&cache)),
            Err(StoreError::NotFound { ord: 95 })
        ));
    }

    #[test]
    fn for_each_of_decodes_only_the_wanted_and_can_stop() {
        let dir = tempfile::tempdir().unwrap();
        let a = archive(dir.path(), 60);
        let mut seen = Vec::new();
        a.for_each_of([2, 3, 3, 1, 40, 59], None, |ord, r| {
            seen.push((ord, r));
            true
        })
        .unwrap();
        let want: Vec<_> = [2, 3, 40, 59].iter().map(|&i| (i, rec(i))).collect();
        assert_eq!(seen, want);
        let mut n = 0;
        a.for_each_of(0..60, None, |_, _| {
            n += 1;
            n < 25
        })
        .unwrap();
        assert_eq!(n, 25);
    }

    /// Keeps records whose `n` is even: checked where blocks are decoded.
    struct Even;

    impl Prefilter for Even {
        fn record(&self, r: &LogRecord) -> bool {
            r.fields
                .get("n")
                .and_then(|n| n.as_u64())
                .is_some_and(|n| n % 2 == 0)
        }
    }

    /// Many groups of blocks read ahead in parallel (or in turn) still reach `f` in ordinal
    /// order, only those the record check keeps, and a stop ends the scan.
    #[test]
    fn blocks_read_ahead_in_parallel_reach_f_in_order_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let a = archive(dir.path(), 400);
        assert!(a.state.read().unwrap().blocks.len() >= 30);
        for pace in [Pace::Ahead, Pace::InTurn] {
            scan_in_order(&a, pace);
        }
    }

    fn scan_in_order(a: &Archive, pace: Pace) {
        let ords: Vec<u64> = (0..400).filter(|i| i % 7 != 3).collect();
        let mut seen = Vec::new();
        a.for_each_of_where(ords.iter().copied(), None, &Even, None, pace, |ord, r| {
            seen.push((ord, r));
            true
        })
        .unwrap();
        let want: Vec<_> = ords
            .iter()
            .filter(|&&i| i % 2 == 0)
            .map(|&i| (i, rec(i)))
            .collect();
        assert_eq!(seen, want);
        let mut n = 0;
        a.for_each_of_where(0..400, None, &Even, None, pace, |ord, _| {
            n += 1;
            assert_eq!(ord, 2 * (n - 1));
            n < 150
        })
        .unwrap();
        assert_eq!(n, 150);
    }

    #[test]
    fn reopened_sealed_archive_reads_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let a = archive(dir.path(), 70);
        a.seal().unwrap();
        let b = Archive::open_sealed(&dir.path().join("archive.fwa")).unwrap();
        assert_ne!(a.uid, b.uid, "cache keys of two archives never meet");
        let cache = BlockCache::new(1 << 20, Arc::new(StoreMetrics::default()));
        let ords: Vec<u64> = (0..70).rev().step_by(3).collect();
        let want: Vec<_> = ords.iter().map(|&i| rec(i)).collect();
        assert_eq!(b.get_many(&ords, Some(&cache)).unwrap(), want);
        assert_eq!(a.get_many(&ords, Some(&cache)).unwrap(), want);
    }

    #[test]
    fn a_damaged_block_never_reads_as_wrong_records_and_costs_only_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("archive.fwa");
        archive(dir.path(), 70).seal().unwrap();
        let good = std::fs::read(&path).unwrap();
        let b = Archive::open_sealed(&path)
            .unwrap()
            .state
            .read()
            .unwrap()
            .blocks[2];
        let in_block = |ord: u64| (b.first_ord..b.first_ord + b.count as u64).contains(&ord);
        let ords: Vec<u64> = (0..70).collect();
        let mut noticed = 0;
        for at in b.offset..b.offset + b.len as u64 {
            let mut bytes = good.clone();
            bytes[at as usize] ^= 0x10;
            std::fs::write(&path, &bytes).unwrap();
            let a = Archive::open_sealed(&path).unwrap();
            let unreadable = Unreadable::default();
            let got = a.get_readable(&ords, None, &unreadable).unwrap();
            // A flip the format ignores (an unused header bit) changes nothing; any other is
            // noticed: the block's records are lost, never read wrong, and no other is lost.
            let lost = unreadable.records() > 0;
            noticed += lost as usize;
            assert_eq!(a.get_many(&ords, None).is_err(), lost, "byte {at}");
            for (ord, read) in ords.iter().zip(got) {
                let want = (!(lost && in_block(*ord))).then(|| rec(*ord));
                assert_eq!(read, want, "byte {at}, record {ord}");
            }
            if lost {
                assert_eq!(unreadable.records(), b.count as u64, "byte {at}");
            }
        }
        assert!(
            noticed + 2 >= b.len as usize,
            "{noticed} of {} flips noticed",
            b.len
        );
    }
}
