//! The per-segment part every collector shares: a hit's sort key and the query deadline; and
//! [`Ords`], the set of archive ordinals a search hands to its second, record-reading phase.
//!
//! tantivy has no cancellation, so a query past its deadline stops doing work per document
//! (collectors skip the rest cheaply) and the search reports the timeout once it returns.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use firewatch_index::{RecordPtr, Snapshot};
use tantivy::columnar::Column;
use tantivy::index::SegmentId;
use tantivy::{BitSet, DocId, SegmentReader};

/// Where a hit sorts: by time, then by where it is stored (unique and stable, so pagination
/// by key neither skips nor repeats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub timestamp: i64,
    pub segment: u64,
    pub ord: u64,
}

impl Key {
    pub fn ptr(self) -> RecordPtr {
        RecordPtr {
            segment: self.segment,
            ord: self.ord,
        }
    }
}

/// What one search shares across segments.
pub struct ScanCtx {
    pub snapshot: Snapshot,
    pub maps: DocMaps,
    pub deadline: Instant,
    pub timed_out: AtomicBool,
}

/// Per tantivy segment, which documents are chunks and where record documents point, found
/// once and kept while the segment is searched: a search over 10 M records spent about 1 ms
/// finding the chunk documents again, and one over the records of chunks (`http.method:GET`)
/// most of its time reading every document's pointer.
#[derive(Clone, Default)]
pub struct DocMaps(Arc<Mutex<HashMap<SegmentId, Arc<DocMap>>>>);

/// One tantivy segment's documents: chunks, and record documents as runs.
pub struct DocMap {
    pub chunks: BitSet,
    runs: Vec<Run>,
}

/// The record documents among `doc..end` (the others are chunk documents), pointing at
/// consecutive records of one archive segment from `ord` on: documents are added a batch at a
/// time, so runs are long (about one per batch).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Run {
    doc: DocId,
    end: DocId,
    segment: u64,
    ord: u64,
    /// The ordinal after the run's last record.
    next_ord: u64,
}

impl DocMaps {
    pub fn of(&self, reader: &SegmentReader) -> tantivy::Result<Arc<DocMap>> {
        let id = reader.segment_id();
        if let Some(map) = self.lock().get(&id) {
            return Ok(map.clone());
        }
        let map = Arc::new(DocMap::build(reader)?);
        self.lock().insert(id, map.clone());
        Ok(map)
    }

    /// Forgets the segments merged away since `snapshot`'s were kept.
    pub fn forget_merged(&self, snapshot: &Snapshot) {
        let live: HashSet<SegmentId> = snapshot
            .searcher()
            .segment_readers()
            .iter()
            .map(|r| r.segment_id())
            .collect();
        self.lock().retain(|id, _| live.contains(id));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SegmentId, Arc<DocMap>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl DocMap {
    fn build(reader: &SegmentReader) -> tantivy::Result<DocMap> {
        let segment = u64_column(reader, "segment")?;
        // Only record documents have an `ord`, only chunk documents `records`.
        let ord = u64_column(reader, "ord")?;
        let records = u64_column(reader, "records")?;
        let mut rows: Vec<u32> = (0..records.values.num_vals()).collect();
        records.index.select_batch_in_place(0, &mut rows);
        let mut chunks = BitSet::with_max_value(reader.max_doc());
        for doc in rows.into_iter().filter(|d| *d < reader.max_doc()) {
            chunks.insert(doc);
        }
        let mut runs: Vec<Run> = Vec::new();
        // Column values in batches of documents, which tantivy reads faster than one by one.
        const BATCH: u32 = 1024;
        let mut ids = Vec::with_capacity(BATCH as usize);
        let (mut segments, mut ords) = (vec![None; BATCH as usize], vec![None; BATCH as usize]);
        let (mut start, mut broken) = (0, false);
        while start < reader.max_doc() {
            let end = start.saturating_add(BATCH).min(reader.max_doc());
            ids.clear();
            ids.extend(start..end);
            let n = ids.len();
            segment.first_vals(&ids, &mut segments[..n]);
            ord.first_vals(&ids, &mut ords[..n]);
            for i in 0..n {
                let doc = ids[i];
                let (Some(segment), Some(ord)) = (segments[i], ords[i]) else {
                    // A run may pass over chunk documents, never over anything else.
                    broken |= !chunks.contains(doc);
                    continue;
                };
                match runs.last_mut() {
                    Some(r) if !broken && r.segment == segment && r.next_ord == ord => {
                        r.end = doc + 1;
                        r.next_ord += 1;
                    }
                    _ => runs.push(Run {
                        doc,
                        end: doc + 1,
                        segment,
                        ord,
                        next_ord: ord + 1,
                    }),
                }
                broken = false;
            }
            start = end;
        }
        runs.shrink_to_fit();
        Ok(DocMap { chunks, runs })
    }

    /// The record documents of the records in `set`.
    pub fn docs_of(&self, set: &RecordSet, max_doc: DocId) -> BitSet {
        let mut docs = BitSet::with_max_value(max_doc);
        for run in &self.runs {
            let Some(ords) = set.get(&run.segment) else {
                continue;
            };
            let records = (run.doc..run.end).filter(|d| !self.chunks.contains(*d));
            for (ord, doc) in (run.ord..).zip(records) {
                if ords.contains(ord) {
                    docs.insert(doc);
                }
            }
        }
        docs
    }
}

impl ScanCtx {
    /// Is the search past its deadline? Remembers the answer.
    pub fn expired(&self) -> bool {
        if self.timed_out.load(Relaxed) {
            return true;
        }
        let expired = Instant::now() >= self.deadline;
        if expired {
            self.timed_out.store(true, Relaxed);
        }
        expired
    }
}

/// One segment's view: the fast fields of the sort key, and the shared context.
pub struct SegmentScan {
    ctx: Arc<ScanCtx>,
    /// Its chunk documents, which collectors pass over (few: one per dozens of records).
    map: Arc<DocMap>,
    timestamp: Column<i64>,
    segment: Column<u64>,
    ord: Column<u64>,
    since_clock: u32,
}

impl SegmentScan {
    pub fn new(ctx: Arc<ScanCtx>, reader: &SegmentReader) -> tantivy::Result<Self> {
        let map = ctx.maps.of(reader)?;
        let ff = reader.fast_fields();
        Ok(SegmentScan {
            map,
            timestamp: ff.i64("timestamp")?,
            segment: ff.u64("segment")?,
            // Chunk documents have none.
            ord: u64_column(reader, "ord")?,
            ctx,
            since_clock: 0,
        })
    }

    /// The key of a hit, unless it is a chunk document or the search is past its deadline
    /// (checked every 256 hits).
    pub fn accept(&mut self, doc: DocId) -> Option<Key> {
        if !self.is_record(doc) || !self.in_time() {
            return None;
        }
        Some(Key {
            timestamp: self.timestamp.first(doc)?,
            segment: self.segment.first(doc)?,
            ord: self.ord.first(doc)?,
        })
    }

    /// Is the search still within its deadline (checked every 256 hits)? For collectors that
    /// need less of a hit than its whole key.
    pub fn in_time(&mut self) -> bool {
        if self.ctx.timed_out.load(Relaxed) {
            return false;
        }
        self.since_clock += 1;
        if self.since_clock >= 256 {
            self.since_clock = 0;
            if self.ctx.expired() {
                return false;
            }
        }
        true
    }

    /// Is `doc` a record document (not a chunk's)?
    pub fn is_record(&self, doc: DocId) -> bool {
        !self.map.chunks.contains(doc)
    }

    /// The timestamp of a hit.
    pub fn timestamp(&self, doc: DocId) -> Option<i64> {
        self.timestamp.first(doc)
    }
}

/// A u64 fast field of a tantivy segment; empty when none of its documents has one.
pub fn u64_column(reader: &SegmentReader, name: &str) -> tantivy::Result<Column<u64>> {
    Ok(reader
        .fast_fields()
        .column_opt::<u64>(name)?
        .unwrap_or_else(|| Column::build_empty_column(reader.max_doc())))
}

/// Record ordinals per archive segment.
pub type RecordSet = BTreeMap<u64, Ords>;

/// The union of collectors' record sets.
pub fn union_all(sets: Vec<RecordSet>) -> RecordSet {
    let mut all = RecordSet::new();
    for set in sets {
        for (segment, ords) in set {
            all.entry(segment).or_default().union(ords);
        }
    }
    all
}

/// The records of `set` that are in `by`, and the others.
pub fn split(set: RecordSet, by: &RecordSet) -> (RecordSet, RecordSet) {
    let (mut inside, mut outside) = (RecordSet::new(), RecordSet::new());
    for (segment, ords) in set {
        let Some(by) = by.get(&segment) else {
            outside.insert(segment, ords);
            continue;
        };
        let (i, o) = ords.split(by);
        for (part, ords) in [(&mut inside, i), (&mut outside, o)] {
            if !ords.is_empty() {
                part.insert(segment, ords);
            }
        }
    }
    (inside, outside)
}

/// A set of record ordinals within one archive segment.
#[derive(Debug, Default, Clone)]
pub struct Ords(Vec<u64>);

impl Ords {
    pub fn insert(&mut self, ord: u64) {
        let (word, bit) = ((ord / 64) as usize, ord % 64);
        if self.0.len() <= word {
            self.0.resize(word + 1, 0);
        }
        self.0[word] |= 1 << bit;
    }

    /// Inserts `ord..ord + n`.
    pub fn insert_range(&mut self, ord: u64, n: u64) {
        // Chunks are at most a few dozen records: bit by bit is fine.
        for o in ord..ord.saturating_add(n) {
            self.insert(o);
        }
    }

    /// Memory held.
    pub fn bytes(&self) -> usize {
        self.0.len() * 8
    }

    pub fn contains(&self, ord: u64) -> bool {
        let (word, bit) = ((ord / 64) as usize, ord % 64);
        self.0.get(word).is_some_and(|w| w & (1 << bit) != 0)
    }

    /// The ordinals, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.0.iter().enumerate().flat_map(|(word, &bits)| {
            let base = word as u64 * 64;
            let mut rest = bits;
            std::iter::from_fn(move || {
                (rest != 0).then(|| {
                    let bit = rest.trailing_zeros() as u64;
                    rest &= rest - 1;
                    base + bit
                })
            })
        })
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }

    /// The ordinals that are in `by`, and the others.
    fn split(self, by: &Ords) -> (Ords, Ords) {
        let word = |i: usize| by.0.get(i).copied().unwrap_or(0);
        let inside = self.0.iter().enumerate().map(|(i, w)| w & word(i));
        let outside = self.0.iter().enumerate().map(|(i, w)| w & !word(i));
        (Ords(inside.collect()), Ords(outside.collect()))
    }

    pub fn union(&mut self, other: Ords) {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a |= b;
        }
    }
}

#[cfg(test)]
mod tests {
    use firewatch_index::schema::{build, documents, index_settings, WordSets};
    use firewatch_ingest::LogRecord;
    use tantivy::Index;

    use super::*;

    fn rec(i: u64, source: &str) -> LogRecord {
        serde_json::from_value(serde_json::json!({
            "id": format!("r{i}"), "timestamp": i, "observed": i, "service": "api",
            "host": "h", "source": source, "level": "info", "message": "m",
        }))
        .unwrap()
    }

    /// Record documents found through the runs, against each document's own pointer.
    #[test]
    fn a_doc_map_finds_the_documents_of_any_records() {
        let (schema, f) = build();
        let index = Index::builder()
            .schema(schema)
            .settings(index_settings())
            .create_in_ram()
            .unwrap();
        firewatch_index::words::register(&index);
        let mut writer = index.writer_with_num_threads(1, 15_000_000).unwrap();
        // Batches of two archive segments, sources alternating in runs (chunk documents
        // between), over two commits (two tantivy segments).
        let batches = [
            (1, 0, 150),
            (2, 0, 40),
            (1, 150, 30),
            (2, 40, 200),
            (1, 180, 1),
        ];
        for (n, (segment, ord, len)) in batches.into_iter().enumerate() {
            let records: Vec<LogRecord> = (0..len)
                .map(|i| rec(i, if i / 25 % 2 == 0 { "a" } else { "b" }))
                .collect();
            let first = RecordPtr { segment, ord };
            documents(&f, &records, first, &mut WordSets::default(), &mut |d| {
                writer.add_document(d).unwrap();
            });
            if n == 2 {
                writer.commit().unwrap();
            }
        }
        writer.commit().unwrap();
        let searcher = index.reader().unwrap().searcher();
        assert_eq!(searcher.segment_readers().len(), 2);
        let mut set = RecordSet::new();
        for o in (0..181).filter(|o| o % 3 == 0 || (60..90).contains(o)) {
            set.entry(1).or_default().insert(o);
        }
        set.entry(2).or_default().insert_range(30, 20);
        set.entry(7).or_default().insert(0);
        let mut found = 0;
        for reader in searcher.segment_readers() {
            let map = DocMap::build(reader).unwrap();
            assert!(map.runs.len() <= 3, "a run per batch: {:?}", map.runs);
            let docs = map.docs_of(&set, reader.max_doc());
            let segment = u64_column(reader, "segment").unwrap();
            let ord = u64_column(reader, "ord").unwrap();
            for doc in 0..reader.max_doc() {
                let want = match (segment.first(doc), ord.first(doc)) {
                    (Some(s), Some(o)) => set.get(&s).is_some_and(|ords| ords.contains(o)),
                    _ => false,
                };
                assert_eq!(docs.contains(doc), want, "document {doc}");
                found += usize::from(want);
            }
        }
        let want: usize = set.values().map(|o| o.iter().count()).sum();
        assert_eq!(found, want - 1, "all but the record of no segment");
    }
}
