//! tantivy collectors for the query API: the page of newest (or oldest) hits with the exact
//! total, from fast fields, for exact plans, and the candidate ordinals that the
//! record-reading phase checks or streams out. Those that count are in `count`.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::Arc;

use tantivy::collector::{Collector, SegmentCollector};
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
