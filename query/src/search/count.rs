//! tantivy collectors that count matches from fast fields, for exact plans: time histograms
//! (optionally split by a keyword field) and the values of a keyword field.

use std::collections::HashMap;
use std::sync::Arc;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::StrColumn;
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

use super::scan::{ScanCtx, SegmentScan};

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
