//! Message words through word sets (see `firewatch_index::schema::WordSets`): a record whose
//! word set a document of its segment defines has only the set's identity, no words. A query
//! for words takes the documents that have them, reads which sets those define
//! ([`DefinedSets`]), and adds the records of those sets ([`with_word_sets`]): every record of
//! a set has the same words, so the answer stays exact.

use std::collections::BTreeSet;

use firewatch_index::Fields;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::query::{BooleanQuery, Occur, Query as TQuery, TermSetQuery};
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader, Term};

use super::scan::u64_column;
use super::translate::Lookups;

/// The identities of the word sets that the documents a query matches define.
pub struct DefinedSets;

pub struct DefinedSetsSegment {
    defines: Column<u64>,
    sets: BTreeSet<u64>,
}

impl Collector for DefinedSets {
    type Fruit = BTreeSet<u64>;
    type Child = DefinedSetsSegment;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<Self::Child> {
        Ok(DefinedSetsSegment {
            defines: u64_column(reader, "defines_word_set")?,
            sets: BTreeSet::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<BTreeSet<u64>>) -> tantivy::Result<BTreeSet<u64>> {
        Ok(fruits.into_iter().flatten().collect())
    }
}

impl SegmentCollector for DefinedSetsSegment {
    type Fruit = BTreeSet<u64>;

    fn collect(&mut self, doc: DocId, _: Score) {
        if let Some(set) = self.defines.first(doc) {
            self.sets.insert(set);
        }
    }

    fn harvest(self) -> BTreeSet<u64> {
        self.sets
    }
}

/// `q`, a query for message terms, widened to the records of the word sets that its matches
/// define; `None` when the sets could not be read.
pub fn with_word_sets(q: Box<dyn TQuery>, f: &Fields, at: Lookups<'_>) -> Option<Box<dyn TQuery>> {
    let Some(fields) = f.word_sets else {
        // An index made before word sets: every record has its words.
        return Some(q);
    };
    let sets = (at.word_sets)(&*q)?;
    if sets.is_empty() {
        return Some(q);
    }
    let terms = sets
        .into_iter()
        .map(|s| Term::from_field_u64(fields.set, s));
    Some(Box::new(BooleanQuery::new(vec![
        (Occur::Should, q),
        (Occur::Should, Box::new(TermSetQuery::new(terms))),
    ])))
}
