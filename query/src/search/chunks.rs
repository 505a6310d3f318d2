//! Structured-field predicates answered through chunk documents (see
//! `firewatch_index::schema`): a field value common in a chunk is a term of the chunk only, so
//! the chunks whose terms match give records that may match ([`ChunkHits`]); [`RecordsIn`] is
//! the query for those records' own documents, so a field predicate combines with words, time,
//! level and source like any other, and each candidate is then checked against its record.
//!
//! [`Needles`] narrow the check: literals every match must contain (words and values with a
//! digit, which the index leaves out), tested against each archive block's filter before it is
//! read and against each candidate's text before it is decoded.

use std::sync::Arc;

use aho_corasick::AhoCorasick;
use firewatch_index::archive::Prefilter;
use firewatch_index::block_filter::BlockFilter;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::query::{
    BitSetDocSet, ConstScorer, EnableScoring, Explanation, Query, Scorer, Weight,
};
use tantivy::{BitSet, DocId, Score, SegmentOrdinal, SegmentReader};

use super::scan::{u64_column, union_all, DocMaps, RecordSet};

/// The records of every chunk document a query matches, and with `records_too` those of the
/// record documents it matches.
#[derive(Debug, Clone, Copy)]
pub struct ChunkHits {
    pub records_too: bool,
}

pub struct ChunkHitsSegment {
    records_too: bool,
    segment: Column<u64>,
    chunk_ord: Column<u64>,
    ord: Column<u64>,
    records: Column<u64>,
    hits: RecordSet,
}

impl Collector for ChunkHits {
    type Fruit = RecordSet;
    type Child = ChunkHitsSegment;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<Self::Child> {
        Ok(ChunkHitsSegment {
            records_too: self.records_too,
            segment: u64_column(reader, "segment")?,
            chunk_ord: u64_column(reader, "chunk_ord")?,
            ord: u64_column(reader, "ord")?,
            records: u64_column(reader, "records")?,
            hits: RecordSet::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<RecordSet>) -> tantivy::Result<RecordSet> {
        Ok(union_all(fruits))
    }
}

impl SegmentCollector for ChunkHitsSegment {
    type Fruit = RecordSet;

    fn collect(&mut self, doc: DocId, _: Score) {
        let Some(segment) = self.segment.first(doc) else {
            return;
        };
        // Only chunk documents have `records`.
        if let (Some(n), Some(ord)) = (self.records.first(doc), self.chunk_ord.first(doc)) {
            self.hits.entry(segment).or_default().insert_range(ord, n);
        } else if let Some(ord) = self.ord.first(doc).filter(|_| self.records_too) {
            self.hits.entry(segment).or_default().insert(ord);
        }
    }

    fn harvest(self) -> RecordSet {
        self.hits
    }
}

/// The record documents of a set of records.
#[derive(Clone)]
pub struct RecordsIn {
    pub set: Arc<RecordSet>,
    pub maps: DocMaps,
}

impl std::fmt::Debug for RecordsIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let records: usize = self.set.values().map(|o| o.iter().count()).sum();
        write!(f, "RecordsIn({records} records)")
    }
}

impl Query for RecordsIn {
    fn weight(&self, _: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(self.clone()))
    }
}

impl RecordsIn {
    fn docs(&self, reader: &SegmentReader) -> tantivy::Result<BitSet> {
        let map = self.maps.of(reader)?;
        Ok(map.docs_of(&self.set, reader.max_doc()))
    }
}

impl Weight for RecordsIn {
    fn scorer(&self, reader: &SegmentReader, _: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let docs = BitSetDocSet::from(self.docs(reader)?);
        Ok(Box::new(ConstScorer::new(docs, 1.0)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        if doc >= reader.max_doc() || !self.docs(reader)?.contains(doc) {
            return Err(tantivy::TantivyError::InvalidArgument(format!(
                "document {doc} is not a candidate"
            )));
        }
        Ok(Explanation::new("RecordsIn", 1.0))
    }
}

/// Literals (ASCII-lowercased) that every match of a plan contains in its text (message,
/// service, field values); blocks whose filter rules one out are not read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Needles(pub Vec<Vec<u8>>);

impl Needles {
    /// A needle for `text`, when the block filters can test it: three bytes or more, and ASCII
    /// (the filters fold only ASCII case, the query language folds all).
    pub fn of(text: &str) -> Needles {
        if text.len() >= 3 && text.is_ascii() {
            Needles(vec![text.to_ascii_lowercase().into_bytes()])
        } else {
            Needles::default()
        }
    }

    pub fn extend(&mut self, other: Needles) {
        self.0.extend(other.0);
    }

    /// A prefilter that rules blocks and records out before the query is checked on them;
    /// `None` when there are no needles.
    pub fn matcher(&self) -> Option<NeedleMatcher> {
        let finders = self
            .0
            .iter()
            .filter_map(|n| {
                AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .build([n])
                    .ok()
            })
            .collect::<Vec<_>>();
        (!finders.is_empty()).then(|| NeedleMatcher {
            needles: self.clone(),
            finders,
        })
    }
}

/// [`Needles`] tested on archive blocks and on records' text before they are decoded (records
/// not yet in a block are only checked by the query itself).
pub struct NeedleMatcher {
    needles: Needles,
    finders: Vec<AhoCorasick>,
}

impl Prefilter for NeedleMatcher {
    fn block(&self, filter: BlockFilter<'_>) -> bool {
        self.needles.0.iter().all(|n| filter.may_contain(n))
    }

    fn tests_text(&self) -> bool {
        true
    }

    fn text(&self, service: &str, text: &[u8]) -> bool {
        self.finders
            .iter()
            .all(|f| f.is_match(text) || f.is_match(service))
    }
}
