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
    pub chunk_docs: ChunkDocs,
    pub deadline: Instant,
    pub timed_out: AtomicBool,
}

/// Which documents of each tantivy segment are chunk documents, found once per segment and
/// kept while it is searched: a search over 10 M records spent about 1 ms finding them again.
#[derive(Clone, Default)]
pub struct ChunkDocs(Arc<Mutex<HashMap<SegmentId, Arc<BitSet>>>>);

impl ChunkDocs {
    fn of(&self, snapshot: &Snapshot, reader: &SegmentReader) -> tantivy::Result<Arc<BitSet>> {
        let id = reader.segment_id();
        if let Some(docs) = self.lock().get(&id) {
            return Ok(docs.clone());
        }
        let records = u64_column(reader, "records")?;
        let mut rows: Vec<u32> = (0..records.values.num_vals()).collect();
        records.index.select_batch_in_place(0, &mut rows);
        let mut docs = BitSet::with_max_value(reader.max_doc());
        for doc in rows.into_iter().filter(|d| *d < reader.max_doc()) {
            docs.insert(doc);
        }
        let docs = Arc::new(docs);
        let mut cache = self.lock();
        // Segments merged away are forgotten when a new one is first searched.
        let live: HashSet<SegmentId> = snapshot
            .searcher()
            .segment_readers()
            .iter()
            .map(|r| r.segment_id())
            .collect();
        cache.retain(|id, _| live.contains(id));
        cache.insert(id, docs.clone());
        Ok(docs)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SegmentId, Arc<BitSet>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
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
    /// Chunk documents, which collectors pass over (few: one per dozens of records).
    chunks: Arc<BitSet>,
    timestamp: Column<i64>,
    segment: Column<u64>,
    ord: Column<u64>,
    since_clock: u32,
}

impl SegmentScan {
    pub fn new(ctx: Arc<ScanCtx>, reader: &SegmentReader) -> tantivy::Result<Self> {
        let chunks = ctx.chunk_docs.of(&ctx.snapshot, reader)?;
        let ff = reader.fast_fields();
        Ok(SegmentScan {
            chunks,
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
        !self.chunks.contains(doc)
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

    pub fn union(&mut self, other: Ords) {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a |= b;
        }
    }
}
