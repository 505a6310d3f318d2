//! tantivy collectors for the query API: the page of newest (or oldest) hits with the exact
//! total, time histograms (optionally split by a keyword field), the most frequent values of a
//! keyword field — all from fast fields, for exact plans — and the candidate ordinals that the
//! record-reading phase checks or streams out.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::Arc;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::StrColumn;
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

use super::scan::{union_all, Key, RecordSet, ScanCtx, SegmentScan};

/// Newest first, or oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Desc,
    Asc,
}

impl Order {
    /// Does `a` come before `b`?
    pub fn before(self, a: &Key, b: &Key) -> bool {
        match self {
            Order::Desc => a > b,
            Order::Asc => a < b,
        }
    }
}

/// A key in a bounded heap whose top is the hit that would be dropped first.
pub struct Ranked {
    pub key: Key,
    pub order: Order,
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        match self.order {
            Order::Desc => other.key.cmp(&self.key),
            Order::Asc => self.key.cmp(&other.key),
        }
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for Ranked {}

/// What [`TopKeys`] found: all matches, those past the cursor, and the first `limit` of those.
#[derive(Debug, Default)]
pub struct Page {
    pub total: u64,
    pub after_cursor: u64,
    pub keys: Vec<Key>,
}

/// The first `limit` matches in `order` after `cursor`, and the exact counts.
pub struct TopKeys {
    pub ctx: Arc<ScanCtx>,
    pub order: Order,
    pub limit: usize,
    pub cursor: Option<Key>,
}

pub struct TopKeysSegment {
    scan: SegmentScan,
    order: Order,
    limit: usize,
    cursor: Option<Key>,
    page: Page,
    heap: BinaryHeap<Ranked>,
}

impl Collector for TopKeys {
    type Fruit = Page;
    type Child = TopKeysSegment;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<Self::Child> {
        Ok(TopKeysSegment {
            scan: SegmentScan::new(self.ctx.clone(), reader)?,
            order: self.order,
            limit: self.limit,
            cursor: self.cursor,
            page: Page::default(),
            heap: BinaryHeap::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Page>) -> tantivy::Result<Page> {
        let mut page = Page::default();
        for f in fruits {
            page.total += f.total;
            page.after_cursor += f.after_cursor;
            page.keys.extend(f.keys);
        }
        sort_keys(&mut page.keys, self.order);
        page.keys.truncate(self.limit);
        Ok(page)
    }
}

pub fn sort_keys(keys: &mut [Key], order: Order) {
    match order {
        Order::Desc => keys.sort_unstable_by(|a, b| b.cmp(a)),
        Order::Asc => keys.sort_unstable(),
    }
}

impl SegmentCollector for TopKeysSegment {
    type Fruit = Page;

    fn collect(&mut self, doc: DocId, _: Score) {
        let Some(key) = self.scan.accept(doc) else {
            return;
        };
        self.page.total += 1;
        if self.cursor.is_some_and(|c| !self.order.before(&c, &key)) {
            return;
        }
        self.page.after_cursor += 1;
        if self.limit == 0 {
            return;
        }
        self.heap.push(Ranked {
            key,
            order: self.order,
        });
        if self.heap.len() > self.limit {
            self.heap.pop();
        }
    }

    fn harvest(mut self) -> Page {
        self.page.keys = self.heap.into_iter().map(|r| r.key).collect();
        sort_keys(&mut self.page.keys, self.order);
        self.page
    }
}

/// Counts per time bucket (start of bucket in ns) and group ("" when not grouped).
pub type Buckets = HashMap<(i64, String), u64>;

/// Counts matches per `interval` (ns, aligned to the epoch), optionally per value of a keyword
/// fast field.
pub struct Histogram {
    pub ctx: Arc<ScanCtx>,
    pub interval: i64,
    pub by: Option<String>,
}

pub struct HistogramSegment {
    scan: SegmentScan,
    interval: i64,
    by: Option<StrColumn>,
    counts: HashMap<(i64, Option<u64>), u64>,
    /// The bucket being counted and its counts per group (index 0: no value, else ordinal +
    /// 1). Documents arrive roughly in time order, so this saves a hash lookup per document.
    run: (i64, Vec<u64>),
}

impl HistogramSegment {
    fn flush_run(&mut self) {
        let bucket = self.run.0;
        for (group, n) in self.run.1.iter_mut().enumerate() {
            if *n > 0 {
                let ord = group.checked_sub(1).map(|g| g as u64);
                *self.counts.entry((bucket, ord)).or_default() += *n;
                *n = 0;
            }
        }
    }
}

impl Collector for Histogram {
    type Fruit = Buckets;
    type Child = HistogramSegment;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<Self::Child> {
        let by = match &self.by {
            Some(name) => reader.fast_fields().str(name)?,
            None => None,
        };
        let groups = 1 + by.as_ref().map_or(0, |c| c.num_terms());
        Ok(HistogramSegment {
            scan: SegmentScan::new(self.ctx.clone(), reader)?,
            interval: self.interval,
            by,
            counts: HashMap::new(),
            run: (i64::MIN, vec![0; groups]),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Buckets>) -> tantivy::Result<Buckets> {
        let mut all = Buckets::new();
        for f in fruits {
            for (k, n) in f {
                *all.entry(k).or_default() += n;
            }
        }
        Ok(all)
    }
}

impl SegmentCollector for HistogramSegment {
    type Fruit = Buckets;

    fn collect(&mut self, doc: DocId, _: Score) {
        // Only the timestamp: reading the whole key per document costs a third of the time.
        if !self.scan.is_record(doc) || !self.scan.in_time() {
            return;
        }
        let Some(timestamp) = self.scan.timestamp(doc) else {
            return;
        };
        let bucket = timestamp.div_euclid(self.interval) * self.interval;
        if bucket != self.run.0 {
            self.flush_run();
            self.run.0 = bucket;
        }
        let group = self.by.as_ref().and_then(|c| c.term_ords(doc).next());
        let slot = group.map_or(0, |ord| ord as usize + 1);
        if let Some(n) = self.run.1.get_mut(slot) {
            *n += 1;
        }
    }

    fn harvest(mut self) -> Buckets {
        self.flush_run();
        let mut out = Buckets::new();
        for ((bucket, group), n) in self.counts {
            let name = match (&self.by, group) {
                (Some(col), Some(ord)) => term_text(col, ord),
                _ => String::new(),
            };
            *out.entry((bucket, name)).or_default() += n;
        }
        out
    }
}

fn term_text(col: &StrColumn, ord: u64) -> String {
    let mut s = String::new();
    // An ordinal read from the same column always resolves; an empty name is the fallback.
    let _ = col.ord_to_str(ord, &mut s);
    s
}

/// Value counts of one keyword fast field over the matches, and the number of matches.
pub struct KeywordValues {
    pub ctx: Arc<ScanCtx>,
    pub field: String,
}

pub struct KeywordValuesSegment {
    scan: SegmentScan,
    column: Option<StrColumn>,
    /// Per term ordinal of the column: term ordinals are dense, so no hashing per document.
    counts: Vec<u64>,
    matched: u64,
}

impl Collector for KeywordValues {
    type Fruit = (HashMap<String, u64>, u64);
    type Child = KeywordValuesSegment;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<Self::Child> {
        let column = reader.fast_fields().str(&self.field)?;
        Ok(KeywordValuesSegment {
            scan: SegmentScan::new(self.ctx.clone(), reader)?,
            counts: vec![0; column.as_ref().map_or(0, |c| c.num_terms())],
            column,
            matched: 0,
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Self::Fruit>) -> tantivy::Result<Self::Fruit> {
        Ok(merge_counts(fruits))
    }
}

fn merge_counts(fruits: Vec<(HashMap<String, u64>, u64)>) -> (HashMap<String, u64>, u64) {
    let mut all = HashMap::new();
    let mut matched = 0;
    for (counts, n) in fruits {
        matched += n;
        for (v, c) in counts {
            *all.entry(v).or_default() += c;
        }
    }
    (all, matched)
}

impl SegmentCollector for KeywordValuesSegment {
    type Fruit = (HashMap<String, u64>, u64);

    fn collect(&mut self, doc: DocId, _: Score) {
        if !self.scan.is_record(doc) || !self.scan.in_time() {
            return;
        }
        self.matched += 1;
        if let Some(ord) = self.column.as_ref().and_then(|c| c.term_ords(doc).next()) {
            if let Some(n) = self.counts.get_mut(ord as usize) {
                *n += 1;
            }
        }
    }

    fn harvest(self) -> Self::Fruit {
        let counts = match &self.column {
            Some(col) => self
                .counts
                .into_iter()
                .enumerate()
                .filter(|(_, n)| *n > 0)
                .map(|(ord, n)| (term_text(col, ord as u64), n))
                .collect(),
            None => HashMap::new(),
        };
        (counts, self.matched)
    }
}

/// The archive ordinals of every hit, per archive segment: what the record-reading phase reads.
pub struct Candidates {
    pub ctx: Arc<ScanCtx>,
}

pub struct CandidatesSegment {
    scan: SegmentScan,
    ords: RecordSet,
}

impl Collector for Candidates {
    type Fruit = RecordSet;
    type Child = CandidatesSegment;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<Self::Child> {
        Ok(CandidatesSegment {
            scan: SegmentScan::new(self.ctx.clone(), reader)?,
            ords: BTreeMap::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Self::Fruit>) -> tantivy::Result<Self::Fruit> {
        Ok(union_all(fruits))
    }
}

impl SegmentCollector for CandidatesSegment {
    type Fruit = RecordSet;

    fn collect(&mut self, doc: DocId, _: Score) {
        if let Some(key) = self.scan.accept(doc) {
            self.ords.entry(key.segment).or_default().insert(key.ord);
        }
    }

    fn harvest(self) -> Self::Fruit {
        self.ords
    }
}
